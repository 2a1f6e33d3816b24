/**
 * KPI scenarios against the real service (issue #11): a KpiService built as src/hub.ts builds
 * it, on a real SQLite store in a temporary folder, with a fixed clock; and readable state
 * timelines turned into the journal events the runtime would have written.
 */
import path from 'node:path';
import type { TestContext } from 'node:test';
import { localPrincipal } from '../../src/compliance/identity.ts';
import { IdentityService } from '../../src/compliance/identity.ts';
import type { Principal } from '../../src/compliance/roles.ts';
import { hierarchyOf } from '../../src/config/hierarchy.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { DowntimeService } from '../../src/core/downtime-service.ts';
import type { GroupBy } from '../../src/core/kpi/groups.ts';
import { siteCalendars } from '../../src/core/kpi/groups.ts';
import { KpiService, type OeeReport } from '../../src/core/kpi/service.ts';
import { OrderService } from '../../src/core/orders/service.ts';
import {
  ReasonTree,
  type CountedEvent,
  type DomainEvent,
  type EquipmentState,
  type Hierarchy,
  type ImportResult,
  type StateChangedEvent,
  type UnitStatus,
} from '../../src/model/index.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { batch, unit } from '../store/fixtures.ts';

export const MIN = 60_000;
export const HOUR = 60 * MIN;

/** A state change of a timeline: when, the new state, and its PLC reason code. */
export type Step = readonly [at: string, state: EquipmentState, reasonCode?: string | null];
/** Pieces counted at a time: good, and scrap. */
export type Count = readonly [at: string, good: number, scrap?: number];

/**
 * Where a step's time is read: a full ISO time with its offset (`2026-03-29T06:00+02:00`, the
 * only form that is clear across a DST change), or `HH:MM[:SS]` on `day` at `offset`, rolling
 * over to the next day when it is not after the time before it (`22:00`, `23:45`, `00:15`).
 */
export interface Clock {
  readonly day?: string;
  readonly offset?: string;
}

const HHMM = /^\d\d:\d\d(:\d\d(\.\d{3})?)?$/;

/** Epoch ms of each time, in order (HH:MM times roll over midnight as described above). */
export function instants(times: readonly string[], clock: Clock = {}): number[] {
  const out: number[] = [];
  let dayShift = 0;
  for (const at of times) {
    if (!HHMM.test(at)) {
      const t = Date.parse(at);
      if (Number.isNaN(t)) throw new Error(`not a time: ${at}`);
      out.push(t);
      continue;
    }
    if (clock.day === undefined || clock.offset === undefined)
      throw new Error(`${at}: a HH:MM time needs clock.day and clock.offset`);
    const base = Date.parse(`${clock.day}T${at}${clock.offset}`);
    let t = base + dayShift * 86_400_000;
    if (out.length > 0 && t < out.at(-1)!) {
      dayShift++;
      t += 86_400_000;
    }
    out.push(t);
  }
  return out;
}

export const at = (time: string, clock: Clock = {}): number => instants([time], clock)[0]!;

/**
 * The state changes of a timeline as the runtime writes them (src/model/state-machine.ts):
 * each change carries the interval it ends — the state and reason before it and how long that
 * lasted — and a `down` shorter than `microStopMaxMs` is marked a micro-stop. The first change
 * ends no interval (previousDurationMs 0). The last step is the unit's current status.
 */
export function timeline(
  equipmentId: string,
  steps: readonly Step[],
  microStopMaxMs: number,
  clock: Clock = {},
): { events: StateChangedEvent[]; status: UnitStatus } {
  const ts = instants(
    steps.map((s) => s[0]),
    clock,
  );
  const events = steps.map(([, state, reason], i): StateChangedEvent => {
    const before = i === 0 ? null : steps[i - 1]!;
    const durationMs = i === 0 ? 0 : ts[i]! - ts[i - 1]!;
    if (durationMs < 0) throw new Error(`${equipmentId}: step ${i} goes back in time`);
    return {
      type: 'state.changed',
      equipmentId,
      ts: ts[i]!,
      data: {
        state,
        reasonCode: reason ?? null,
        previousState: before?.[1] ?? 'unknown',
        previousReasonCode: before?.[2] ?? null,
        previousDurationMs: durationMs,
        previousMicroStop:
          before?.[1] === 'down' && microStopMaxMs > 0 && durationMs < microStopMaxMs,
      },
    };
  });
  const last = steps.at(-1)!;
  return {
    events,
    status: { state: last[1], reasonCode: last[2] ?? null, sinceMs: ts.at(-1)! },
  };
}

/** `counted` events: good and scrap deltas at the given times. */
export function counts(equipmentId: string, list: readonly Count[], clock: Clock = {}) {
  const ts = instants(
    list.map((c) => c[0]),
    clock,
  );
  return list.flatMap(([, good, scrap], i): CountedEvent[] => {
    const ev = (counter: 'good' | 'scrap', delta: number): CountedEvent => ({
      type: 'counted',
      equipmentId,
      ts: ts[i]!,
      data: { counter, delta, raw: 0, total: 0, anomaly: null },
    });
    return [
      ...(good > 0 ? [ev('good', good)] : []),
      ...(scrap !== undefined && scrap > 0 ? [ev('scrap', scrap)] : []),
    ];
  });
}

