/**
 * Equipment runtime: the live state and counters of every work unit, kept in memory and turned
 * into domain events. It mirrors the store's projections: loaded from them at start, and every
 * change it makes is written back (as `UnitProjection`s) in the batch that carries its events.
 */
import {
  applyCounter,
  applyIncrement,
  applyPulse,
  INITIAL_STATUS,
  readState,
  tickState,
  type CountedEvent,
  type PendingState,
  type StateMachineConfig,
  type Transition,
  type CounterKind,
  type CounterMode,
  type EquipmentState,
  type Hierarchy,
  type StateChangedEvent,
} from '../model/index.ts';
import type { CounterProjection, UnitProjection } from '../store/types.ts';

interface MutableUnit {
  equipmentId: string;
  status: UnitProjection['status'];
  lastStateTs: number;
  counters: Record<CounterKind, CounterProjection>;
  updatedAt: number;
  /** A new state waiting out the debounce (in memory only: see DESIGN notes in state-machine.ts). */
  pending: PendingState | null;
  /** When the hub last received a good reading for the unit (hub clock), for the no-data timeout. */
  lastDataAt: number;
}

/** How one unit's readings become states (config `runtime`, overridable per unit). */
export interface UnitSettings extends StateMachineConfig {
  /** Without a good reading for this long the unit is `unknown` (reason `no-data`); 0: never. */
  readonly noDataTimeoutMs: number;
}

export const DEFAULT_UNIT_SETTINGS: UnitSettings = {
  debounceMs: 0,
  microStopMaxMs: 0,
  noDataTimeoutMs: 0,
};

/** Reason codes the hub itself gives to `unknown`. */
export const NO_DATA_REASON = 'no-data';
export const BAD_QUALITY_REASON = 'bad-quality';

function emptyUnit(equipmentId: string): MutableUnit {
  const counter: CounterProjection = { total: 0, lastRaw: null, lastTs: 0 };
  return {
    equipmentId,
    status: INITIAL_STATUS,
    lastStateTs: 0,
    counters: { good: counter, scrap: counter, total: counter },
    updatedAt: 0,
    pending: null,
    lastDataAt: 0,
  };
}

