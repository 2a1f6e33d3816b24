/**
 * The batch being filled: the samples, events, quarantine entries and audit rows of the inputs
 * accepted since the last commit, with the waiters to answer once it is committed.
 */
import { Decimal } from 'decimal.js';
import type { AuditEntry } from '../compliance/audit.ts';
import type { DomainEvent } from '../model/index.ts';
import type { QuarantineEntry, SampleRecord } from '../store/types.ts';
import type { SpoolItem } from './spool.ts';

export interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

export class OpenBatch {
  readonly samples: SampleRecord[] = [];
  readonly events: DomainEvent[] = [];
  readonly quarantine: QuarantineEntry[] = [];
  readonly audit: AuditEntry[] = [];
  readonly waiters: Waiter[] = [];
  /** The input as it arrived, one per waiter: what goes to the spool if the store is away. */
  readonly inputs: SpoolItem[] = [];
  /** Index in `events` of the plain `counted` event per unit and counter, for merging. */
  private readonly countedAt = new Map<string, number>();

  /**
   * Add an event. Plain counts of the same unit and counter within one batch (a few
   * milliseconds) merge into one `counted` event over that interval: the journal keeps every
   * piece, the raw samples keep every reading, and a fast counter does not cost a journal row per
   * reading. Consumption of one material merges the same way (exact decimal sum). Rollovers and
   * resets stay events of their own.
   */
  addEvent(event: DomainEvent): void {
    if ((event.type !== 'counted' && event.type !== 'consumed') || event.data.anomaly !== null) {
      this.events.push(event);
      return;
    }
    const key =
      event.type === 'counted'
        ? `${event.equipmentId}\u0000${event.data.counter}`
        : `${event.equipmentId}\u0000consumed\u0000${event.data.material}`;
    const at = this.countedAt.get(key);
    const previous = at === undefined ? undefined : this.events[at];
    if (previous?.type === 'counted' && event.type === 'counted') {
      this.events[at as number] = {
        ...previous,
        ts: event.ts,
        data: { ...event.data, delta: previous.data.delta + event.data.delta },
      };
      return;
    }
    if (previous?.type === 'consumed' && event.type === 'consumed') {
      this.events[at as number] = {
        ...previous,
        ts: event.ts,
        data: {
          ...event.data,
          quantity: new Decimal(previous.data.quantity).plus(event.data.quantity).toFixed(),
        },
      };
      return;
    }
    this.countedAt.set(key, this.events.length);
    this.events.push(event);
  }

  get size(): number {
    return this.waiters.length;
  }

  /** Something to commit: inputs, or events the hub derived by itself. */
  get pending(): boolean {
    return this.waiters.length > 0 || this.events.length > 0;
  }
}
