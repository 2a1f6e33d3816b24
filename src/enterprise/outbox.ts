/**
 * The outbox dispatcher: hands committed outbox rows (Store.leaseOutbox) to their targets.
 *
 * - realtime targets: a loop per target leases the first undelivered row of every order (up
 *   to `concurrency` orders at once), so messages of one order arrive in the order they were
 *   written while different orders do not wait for each other; it wakes on `kick` (a commit
 *   wrote rows), when a retry falls due, and at least every `pollMs` (another hub may have
 *   written rows into a shared PostgreSQL store).
 * - batch targets: at each `schedule` time (croner, in the target's time zone) every due row
 *   is sent as one delivery, in id order.
 * A failure is retried with exponential backoff and jitter (the receiver's Retry-After is
 * honoured); a permanent failure, or `retry.maxAttempts` / `retry.maxAge` exhausted, makes the
 * row dead: it holds the rows behind it of the same order until an operator replays or
 * discards it (qRFC-style; see docs/erp.md).
 *
 * Leases and crashes: a row is leased to `<hub id>:<boot id>`, the hub id being the same across
 * restarts of one data folder (`<dataDir>/hub-id`). At start the dispatcher voids the leases of
 * earlier boots of its own hub id — that process is gone (one data folder, one running hub) —
 * so the rows it was delivering when it was killed go again at once instead of after `leaseMs`.
 * A lease of another hub sharing a PostgreSQL store is never touched: it runs out on its own
 * if that hub died. Either way a row in flight at a crash may be delivered twice: receivers
 * de-duplicate by Idempotency-Key.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import type { Logger } from 'pino';
import { backoffDelay } from '../core/backoff.ts';
import { MwError } from '../errors.ts';
import { reasonOf } from '../store/common.ts';
import type { OutboxRow, OutboxSettlement, Store } from '../store/types.ts';
import type { RetryConfig } from './target-config.ts';
import { DeliveryError, type OutboundMessage, type TargetInstance } from './types.ts';

export interface DispatchTarget {
  readonly id: string;
  readonly type: string;
  readonly mode: 'realtime' | 'batch';
  readonly schedule?: string | undefined;
  readonly timeZone?: string | undefined;
  readonly retry: RetryConfig;
  readonly instance: TargetInstance;
}

export interface DispatcherOptions {
  readonly logger: Logger;
  /** This hub's id, the same across its restarts (hubInstanceId); leases are `<hubId>:<boot>`. */
  readonly hubId: string;
  /** Orders delivered at once per realtime target. */
  readonly concurrency?: number;
  readonly pollMs?: number;
  readonly leaseMs?: number;
  readonly now?: () => number;
}

export interface TargetStats {
  readonly id: string;
  readonly type: string;
  readonly mode: 'realtime' | 'batch';
  delivered: number;
  failedAttempts: number;
  dead: number;
  lastError: string | null;
  lastErrorAt: number | null;
  lastDeliveredAt: number | null;
  /** Commit → receiver accepted, ms, of the last 1000 deliveries. */
  readonly latencies: number[];
  nextRunAt: number | null;
}

const LATENCY_WINDOW = 1000;
const HUB_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The id of the hub that keeps its data in `dataDir`, the same across restarts: read from
 * `<dataDir>/hub-id`, written there (a random UUID) the first time.
 */
