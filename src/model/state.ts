/**
 * Equipment states (ISA-95 Part 2 / Part 3 equipment status, simplified to the states that OEE
 * and downtime reporting need) and the transitions between them.
 */

export const EQUIPMENT_STATES = [
  'running',
  'idle',
  'down',
  'planned-stop',
  'changeover',
  'starved',
  'blocked',
  'unknown',
] as const;
export type EquipmentState = (typeof EQUIPMENT_STATES)[number];

export function isEquipmentState(value: string): value is EquipmentState {
  return (EQUIPMENT_STATES as readonly string[]).includes(value);
}

/** Current state of one work unit. */
export interface UnitStatus {
  readonly state: EquipmentState;
  /** Reason code of the current state (e.g. a PLC stop code), when the source gave one. */
  readonly reasonCode: string | null;
  /** Since when (UTC epoch ms, source time) the unit has been in this state. */
  readonly sinceMs: number;
}

export const INITIAL_STATUS: UnitStatus = { state: 'unknown', reasonCode: null, sinceMs: 0 };

/**
 * Decide whether a new state reading is a change. Returns the new status or null when the
 * reading repeats the current state and reason (a re-delivered or periodic value).
 */
export function nextStatus(
  current: UnitStatus,
  state: EquipmentState,
  reasonCode: string | null,
  atMs: number,
): UnitStatus | null {
  if (current.state === state && current.reasonCode === reasonCode) return null;
  return { state, reasonCode, sinceMs: atMs };
}
