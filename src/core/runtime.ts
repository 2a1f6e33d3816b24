/**
 * Equipment runtime: the live state and counters of every work unit, kept in memory and turned
 * into domain events. It mirrors the store's projections: loaded from them at start, and every
 * change it makes is written back (as `UnitProjection`s) in the batch that carries its events.
 */
import {
  applyCounter,
  INITIAL_STATUS,
  nextStatus,
  type CountedEvent,
  type CounterKind,
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
}

function emptyUnit(equipmentId: string): MutableUnit {
  const counter: CounterProjection = { total: 0, lastRaw: null, lastTs: 0 };
  return {
    equipmentId,
    status: INITIAL_STATUS,
    lastStateTs: 0,
    counters: { good: counter, scrap: counter, total: counter },
    updatedAt: 0,
  };
}

export class EquipmentRuntime {
  private readonly units = new Map<string, MutableUnit>();
  private readonly dirty = new Set<string>();

  constructor(private readonly hierarchy: Hierarchy) {
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
   * A state reading. Older than the last applied one (a re-delivery): ignored. Same state and
   * reason: no event. Otherwise a `state.changed` event.
   */
  applyState(
    equipmentId: string,
    state: EquipmentState,
    reasonCode: string | null,
    ts: number,
  ): StateChangedEvent | null {
    const unit = this.mustGet(equipmentId);
    if (ts < unit.lastStateTs) return null;
    const next = nextStatus(unit.status, state, reasonCode, ts);
    unit.lastStateTs = ts;
    this.touch(unit);
    if (next === null) return null;
    const previous = unit.status;
    unit.status = next;
    return {
      type: 'state.changed',
      equipmentId,
      ts,
      data: {
        state,
        reasonCode,
        previousState: previous.state,
        previousReasonCode: previous.reasonCode,
        previousDurationMs: previous.sinceMs > 0 ? Math.max(0, ts - previous.sinceMs) : 0,
      },
    };
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
  ): CountedEvent | null {
    const unit = this.mustGet(equipmentId);
    const current = unit.counters[counter];
    if (ts < current.lastTs) return null;
    const step = applyCounter(current, raw, rolloverAt);
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
