/**
 * The state machine of one work unit (issue #5): state readings in, confirmed transitions out.
 *
 * - Debounce: a new state counts only once it has stood for `debounceMs` (a PLC flickering
 *   between running and down for a few hundred ms is not a stop). The transition is dated when
 *   the state began, not when it was confirmed, so durations stay true. A reading back to the
 *   current state before then cancels it; another new state restarts the wait.
 * - Micro-stops: leaving `down` after less than `microStopMaxMs` marks the stop a micro-stop
 *   (OEE counts it as a performance loss, not availability).
 * - Confirmation without a new reading (devices report by exception) comes from `tick`.
 *
 * Pure: times are given, nothing is read from a clock.
 */
import type { EquipmentState, UnitStatus } from './state.ts';

export interface StateMachineConfig {
  /** How long a new state must stand before it counts (0: at once). */
  readonly debounceMs: number;
  /** A `down` shorter than this is a micro-stop (0: none are). */
  readonly microStopMaxMs: number;
}

export interface PendingState {
  readonly state: EquipmentState;
  readonly reasonCode: string | null;
  /** When the new state began (source time). */
  readonly since: number;
}

export interface Transition {
  readonly state: EquipmentState;
  readonly reasonCode: string | null;
  /** When the new state began. */
  readonly at: number;
  readonly previous: UnitStatus;
  /** How long the previous state lasted (0 when its start is unknown). */
  readonly previousDurationMs: number;
  /** The previous state was a `down` shorter than microStopMaxMs. */
  readonly previousMicroStop: boolean;
}

export interface MachineState {
  readonly status: UnitStatus;
  readonly pending: PendingState | null;
}

function transition(
  status: UnitStatus,
  next: PendingState,
  config: StateMachineConfig,
): Transition {
  const duration = status.sinceMs > 0 ? Math.max(0, next.since - status.sinceMs) : 0;
  return {
    state: next.state,
    reasonCode: next.reasonCode,
    at: next.since,
    previous: status,
    previousDurationMs: duration,
    previousMicroStop:
      status.state === 'down' &&
      status.sinceMs > 0 &&
      config.microStopMaxMs > 0 &&
      duration < config.microStopMaxMs,
  };
}

function apply(t: Transition): MachineState {
  return { status: { state: t.state, reasonCode: t.reasonCode, sinceMs: t.at }, pending: null };
}

/** A state reading at source time `ts` (readings arrive in time order; older ones are dropped earlier). */
export function readState(
  m: MachineState,
  state: EquipmentState,
  reasonCode: string | null,
  ts: number,
  config: StateMachineConfig,
): { machine: MachineState; transitions: Transition[] } {
  // A pending state that has stood long enough by now is confirmed first.
  const settled = tickState(m, ts, config);
  const out = [...settled.transitions];
  let machine = settled.machine;
  const same = (s: EquipmentState, r: string | null) =>
    machine.status.state === s && machine.status.reasonCode === r;
  if (same(state, reasonCode)) {
    // Back to the current state: a pending change was a glitch.
    return { machine: { ...machine, pending: null }, transitions: out };
  }
  const pending = machine.pending;
  if (pending !== null && pending.state === state && pending.reasonCode === reasonCode) {
    return { machine, transitions: out }; // still waiting; tickState confirms it
  }
  const next: PendingState = { state, reasonCode, since: ts };
  if (config.debounceMs <= 0) {
    const t = transition(machine.status, next, config);
    out.push(t);
    machine = apply(t);
    return { machine, transitions: out };
  }
  return { machine: { ...machine, pending: next }, transitions: out };
}

/** Confirm a pending state that has stood for the debounce time by `now`. */
export function tickState(
  m: MachineState,
  now: number,
  config: StateMachineConfig,
): { machine: MachineState; transitions: Transition[] } {
  const p = m.pending;
  if (p === null || now - p.since < config.debounceMs) return { machine: m, transitions: [] };
  const t = transition(m.status, p, config);
  return { machine: apply(t), transitions: [t] };
}
