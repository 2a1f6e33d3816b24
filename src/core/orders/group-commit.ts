/**
 * Group commit of order changes: the changes that arrive together (one turn of the event loop)
 * are planned one after another and written in one transaction, so concurrent callers share one
 * fsync (bench/orders: single-order imports 420–601 → 991–1,809 orders/s on SQLite FULL).
 */
import type { LotLink } from '../../model/index.ts';
import type {
  AuditEntry,
  OutboxInsert,
  RecordWrite,
  Store,
  StoredRecord,
} from '../../store/types.ts';

/** What one change writes, decided from what it read; `done` makes its answer once committed. */
export interface Plan<T> {
  readonly writes: readonly RecordWrite[];
  readonly audit: readonly AuditEntry[];
  readonly outbox: readonly OutboxInsert[];
  /** Genealogy links (lots received with sublots). */
  readonly links?: readonly LotLink[];
  readonly done: (stored: readonly (StoredRecord | null)[]) => Promise<T> | T;
}

/** A change waiting for the next commit (see GroupCommit.enqueue). */
interface Job<T = unknown> {
  /** The records it may write, as `<entity type> <id>`: known before it reads anything. */
  readonly keys: readonly string[];
  /** Reads and decides; a throw refuses this change alone. */
  readonly plan: () => Promise<Plan<T>>;
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A commit takes no further change once it holds this many record writes (a larger document
 * is a commit of its own): a transaction blocks the event loop while it runs.
 */
const MAX_GROUP_WRITES = 2000;

export class GroupCommit {
  private writing: Promise<unknown> = Promise.resolve();
  /** Changes waiting for the next commit (see enqueue). */
  private readonly queue: Job[] = [];

  constructor(private readonly store: Store) {}

  /** One write after another, so each read-modify-write sees the previous one. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writing.then(fn, fn);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /**
   * A change (an import, an action) in the next commit. The changes that arrive together — the
   * requests of one turn of the event loop — are planned one after another and committed in
   * one transaction, so concurrent callers share one fsync instead of waiting for one each
   * (bench/orders). Each change is still all or nothing: it is answered after that commit; one
   * refused while planning is refused alone; one touching a record an earlier change of the
   * group writes waits for that commit (it must read it); and when the shared commit fails,
   * each change is planned and committed again on its own, so one change's failure is never
   * another's.
   */
  enqueue<T>(keys: readonly string[], plan: () => Promise<Plan<T>>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ keys, plan, resolve, reject } as Job);
      // After this turn's I/O callbacks, so the changes that came with it join the commit.
      if (this.queue.length === 1) setImmediate(() => void this.serial(() => this.drain()));
    });
  }

  private async drain(): Promise<void> {
    const jobs = this.queue.splice(0);
    try {
      let group: { job: Job; plan: Plan<unknown> }[] = [];
      const touched = new Set<string>();
      for (const job of jobs) {
        if (
          job.keys.some((k) => touched.has(k)) ||
          group.reduce((n, g) => n + g.plan.writes.length, 0) >= MAX_GROUP_WRITES
        ) {
          await this.commitGroup(group);
          group = [];
          touched.clear();
        }
        try {
          group.push({ job, plan: await job.plan() });
          for (const k of job.keys) touched.add(k);
        } catch (err) {
          job.reject(err);
        }
      }
      await this.commitGroup(group);
    } catch (err) {
      // Not expected (each step settles its changes), but none may be left waiting. A promise
      // settles once, so those answered already keep their answer.
      for (const job of jobs) job.reject(err);
    }
  }

  private async commitGroup(group: readonly { job: Job; plan: Plan<unknown> }[]): Promise<void> {
    let stored: (StoredRecord | null)[];
    try {
      stored = await this.write(group.map((g) => g.plan));
    } catch (err) {
      if (group.length === 1) {
        group[0]!.job.reject(err);
        return;
      }
      // Nothing of the group was written: each change again, alone.
      for (const { job } of group) {
        try {
          const plan = await job.plan();
          job.resolve(await plan.done(await this.write([plan])));
        } catch (e) {
          job.reject(e);
        }
      }
      return;
    }
    let at = 0;
    for (const { job, plan } of group) {
      const mine = stored.slice(at, at + plan.writes.length);
      at += plan.writes.length;
      try {
        job.resolve(await plan.done(mine));
      } catch (err) {
        job.reject(err);
      }
    }
  }

  /** The plans' writes, audit rows, outbox rows and links in one transaction. */
  private async write(plans: readonly Plan<unknown>[]): Promise<(StoredRecord | null)[]> {
    const writes = plans.flatMap((p) => p.writes);
    if (writes.length === 0) return [];
    return this.store.writeRecords(
      writes,
      plans.flatMap((p) => p.audit),
      plans.flatMap((p) => p.outbox),
      plans.flatMap((p) => p.links ?? []),
    );
  }
}