export class EquipmentRuntime {
  private readonly units = new Map<string, MutableUnit>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly hierarchy: Hierarchy,
    private readonly settingsOf: (equipmentId: string) => UnitSettings = () =>
      DEFAULT_UNIT_SETTINGS,
  ) {
    this.reset([]);
  }

  /** Replace the in-memory state with the store's projections (at start, and after a failed commit). */
  reset(projections: readonly UnitProjection[]): void {
    this.units.clear();
    this.dirty.clear();
    for (const unit of this.hierarchy.workUnits()) this.units.set(unit.id, emptyUnit(unit.id));
    for (const p of projections) {
      if (!this.units.has(p.equipmentId)) continue; // a unit removed from the configuration
      this.units.set(p.equipmentId, {
        equipmentId: p.equipmentId,
        status: p.status,
        lastStateTs: p.lastStateTs,
        counters: { ...p.counters },
        updatedAt: p.updatedAt,
        pending: null,
        lastDataAt: 0,
      });
    }
  }

  has(equipmentId: string): boolean {
    return this.units.has(equipmentId);
  }

  get(equipmentId: string): UnitProjection | undefined {
    return this.units.get(equipmentId);
  }

  /**
   * A state reading. Older than the last applied one (a re-delivery): ignored. Otherwise it goes
   * through the unit's state machine (debounce, micro-stops): zero, one or two `state.changed`
   * events (a pending state confirmed by this reading's time, then this reading's own change).
   */
  applyState(
    equipmentId: string,
    state: EquipmentState,
    reasonCode: string | null,
    ts: number,
  ): StateChangedEvent[] {
    const unit = this.mustGet(equipmentId);
    if (ts < unit.lastStateTs) return [];
    const step = readState(
      { status: unit.status, pending: unit.pending },
      state,
      reasonCode,
      ts,
      this.settingsOf(equipmentId),
    );
    unit.lastStateTs = ts;
    unit.status = step.machine.status;
    unit.pending = step.machine.pending;
    this.touch(unit);
    return step.transitions.map((t) => stateChanged(equipmentId, t));
  }

  /** A good reading of any of the unit's tags arrived (hub clock): it is not silent. */
  noteData(equipmentId: string, receivedTs: number): void {
    const unit = this.units.get(equipmentId);
    if (unit !== undefined && receivedTs > unit.lastDataAt) unit.lastDataAt = receivedTs;
  }

  /**
   * Time passes (hub clock): pending states that stood long enough are confirmed, and units
   * silent for longer than their no-data timeout become `unknown` (never left in their last
   * state). Returns the events.
   */
  tick(now: number): StateChangedEvent[] {
    const out: StateChangedEvent[] = [];
    for (const unit of this.units.values()) {
      const settings = this.settingsOf(unit.equipmentId);
      if (unit.pending !== null) {
        const step = tickState({ status: unit.status, pending: unit.pending }, now, settings);
        if (step.transitions.length > 0) {
          unit.status = step.machine.status;
          unit.pending = null;
          this.touch(unit);
          out.push(...step.transitions.map((t) => stateChanged(unit.equipmentId, t)));
        }
      }
      const timeout = settings.noDataTimeoutMs;
      if (
        timeout > 0 &&
        unit.lastDataAt > 0 &&
        now - unit.lastDataAt >= timeout &&
        !(unit.status.state === 'unknown' && unit.status.reasonCode === NO_DATA_REASON)
      ) {
        const at = Math.max(unit.lastDataAt + timeout, unit.lastStateTs);
        // Straight to unknown: a silence is not debounced (it already lasted the timeout).
        const step = readState(
          { status: unit.status, pending: null },
          'unknown',
          NO_DATA_REASON,
          at,
          { ...settings, debounceMs: 0 },
        );
        unit.status = step.machine.status;
        unit.pending = null;
        unit.lastStateTs = at;
        this.touch(unit);
        out.push(...step.transitions.map((t) => stateChanged(unit.equipmentId, t)));
      }
    }
    return out;
  }

  /**
   * An absolute counter reading. Older than the last applied one: ignored, so a value
   * re-delivered after a crash never counts twice. A zero delta gives no event.
   */
  applyCounter(
    equipmentId: string,
    counter: CounterKind,
    raw: number,
    rolloverAt: number | undefined,
    ts: number,
    mode: CounterMode = 'absolute',
  ): CountedEvent | null {
    const unit = this.mustGet(equipmentId);
    const current = unit.counters[counter];
    if (ts < current.lastTs) return null;
    // An increment carries no position: a re-delivery (same time) would count twice.
    if (mode === 'increment' && ts <= current.lastTs) return null;
    const step =
      mode === 'increment'
        ? applyIncrement(current, raw)
        : mode === 'pulse'
          ? applyPulse(current, raw === 0 ? 0 : 1)
          : applyCounter(current, raw, rolloverAt);
    unit.counters[counter] = { ...step.next, lastTs: ts };
    this.touch(unit);
    if (step.delta === 0 && step.anomaly === null) return null;
    return {
      type: 'counted',
      equipmentId,
      ts,
      data: { counter, delta: step.delta, raw, total: step.next.total, anomaly: step.anomaly },
    };
  }

  /** Projections of every unit. */
  all(): UnitProjection[] {
    return [...this.units.values()].map((u) => ({ ...u, counters: { ...u.counters } }));
  }

  /** Projections of the units changed since the last call. */
  takeDirty(): UnitProjection[] {
    const out: UnitProjection[] = [];
    for (const id of this.dirty) {
      const u = this.units.get(id) as MutableUnit;
      out.push({ ...u, counters: { ...u.counters } });
    }
    this.dirty.clear();
    return out;
  }

  private touch(unit: MutableUnit): void {
    unit.updatedAt = Date.now();
    this.dirty.add(unit.equipmentId);
  }

  private mustGet(equipmentId: string): MutableUnit {
    const unit = this.units.get(equipmentId);
    if (unit === undefined) throw new Error(`unknown work unit ${equipmentId}`);
    return unit;
  }
}

function stateChanged(equipmentId: string, t: Transition): StateChangedEvent {
  return {
    type: 'state.changed',
    equipmentId,
    ts: t.at,
    data: {
      state: t.state,
      reasonCode: t.reasonCode,
      previousState: t.previous.state,
      previousReasonCode: t.previous.reasonCode,
      previousDurationMs: t.previousDurationMs,
      previousMicroStop: t.previousMicroStop,
    },
  };
}
