/**
 * The ingest pipeline: message → binding → equipment runtime → domain events → one batched store
 * transaction → live listeners.
 *
 * Guarantee: the promise `ingestMessage` returns resolves only when the message (as a sample, or
 * as a quarantine entry) is committed. Sources acknowledge on that promise (MQTT PUBACK), so an
 * acknowledged message is in the store. Batching is group commit: while one batch commits the next
 * collects, and an idle pipeline commits at the end of the current event-loop turn (or after
 * `batchLingerMs`), so latency stays low at low rates and batches grow with the load.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { isMwError, MwError, type ErrorCode } from '../errors.ts';
import {
  STOP_STATES,
  type DomainEvent,
  type JournalEvent,
  type Quality,
  type TagValue,
} from '../model/index.ts';
import type { IngestBatch, QuarantineEntry, Store, UnitProjection } from '../store/types.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import type { BindingTable, Resolution } from './bindings.ts';
import { OpenBatch } from './open-batch.ts';
import type { PipelineOptions, RawMessage, SampleInput } from './ingest-types.ts';
import { decodePayload } from './payload.ts';
import { consumptionReading, stateChangeAudit, toState } from './readings.ts';
import { BAD_QUALITY_REASON, type EquipmentRuntime } from './runtime.ts';
import {
  encodeSpoolItem,
  storeIsAway,
  type Spool,
  type SpoolEntry,
  type SpoolItem,
  type SpoolStats,
} from './spool.ts';

/** What one binding last read and derived for one unit. */
export interface BindingTrace {
  readonly binding: number;
  readonly equipmentId: string;
  /** The last reading of each input (`value` for a binding with a topic). */
  readonly inputs: Record<
    string,
    { tag: string; value: TagValue; quality: Quality; status: string | null; at: number }
  >;
  /** The value the binding derived last (after its expression), and when. */
  output: TagValue;
  outputAt: number | null;
  /** Why the last reading was quarantined, or null. */
  error: string | null;
}

/** What a payload carried besides the value. */
interface Extras {
  readonly reason: string | null;
  readonly material: string | null;
}

const NO_EXTRAS: Extras = { reason: null, material: null };

export interface ConnectionIngestStats {
  received: number;
  accepted: number;
  quarantined: number;
  /** Process readings within their binding's deadband, not stored. */
  filtered: number;
  /**
   * Stops whose PLC reason code the site's reason tree does not know. The stop is kept (a stop
   * held back would leave the unit in its last state, hiding downtime) and listed unclassified
   * with its code until the tree maps it or someone gives it a reason.
   */
  unmappedReasons: number;
  /** The last few such codes, newest last. */
  unmappedReasonCodes: string[];
  quarantinedByCode: Partial<Record<ErrorCode, number>>;
  lastMessageTs: number | null;
}

export interface PipelineStats {
  readonly queued: number;
  readonly committedSamples: number;
  readonly committedEvents: number;
  readonly committedBatches: number;
  readonly commitErrors: number;
  readonly lastCommitTs: number | null;
  readonly lastCommitError: string | null;
  /** When the last failed commit happened (UTC epoch ms), or null. */
  readonly lastCommitErrorTs: number | null;
  /** Inputs the store refused even as a quarantine entry (logged whole, then removed). */
  readonly dropped: number;
  readonly connections: Readonly<Record<string, ConnectionIngestStats>>;
  /** `spooling` while the store is away and input goes to the local spool. */
  readonly mode: 'direct' | 'spooling';
  /** The local spool's fill, or null when there is no spool. */
  readonly spool: SpoolStats | null;
  /** Inputs held back because the spool is full (their sources wait, unacknowledged). */
  readonly waitingForRoom: number;
}

export type IngestOutcome =
  | { readonly quarantined: false }
  | { readonly quarantined: true; readonly code: ErrorCode; readonly message: string };

/** Retry pace of the replay while the store is away. */
export const REPLAY_BACKOFF: BackoffPolicy = {
  initialMs: 250,
  maxMs: 5000,
  factor: 2,
  jitter: 0.2,
};

