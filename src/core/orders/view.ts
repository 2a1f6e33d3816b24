/** An order as the API shows it, with what it made so far (reused for a second while it runs). */
import { Decimal } from 'decimal.js';
import { nextOrderStatus, ORDER_ACTIONS, runTimeMs } from '../../model/index.ts';
import type { StoredRecord } from '../../store/types.ts';
import type { OrderLifecycle } from './lifecycle.ts';
import type { OrderData, OrderView } from './types.ts';

/** How long a running order's figures are reused between reads (the live view polls). */
const VIEW_TTL_MS = 1000;

export class OrderViews {
  private readonly views = new Map<string, { at: number; version: number; view: OrderView }>();

  constructor(
    private readonly lifecycle: OrderLifecycle,
    private readonly now: () => number,
  ) {}

  forget(id: string): void {
    this.views.delete(id);
  }

  async view(rec: StoredRecord): Promise<OrderView> {
    const data = rec.data as unknown as OrderData;
    const live = data.status === 'running' || data.status === 'held';
    const cached = this.views.get(rec.entityId);
    const now = this.now();
    if (
      cached !== undefined &&
      cached.version === rec.version &&
      (!live || now - cached.at < VIEW_TTL_MS)
    )
      return cached.view;
    const measured = await Promise.all(
      data.operations.map((op, i) =>
        live || op.status === 'completed' ? this.lifecycle.measureOp(data, op, i) : null,
      ),
    );
    const operations = data.operations.map((op, i) => {
      const m = measured[i];
      return {
        id: op.id,
        equipment: data.content.operations[i]!.equipment,
        countingUnit: op.countingUnit,
        status: op.status,
        good: m?.good.toString() ?? op.confirmedGood,
        scrap: m?.scrap.toString() ?? op.confirmedScrap,
        startedAt: op.startedAt,
        completedAt: op.completedAt,
        runTimeMs: runTimeMs(op.periods, now),
      };
    });
    const view: OrderView = {
      id: rec.entityId,
      status: data.status,
      material: data.content.material,
      quantity: data.content.quantity,
      uom: data.content.uom,
      produced: {
        good: operations.at(-1)?.good ?? '0',
        scrap: operations.reduce((s, o) => s.plus(o.scrap), new Decimal(0)).toString(),
      },
      operations,
      plannedStart: data.content.plannedStart,
      plannedEnd: data.content.plannedEnd,
      priority: data.content.priority,
      lot: data.content.lot ?? data.content.externalId,
      description: data.content.description,
      source: data.source,
      allowedActions: ORDER_ACTIONS.filter(
        (a) =>
          nextOrderStatus(data.status, a) !== null &&
          (a !== 'start' || data.operations.some((o) => o.status === 'waiting')),
      ),
      startedAt: data.startedAt,
      completedAt: data.completedAt,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
      version: rec.version,
    };
    this.views.set(rec.entityId, { at: now, version: rec.version, view });
    return view;
  }
}
