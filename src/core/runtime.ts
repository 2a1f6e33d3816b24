/**
 * Equipment runtime: the live state and counters of every work unit, kept in memory and turned
 * into domain events. It mirrors the store's projections: loaded from them at start, and every
 * change it makes is written back (as `UnitProjection`s) in the batch that carries its events.
 */
import { Decimal } from 'decimal.js';
import {
  applyConsumption,
  applyCounter,
  applyIncrement,
  applyPulse,
  INITIAL_POSITION,
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
  type ConsumedEvent,
  type ConsumptionMode,
  type ConsumptionPosition,
  type StateChangedEvent,
} from '../model/index.ts';
import type { CounterProjection, UnitProjection } from '../store/types.ts';

interface MutableUnit {
  equipmentId: string;
  status: UnitProjection['status'];
  lastStateTs: number;
  counters: Record<CounterKind, CounterProjection>;
  materials: Record<string, ConsumptionPosition>;
  updatedAt: number;
  /** The last state the unit's devices reported, before starved/blocked were derived. */
  reading: { state: EquipmentState; reasonCode: string | null } | null;
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
/** Reason codes of the starved and blocked states the hub derives from a line's flow. */
export const UPSTREAM_REASON = 'upstream-stopped';
export const DOWNSTREAM_REASON = 'downstream-stopped';

/** States of a neighbour that starve (upstream) or block (downstream) an idle unit. */
const STOPPED: ReadonlySet<EquipmentState> = new Set(['down', 'planned-stop', 'changeover']);

/** A consumption reading, as the pipeline resolved it. */
export interface ConsumptionReading {
  /** The hub's material id. */
  readonly material: string;
  /** The reading in the tag's unit. */
  readonly raw: Decimal;
  readonly rawUom: string;
  /** The material's unit, and how a quantity in the tag's unit converts to it (exactly). */
  readonly uom: string;
  readonly toUom: (quantity: Decimal) => Decimal;
  readonly mode: ConsumptionMode;
  readonly rolloverAt: Decimal | undefined;
}

function emptyUnit(equipmentId: string): MutableUnit {
  const counter: CounterProjection = { total: 0, lastRaw: null, lastTs: 0 };
  return {
    equipmentId,
    status: INITIAL_STATUS,
    lastStateTs: 0,
    counters: { good: counter, scrap: counter, total: counter },
    materials: {},
    updatedAt: 0,
    pending: null,
    lastDataAt: 0,
    reading: null,
  };
}

/** Neighbours of each unit along its line's flow. */
interface Neighbours {
  readonly upstream: string | null;
  readonly downstream: string | null;
}

export class EquipmentRuntime {
  private readonly units = new Map<string, MutableUnit>();
  private readonly dirty = new Set<string>();
  private readonly neighbours = new Map<string, Neighbours>();

  constructor(
    private readonly hierarchy: Hierarchy,
    private readonly settingsOf: (equipmentId: string) => UnitSettings = () =>
      DEFAULT_UNIT_SETTINGS,
    /** Lines' flows (config `flow`): unit ids in the order the product passes them. */
    flows: readonly (readonly string[])[] = [],
  ) {
    for (const flow of flows) {
      flow.forEach((id, i) =>
        this.neighbours.set(id, { upstream: flow[i - 1] ?? null, downstream: flow[i + 1] ?? null }),
      );
    }
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
        materials: { ...p.materials },
        updatedAt: p.updatedAt,
        pending: null,
        lastDataAt: 0,
        // A derived state stands for an idle reading (what the devices said before the restart).
        reading:
          p.status.reasonCode === UPSTREAM_REASON || p.status.reasonCode === DOWNSTREAM_REASON
            ? { state: 'idle', reasonCode: null }
            : { state: p.status.state, reasonCode: p.status.reasonCode },
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
    unit.reading = { state, reasonCode };
    const derived = this.derive(unit);
    const step = readState(
      { status: unit.status, pending: unit.pending },
      derived.state,
      derived.reasonCode,
      ts,
      this.settingsOf(equipmentId),
    );
    unit.lastStateTs = ts;
    unit.status = step.machine.status;
    unit.pending = step.machine.pending;
    this.touch(unit);
    return this.withNeighbours(unit, step.transitions);
  }

  /**
   * The state a unit's reading stands for on its line: an idle unit whose upstream neighbour is
   * stopped is starved, whose downstream neighbour is stopped is blocked. Starvation passes
   * downstream and blockage upstream (a starved unit starves the next one), never back, so
   * two neighbours cannot hold each other in a derived state.
   */
  private derive(unit: MutableUnit): { state: EquipmentState; reasonCode: string | null } {
    const reading = unit.reading ?? {
      state: unit.status.state,
      reasonCode: unit.status.reasonCode,
    };
    const around = this.neighbours.get(unit.equipmentId);
    if (reading.state !== 'idle' || around === undefined) return reading;
    const state = (id: string | null): EquipmentState | undefined =>
      id === null ? undefined : this.units.get(id)?.status.state;
    const up = state(around.upstream);
    if (up !== undefined && (STOPPED.has(up) || up === 'starved'))
      return { state: 'starved', reasonCode: UPSTREAM_REASON };
    const down = state(around.downstream);
    if (down !== undefined && (STOPPED.has(down) || down === 'blocked'))
      return { state: 'blocked', reasonCode: DOWNSTREAM_REASON };
    return reading;
  }