export interface PipelineEvents {
  committed: [events: JournalEvent[], batch: IngestBatch];
}

export class IngestPipeline extends EventEmitter<PipelineEvents> {
  private open = new OpenBatch();
  private committing: Promise<void> | null = null;
  private committingSize = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private drainWaiters: (() => void)[] = [];
  private closed = false;
  private readonly stats = {
    committedSamples: 0,
    committedEvents: 0,
    committedBatches: 0,
    commitErrors: 0,
    lastCommitTs: null as number | null,
    lastCommitError: null as string | null,
    lastCommitErrorTs: null as number | null,
    /** Inputs the store refused even as a quarantine entry: logged whole, then removed. */
    dropped: 0,
  };
  private readonly perConnection = new Map<string, ConnectionIngestStats>();
  private mode: 'direct' | 'spooling' = 'direct';
  /** The units as the store has them: what the runtime returns to after a failed commit. */
  private readonly committedUnits = new Map<string, UnitProjection>();
  /** What the last processed input came to (read right after processing it). */
  private lastOutcome: IngestOutcome = { quarantined: false };
  /** Whether processing counts its inputs in the connection figures (see SpoolItem.counted). */
  private countInputs = true;
  /** The batch processing writes into: the open batch, or a replayed one. */
  private target: OpenBatch | null = null;
  private replaying: Promise<void> | null = null;
  /**
   * Spool entries to replay one at a time: after the store refused a batch for a reason other
   * than being away, to find the input it refuses and set that one aside (quarantine) so it
   * cannot hold up the rest.
   */
  private isolate = 0;
  /** Spool entries already counted in the connection figures by an earlier replay attempt. */
  private readonly countedEntries = new Set<number>();
  private readonly spaceWaiters: (() => void)[] = [];
  private readonly stopReplay = new AbortController();
  /** What each binding last read and derived, per unit: the engineer's view (GET /api/v1/bindings). */
  private readonly traces = new Map<string, BindingTrace>();
  /** The last process value stored per binding and unit (deadband). */
  private readonly lastKept = new Map<string, number>();
  /** The latest good value of each input of expression bindings, per binding and unit. */
  private readonly expressionInputs = new Map<string, Record<string, TagValue>>();

  constructor(
    private readonly store: Store,
    private readonly runtime: EquipmentRuntime,
    private readonly bindings: BindingTable,
    private readonly options: PipelineOptions,
    private readonly logger: Logger,
    /** The local spool for when the store is away; null: refuse input instead (sources resend). */
    private readonly spool: Spool | null = null,
  ) {
    super();
    for (const u of runtime.all()) this.committedUnits.set(u.equipmentId, u);
    if (spool !== null && spool.stats().entries > 0) {
      this.logger.warn(
        { entries: spool.stats().entries },
        'the spool holds input from an earlier run; replaying it before new input',
      );
      this.startSpooling();
    }
  }

  /**
   * Accept one message; resolves when it is committed (as a sample or in the quarantine).
   * `onAccepted` runs once the message is in a batch, i.e. past the backpressure wait: a source
   * that can take the next message before this one commits goes on at that point.
   */
  ingestMessage(msg: RawMessage, onAccepted?: () => void): Promise<void> {
    return this.accept({ kind: 'message', message: msg }, onAccepted);
  }

  /**
   * Accept one decoded sample, with the same guarantee and backpressure as `ingestMessage`.
   * A sample of bad or uncertain quality is stored, but does not change states or counters:
   * its value cannot be trusted.
   */
  ingestSample(sample: SampleInput, onAccepted?: () => void): Promise<void> {
    return this.accept({ kind: 'sample', sample }, onAccepted);
  }

  private processItem(item: SpoolItem): void {
    if (item.kind === 'message') this.process(item.message);
    else this.processSample(item.sample);
  }

  /**
   * Ingest an input again (a quarantined one, after its binding or mapping was fixed) and say
   * whether it was accepted or quarantined again; resolves once committed. Refused while the
   * store is away.
   */
  async reingest(item: SpoolItem): Promise<IngestOutcome> {
    if (this.mode === 'spooling') {
      throw new MwError('MW_ERR_STORE_UNAVAILABLE', {
        store: this.store.kind,
        reason: 'the store is away (input goes to the spool); replay when it is back',
      });
    }
    let outcome: IngestOutcome = { quarantined: false };
    await this.accept(item, undefined, (o) => (outcome = o));
    return outcome;
  }

