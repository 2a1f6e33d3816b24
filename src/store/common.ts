/**
 * What both Store implementations share: row shapes, the mapping from rows to the interface's
 * types, and the small rules that must be the same on SQLite and PostgreSQL (STYLE.md rule 4:
 * a behaviour written once here cannot drift between the two backends).
 */
import { MwError } from '../errors.ts';
import { COUNTER_KINDS, isEquipmentState } from '../model/index.ts';
import type { CounterKind, JournalEvent, Quality, TagValue } from '../model/index.ts';
import type {
  CounterProjection,
  EventQuery,
  QuarantineEntry,
  StoredQuarantineEntry,
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
}

export interface StateRow {
  equipment_id: string;
  state: string;
  reason_code: string | null;
  since_ms: number;
  last_state_ts: number;
  updated_at: number;
}

export interface CounterRow {
  equipment_id: string;
  counter: string;
  total: number;
  last_raw: number | null;
  last_ts: number;
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
  };
}

/**
 * Join state rows and counter rows into projections. A unit with counters but no state row is
 * 'unknown' since 0; a missing counter is zero with no raw value yet (INITIAL_STATUS and
 * INITIAL_COUNTER of the model).
 */
export function toUnitProjections(states: StateRow[], counters: CounterRow[]): UnitProjection[] {
  const ids = new Set<string>();
  for (const s of states) ids.add(s.equipment_id);
  for (const c of counters) ids.add(c.equipment_id);
  const stateById = new Map(states.map((s) => [s.equipment_id, s]));
  const countersById = new Map<string, Map<string, CounterRow>>();
  for (const c of counters) {
    let m = countersById.get(c.equipment_id);
    if (m === undefined) countersById.set(c.equipment_id, (m = new Map()));
    m.set(c.counter, c);
  }
  return [...ids].sort().map((equipmentId) => {
    const s = stateById.get(equipmentId);
    const cs = countersById.get(equipmentId);
    const counterOf = (kind: CounterKind): CounterProjection => {
      const c = cs?.get(kind);
      return c === undefined
        ? { total: 0, lastRaw: null, lastTs: 0 }
        : { total: c.total, lastRaw: c.last_raw, lastTs: c.last_ts };
    };
    const counterEntries = COUNTER_KINDS.map((k) => [k, counterOf(k)] as const);
    return {
      equipmentId,
      status:
        s === undefined
          ? { state: 'unknown', reasonCode: null, sinceMs: 0 }
          : {
              state: isEquipmentState(s.state) ? s.state : 'unknown',
              reasonCode: s.reason_code,
              sinceMs: s.since_ms,
            },
      lastStateTs: s?.last_state_ts ?? 0,
      counters: Object.fromEntries(counterEntries) as Record<CounterKind, CounterProjection>,
      updatedAt: s?.updated_at ?? 0,
    };
  });
}
