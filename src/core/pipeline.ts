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
import type { AuditEntry } from '../compliance/audit.ts';
import type { Logger } from 'pino';
import { isMwError, MwError, type ErrorCode } from '../errors.ts';
import {
  isEquipmentState,
  type DomainEvent,
  type EquipmentState,
  type JournalEvent,
  type Quality,
  type StateChangedEvent,
  type TagValue,
} from '../model/index.ts';
import type { IngestBatch, QuarantineEntry, SampleRecord, Store } from '../store/types.ts';
import type { BindingTable, CompiledBinding } from './bindings.ts';
import { decodePayload } from './payload.ts';
import type { EquipmentRuntime } from './runtime.ts';

export interface RawMessage {
  readonly connectionId: string;
  /** MQTT topic (or another protocol's address) of the message. */
  readonly topic: string;
  readonly payload: Buffer;
  readonly receivedTs: number;
}

/**
 * A value a connector has already decoded (OPC UA, Modbus, Sparkplug, SQL): no payload to parse.
 * The binding is found by the tag, as a topic is for MQTT.
 */
export interface SampleInput {
  readonly connectionId: string;
  readonly tag: string;
  readonly value: TagValue;
  readonly quality: Quality;
  /** The protocol's own status behind a quality other than good. */
  readonly status?: string | null;
  /** The device's time, or null when it gives none (then the receive time is used). */
  readonly sourceTs: number | null;
  readonly receivedTs: number;
}

export interface PipelineOptions {
  readonly batchMaxSize: number;
  readonly batchLingerMs: number;
  readonly queueMax: number;
  /** Largest payload accepted per connection, in bytes. */
  readonly maxPayloadBytes: (connectionId: string) => number;
  readonly quarantinePayloadBytes: number;
  /** Audit every state change a device reports (config `audit.stateChanges`). */
  readonly auditStateChanges: boolean;
}

export interface ConnectionIngestStats {
  received: number;
  accepted: number;
  quarantined: number;
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
  readonly connections: Readonly<Record<string, ConnectionIngestStats>>;
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

class OpenBatch {
  readonly samples: SampleRecord[] = [];
  readonly events: DomainEvent[] = [];
  readonly quarantine: QuarantineEntry[] = [];
  readonly audit: AuditEntry[] = [];
  readonly waiters: Waiter[] = [];
  /** Index in `events` of the plain `counted` event per unit and counter, for merging. */
  private readonly countedAt = new Map<string, number>();

  /**
   * Add an event. Plain counts of the same unit and counter within one batch (a few
   * milliseconds) merge into one `counted` event over that interval: the journal keeps every
   * piece, the raw samples keep every reading, and a fast counter does not cost a journal row per
   * reading. Rollovers and resets stay events of their own.
   */
  addEvent(event: DomainEvent): void {
    if (event.type !== 'counted' || event.data.anomaly !== null) {
      this.events.push(event);
      return;
    }
    const key = `${event.equipmentId}\u0000${event.data.counter}`;
    const at = this.countedAt.get(key);
    const previous = at === undefined ? undefined : this.events[at];
    if (previous?.type === 'counted') {
      this.events[at as number] = {
        ...previous,
        ts: event.ts,
        data: { ...event.data, delta: previous.data.delta + event.data.delta },
      };
      return;
    }
    this.countedAt.set(key, this.events.length);
    this.events.push(event);
  }

  get size(): number {
    return this.waiters.length;
  }
}

export interface PipelineEvents {
  committed: [events: JournalEvent[], batch: IngestBatch];
}

export class IngestPipeline extends EventEmitter<PipelineEvents> {
  private open = new OpenBatch();
  private committing: Promise<void> | null = null;
  private committingSize = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private recovering: Promise<void> | null = null;
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
  };
  private readonly perConnection = new Map<string, ConnectionIngestStats>();

  constructor(
    private readonly store: Store,
    private readonly runtime: EquipmentRuntime,
    private readonly bindings: BindingTable,
    private readonly options: PipelineOptions,
    private readonly logger: Logger,
  ) {
    super();
  }

  /**
   * Accept one message; resolves when it is committed (as a sample or in the quarantine).
   * `onAccepted` runs once the message is in a batch, i.e. past the backpressure wait: a source
   * that can take the next message before this one commits goes on at that point.
   */
  ingestMessage(msg: RawMessage, onAccepted?: () => void): Promise<void> {
    return this.accept(() => this.process(msg), onAccepted);
  }