export function hubInstanceId(dataDir: string): string {
  const file = path.join(dataDir, 'hub-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (HUB_ID_RE.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Missing, or cut short by a crash while it was written: a new one, put in place whole.
  const id = randomUUID();
  writeFileSync(`${file}.tmp`, `${id}\n`);
  renameSync(`${file}.tmp`, file);
  return id;
}

/** Wait after the store failed a lease (it is away): short, then the poll interval. */
const STORE_RETRY_MS = 1000;

export class OutboxDispatcher {
  private readonly stats = new Map<string, TargetStats>();
  private readonly wakers = new Map<string, () => void>();
  /** Targets kicked while their loop was not asleep: its next sleep returns at once. */
  private readonly kicked = new Set<string>();
  /** Outcomes waiting to be recorded together (see settle). */
  private settling: {
    id: number;
    settlement: OutboxSettlement;
    resolve: (ok: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];
  /** Batch targets with a retry run already scheduled. */
  private readonly batchRetries = new Set<string>();
  private readonly loops: Promise<void>[] = [];
  private readonly jobs: Cron[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  /** Settles once the leases of this hub's earlier boots are void (start). */
  private ready: Promise<void> = Promise.resolve();
  /** This boot's lease owner id. */
  readonly owner: string;
  private readonly concurrency: number;
  private readonly pollMs: number;
  private readonly leaseMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Store,
    private readonly targets: readonly DispatchTarget[],
    private readonly options: DispatcherOptions,
  ) {
    this.concurrency = options.concurrency ?? 8;
    this.pollMs = options.pollMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.owner = `${options.hubId}:${randomUUID()}`;
    for (const t of targets)
      this.stats.set(t.id, {
        id: t.id,
        type: t.type,
        mode: t.mode,
        delivered: 0,
        failedAttempts: 0,
        dead: 0,
        lastError: null,
        lastErrorAt: null,
        lastDeliveredAt: null,
        latencies: [],
        nextRunAt: null,
      });
  }

  start(): void {
    this.ready = this.releaseStaleLeases();
    for (const t of this.targets) {
      if (t.mode === 'realtime') this.loops.push(this.loop(t));
      else {
        const job = new Cron(
          t.schedule ?? '0 * * * *',
          { timezone: t.timeZone, protect: true, catch: true },
          () => this.runBatch(t),
        );
        this.jobs.push(job);
        this.stat(t).nextRunAt = job.nextRun()?.getTime() ?? null;
      }
    }
  }

  /** Rows were committed for these targets: deliver now. */
  kick(targetIds: readonly string[]): void {
    for (const id of targetIds) {
      const wake = this.wakers.get(id);
      if (wake === undefined) this.kicked.add(id);
      else wake();
    }
  }

  /** Reach a target's receiver without sending anything. */
  async connectionTest(id: string): Promise<void> {
    const t = this.targets.find((x) => x.id === id);
    if (t === undefined)
      throw new MwError('MW_ERR_TARGET_NOT_FOUND', {
        id,
        known: this.targets.map((x) => x.id).join(', ') || 'none',
      });
    await t.instance.connectionTest();
  }

  snapshot(): TargetStats[] {
    return [...this.stats.values()].map((s) => ({ ...s, latencies: [...s.latencies] }));
  }

  /** Stop taking rows and wait for the deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const job of this.jobs) job.stop();
    for (const timer of this.timers) clearTimeout(timer);
    for (const wake of this.wakers.values()) wake();
    await Promise.all(this.loops);
    await Promise.all(this.targets.map((t) => t.instance.close().catch(() => undefined)));
  }

  /** Void the leases of this hub's earlier boots (see the module comment). */
  private async releaseStaleLeases(): Promise<void> {
    const log = this.options.logger;
    try {
      const n = await this.store.releaseOutboxLeases(
        `${this.options.hubId}:`,
        this.owner,
        this.now(),
      );
      if (n > 0)
        log.info(
          { released: n },
          `${n} message(s) were in flight when this hub last stopped; delivering them again`,
        );
    } catch (err) {
      log.warn(
        { err: reasonOf(err) },
        `cannot release the leases of an earlier run; they expire within ${this.leaseMs} ms`,
      );
    }
  }

  /**
   * Record a delivery outcome. The outcomes that come in one turn of the event loop (deliveries
   * of several orders finishing together) are written in one transaction: one fsync, not one
   * per message. False when the row's lease was lost meanwhile.
   */
  private settle(id: number, settlement: OutboxSettlement): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.settling.push({ id, settlement, resolve, reject });
      if (this.settling.length > 1) return;
      setImmediate(() => {
        const batch = this.settling;
        this.settling = [];
        this.store
          .settleOutboxMany(
            batch.map((b) => ({ id: b.id, owner: this.owner, settlement: b.settlement })),
          )
          .then(
            (results) => batch.forEach((b, i) => b.resolve(results[i] ?? false)),
            (err: unknown) => batch.forEach((b) => b.reject(err)),
          );
      });
    });
  }

  /**
   * Wake a realtime loop when a retry falls due (it would otherwise wait for the poll); run a
   * batch target again then (one run for the whole failed batch, not one per row).
   */
  private retryAt(t: DispatchTarget, delay: number): void {
    if (t.mode === 'batch') {
      if (this.batchRetries.has(t.id)) return;
      this.batchRetries.add(t.id);
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (t.mode === 'batch') {
        this.batchRetries.delete(t.id);
        void this.runBatch(t);
      } else this.kick([t.id]);
    }, delay);
    this.timers.add(timer);
  }

  private stat(t: DispatchTarget): TargetStats {
    return this.stats.get(t.id)!;
  }

  /** Sleep until kicked, or `ms` passed. */
  private sleep(t: DispatchTarget, ms: number): Promise<void> {
    if (this.kicked.delete(t.id) || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        if (this.wakers.get(t.id) === done) this.wakers.delete(t.id);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.timers.add(timer);
      this.wakers.set(t.id, done);
    });
  }

  /**
   * A realtime target's pool: up to `concurrency` deliveries in flight, and a free slot is
   * filled at once (one slow receiver answer holds up only its own order). Head-of-line leasing
   * never hands out a row whose order has one in flight, so order per order holds.
   */
  private async loop(t: DispatchTarget): Promise<void> {
    const log = this.options.logger.child({ target: t.id });
    const inFlight = new Set<Promise<void>>();
    let storeDown = false;
    await this.ready;
    while (!this.stopped) {
      const free = this.concurrency - inFlight.size;
      let rows: OutboxRow[] = [];
      if (free > 0) {
        try {
          rows = await this.store.leaseOutbox({
            target: t.id,
            now: this.now(),
            limit: free,
            leaseMs: this.leaseMs,
            owner: this.owner,
            headOfLine: true,
          });
          if (storeDown) log.info('outbox readable again');
          storeDown = false;
        } catch (err) {
          if (!storeDown) log.warn({ err: reasonOf(err) }, 'cannot read the outbox; retrying');
          storeDown = true;
          await this.sleep(t, STORE_RETRY_MS);
          continue;
        }
      }
      for (const row of rows) {
        const delivery: Promise<void> = this.deliver(t, [row], log).then(() => {
          inFlight.delete(delivery);
          // Its order's next row may now go, and a slot is free.
          this.kick([t.id]);
        });
        inFlight.add(delivery);
      }
      // Nothing new to lease (or no slot free): wait for a kick (a commit, a finished delivery,
      // a retry falling due) or the poll interval.
      if (rows.length === 0 || inFlight.size >= this.concurrency) await this.sleep(t, this.pollMs);
    }
    await Promise.all(inFlight);
  }

  private async runBatch(t: DispatchTarget): Promise<void> {
    const log = this.options.logger.child({ target: t.id });
    const job = this.jobs.find((j) => j.getPattern() === t.schedule);
    await this.ready;
    try {
      for (;;) {
        const rows = await this.store.leaseOutbox({
          target: t.id,
          now: this.now(),
          limit: 10_000,
          leaseMs: this.leaseMs,
          owner: this.owner,
          headOfLine: false,
        });
        if (rows.length === 0) break;
        const ok = await this.deliver(t, rows, log);
        if (!ok || rows.length < 10_000 || this.stopped) break;
      }
    } catch (err) {
      log.warn({ err: reasonOf(err) }, 'batch run could not read the outbox; next run at schedule');
    }
    this.stat(t).nextRunAt = job?.nextRun()?.getTime() ?? null;
  }

  /** One delivery (one row, or a batch); settles every row. True when delivered. */
  private async deliver(
    t: DispatchTarget,
    rows: readonly OutboxRow[],
    log: Logger,
  ): Promise<boolean> {
    const s = this.stat(t);
    let failure: unknown;
    try {
      await t.instance.deliver(rows.map((r) => r.payload as unknown as OutboundMessage));
    } catch (err) {
      failure = err;
    }
    const at = this.now();
    for (const row of rows) {
      try {
        if (failure === undefined) {
          await this.settle(row.id, { outcome: 'delivered', at });
          s.delivered++;
          s.lastDeliveredAt = at;
          s.latencies.push(at - row.createdAt);
          if (s.latencies.length > LATENCY_WINDOW) s.latencies.shift();
          continue;
        }
        const attempts = row.attempts + 1;
        const permanent = failure instanceof DeliveryError && failure.permanent;
        const message = failure instanceof Error ? failure.message : String(failure);
        s.failedAttempts++;
        s.lastError = message;
        s.lastErrorAt = at;
        const exhausted = attempts >= t.retry.maxAttempts || at - row.ageFrom >= t.retry.maxAge;
        if (permanent || exhausted) {
          await this.settle(row.id, {
            outcome: 'dead',
            at,
            error: message,
          });
          s.dead++;
          log.warn(
            { outbox: row.id, order: row.orderingKey, type: row.type, attempts },
            `message ${row.id} (${row.type} of order ${row.orderingKey}) is dead: ${permanent ? 'refused' : `gave up after ${attempts} attempt(s)`}: ${message}`,
          );
          continue;
        }
        const policy = {
          initialMs: t.retry.initialDelay,
          maxMs: t.retry.maxDelay,
          factor: 2,
          jitter: 0.2,
        };
        const retryAfter = failure instanceof DeliveryError ? (failure.retryAfterMs ?? 0) : 0;
        const delay = Math.max(
          backoffDelay(policy, attempts - 1),
          Math.min(retryAfter, t.retry.maxDelay),
        );
        await this.settle(row.id, {
          outcome: 'retry',
          at,
          nextAttemptAt: at + delay,
          error: message,
        });
        if (attempts === 1)
          log.warn(
            { outbox: row.id, order: row.orderingKey },
            `delivery failed, retrying: ${message}`,
          );
        this.retryAt(t, delay);
      } catch (err) {
        // The store went away between delivery and settlement: the lease expires and the row
        // is delivered again (the receiver de-duplicates by Idempotency-Key).
        log.warn({ err: reasonOf(err), outbox: row.id }, 'could not record a delivery outcome');
      }
    }
    return failure === undefined;
  }
}
