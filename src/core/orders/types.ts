/** The shapes of work orders in core/orders: as their record holds them and as the API shows them. */
import type {
  OperationProgress,
  OrderAction,
  OrderContent,
  OrderStatus,
} from '../../model/index.ts';

/** An order as its record holds it. */
export interface OrderData {
  readonly content: OrderContent;
  readonly status: OrderStatus;
  readonly operations: readonly OperationProgress[];
  readonly source: { readonly id: string; readonly system: string | null; readonly format: string };
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly statusChangedAt: number;
  /** The seq of the order's last message (ErpMessage.seq); absent before the first. */
  readonly messageSeq?: number;
}

export interface OperationView {
  readonly id: string;
  readonly equipment: string;
  readonly countingUnit: string;
  readonly status: OperationProgress['status'];
  readonly good: string;
  readonly scrap: string;
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly runTimeMs: number;
}

export interface OrderView {
  readonly id: string;
  readonly status: OrderStatus;
  readonly material: string;
  readonly quantity: string;
  readonly uom: string;
  /** Good pieces of the last operation (the order's output) and scrap of all operations. */
  readonly produced: { readonly good: string; readonly scrap: string };
  readonly operations: readonly OperationView[];
  readonly plannedStart: number | null;
  readonly plannedEnd: number | null;
  readonly priority: number;
  readonly lot: string;
  readonly description: string | null;
  readonly source: OrderData['source'];
  readonly allowedActions: readonly OrderAction[];
  readonly startedAt: number | null;
  readonly completedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
}

export interface ActOptions {
  readonly operation?: string | undefined;
  readonly reason?: string | undefined;
}
