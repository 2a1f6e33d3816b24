/**
 * What both Store implementations share: row shapes, the mapping from rows to the interface's
 * types, and the small rules that must be the same on SQLite and PostgreSQL (STYLE.md rule 4:
 * a behaviour written once here cannot drift between the two backends).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  canonicalJson,
  chainEntries,
  verifyAuditChain,
  type AuditEntry,
  type AuditRecord,
  type AuditVerification,
} from '../compliance/audit.ts';
import { MwError } from '../errors.ts';
import { isEquipmentState } from '../model/index.ts';
import type { ConsumptionPosition, JournalEvent, Quality, TagValue } from '../model/index.ts';
import type {
  AuditQuery,
  CounterProjection,
  EventQuery,
  QuarantineEntry,
  RecordWrite,
  StoredQuarantineEntry,
  StoredRecord,
  StoredSample,
  StoreOptions,
  UnitProjection,
} from './types.ts';

/** Upper bound for open-ended ranges (ids, seqs and epoch-ms timestamps all stay below it). */
export const MAX_KEY = Number.MAX_SAFE_INTEGER;

/** Rows as both backends return them (column names are the same on both sides). */
export interface EventRow {
  seq: number;
  type: string;
  equipment_id: string;
  ts: number;
  recorded_at: number;
  /** JSON text on SQLite, already parsed jsonb on PostgreSQL. */
  data: unknown;
}

export interface SampleRow {
  id: number;
  connection_id: string;
  tag: string;
  equipment_id: string | null;
  value: string;
  quality: string;
  status: string | null;
  source_ts: number;
  received_ts: number;
}

export interface QuarantineRow {
  id: number;
  connection_id: string;
  source: string;
  received_ts: number;
  code: string;
  message: string;
  payload: Buffer | Uint8Array;
  payload_bytes: number;
  replayed_at: number | null;
}

export interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  /** The canonical JSON text that was hashed (TEXT on both backends, see auditRecords). */
  changes: string;
  reason: string | null;
  prev_hash: string;
  hash: string;
}

/** Column order of the audit row, shared by both stores' inserts. */
export const AUDIT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'entity_type',
  'entity_id',
  'changes',
  'reason',
  'prev_hash',
  'hash',
] as const;

/**
 * Rows per page when `verifyAudit` walks the trail: bounded memory, few round trips. A page
 * takes ~0.3 s to read and hash (measured: 1M rows in ~30 s on SQLite, 2 vCPU).
 */
export const AUDIT_VERIFY_PAGE_ROWS = 10_000;

/**
 * New audit entries chained onto the last stored row, as rows in AUDIT_COLUMNS order. Call it
 * inside the transaction that inserts the rows, after reading `last` there.
 *
 * What is hashed must be exactly what a later read gives back, or a row written in good faith
 * would fail verification: `at` is rounded to integer ms (the column type) and a missing reason
 * is null before hashing, and `changes` is stored as its canonical JSON, the very text the hash
 * covers. (Plain JSON.stringify would differ for values such as a Date, which canonicalJson
 * hashes as `{}`; jsonb would not keep the text at all.)
 */
