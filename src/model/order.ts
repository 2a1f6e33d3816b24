/**
 * Work orders (ISA-95 Part 4 operations request / job order, the subset an ERP releases): the
 * order's content, its status lifecycle and the arithmetic of what it made. Pure: no I/O.
 *
 * Lifecycle (each transition validated here, applied and audited by core/orders.ts):
 *
 *   released ─dispatch→ dispatched ─start→ running ⇄ held (hold / resume)
 *   running | held ─complete→ completed ─close→ closed
 *   released | dispatched | running | held ─cancel→ cancelled
 *
 * Quantities are decimal text (decimal.js parses them), never binary floats.
 */

export const ORDER_STATUSES = [
  'released',
  'dispatched',
  'running',
  'held',
  'completed',
  'closed',
  'cancelled',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ORDER_ACTIONS = [
  'dispatch',
  'start',
  'hold',
  'resume',
  'complete',
  'close',
  'cancel',
] as const;
export type OrderAction = (typeof ORDER_ACTIONS)[number];

/** Which statuses an action may start from, and where it leads. */
export const ORDER_TRANSITIONS: Readonly<
  Record<OrderAction, { readonly from: readonly OrderStatus[]; readonly to: OrderStatus }>
> = {
  dispatch: { from: ['released'], to: 'dispatched' },
  start: { from: ['dispatched', 'running'], to: 'running' },
  hold: { from: ['running'], to: 'held' },
  resume: { from: ['held'], to: 'running' },
  complete: { from: ['running', 'held'], to: 'completed' },
  close: { from: ['completed'], to: 'closed' },
  cancel: { from: ['released', 'dispatched', 'running', 'held'], to: 'cancelled' },
};

export function isOrderAction(name: string): name is OrderAction {
  return (ORDER_ACTIONS as readonly string[]).includes(name);
}

/**
 * The status an action leads to from `status`, or null when the lifecycle does not allow it.
 * `start` on a running order starts its next operation (the order stays running).
 */
export function nextOrderStatus(status: OrderStatus, action: OrderAction): OrderStatus | null {
  const t = ORDER_TRANSITIONS[action];
  return t.from.includes(status) ? t.to : null;
}

/** An order's content as an ERP releases it, after identity mapping (the hub's codes). */
export interface OrderContent {
  /** The ERP's order number: the order's id in the hub, and what imports are idempotent on. */
  readonly externalId: string;
  /** The hub's material code of the product. */
  readonly material: string;
  /** Quantity to make, decimal text, in `uom`. */
  readonly quantity: string;
  /** UN/CEFACT Rec 20 code. */
  readonly uom: string;
  readonly operations: readonly OperationContent[];
  /** Planned start and end, UTC epoch ms, or null. */
  readonly plannedStart: number | null;
  readonly plannedEnd: number | null;
  /** Higher runs first; 0 when the ERP gave none. */
  readonly priority: number;
  /** The lot the order's output is received into (goods receipt), or null for the order id. */
  readonly lot: string | null;
  readonly description: string | null;
}

/** One operation (ISA-95 segment requirement / job order) of an order's route. */
export interface OperationContent {
  /** The ERP's operation number, e.g. "0010". */
  readonly id: string;
  /** The hub's equipment id where it runs: a line (work center) or a work unit. */
  readonly equipment: string;
  readonly description: string | null;
}

/** A span of time an operation was running on its equipment (UTC epoch ms; to null = still). */
export interface RunPeriod {
  readonly from: number;
  readonly to: number | null;
}

export type OperationStatus = 'waiting' | 'running' | 'held' | 'completed';

/** What the hub keeps of an operation while the order runs. */
export interface OperationProgress {
  readonly id: string;
  readonly status: OperationStatus;
  /** The work unit whose counts are attributed to this operation (a line's output unit). */
  readonly countingUnit: string;
  readonly periods: readonly RunPeriod[];
  /** Good and scrap pieces already reported in confirmations (decimal text). */
  readonly confirmedGood: string;
  readonly confirmedScrap: string;
  readonly startedAt: number | null;
  readonly completedAt: number | null;
}

/** Total time covered by the periods up to `now` (an open period counts until now). */
export function runTimeMs(periods: readonly RunPeriod[], now: number): number {
  let sum = 0;
  for (const p of periods) sum += Math.max(0, (p.to ?? now) - p.from);
  return sum;
}

/** Whether a time lies inside one of the periods (from inclusive, to exclusive). */
export function inPeriods(periods: readonly RunPeriod[], ts: number): boolean {
  return periods.some((p) => ts >= p.from && (p.to === null || ts < p.to));
}

/** Close the open period (if any) at `at`. */
export function closePeriods(periods: readonly RunPeriod[], at: number): RunPeriod[] {
  return periods.map((p) => (p.to === null ? { from: p.from, to: Math.max(p.from, at) } : p));
}

/** Open a new period at `at` (closing a still-open one first). */
export function openPeriod(periods: readonly RunPeriod[], at: number): RunPeriod[] {
  return [...closePeriods(periods, at), { from: at, to: null }];
}

/** External ids: ERP order numbers (SAP AUFNR, Oracle WIP job names …). */
export const EXTERNAL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.\-/:]{0,79}$/;
export const EXTERNAL_ID_RULE =
  'expected 1-80 letters, digits, "_", ".", "-", "/" or ":", starting with a letter or digit';
