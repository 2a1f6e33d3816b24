/**
 * Downtime and its reasons (issue #5). A site has a reason tree — planned or unplanned →
 * category → reason — into which PLC stop codes map. A stop is a period of a unit in `down`,
 * `unknown`, `starved`, `blocked`, `planned-stop` or `changeover`, from the state change that
 * began it to the next one; its reason is the one a person assigned, else the one its PLC code
 * maps to, else none (unclassified). An unclassified stop counts as planned when its state says
 * so (`planned-stop`, `changeover`), else as unplanned downtime until someone classifies it. Pure.
 */
import type { JournalEvent } from './events.ts';
import type { EquipmentState } from './state.ts';

export interface Reason {
  readonly code: string;
  readonly name: string;
  readonly planned: boolean;
  readonly category: string;
  readonly plcCodes: readonly string[];
}

export class ReasonTree {
  private readonly byCode = new Map<string, Reason>();
  private readonly byPlcCode = new Map<string, Reason>();

  constructor(reasons: readonly Reason[]) {
    for (const r of reasons) {
      this.byCode.set(r.code, r);
      for (const plc of r.plcCodes) this.byPlcCode.set(plc, r);
    }
  }

  get(code: string): Reason | undefined {
    return this.byCode.get(code);
  }

  /** The reason a PLC stop code means, if the tree maps it. */
  ofPlcCode(plcCode: string | null): Reason | undefined {
    return plcCode === null ? undefined : this.byPlcCode.get(plcCode);
  }

  all(): Reason[] {
    return [...this.byCode.values()];
  }

  /** How many reasons the tree has (0: the site has no tree). */
  get size(): number {
    return this.byCode.size;
  }
}

export const STOP_STATES: readonly EquipmentState[] = [
  'down',
  'unknown',
  'starved',
  'blocked',
  'planned-stop',
  'changeover',
];

/** Stop states that are planned by themselves, whatever their reason code. */
export const PLANNED_STATES: readonly EquipmentState[] = ['planned-stop', 'changeover'];

/** Whether a stop is planned: its reason says so, or (without a reason) its state. */
export function isPlannedStop(state: EquipmentState, reason: Reason | null): boolean {
  return reason === null ? PLANNED_STATES.includes(state) : reason.planned;
}

export interface Stop {
  /** Journal seq of the state change that began the stop: the stop's id. */
  readonly seq: number;
  readonly equipmentId: string;
  readonly state: EquipmentState;
  /** The PLC (or hub) reason code the state came with. */
  readonly plcReasonCode: string | null;
  readonly start: number;
  /** When it ended, or null while it lasts. */
  readonly end: number | null;
  readonly durationMs: number;
  readonly microStop: boolean;
}

/**
 * The stops in a unit's state changes (in seq order). A stop that lasts is measured up to
 * `now`; a micro-stop is known from the change that ended it.
 */
export function stopsOf(events: readonly JournalEvent[], now: number): Stop[] {
  const changes = events.filter((e) => e.type === 'state.changed');
  const out: Stop[] = [];
  changes.forEach((e, i) => {
    if (e.type !== 'state.changed' || !STOP_STATES.includes(e.data.state)) return;
    const next = changes[i + 1];
    const end = next?.ts ?? null;
    out.push({
      seq: e.seq,
      equipmentId: e.equipmentId,
      state: e.data.state,
      plcReasonCode: e.data.reasonCode,
      start: e.ts,
      end,
      durationMs: Math.max(0, (end ?? now) - e.ts),
      microStop: next?.type === 'state.changed' ? next.data.previousMicroStop : false,
    });
  });
  return out;
}