export function auditRows(
  last: { readonly seq: number; readonly hash: string } | undefined,
  entries: readonly AuditEntry[],
): (string | number | null)[][] {
  const normalised = entries.map((e): AuditEntry => ({
    ...e,
    at: ms(e.at),
    reason: e.reason ?? null,
  }));
  return chainEntries(last ?? null, normalised).map((r) => [
    r.seq,
    r.at,
    r.actor,
    r.action,
    r.entityType,
    r.entityId,
    canonicalJson(r.changes),
    r.reason,
    r.prevHash,
    r.hash,
  ]);
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    at: Number(row.at),
    actor: row.actor,
    action: row.action,
    entityType: row.entity_type,
    entityId: row.entity_id,
    changes: JSON.parse(row.changes) as AuditRecord['changes'],
    reason: row.reason,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * The one implementation of `Store.verifyAudit`: page through the trail in seq order (each
 * page one `listAudit` call) into verifyAuditChain, which stops at the first broken row.
 */
export function verifyAuditTrail(
  listAudit: (query: AuditQuery) => Promise<AuditRecord[]>,
  pageRows: number = AUDIT_VERIFY_PAGE_ROWS,
): Promise<AuditVerification> {
  async function* pages(): AsyncGenerator<AuditRecord[]> {
    let afterSeq = 0;
    for (;;) {
      const page = await listAudit({ afterSeq, limit: pageRows });
      if (page.length > 0) yield page;
      if (page.length < pageRows) return;
      afterSeq = page.at(-1)!.seq;
      // better-sqlite3 answers synchronously, so without this the whole walk (seconds for a
      // million rows) would run in microtasks and stall ingest; this way one page at a time does.
      await nextTurn();
    }
  }
  return verifyAuditChain(pages());
}

/** A row of the `records` table (same columns on both backends; data is JSON text). */
export interface RecordRow {
  entity_type: string;
  entity_id: string;
  version: number;
  data: string;
  ref: string | null;
  created_at: number;
  updated_at: number;
}

export function toStoredRecord(row: RecordRow): StoredRecord {
  return {
    entityType: row.entity_type,
    entityId: row.entity_id,
    version: Number(row.version),
    data: JSON.parse(row.data) as StoredRecord['data'],
    ref: row.ref,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * Record types that are never deleted: a user name is never reused (21 CFR 11.100(a), 11.300(a)),
 * and tokens and signatures stay as evidence. The migrations hold the same list in a trigger.
 */
export const UNDELETABLE_RECORD_TYPES = ['user', 'api-token', 'signature'] as const;

/**
 * What one RecordWrite does, given the version stored now (0: no such record). Both stores
 * call it inside their transaction, so the conflict rule is written once.
 */
export function planRecordWrite(
  w: RecordWrite,
  storedVersion: number,
): 'insert' | 'update' | 'delete' {
  if (storedVersion !== w.expectedVersion) {
    throw new MwError('MW_ERR_STORE_CONFLICT', {
      entity: `${w.entityType} ${w.entityId}`,
      expected: w.expectedVersion,
      found: storedVersion,
    });
  }
  if (w.data === null) {
    if ((UNDELETABLE_RECORD_TYPES as readonly string[]).includes(w.entityType)) {
      throw new MwError('MW_ERR_INTERNAL_ERROR', {
        reason: `${w.entityType} records are never deleted (${w.entityId})`,
      });
    }
    return 'delete';
  }
  return storedVersion === 0 ? 'insert' : 'update';
}

/** The audit query with its open ends filled in (null: no filter). */
export function auditFilter(q: AuditQuery) {
  return {
    afterSeq: q.afterSeq ?? 0,
    entityType: q.entityType ?? null,
    entityId: q.entityId ?? null,
    actor: q.actor ?? null,
    fromAt: q.fromAt ?? -MAX_KEY,
    toAt: q.toAt ?? MAX_KEY,
    limit: Math.max(0, Math.floor(q.limit)),
  };
}

/**
 * One projection row per work unit: state and the three counters side by side, so a batch
 * writes one row per unit it touched (a row per counter cost four upserts per unit).
 */
export interface UnitRow {
  equipment_id: string;
  state: string;
  reason_code: string | null;
  since_ms: number;
  last_state_ts: number;
  updated_at: number;
  good_total: number;
  good_last_raw: number | null;
  good_last_ts: number;
  scrap_total: number;
  scrap_last_raw: number | null;
  scrap_last_ts: number;
  total_total: number;
  total_last_raw: number | null;
  total_last_ts: number;
  /** JSON: material → ConsumptionPosition. */
  materials: string;
}

/** Column order of the unit row, shared by both stores' upserts. */
export const UNIT_COLUMNS = [
  'equipment_id',
  'state',
  'reason_code',
  'since_ms',
  'last_state_ts',
  'updated_at',
  'good_total',
  'good_last_raw',
  'good_last_ts',
  'scrap_total',
  'scrap_last_raw',
  'scrap_last_ts',
  'total_total',
  'total_last_raw',
  'total_last_ts',
  'materials',
] as const;

/** Unit columns that are text (the rest are numbers), for PostgreSQL's typed unnest. */
export const UNIT_TEXT_COLUMNS: ReadonlySet<string> = new Set([
  'equipment_id',
  'state',
  'reason_code',
  'materials',
]);

/** The values of a unit row, in UNIT_COLUMNS order. */
export function unitValues(u: UnitProjection): (string | number | null)[] {
  const c = u.counters;
  return [
    u.equipmentId,
    u.status.state,
    u.status.reasonCode,
    ms(u.status.sinceMs),
    ms(u.lastStateTs),
    ms(u.updatedAt),
    c.good.total,
    c.good.lastRaw,
    ms(c.good.lastTs),
    c.scrap.total,
    c.scrap.lastRaw,
    ms(c.scrap.lastTs),
    c.total.total,
    c.total.lastRaw,
    ms(c.total.lastTs),
    JSON.stringify(u.materials),
  ];
}

export function checkStoreOptions(store: string, opts: StoreOptions): void {
  const ok =
    Number.isInteger(opts.quarantineMaxEntries) &&
    opts.quarantineMaxEntries >= 1 &&
    Number.isInteger(opts.quarantinePayloadBytes) &&
    opts.quarantinePayloadBytes >= 0;
  if (!ok) {
    throw new MwError('MW_ERR_INTERNAL_ERROR', {
      reason: `store ${store}: quarantineMaxEntries must be an integer >= 1 and quarantinePayloadBytes an integer >= 0`,
    });
  }
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Timestamp columns hold integer epoch ms. A fractional value (an OPC UA source time has 100 ns
 * resolution) is rounded here rather than left to fail a PostgreSQL BIGINT cast: one odd
 * timestamp must not make a whole batch fail on every redelivery. NaN stays NaN and fails the
 * commit (NOT NULL / BIGINT), as any unstorable value should.
 */
export function ms(value: number): number {
  return Math.round(value);
}

/** The payload kept for inspection: at most `quarantinePayloadBytes` (a view, no copy). */
export function cutPayload(entry: QuarantineEntry, maxBytes: number): Buffer {
  return entry.payload.length <= maxBytes ? entry.payload : entry.payload.subarray(0, maxBytes);
}

/**
 * Units of one batch, one per equipment id (the last wins) and sorted by id. Sorting gives every
 * transaction the same row-lock order, so two hubs upserting the same units cannot deadlock on
 * PostgreSQL; one row per key also keeps `ON CONFLICT DO UPDATE` from meeting a key twice.
 */
export function uniqueUnits(units: readonly UnitProjection[]): UnitProjection[] {
  const byId = new Map<string, UnitProjection>();
  for (const u of units) byId.set(u.equipmentId, u);
  return [...byId.values()].sort((a, b) => (a.equipmentId < b.equipmentId ? -1 : 1));
}

/**
 * Bounds that select an equipment id and everything below it. Ids are paths, so "below
 * `acme/plant1`" means "starts with `acme/plant1/`". Instead of `LIKE 'acme/plant1/%'` (whose
 * `_` and `%` would need escaping, which is case-insensitive on SQLite, and which an index does
 * not serve under a linguistic collation) both backends compare bytes: with `equipment_id`
 * in BINARY (SQLite) / "C" (PostgreSQL) collation, the strings starting with `id/` are exactly
 * those in [`id/`, `id0`), since '0' is the character right after '/'. The whole match is one
 * index range [`id`, `id0`) on (equipment_id, seq), with `equipment_id = id OR >= id/` dropping
 * siblings such as `acme/plant1-old` that sort between `id` and `id/`.
 */
export interface EventBounds {
  readonly id: string;
  readonly below: string;
  readonly end: string;
  readonly fromTs: number;
  readonly toTs: number;
  readonly afterSeq: number;
  /** The event type asked for, or null for every type. */
  readonly type: string | null;
  readonly limit: number;
}

export function eventBounds(q: EventQuery): EventBounds {
  return {
    id: q.equipmentId,
    below: `${q.equipmentId}/`,
    end: `${q.equipmentId}0`,
    fromTs: q.fromTs ?? -MAX_KEY,
    toTs: q.toTs ?? MAX_KEY,
    afterSeq: q.afterSeq ?? 0,
    type: q.type ?? null,
    limit: Math.max(0, Math.floor(q.limit)),
  };
}

export function toJournalEvent(row: EventRow): JournalEvent {
  const data: unknown = typeof row.data === 'string' ? JSON.parse(row.data) : row.data;
  // The journal only holds what `commit` wrote from a DomainEvent, so the union is restored as is.
  return {
    type: row.type,
    equipmentId: row.equipment_id,
    ts: row.ts,
    data,
    seq: row.seq,
    recordedAt: row.recorded_at,
  } as JournalEvent;
}

export function toStoredSample(row: SampleRow): StoredSample {
  return {
    id: row.id,
    connectionId: row.connection_id,
    tag: row.tag,
    equipmentId: row.equipment_id,
    value: JSON.parse(row.value) as TagValue,
    quality: row.quality as Quality,
    status: row.status ?? null,
    sourceTs: row.source_ts,
    receivedTs: row.received_ts,
  };
}

export function toStoredQuarantine(row: QuarantineRow): StoredQuarantineEntry {
  return {
    id: row.id,
    connectionId: row.connection_id,
    source: row.source,
    receivedTs: row.received_ts,
    code: row.code as StoredQuarantineEntry['code'],
    message: row.message,
    payload: Buffer.isBuffer(row.payload) ? row.payload : Buffer.from(row.payload),
    payloadBytes: row.payload_bytes,
    replayedAt: row.replayed_at === null ? null : Number(row.replayed_at),
  };
}

/** Unit rows as projections, sorted by equipment id. */
export function toUnitProjections(rows: UnitRow[]): UnitProjection[] {
  const counter = (total: number, lastRaw: number | null, lastTs: number): CounterProjection => ({
    total: Number(total),
    lastRaw: lastRaw === null ? null : Number(lastRaw),
    lastTs: Number(lastTs),
  });
  return [...rows]
    .sort((a, b) =>
      a.equipment_id < b.equipment_id ? -1 : a.equipment_id > b.equipment_id ? 1 : 0,
    )
    .map((r) => ({
      equipmentId: r.equipment_id,
      status: {
        state: isEquipmentState(r.state) ? r.state : 'unknown',
        reasonCode: r.reason_code,
        sinceMs: Number(r.since_ms),
      },
      lastStateTs: Number(r.last_state_ts),
      counters: {
        good: counter(r.good_total, r.good_last_raw, r.good_last_ts),
        scrap: counter(r.scrap_total, r.scrap_last_raw, r.scrap_last_ts),
        total: counter(r.total_total, r.total_last_raw, r.total_last_ts),
      },
      materials: JSON.parse(r.materials ?? '{}') as Record<string, ConsumptionPosition>,
      updatedAt: Number(r.updated_at),
    }));
}