  private async accept(
    item: SpoolItem,
    onAccepted?: () => void,
    onOutcome?: (outcome: IngestOutcome) => void,
  ): Promise<void> {
    for (;;) {
      if (this.closed)
        throw new MwError('MW_ERR_STORE_UNAVAILABLE', {
          store: this.store.kind,
          reason: 'the hub is shutting down',
        });
      // Re-checked after every wake-up: a release lets waiters in only while there is room.
      while (this.queued >= this.options.queueMax)
        await new Promise<void>((r) => this.drainWaiters.push(r));
      if (this.mode === 'direct') break;
      // The store is away: the spool takes the input durably, which acknowledges it. A full
      // spool holds the source back (not acknowledged) until replay frees room.
      if ((this.spool as Spool).append([item])) {
        onAccepted?.();
        return;
      }
      await new Promise<void>((r) => this.spaceWaiters.push(r));
    }
    const committed = new Promise<void>((resolve, reject) => {
      this.target = this.open;
      try {
        this.processItem(item);
      } finally {
        this.target = null;
      }
      onOutcome?.(this.lastOutcome);
      this.open.inputs.push(item);
      this.open.waiters.push({ resolve, reject });
      this.schedule();
    });
    onAccepted?.();
    return committed;
  }

  private startSpooling(): void {
    this.mode = 'spooling';
    this.replaying ??= this.replay().finally(() => {
      this.replaying = null;
    });
  }

