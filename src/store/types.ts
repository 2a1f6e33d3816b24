/**
 * The Store: the hub's one persistence interface. Two implementations of the same shape live in
 * `sqlite/` and `postgres/` (STYLE.md rule 4); `test/store/contract.ts` runs unchanged on both.
 *
 * Rules every implementation keeps (DESIGN.md, data flow):
 * - `commit` writes one ingest batch in ONE transaction: raw samples, journal events, unit
 *   projections and quarantine rows exist together or not at all.
 * - The event journal is append-only: nothing updates or deletes journal rows.
 * - So is the audit trail, whose rows are hash-chained in the transaction that writes them
 *   (21 CFR 11.10(e); see ../compliance/audit.ts).
 * - Migrations are ordered and named, run under a lock (several hubs may share one PostgreSQL),
 *   and report a status each.
 */
import type { AuditEntry, AuditRecord, AuditVerification } from '../compliance/audit.ts';
import type { ErrorCode } from '../errors.ts';
import type {
  BucketDelta,
  BucketFigures,
  ConsumptionPosition,
  CounterKind,
  CounterReading,
  DomainEvent,
  DomainEventType,
  JournalEvent,
  ReasonFigures,
  LotLink,
  StoredLotLink,
  TagSample,
  TraceDirection,
  UnitStatus,
} from '../model/index.ts';

export type { AuditEntry, AuditRecord, AuditVerification };

/** The projection of one work unit: current state and counter totals. */
export interface UnitProjection {
  readonly equipmentId: string;
  readonly status: UnitStatus;
  /** Source time of the last state reading applied (older readings are ignored as stale). */
  readonly lastStateTs: number;
  readonly counters: Readonly<Record<CounterKind, CounterProjection>>;
  /** Consumption positions by the hub's material id. */
  readonly materials: Readonly<Record<string, ConsumptionPosition>>;
  /** When the hub last changed this row (UTC epoch ms). */
  readonly updatedAt: number;
}

export interface CounterProjection extends CounterReading {
  /** Source time of the last raw value applied. */
  readonly lastTs: number;
}

/** A sample as committed: the TagSample plus the equipment its binding resolved, if any. */
export interface SampleRecord extends TagSample {
  readonly equipmentId: string | null;
}

export interface StoredSample extends SampleRecord {
  readonly id: number;
}

/** Input that could not be accepted, kept for inspection (never silently dropped). */
export interface QuarantineEntry {
  readonly connectionId: string;
  /** Where it came from inside the connection: an MQTT topic, a register address … */
  readonly source: string;
  readonly receivedTs: number;
  readonly code: ErrorCode;
  readonly message: string;
  /** The payload as received, cut to the store's `quarantinePayloadBytes`. */
  readonly payload: Buffer;
  /** Size of the whole payload as received, in bytes. */
  readonly payloadBytes: number;
}

export interface StoredQuarantineEntry extends QuarantineEntry {
  readonly id: number;
  /** When it was replayed into the pipeline (POST /api/v1/quarantine/{id}/replay), or null. */
  readonly replayedAt: number | null;
}

export interface IngestBatch {
  readonly samples: readonly SampleRecord[];
  readonly events: readonly DomainEvent[];
  /** Final projection of every unit the batch touched. */
  readonly units: readonly UnitProjection[];
  readonly quarantine: readonly QuarantineEntry[];
  /** Audited actions, chained onto the stored trail in the same transaction. */
  readonly audit?: readonly AuditEntry[];
}

export interface EventQuery {
  /** Events of this equipment and of everything below it in the hierarchy. */
  readonly equipmentId: string;
  /** Source time range, inclusive from, exclusive to (UTC epoch ms). */
  readonly fromTs?: number | undefined;
  readonly toTs?: number | undefined;
  /** Only events with seq greater than this (the paging cursor). */
  readonly afterSeq?: number | undefined;
  /** Only events of this type. */
  readonly type?: DomainEventType | undefined;
  readonly limit: number;
}

export interface QuarantineQuery {
  readonly connectionId?: string | undefined;
  /** Only entries with id lower than this (paging newest first). */
  readonly beforeId?: number | undefined;
  readonly limit: number;
}

export interface SampleQuery {
  readonly connectionId?: string | undefined;
  readonly tag?: string | undefined;
  readonly afterId?: number | undefined;
  readonly limit: number;
}

