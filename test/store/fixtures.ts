/**
 * Batches for the Store contract suite (contract.ts): small builders with readable defaults, and
 * reads that capture everything a store holds.
 */
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
    data: { state: 'down', reasonCode, previousState: 'running', previousDurationMs: 1500 },
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
  };
}

/** A batch with some of everything: 50 samples, 6 events, 2 units, 2 quarantine entries. */
export function fullBatch(offset: number): IngestBatch {
  return batch({
    samples: Array.from({ length: 50 }, (_, i) => sample(offset + i)),
    events: events(FILLER, 6, offset),
    units: [unit(FILLER, offset), unit(CAPPER, offset + 1)],
    quarantine: [quarantined(offset), quarantined(offset + 1)],
  });
}