  /**
   * The events of a unit's transitions, then those of its neighbours re-derived from the new
   * state (and theirs, along the line). A neighbour waiting out a debounce is left alone: its
   * own confirmation derives it.
   */
  private withNeighbours(
    unit: MutableUnit,
    transitions: readonly Transition[],
  ): StateChangedEvent[] {
    const out = transitions.map((t) => stateChanged(unit.equipmentId, t));
    if (transitions.length === 0 || this.neighbours.size === 0) return out;
    const work = [unit.equipmentId];
    // Each unit settles at most a few times: a line is a chain, derivation only flows one way.
    for (let guard = 0; work.length > 0 && guard < 4 * this.neighbours.size + 4; guard++) {
      const around = this.neighbours.get(work.shift() as string);
      if (around === undefined) continue;
      for (const id of [around.downstream, around.upstream]) {
        const n = id === null ? undefined : this.units.get(id);
        if (n === undefined || n.pending !== null || n.reading === null) continue;
        const derived = this.derive(n);
        if (derived.state === n.status.state && derived.reasonCode === n.status.reasonCode)
          continue;
        const at = Math.max(transitions.at(-1)!.at, n.lastStateTs);
        const step = readState(
          { status: n.status, pending: null },
          derived.state,
          derived.reasonCode,
          at,
          {
            ...this.settingsOf(n.equipmentId),
            debounceMs: 0,
          },
        );
        n.status = step.machine.status;
        n.lastStateTs = at;
        this.touch(n);
        out.push(...step.transitions.map((t) => stateChanged(n.equipmentId, t)));
        work.push(n.equipmentId);
      }
    }
    return out;
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
        // A neighbour may have changed while this state waited out its debounce: what it
        // stands for now is what gets confirmed (starved or blocked, or no longer).
        const derived = this.derive(unit);
        if (derived.state === unit.status.state && derived.reasonCode === unit.status.reasonCode)
          unit.pending = null; // it stands for the state the unit is in: nothing to confirm
        else if (
          derived.state !== unit.pending.state ||
          derived.reasonCode !== unit.pending.reasonCode
        )
          unit.pending = { ...unit.pending, ...derived };
      }
      if (unit.pending !== null) {
        const step = tickState({ status: unit.status, pending: unit.pending }, now, settings);
        if (step.transitions.length > 0) {
          unit.status = step.machine.status;
          unit.pending = null;
          this.touch(unit);
          out.push(...this.withNeighbours(unit, step.transitions));
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
        unit.reading = { state: 'unknown', reasonCode: NO_DATA_REASON };
        this.touch(unit);
        out.push(...this.withNeighbours(unit, step.transitions));
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

  /**
   * A consumption reading of one material. Older than the last applied one: ignored (an
   * `increment` also when not newer), so a re-delivery never books twice. Nothing used: no event.
   */
  applyConsumption(equipmentId: string, r: ConsumptionReading, ts: number): ConsumedEvent | null {
    const unit = this.mustGet(equipmentId);
    const current = unit.materials[r.material] ?? INITIAL_POSITION;
    if (ts < current.lastTs || (r.mode === 'increment' && ts <= current.lastTs)) return null;
    const step = applyConsumption(current.lastRaw, r.raw, r.mode, r.rolloverAt);
    const quantity = r.toUom(step.delta);
    const total = new Decimal(current.total).plus(quantity);
    unit.materials[r.material] = { total: total.toFixed(), lastRaw: step.lastRaw, lastTs: ts };
    this.touch(unit);
    if (step.delta.isZero() && step.anomaly === null) return null;
    return {
      type: 'consumed',
      equipmentId,
      ts,
      data: {
        material: r.material,
        quantity: quantity.toFixed(),
        uom: r.uom,
        raw: r.raw.toFixed(),
        rawUom: r.rawUom,
        total: total.toFixed(),
        anomaly: step.anomaly,
      },
    };
  }

  /** Projections of every unit. */
  all(): UnitProjection[] {
    return [...this.units.values()].map(projection);
  }

  /** Projections of the units changed since the last call. */
  takeDirty(): UnitProjection[] {
    const out: UnitProjection[] = [];
    for (const id of this.dirty) out.push(projection(this.units.get(id) as MutableUnit));
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

function projection(u: MutableUnit): UnitProjection {
  return {
    equipmentId: u.equipmentId,
    status: u.status,
    lastStateTs: u.lastStateTs,
    counters: { ...u.counters },
    materials: { ...u.materials },
    updatedAt: u.updatedAt,
  };
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