export interface AuditQuery {
  /** Only rows with seq greater than this (the paging cursor). */
  readonly afterSeq?: number | undefined;
  readonly entityType?: string | undefined;
  readonly entityId?: string | undefined;
  /** Only rows of this actor (`user:alice`, `token:…`, `connection:…`, `system`). */
  readonly actor?: string | undefined;
  /** Time range of `at`, inclusive from, exclusive to (UTC epoch ms). */
  readonly fromAt?: number | undefined;
  readonly toAt?: number | undefined;
  readonly limit: number;
}

/**
 * A record the hub keeps for itself (a user, an API token, a session, an electronic
 * signature …): JSON content with a version that every update raises by one. Changes go
 * through `Store.writeRecords`, which writes their audit rows in the same transaction.
 */
export interface StoredRecord {
  readonly entityType: string;
  readonly entityId: string;
  /** 1 when created, +1 on every update (optimistic concurrency, see RecordWrite). */
  readonly version: number;
  readonly data: Readonly<Record<string, unknown>>;
  /** An indexed link to another record (a signature names the record it signs), or null. */
  readonly ref: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface RecordWrite {
  readonly entityType: string;
  readonly entityId: string;
  /**
   * The version the writer read: 0 to create. When the stored version differs (someone else
   * changed or created the record meanwhile) the whole write fails with MW_ERR_STORE_CONFLICT.
   */
  readonly expectedVersion: number;
  /** The new content; null deletes the record (refused for users, tokens and signatures). */
  readonly data: Readonly<Record<string, unknown>> | null;
  readonly ref?: string | null | undefined;
}

export interface RecordQuery {
  readonly entityType: string;
  /** Only records whose ref is this. */
  readonly ref?: string | undefined;
  /** Only records with an id after this one (byte order; the paging cursor). */
  readonly afterId?: string | undefined;
  readonly limit: number;
}

/**
 * The transactional outbox (DESIGN.md): messages to enterprise targets, written in the same
 * transaction as the fact that causes them, delivered by enterprise/outbox.ts.
 * pending → delivered, or → dead (attempts or age exhausted, or refused for good); a dead row
 * is replayed (→ pending) or discarded by an operator, audited.
 */
export const OUTBOX_STATUSES = ['pending', 'delivered', 'dead', 'discarded'] as const;
export type OutboxStatus = (typeof OUTBOX_STATUSES)[number];

export interface OutboxInsert {
  readonly target: string;
  /** Unique per target: the Idempotency-Key the receiver sees. */
  readonly messageId: string;
  /** Rows of one key are delivered in id order, one after another (the order's id). */
  readonly orderingKey: string;
  readonly type: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
}

export interface OutboxRow extends OutboxInsert {
  readonly id: number;
  readonly status: OutboxStatus;
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly lastError: string | null;
  /** The target's maxAge counts from here: createdAt, or when an operator replayed the row. */
  readonly ageFrom: number;
  readonly deliveredAt: number | null;
  readonly updatedAt: number;
}

export interface OutboxLease {
  readonly target: string;
  readonly now: number;
  readonly limit: number;
  /** The rows are the caller's until now + leaseMs (another hub skips them meanwhile). */
  readonly leaseMs: number;
  readonly owner: string;
  /**
   * true (realtime): only the first undelivered row of each ordering key. false (batch): every
   * due row, in id order, as long as no earlier row of its key is dead or not yet due.
   * Either way a row never overtakes a dead or waiting row of its own key.
   */
  readonly headOfLine: boolean;
}

export type OutboxSettlement =
  | { readonly outcome: 'delivered'; readonly at: number }
  | {
      readonly outcome: 'retry';
      readonly at: number;
      readonly nextAttemptAt: number;
      readonly error: string;
    }
  | { readonly outcome: 'dead'; readonly at: number; readonly error: string };

export interface OutboxSettleItem {
  readonly id: number;
  readonly owner: string;
  readonly settlement: OutboxSettlement;
}

export interface OutboxQuery {
  readonly status?: OutboxStatus | undefined;
  readonly target?: string | undefined;
  readonly orderingKey?: string | undefined;
  /** Only rows with an id lower than this (paging newest first). */
  readonly beforeId?: number | undefined;
  readonly limit: number;
}

/** Rows per target and status. */
export type OutboxCounts = Record<string, Record<OutboxStatus, number>>;

export type MigrationState = 'applied' | 'already-applied';

export interface MigrationStatus {
  readonly name: string;
  readonly state: MigrationState;
}

export interface StoreOptions {
  /** Quarantine rows kept; the oldest beyond this are removed at commit. */
  readonly quarantineMaxEntries: number;
  /** Bytes of each quarantined payload kept. */
  readonly quarantinePayloadBytes: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data lives, for logs and health: a file path or a URL without its password. */
  readonly location: string;
  /** Bring the schema up to date. Safe to call from several hubs at once. */
  migrate(): Promise<MigrationStatus[]>;
  /** Write one batch in one transaction; resolves with the journal events as committed. */
  commit(batch: IngestBatch): Promise<JournalEvent[]>;
  loadUnits(): Promise<UnitProjection[]>;
  listEvents(query: EventQuery): Promise<JournalEvent[]>;
  /**
   * The last `state.changed` event of exactly this equipment with a source time before `ts`:
   * the state it was in at `ts` (a stop that began before a time window and ran into it).
   */
  lastStateChangeBefore(equipmentId: string, ts: number): Promise<JournalEvent | undefined>;
  listQuarantine(query: QuarantineQuery): Promise<StoredQuarantineEntry[]>;
  countQuarantine(): Promise<number>;
  getQuarantine(id: number): Promise<StoredQuarantineEntry | undefined>;
  /**
   * Mark an entry replayed, with its audit rows, in one transaction. False when it does not
   * exist or was replayed already (then nothing is written).
   */
  markQuarantineReplayed(id: number, at: number, audit: readonly AuditEntry[]): Promise<boolean>;
  listSamples(query: SampleQuery): Promise<StoredSample[]>;
  countSamples(): Promise<number>;
  /**
   * Create, update or delete records and append their audit rows, all in one transaction
   * (DESIGN.md: a change and its audit row exist together or not at all). Resolves with the
   * records as stored (null for a deleted one), in the order of `writes`.
   *
   * `links` (genealogy, model/lot.ts) are appended in the same transaction, and refused with
   * MW_ERR_LOT_CYCLE (nothing written) when one would close a cycle: its `from` lot reachable
   * from its `to` lot along the stored links and those of the write. On PostgreSQL writes with
   * links take one advisory lock, so two hubs cannot each add half of a cycle.
   */
  writeRecords(
    writes: readonly RecordWrite[],
    audit: readonly AuditEntry[],
    outbox?: readonly OutboxInsert[],
    links?: readonly LotLink[],
  ): Promise<(StoredRecord | null)[]>;
  /**
   * The genealogy around `lots`: links followed level by level in `direction` (backward:
   * towards what they were made from), each lot visited once, up to `maxDepth` levels and
   * `maxLinks` links. One consistent read.
   */
  traceLots(query: LotTraceQuery): Promise<LotTrace>;
  /** Several records of one type at once, in the order of `ids` (undefined: none). */
  getRecords(entityType: string, ids: readonly string[]): Promise<(StoredRecord | undefined)[]>;
  /** Take due outbox rows for delivery (see OutboxLease); on PostgreSQL FOR UPDATE SKIP LOCKED. */
  leaseOutbox(lease: OutboxLease): Promise<OutboxRow[]>;
  /**
   * Record the outcome of one delivery attempt (attempts + 1). False when the row is no longer
   * pending under this owner's lease (it expired and someone else took it).
   */
  settleOutbox(id: number, owner: string, settlement: OutboxSettlement): Promise<boolean>;
  /** settleOutbox for several rows in one transaction (one fsync); a result per row, in order. */
  settleOutboxMany(items: readonly OutboxSettleItem[]): Promise<boolean[]>;
  /**
   * Void the leases an earlier run of the caller left behind (it was killed mid-delivery):
   * pending rows leased by an owner that starts with `ownerPrefix` (the hub's id, the same
   * across its restarts) other than `keep` (the run now) are due again at once instead of when
   * the lease runs out. Leases of other hubs sharing the store are left alone. Returns how many.
   */
  releaseOutboxLeases(ownerPrefix: string, keep: string, at: number): Promise<number>;
  /** Outbox rows, newest first. */
  listOutbox(query: OutboxQuery): Promise<OutboxRow[]>;
  getOutbox(id: number): Promise<OutboxRow | undefined>;
  countOutbox(): Promise<OutboxCounts>;
  /**
   * An operator's decision on a dead row, with its audit rows, in one transaction: `replay`
   * makes it pending again (attempts 0, due now), `discard` marks it discarded. Undefined when
   * the row does not exist or is not dead.
   */
  settleDeadOutbox(
    id: number,
    decision: 'replay' | 'discard',
    at: number,
    audit: readonly AuditEntry[],
  ): Promise<OutboxRow | undefined>;
  getRecord(entityType: string, entityId: string): Promise<StoredRecord | undefined>;
  /** Records of one type in id order. */
  listRecords(query: RecordQuery): Promise<StoredRecord[]>;
  /** Audit rows in seq order. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
  countAudit(): Promise<number>;
  /** Walk the whole audit trail and report the first row that breaks its hash chain. */
  verifyAudit(): Promise<AuditVerification>;
  /** Cheap round trip, for health. Rejects when the store is unreachable. */
  /**
   * KPI buckets (model/kpi-buckets.ts) summed per unit over each range. `commit` keeps them: the
   * events it appends add their deltas in the same transaction.
   */
  sumKpi(query: KpiSumQuery): Promise<KpiSum[]>;
  /** Add deltas to the KPI buckets in one transaction (a rebuild, a bulk load). */
  addKpiDeltas(deltas: readonly BucketDelta[]): Promise<void>;
  /**
   * Make the KPI buckets again from the whole journal (after the migration that adds them, or
   * on demand); `progress` is told the events read so far. Resolves with the events read.
   */
  rebuildKpi(progress?: (eventsRead: number) => void): Promise<number>;
  /**
   * The KPI cache (kpi-cache.ts): the row of each key (undefined: none), with the
   * units whose numbers are still good.
   */
  readKpiCache(keys: readonly string[]): Promise<(KpiCacheRead | undefined)[]>;
  /**
   * A token for a later `writeKpiCache`, taken before the buckets the rows are made from are
   * read; every token is given back by a write (maybe of nothing) or `releaseKpiCache`.
   */
  kpiCacheToken(): number;
  releaseKpiCache(token: number): void;
  /**
   * Write rows (replacing those of the same key), leaving out the units that bucket deltas
   * within the row's range reached since the token: resolves with the units written.
   */
  writeKpiCache(token: number, rows: readonly KpiCacheRow[]): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface LotTraceQuery {
  readonly lots: readonly string[];
  readonly direction: TraceDirection;
  /** Levels followed: 1 gives the direct inputs (or uses) only. */
  readonly maxDepth: number;
  /** Stop after this many links (the trace is then `truncated`). */
  readonly maxLinks: number;
}

export interface LotTrace {
  /** Each with the level it was found at (1: touches a starting lot). */
  readonly links: readonly (StoredLotLink & { readonly depth: number })[];
  /** The deepest level that had links. */
  readonly depth: number;
  /** Links were left out: maxLinks was reached, or lots at maxDepth have further links. */
  readonly truncated: boolean;
}

/** A unit's numbers in a KPI cache row. */
export interface KpiCacheUnit {
  readonly equipmentId: string;
  /** What the numbers depend on besides the buckets (configuration, people's input). */
  readonly fp: string;
  readonly body: Float64Array;
}

/** A KPI cache row as read: its good units and where their numbers are in one array. */
export interface KpiCacheRead {
  readonly key: string;
  readonly lo: number;
  readonly hi: number;
  readonly units: readonly string[];
  readonly fps: readonly string[];
  /** Unit i's numbers are body[offsets[i] … offsets[i] + width). */
  readonly offsets: readonly number[];
  readonly width: number;
  readonly body: Float64Array;
}

export interface KpiCacheRow {
  readonly key: string;
  /** The range the numbers were made from: a unit's bucket delta within it drops the unit. */
  readonly lo: number;
  readonly hi: number;
  readonly units: readonly KpiCacheUnit[];
}

export interface KpiSumQuery {
  /** The work units summed (each apart). */
  readonly equipmentIds: readonly string[];
  /**
   * Ranges on whole minutes (UTC epoch ms, from inclusive, to exclusive). Ranges of one `key`
   * are summed into one answer (a shift less its breaks); without a key, a range is its index.
   */
  readonly ranges: readonly {
    readonly from: number;
    readonly to: number;
    readonly key?: number;
  }[];
  /**
   * The reason figures wanted, as (state, reason code) pairs; absent: all of them. A report
   * asks only for the codes that change how a stop is classified, most often none.
   */
  readonly reasons?: readonly { readonly state: string; readonly reasonCode: string }[];
}

/** One unit's buckets summed over one key of a KpiSumQuery (absent: no bucket in it). */
export interface KpiSum {
  readonly equipmentId: string;
  /** The key of the ranges summed (their index in the query where they had none). */
  readonly range: number;
  readonly figures: BucketFigures;
  /** The part of `figures` that stops with a reason code made, per state and code. */
  readonly reasons: readonly ReasonFigures[];
}
