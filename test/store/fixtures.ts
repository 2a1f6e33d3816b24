/**
 * Batches for the Store contract suite (contract.ts): small builders with readable defaults, and
 * reads that capture everything a store holds.
 */
import type { AuditEntry } from '../../src/compliance/audit.ts';
import type { CountedEvent, DomainEvent, StateChangedEvent } from '../../src/model/index.ts';
import type { JournalEvent } from '../../src/model/index.ts';
import type {
  IngestBatch,
  QuarantineEntry,
  SampleRecord,
  Store,
  UnitProjection,
} from '../../src/store/index.ts';

/** A fixed source time base (UTC epoch ms), so expectations do not depend on the clock. */
export const T0 = 1_700_000_000_000;

export const FILLER = 'acme/plant1/packaging/line1/filler';
export const CAPPER = 'acme/plant1/packaging/line1/capper';

export function batch(parts: Partial<IngestBatch>): IngestBatch {
  return { samples: [], events: [], units: [], quarantine: [], ...parts };
}

export function sample(i: number, over: Partial<SampleRecord> = {}): SampleRecord {
  return {
    connectionId: 'line1-mqtt',
    tag: `plant1/line1/filler/count/${i % 4}`,
    equipmentId: FILLER,
    value: i,
    quality: 'good',
    sourceTs: T0 + i,
    receivedTs: T0 + i + 3,
    ...over,
  };
}

export function stateChanged(
  equipmentId: string,
  ts: number,
  reasonCode: string | null = null,
): StateChangedEvent {
  return {
    type: 'state.changed',
    equipmentId,
    ts,
    data: {
      state: 'down',
      reasonCode,
      previousState: 'running',
      previousReasonCode: null,
      previousDurationMs: 1500,
      previousMicroStop: false,
    },
  };
}

export function counted(equipmentId: string, ts: number, raw: number): CountedEvent {
  return {
    type: 'counted',
    equipmentId,
    ts,
    data: { counter: 'good', delta: 1, raw, total: raw, anomaly: null },
  };
}

/** `n` events alternating between the two kinds, at T0 + offset + i. */
export function events(equipmentId: string, n: number, offset = 0): DomainEvent[] {
  return Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? counted(equipmentId, T0 + offset + i, i)
      : stateChanged(equipmentId, T0 + offset + i, `E${i}`),
  );
}

export function unit(
  equipmentId: string,
  good: number,
  over: Partial<UnitProjection> = {},
): UnitProjection {
  return {
    equipmentId,
    status: { state: 'running', reasonCode: null, sinceMs: T0 },
    lastStateTs: T0 + 10,
    counters: {
      good: { total: good, lastRaw: good + 1000, lastTs: T0 + 20 },
      scrap: { total: 1, lastRaw: null, lastTs: T0 + 21 },
      total: { total: good + 1, lastRaw: 65_530, lastTs: T0 + 22 },
    },
    materials: { 'PET-28G': { total: '12.345', lastRaw: '1000.5', lastTs: T0 + 23 } },
    updatedAt: T0 + 30,
    ...over,
  };
}

export function quarantined(i: number, over: Partial<QuarantineEntry> = {}): QuarantineEntry {
  const payload = Buffer.from(`{"n":${i},"pad":"0123456789abcdef"}`);
  return {
    connectionId: i % 2 === 0 ? 'line1-mqtt' : 'line2-mqtt',
    source: `plant1/unbound/${i}`,
    receivedTs: T0 + i,
    code: 'MW_ERR_INGEST_NO_BINDING',
    message: `topic plant1/unbound/${i} matches no binding of connection line1-mqtt`,
    payload,
    payloadBytes: payload.length,
    ...over,
  };
}

/**
 * An audited action; `changes` varies with `i` and holds what a JSON round trip must keep:
 * nested objects with keys out of order, unicode, null on either side, fractions.
 */
export function auditEntry(i: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: T0 + i,
    actor: i % 3 === 0 ? 'system' : `user:operator${i % 3}`,
    action: (['create', 'update', 'delete'] as const)[i % 3]!,
    entityType: 'work-unit',
    entityId: FILLER,
    changes: {
      name: {
        old: i % 3 === 0 ? null : `Füller ${i}`,
        new: i % 3 === 2 ? null : `Füller ${i + 1}`,
      },
      idealCycleTimeS: { old: 1.25, new: { z: i, a: [1, 'two', null], m: { y: true, b: -0.5 } } },
    },
    reason: i % 2 === 0 ? null : `change request CR-${i}`,
    ...over,
  };
}

/** `n` audit entries, numbered from `offset`. */
export function auditEntries(n: number, offset = 0): AuditEntry[] {
  return Array.from({ length: n }, (_, i) => auditEntry(offset + i));
}

/** The whole audit trail, in seq order. */
export function allAudit(store: Store) {
  return store.listAudit({ limit: 100_000 });
}

/** Every journal event of the `acme` enterprise, in seq order. */
export function allEvents(store: Store): Promise<JournalEvent[]> {
  return store.listEvents({ equipmentId: 'acme', limit: 100_000 });
}

/** What a batch leaves behind, to compare before and after a failed commit. */
export async function snapshot(store: Store) {
  return {
    samples: await store.listSamples({ limit: 100_000 }),
    events: await allEvents(store),
    units: await store.loadUnits(),
    quarantine: await store.listQuarantine({ limit: 100_000 }),
    audit: await allAudit(store),
  };
}

/**
 * A batch with some of everything: 50 samples, 6 events, 2 units, 2 quarantine entries and
 * 3 audit entries.
 */
export function fullBatch(offset: number): IngestBatch {
  return batch({
    samples: Array.from({ length: 50 }, (_, i) => sample(offset + i)),
    events: events(FILLER, 6, offset),
    units: [unit(FILLER, offset), unit(CAPPER, offset + 1)],
    quarantine: [quarantined(offset), quarantined(offset + 1)],
    audit: auditEntries(3, offset),
  });
}