export interface KpiWorld {
  readonly config: Config;
  readonly store: Store;
  readonly hierarchy: Hierarchy;
  readonly identity: IdentityService;
  readonly downtime: DowntimeService;
  readonly kpi: KpiService;
  /** The local command line: every permission. */
  readonly admin: Principal;
  /** The service's clock; set `now` to move it. */
  readonly clock: { now: number };
  /** The micro-stop limit of a unit, as src/hub.ts derives it (unit, else runtime). */
  microStopMaxMs(equipmentId: string): number;
  /**
   * Commit a unit's timeline and counts in time order, in one batch with the unit's projection
   * (its current status: the last step).
   */
  history(
    equipmentId: string,
    steps: readonly Step[],
    pieces?: readonly Count[],
    clock?: Clock,
  ): Promise<void>;
  /** Commit events in time order, with the units' projections. */
  commit(events: readonly DomainEvent[], statuses: ReadonlyMap<string, UnitStatus>): Promise<void>;
  oee(equipment: string, from: number, to: number, groupBy: GroupBy): Promise<OeeReport>;
  /** Close the store now (else after the test). */
  close(): Promise<void>;
}

let stores = 0;

/** A KPI service as src/hub.ts builds it, on a fresh SQLite store in `dir`, closed after `t`. */
export async function kpiWorld(
  t: TestContext,
  dir: string,
  yaml: string,
  now: number,
): Promise<KpiWorld> {
  const config = parseConfig(yaml, '<kpi test>');
  const store = await openSqliteStore({
    path: path.join(dir, `kpi-${process.pid}-${++stores}.db`),
    quarantineMaxEntries: 10,
    quarantinePayloadBytes: 64,
    synchronous: 'NORMAL',
  });
  let open = true;
  const close = async (): Promise<void> => {
    if (open) await store.close();
    open = false;
  };
  t.after(close);
  await store.migrate();
  const hierarchy = hierarchyOf(config);
  const clock = { now };
  const identity = new IdentityService(store, { security: config.security, now: () => clock.now });
  const downtime = new DowntimeService(
    store,
    identity,
    new Map(config.sites.map((site) => [site.id, new ReasonTree(site.reasons)])),
  );
  const kpi = new KpiService({
    store,
    hierarchy,
    downtime,
    calendars: siteCalendars(config),
    materialIdealMs: new Map(
      config.materials.flatMap((m) =>
        m.idealCycleTime === undefined ? [] : [[m.id, m.idealCycleTime] as const],
      ),
    ),
    now: () => clock.now,
  });
  const admin = localPrincipal();
  const microStopMaxMs = (equipmentId: string): number => {
    for (const site of config.sites)
      for (const area of site.areas)
        for (const line of area.lines)
          for (const u of line.units)
            if (`${config.enterprise.id}/${site.id}/${area.id}/${line.id}/${u.id}` === equipmentId)
              return u.microStopMax ?? config.runtime.microStopMax;
    return config.runtime.microStopMax;
  };
  const commit = async (
    events: readonly DomainEvent[],
    statuses: ReadonlyMap<string, UnitStatus>,
  ): Promise<void> => {
    // Time order = journal order, as the pipeline commits them.
    const sorted = [...events].sort((a, b) => a.ts - b.ts);
    const units = [...statuses].map(([id, status]) =>
      unit(id, 0, { status, lastStateTs: status.sinceMs, updatedAt: status.sinceMs }),
    );
    await store.commit(batch({ events: sorted, units }));
  };
  return {
    config,
    store,
    hierarchy,
    identity,
    downtime,
    kpi,
    admin,
    clock,
    microStopMaxMs,
    commit,
    async history(equipmentId, steps, pieces = [], c = {}) {
      const { events, status } = timeline(equipmentId, steps, microStopMaxMs(equipmentId), c);
      await commit(
        [...events, ...counts(equipmentId, pieces, c)],
        new Map([[equipmentId, status]]),
      );
    },
    oee: (equipment, from, to, groupBy) => kpi.oee(admin, { equipment, from, to, groupBy }),
    close,
  };
}

/**
 * An OrderService on a KPI world's store, clock and audit trail, as src/hub-erp.ts builds it
 * but with no ERP targets and no identity mapping (the tests' codes are the hub's own).
 */
export function orderService(w: KpiWorld): OrderService {
  return new OrderService(w.store, {
    hierarchy: w.hierarchy,
    mappings: {
      toOurs: () => {
        throw new Error('no mapping system in this test');
      },
    },
    outputUnitOf: () => null,
    targets: [],
    audit: (by, action, entityType, entityId, changes, reason) =>
      w.identity.audit(by, action, entityType, entityId, changes, reason),
    now: () => w.clock.now,
  });
}

/** Import an order of one operation (`0010` on `equipment`) as an ERP sends it, in H87. */
export function importOrder(
  orders: OrderService,
  order: {
    readonly externalId: string;
    readonly material: string;
    readonly quantity: string;
    readonly equipment: string;
  },
): Promise<ImportResult> {
  return orders.importDocument(
    {
      format: 'json',
      root: null,
      orders: [
        {
          externalId: order.externalId,
          material: order.material,
          quantity: order.quantity,
          uom: 'H87',
          operations: [{ id: '0010', equipment: order.equipment, description: null }],
          plannedStart: null,
          plannedEnd: null,
          priority: 0,
          lot: null,
          description: null,
        },
      ],
      materials: [],
      lots: [],
    },
    { id: 'test', system: null, actor: 'erp:test' },
  );
}