  /**
   * Accept one decoded sample, with the same guarantee and backpressure as `ingestMessage`.
   * A sample of bad or uncertain quality is stored, but does not change states or counters:
   * its value cannot be trusted.
   */
  ingestSample(sample: SampleInput, onAccepted?: () => void): Promise<void> {
    return this.accept(() => this.processSample(sample), onAccepted);
  }

  private async accept(add: () => void, onAccepted?: () => void): Promise<void> {
    if (this.closed)
      throw new MwError('MW_ERR_STORE_UNAVAILABLE', {
        store: this.store.kind,
        reason: 'the hub is shutting down',
      });
    if (this.recovering !== null) await this.recovering;
    // Re-checked after every wake-up: a release lets waiters in only while there is room.
    while (this.queued >= this.options.queueMax)
      await new Promise<void>((r) => this.drainWaiters.push(r));
    const committed = new Promise<void>((resolve, reject) => {
      add();
      this.open.waiters.push({ resolve, reject });
      this.schedule();
    });
    onAccepted?.();
    return committed;
  }

  /** Commit what is waiting now; resolves when it is committed. */
  async flush(): Promise<void> {
    while (this.open.size > 0 || this.committing !== null) {
      if (this.committing !== null) await this.committing.catch(() => undefined);
      else this.commitOpen();
    }
  }

  /** Stop accepting, commit what is waiting. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
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
    };
  }

  private connectionStats(connectionId: string): ConnectionIngestStats {
    let s = this.perConnection.get(connectionId);
    if (s === undefined) {
      s = { received: 0, accepted: 0, quarantined: 0, quarantinedByCode: {}, lastMessageTs: null };
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
        const { binding, equipmentId } = this.resolve(msg.connectionId, msg.topic);
        const decoded = decodePayload(msg.payload, binding.payload);
        this.addSample(binding, equipmentId, decoded.reason ?? null, {
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
    const payload = (): Buffer =>
      Buffer.from(
        JSON.stringify({
          value: sample.value,
          quality: sample.quality,
          status: sample.status ?? null,
        }),
      );
    this.guarded(sample.connectionId, sample.tag, sample.receivedTs, payload, () => {
      const { binding, equipmentId } = this.resolve(sample.connectionId, sample.tag);
      this.addSample(binding, equipmentId, null, sample);
    });
  }

  private resolve(
    connectionId: string,
    tag: string,
  ): { binding: CompiledBinding; equipmentId: string } {
    const resolution = this.bindings.resolve(connectionId, tag);
    if (resolution === null)
      throw new MwError('MW_ERR_INGEST_NO_BINDING', { topic: tag, connection: connectionId });
    if (!this.runtime.has(resolution.equipmentId))
      throw new MwError('MW_ERR_INGEST_UNKNOWN_EQUIPMENT', { equipment: resolution.equipmentId });
    return resolution;
  }

  /** A sample into the open batch, with the event it causes when its quality is good. */
  private addSample(
    binding: CompiledBinding,
    equipmentId: string,
    reason: string | null,
    sample: SampleInput,
  ): void {
    const ts = sample.sourceTs ?? sample.receivedTs;
    const event =
      sample.quality === 'good'
        ? this.derive(binding, equipmentId, sample.value, reason, ts)
        : null;
    this.open.samples.push({
      connectionId: sample.connectionId,
      tag: sample.tag,
      value: sample.value,
      quality: sample.quality,
      status: sample.status ?? null,
      sourceTs: ts,
      receivedTs: sample.receivedTs,
      equipmentId,
    });
    if (event !== null) {
      this.open.addEvent(event);
      if (event.type === 'state.changed' && this.options.auditStateChanges) {
        this.open.audit.push(stateChangeAudit(sample.connectionId, event));
      }
    }
  }