  /**
   * Commit the spool's entries in order, a batch at a time, through the runtime as if they
   * arrived now; retry while the store is away; back to direct commits once it is empty.
   */
  private async replay(): Promise<void> {
    const spool = this.spool as Spool;
    let failures = 0;
    // Let the failed commit's bookkeeping (and any commit in flight) finish first.
    if (this.committing !== null) await this.committing.catch(() => undefined);
    let refusals = 0;
    while (!this.stopReplay.signal.aborted) {
      const entries = spool.peek(this.isolate > 0 ? 1 : this.options.batchMaxSize);
      if (entries.length === 0) {
        this.mode = 'direct';
        this.isolate = 0;
        this.logger.info('spool replayed; committing directly again');
        this.wakeSpaceWaiters();
        return;
      }
      const batch = new OpenBatch();
      this.target = batch;
      try {
        for (const e of entries) {
          // Counted once in the connection figures, however often a replay is tried.
          this.countInputs = e.item.counted !== true && !this.countedEntries.has(e.id);
          this.countedEntries.add(e.id);
          this.processItem(e.item);
        }
      } finally {
        this.target = null;
        this.countInputs = true;
      }
      try {
        const ingest = this.toIngest(batch);
        const journal = await this.store.commit(ingest);
        this.committedOk(ingest, journal);
        spool.removeThrough(entries.at(-1)!.id);
        for (const e of entries) this.countedEntries.delete(e.id);
        failures = 0;
        refusals = 0;
        this.isolate = Math.max(0, this.isolate - entries.length);
        this.wakeSpaceWaiters();
      } catch (err) {
        this.runtime.reset([...this.committedUnits.values()]);
        this.stats.commitErrors++;
        this.stats.lastCommitError = (err as Error).message;
        this.stats.lastCommitErrorTs = Date.now();
        if (!storeIsAway(err)) {
          // The store refuses the batch itself: replay its entries one at a time, and set aside
          // an entry it refuses on its own (after a few tries: the cause may pass).
          if (entries.length > 1) {
            this.isolate = Math.max(this.isolate, entries.length);
            this.logger.warn(
              { err, entries: entries.length },
              'the store refused a batch; replaying its inputs one at a time to find the one it refuses',
            );
            continue;
          }
          if (++refusals >= POISON_ATTEMPTS) {
            await this.setAside(entries[0]!, err, refusals);
            refusals = 0;
            continue;
          }
        }
        const delay = backoffDelay(REPLAY_BACKOFF, failures++);
        if (failures === 1 || failures % 20 === 0) {
          this.logger.warn(
            { err, entries: spool.stats().entries, retryInMs: delay },
            storeIsAway(err)
              ? 'store still away; the spool keeps the input'
              : 'replaying the spool failed; retrying',
          );
        }
        await new Promise<void>((resolve) => {
          const signal = this.stopReplay.signal;
          const onAbort = (): void => {
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          }, delay);
          signal.addEventListener('abort', onAbort, { once: true });
        });
      }
    }
  }

  private wakeSpaceWaiters(): void {
    for (const w of this.spaceWaiters.splice(0)) w();
  }

  /**
   * An input the store refuses on its own goes to the quarantine (MW_ERR_STORE_REJECTED, with
   * the store's reason), so it cannot hold up the input after it; it can be replayed once the
   * cause is fixed. Should even that row be refused, the input is logged whole and counted
   * (`dropped`), never left to stall the spool.
   */
  private async setAside(entry: SpoolEntry, err: unknown, attempts: number): Promise<void> {
    const item = entry.item;
    const e = new MwError('MW_ERR_STORE_REJECTED', {
      store: this.store.kind,
      attempts,
      reason: (err as Error).message,
    });
    const source = item.kind === 'message' ? item.message.topic : item.sample.tag;
    const connectionId =
      item.kind === 'message' ? item.message.connectionId : item.sample.connectionId;
    const bytes = inputPayload(item);
    const quarantine: QuarantineEntry = {
      connectionId,
      // Text the store could not hold (PostgreSQL refuses U+0000) must not refuse this row too.
      source: source.replaceAll('\u0000', '\ufffd'),
      receivedTs: item.kind === 'message' ? item.message.receivedTs : item.sample.receivedTs,
      code: e.code,
      message: e.message.replaceAll('\u0000', '\ufffd'),
      payload: bytes.subarray(0, this.options.quarantinePayloadBytes),
      payloadBytes: bytes.length,
    };
    const stats = this.connectionStats(connectionId);
    try {
      await this.store.commit({
        samples: [],
        events: [],
        units: [],
        quarantine: [quarantine],
        audit: [],
      });
      stats.accepted--;
      stats.quarantined++;
      stats.quarantinedByCode[e.code] = (stats.quarantinedByCode[e.code] ?? 0) + 1;
      this.logger.error(
        { err, source, connection: connectionId },
        'the store refused an input; it is in the quarantine',
      );
    } catch (again) {
      if (storeIsAway(again)) return; // the replay loop waits for the store and tries again
      this.stats.dropped++;
      this.logger.error(
        { err, again, connection: connectionId, source, input: encodeSpoolItem(item) },
        'the store refused an input and its quarantine entry; the input is logged here whole and removed from the spool',
      );
    }
    (this.spool as Spool).removeThrough(entry.id);
    this.countedEntries.delete(entry.id);
    this.isolate = Math.max(0, this.isolate - 1);
    this.wakeSpaceWaiters();
  }

  private toIngest(batch: OpenBatch): IngestBatch {
    return {
      samples: batch.samples,
      events: batch.events,
      units: this.runtime.takeDirty(),
      quarantine: batch.quarantine,
      audit: batch.audit,
    };
  }

  /** Bookkeeping of a successful commit. */
  private committedOk(ingest: IngestBatch, journal: JournalEvent[]): void {
    this.stats.committedBatches++;
    this.stats.committedSamples += ingest.samples.length;
    this.stats.committedEvents += journal.length;
    this.stats.lastCommitTs = Date.now();
    for (const u of ingest.units) this.committedUnits.set(u.equipmentId, u);
    this.emit('committed', journal, ingest);
  }

  /** Commit what is waiting now; resolves when it is committed. */
  async flush(): Promise<void> {
    while (this.open.pending || this.committing !== null) {
      if (this.committing !== null) await this.committing.catch(() => undefined);
      else this.commitOpen();
    }
  }

  /** Stop accepting, commit what is waiting (what is spooled stays for the next start). */
  async close(): Promise<void> {
    this.closed = true;
    this.stopReplay.abort();
    this.wakeSpaceWaiters();
    await this.flush();
    await this.replaying;
    if (this.timer !== null) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = null;
    }
  }

  get queued(): number {
    return this.open.size + this.committingSize;
  }

  snapshot(): PipelineStats {
    return {
      queued: this.queued,
      ...this.stats,
      connections: Object.fromEntries(this.perConnection),
      mode: this.mode,
      spool: this.spool?.stats() ?? null,
      waitingForRoom: this.spaceWaiters.length,
    };
  }

  /** The batch being filled by processing (set around each synchronous processing step). */
  private get into(): OpenBatch {
    return this.target ?? this.open;
  }

  private connectionStats(connectionId: string): ConnectionIngestStats {
    let s = this.perConnection.get(connectionId);
    if (s === undefined) {
      s = {
        received: 0,
        accepted: 0,
        quarantined: 0,
        filtered: 0,
        unmappedReasons: 0,
        unmappedReasonCodes: [],
        quarantinedByCode: {},
        lastMessageTs: null,
      };
      this.perConnection.set(connectionId, s);
    }
    return s;
  }

  /** Turn one message into a sample plus events, or a quarantine entry, in the open batch. */
  private process(msg: RawMessage): void {
    this.guarded(
      msg.connectionId,
      msg.topic,
      msg.receivedTs,
      () => msg.payload,
      () => {
        const limit = this.options.maxPayloadBytes(msg.connectionId);
        if (msg.payload.length > limit) {
          throw new MwError('MW_ERR_INGEST_PAYLOAD_TOO_LARGE', { size: msg.payload.length, limit });
        }
        const resolution = this.resolve(msg.connectionId, msg.topic);
        const decoded = decodePayload(msg.payload, resolution.binding.payload);
        const extras = { reason: decoded.reason ?? null, material: decoded.material ?? null };
        this.addSample(resolution, extras, {
          connectionId: msg.connectionId,
          tag: msg.topic,
          value: decoded.value,
          quality: 'good',
          sourceTs: decoded.sourceTs ?? null,
          receivedTs: msg.receivedTs,
        });
      },
    );
  }

  /** The same for a sample a connector decoded itself. */
  private processSample(sample: SampleInput): void {
    const payload = (): Buffer => inputPayload({ kind: 'sample', sample });
    this.guarded(sample.connectionId, sample.tag, sample.receivedTs, payload, () => {
      this.addSample(this.resolve(sample.connectionId, sample.tag), NO_EXTRAS, sample);
    });
  }

  private resolve(connectionId: string, tag: string): Resolution {
    const resolution = this.bindings.resolve(connectionId, tag);
    if (resolution === null)
      throw new MwError('MW_ERR_INGEST_NO_BINDING', { topic: tag, connection: connectionId });
    if (!this.runtime.has(resolution.equipmentId))
      throw new MwError('MW_ERR_INGEST_UNKNOWN_EQUIPMENT', { equipment: resolution.equipmentId });
    return resolution;
  }

  /**
   * A sample into the open batch, with the events it causes. A good sample is derived as usual
   * (and tells the runtime the unit is not silent). A bad state sample puts the unit in
   * `unknown` (reason `bad-quality`): a state that cannot be read is not the last one read. A bad
   * counter sample and any uncertain sample change nothing.
   */
  private addSample(resolution: Resolution, extras: Extras, sample: SampleInput): void {
    const trace = this.traceOf(resolution);
    trace.inputs[resolution.input] = {
      tag: sample.tag,
      value: sample.value,
      quality: sample.quality,
      status: sample.status ?? null,
      at: sample.sourceTs ?? sample.receivedTs,
    };
    try {
      this.derived(resolution, extras, sample, trace);
      trace.error = null;
    } catch (err) {
      trace.error = (err as Error).message;
      throw err;
    }
  }

  private traceOf(r: Resolution): BindingTrace {
    const key = `${r.binding.index}\u0000${r.equipmentId}`;
    let t = this.traces.get(key);
    if (t === undefined) {
      t = {
        binding: r.binding.index,
        equipmentId: r.equipmentId,
        inputs: {},
        output: null,
        outputAt: null,
        error: null,
      };
      this.traces.set(key, t);
    }
    return t;
  }

  /** The traces of every binding (of one unit), by binding index. */
  bindingTraces(equipmentId?: string): BindingTrace[] {
    return [...this.traces.values()]
      .filter((t) => equipmentId === undefined || t.equipmentId === equipmentId)
      .sort((a, b) => a.binding - b.binding || (a.equipmentId < b.equipmentId ? -1 : 1));
  }

  private derived(
    resolution: Resolution,
    extras: Extras,
    sample: SampleInput,
    trace: BindingTrace,
  ): void {
    const { binding, equipmentId } = resolution;
    const ts = sample.sourceTs ?? sample.receivedTs;
    let events: DomainEvent[] = [];
    // An input that cannot be read no longer feeds its expression.
    if (sample.quality !== 'good' && binding.expression !== null) {
      const vars = this.expressionInputs.get(`${binding.index}\u0000${equipmentId}`);
      if (vars !== undefined) delete vars[resolution.input];
    }
    if (sample.quality === 'good') {
      const value = this.bindingValue(resolution, sample);
      if (value !== undefined) {
        events = this.derive(resolution, value, extras, ts);
        trace.output = value;
        trace.outputAt = ts;
      }
      this.runtime.noteData(equipmentId, sample.receivedTs);
    } else if (sample.quality === 'bad' && binding.meaning.kind === 'state') {
      events = this.runtime.applyState(equipmentId, 'unknown', BAD_QUALITY_REASON, ts);
    }
    if (this.withinDeadband(resolution, sample)) {
      this.connectionStats(sample.connectionId).filtered++;
      return;
    }
    this.into.samples.push({
      connectionId: sample.connectionId,
      tag: sample.tag,
      value: sample.value,
      quality: sample.quality,
      status: sample.status ?? null,
      sourceTs: ts,
      receivedTs: sample.receivedTs,
      equipmentId,
    });
    for (const event of events) this.addDerived(event, `connection:${sample.connectionId}`);
  }

  /**
   * The value a binding derives from a good sample: the sample's own value, or its expression
   * over the latest good value of each input (undefined while an input has none yet). The
   * inputs are remembered per binding and unit; a bad reading of an input forgets it.
   */
  private bindingValue(resolution: Resolution, sample: SampleInput): TagValue | undefined {
    const { binding, equipmentId, input } = resolution;
    if (binding.expression === null) return sample.value;
    const key = `${binding.index}\u0000${equipmentId}`;
    let vars = this.expressionInputs.get(key);
    if (vars === undefined) {
      vars = {};
      this.expressionInputs.set(key, vars);
    }
    vars[input] = sample.value;
    const known = vars;
    if (!binding.inputs.every((x) => Object.hasOwn(known, x.name))) return undefined;
    try {
      return binding.expression.evaluate(known);
    } catch (err) {
      throw new MwError(
        'MW_ERR_INGEST_EXPRESSION',
        { index: binding.index, reason: (err as Error).message },
        { cause: err },
      );
    }
  }

  /**
   * A good numeric process reading within the binding's deadband of the last one kept is not
   * stored (counted as `filtered`); the kept value moves only when a reading is stored.
   */
  private withinDeadband(resolution: Resolution, sample: SampleInput): boolean {
    const { binding, equipmentId } = resolution;
    if (binding.meaning.kind !== 'process' || binding.deadband <= 0) return false;
    if (sample.quality !== 'good' || typeof sample.value !== 'number') return false;
    const key = `${binding.index}\u0000${equipmentId}`;
    const last = this.lastKept.get(key);
    if (last !== undefined && Math.abs(sample.value - last) < binding.deadband) return true;
    this.lastKept.set(key, sample.value);
    return false;
  }

  /** An event into the batch being filled, with its audit row for a state change. */
  private addDerived(event: DomainEvent, actor: string): void {
    this.into.addEvent(event);
    if (event.type === 'state.changed' && this.options.auditStateChanges) {
      this.into.audit.push(stateChangeAudit(actor, event));
    }
  }

  /**
   * Time passes (hub clock, called about once a second): debounced states that stood long
   * enough are confirmed and silent units become `unknown`. Their events commit like any other
   * (actor `system`). While the store is away this waits: replay runs the runtime.
   */
  tick(now: number): void {
    if (this.closed || this.mode === 'spooling') return;
    const events = this.runtime.tick(now);
    if (events.length === 0) return;
    this.target = this.open;
    try {
      for (const e of events) this.addDerived(e, 'system');
    } finally {
      this.target = null;
    }
    this.schedule();
  }

  /** Run `work`; whatever it throws sends the input to the quarantine with the reason, counted. */
  private guarded(
    connectionId: string,
    source: string,
    receivedTs: number,
    payload: () => Buffer,
    work: () => void,
  ): void {
    // A replayed input that was counted before its batch failed is not counted again.
    const stats = this.countInputs
      ? this.connectionStats(connectionId)
      : { ...this.connectionStats(connectionId), quarantinedByCode: {} };
    stats.received++;
    stats.lastMessageTs = receivedTs;
    try {
      work();
      stats.accepted++;
      this.lastOutcome = { quarantined: false };
    } catch (err) {
      const e = isMwError(err)
        ? err
        : new MwError('MW_ERR_INTERNAL_ERROR', { reason: (err as Error).message }, { cause: err });
      if (e.code === 'MW_ERR_INTERNAL_ERROR')
        this.logger.error({ err, source }, 'message processing failed');
      stats.quarantined++;
      stats.quarantinedByCode[e.code] = (stats.quarantinedByCode[e.code] ?? 0) + 1;
      this.lastOutcome = { quarantined: true, code: e.code, message: e.message };
      const bytes = payload();
      this.into.quarantine.push({
        connectionId,
        source,
        receivedTs,
        code: e.code,
        message: e.message,
        payload: bytes.subarray(0, this.options.quarantinePayloadBytes),
        payloadBytes: bytes.length,
      });
    }
  }

  private derive(
    resolution: Resolution,
    value: TagValue,
    extras: Extras,
    ts: number,
  ): DomainEvent[] {
    const { binding, equipmentId } = resolution;
    if (binding.meaning.kind === 'state') {
      const state = toState(binding, value);
      const events = this.runtime.applyState(equipmentId, state, extras.reason, ts);
      if (extras.reason !== null && STOP_STATES.includes(state))
        this.checkReason(resolution, extras.reason);
      return events;
    }
    if (binding.meaning.kind === 'process') return [];
    if (binding.meaning.kind === 'consumption') {
      const consumed = this.runtime.applyConsumption(
        equipmentId,
        consumptionReading(resolution, value, extras.material, this.options),
        ts,
      );
      return consumed === null ? [] : [consumed];
    }
    const text = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    // A pulse is a level: booleans are 1 and 0.
    const raw = binding.counterMode === 'pulse' && typeof text === 'boolean' ? Number(text) : text;
    if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) {
      throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
        field: `bindings[${binding.index}] (${binding.meaning.counter} counter) value`,
        expected: 'a non-negative integer',
        actual: JSON.stringify(value),
      });
    }
    const counted = this.runtime.applyCounter(
      equipmentId,
      binding.meaning.counter,
      raw,
      binding.rolloverAt,
      ts,
      binding.counterMode,
    );
    return counted === null ? [] : [counted];
  }

  /** Count (and log, once per code and connection) a stop code the site's tree does not know. */
  private checkReason(resolution: Resolution, code: string): void {
    if (this.options.reasonKnown?.(resolution.equipmentId, code) !== false) return;
    const stats = this.connectionStats(resolution.binding.connectionId);
    stats.unmappedReasons++;
    const known = stats.unmappedReasonCodes.indexOf(code);
    if (known >= 0) stats.unmappedReasonCodes.splice(known, 1);
    else
      this.logger.warn(
        { equipment: resolution.equipmentId, code, binding: resolution.binding.index },
        `PLC reason code "${code}" is not in the site's reason tree: the stop is kept, unclassified (map it with plcCodes in sites[].reasons)`,
      );
    stats.unmappedReasonCodes.push(code);
    if (stats.unmappedReasonCodes.length > 20) stats.unmappedReasonCodes.shift();
  }

  private schedule(): void {
    if (this.open.size >= this.options.batchMaxSize) {
      this.commitOpen();
      return;
    }
    if (this.timer !== null) return;
    const fire = (): void => {
      this.timer = null;
      this.commitOpen();
    };
    this.timer =
      this.options.batchLingerMs > 0
        ? setTimeout(fire, this.options.batchLingerMs)
        : setImmediate(fire);
  }

  /** Commit the open batch unless a commit is running (its end picks the open batch up). */
  private commitOpen(): void {
    if (this.committing !== null || !this.open.pending) return;
    const batch = this.open;
    this.open = new OpenBatch();
    const ingest = this.toIngest(batch);
    this.committingSize = batch.size;
    this.committing = this.store
      .commit(ingest)
      .then(
        (journal) => {
          for (const w of batch.waiters) w.resolve();
          this.committedOk(ingest, journal);
        },
        (err: unknown) => this.failed(batch, err),
      )
      .finally(() => {
        this.committing = null;
        this.committingSize = 0;
        this.releaseDrain();
        if (this.open.pending) this.schedule();
      });
  }

  /**
   * A commit failed: nothing of it is stored. The open batch was derived from state that
   * included the failed one, so it shares its fate, and the runtime goes back to the units as
   * stored. When the store is away (and there is a spool) both batches are spooled and so
   * acknowledged, and replay starts; otherwise nothing is acknowledged and the sources deliver
   * everything again.
   */
  private failed(batch: OpenBatch, err: unknown): void {
    this.stats.commitErrors++;
    this.stats.lastCommitError = (err as Error).message;
    this.stats.lastCommitErrorTs = Date.now();
    const open = this.open;
    this.open = new OpenBatch();
    // Back to the units as stored: the open batch was derived from the failed one too.
    this.runtime.reset([...this.committedUnits.values()]);
    const away = storeIsAway(err);
    if (this.spool !== null) {
      // Both batches, in arrival order, go to the spool, and so are acknowledged.
      // Counted once already: replay must not count them again. When the store is there but
      // refused the batch itself, replay takes the inputs one at a time (see `isolate`).
      const items = [...batch.inputs, ...open.inputs].map((i) => ({ ...i, counted: true }));
      const spooled = this.spool.append(items);
      if (spooled && !away) this.isolate += items.length;
      this.logger.error(
        { err, spooled: spooled ? items.length : 0, spool: this.spool.stats().location },
        !away
          ? 'the store refused a batch; its inputs are replayed one at a time to set aside the one it refuses'
          : spooled
            ? 'the store is away; input goes to the local spool until it returns'
            : 'the store is away and the spool is full; the sources will deliver again',
      );
      for (const w of [...batch.waiters, ...open.waiters]) {
        if (spooled) w.resolve();
        else w.reject(err);
      }
      this.startSpooling();
      return;
    }
    this.logger.error({ err }, 'store commit failed; messages will be delivered again');
    for (const w of [...batch.waiters, ...open.waiters]) w.reject(err);
  }

  /** Wake as many waiting sources as there is room for, oldest first (keeps arrival order). */
  private releaseDrain(): void {
    let room = this.options.queueMax - this.queued;
    while (room-- > 0 && this.drainWaiters.length > 0) this.drainWaiters.shift()?.();
  }
}

/** Tries of one input alone before the store's refusal is taken as final. */
const POISON_ATTEMPTS = 3;

/** The bytes of an input as the quarantine keeps them (a decoded sample as JSON). */
function inputPayload(item: SpoolItem): Buffer {
  if (item.kind === 'message') return item.message.payload;
  const s = item.sample;
  return Buffer.from(
    JSON.stringify({ value: s.value, quality: s.quality, status: s.status ?? null }),
  );
}