  /** Run `work`; whatever it throws sends the input to the quarantine with the reason, counted. */
  private guarded(
    connectionId: string,
    source: string,
    receivedTs: number,
    payload: () => Buffer,
    work: () => void,
  ): void {
    const stats = this.connectionStats(connectionId);
    stats.received++;
    stats.lastMessageTs = receivedTs;
    try {
      work();
      stats.accepted++;
    } catch (err) {
      const e = isMwError(err)
        ? err
        : new MwError('MW_ERR_INTERNAL_ERROR', { reason: (err as Error).message }, { cause: err });
      if (e.code === 'MW_ERR_INTERNAL_ERROR')
        this.logger.error({ err, source }, 'message processing failed');
      stats.quarantined++;
      stats.quarantinedByCode[e.code] = (stats.quarantinedByCode[e.code] ?? 0) + 1;
      const bytes = payload();
      this.open.quarantine.push({
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
    binding: CompiledBinding,
    equipmentId: string,
    value: TagValue,
    reason: string | null,
    ts: number,
  ): DomainEvent | null {
    if (binding.meaning.kind === 'state') {
      const state = toState(binding, value);
      return this.runtime.applyState(equipmentId, state, reason, ts);
    }
    const raw = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof raw !== 'number' || !Number.isSafeInteger(raw) || raw < 0) {
      throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
        field: `bindings[${binding.index}] (${binding.meaning.counter} counter) value`,
        expected: 'a non-negative integer',
        actual: JSON.stringify(value),
      });
    }
    return this.runtime.applyCounter(
      equipmentId,
      binding.meaning.counter,
      raw,
      binding.rolloverAt,
      ts,
    );
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
    if (this.committing !== null || this.open.size === 0) return;
    const batch = this.open;
    this.open = new OpenBatch();
    const ingest: IngestBatch = {
      samples: batch.samples,
      events: batch.events,
      units: this.runtime.takeDirty(),
      quarantine: batch.quarantine,
      audit: batch.audit,
    };
    this.committingSize = batch.size;
    this.committing = this.store
      .commit(ingest)
      .then(
        (journal) => {
          this.stats.committedBatches++;
          this.stats.committedSamples += ingest.samples.length;
          this.stats.committedEvents += journal.length;
          this.stats.lastCommitTs = Date.now();
          for (const w of batch.waiters) w.resolve();
          this.emit('committed', journal, ingest);
        },
        (err: unknown) => this.failed(batch, err),
      )
      .finally(() => {
        this.committing = null;
        this.committingSize = 0;
        this.releaseDrain();
        if (this.open.size > 0) this.schedule();
      });
  }

  /**
   * A commit failed: nothing of it is stored, so nothing is acknowledged. The open batch was
   * derived from state that included the failed one, so it is refused too, and the runtime is
   * reloaded from the store; sources deliver everything again.
   */
  private failed(batch: OpenBatch, err: unknown): void {
    this.stats.commitErrors++;
    this.stats.lastCommitError = (err as Error).message;
    this.stats.lastCommitErrorTs = Date.now();
    this.logger.error({ err }, 'store commit failed; messages will be delivered again');
    const open = this.open;
    this.open = new OpenBatch();
    for (const w of [...batch.waiters, ...open.waiters]) w.reject(err);
    this.recovering = this.store
      .loadUnits()
      .then((units) => this.runtime.reset(units))
      .catch((loadErr: unknown) => {
        this.logger.error({ err: loadErr }, 'reloading unit state from the store failed');
        this.runtime.takeDirty();
      })
      .finally(() => {
        this.recovering = null;
      });
  }

  /** Wake as many waiting sources as there is room for, oldest first (keeps arrival order). */
  private releaseDrain(): void {
    let room = this.options.queueMax - this.queued;
    while (room-- > 0 && this.drainWaiters.length > 0) this.drainWaiters.shift()?.();
  }
}

/** 21 CFR 11.10(e): who (the connection the device spoke through), when, what, old → new. */
function stateChangeAudit(connectionId: string, event: StateChangedEvent): AuditEntry {
  const d = event.data;
  return {
    at: Date.now(),
    actor: `connection:${connectionId}`,
    action: 'update',
    entityType: 'equipment-state',
    entityId: event.equipmentId,
    changes: {
      state: { old: d.previousState, new: d.state },
      ...(d.previousReasonCode === d.reasonCode
        ? {}
        : { reasonCode: { old: d.previousReasonCode, new: d.reasonCode } }),
    },
    reason: null,
  };
}

function toState(binding: CompiledBinding, value: TagValue): EquipmentState {
  const key = String(value);
  if (binding.stateMap !== undefined) {
    const mapped = binding.stateMap[key];
    if (mapped === undefined)
      throw new MwError('MW_ERR_INGEST_UNMAPPED_STATE', { value: JSON.stringify(value) });
    return mapped;
  }
  if (typeof value === 'string' && isEquipmentState(value)) return value;
  throw new MwError('MW_ERR_INGEST_UNMAPPED_STATE', { value: JSON.stringify(value) });
}
