/**
 * What an action does to an order (the lifecycle of model/order.ts applied): the operations'
 * run periods, the confirmations of what was made since the last one, goods issue and receipt,
 * and the completion summary, as ErpMessages. Figures come from the journal (measure.ts).
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import {
  closePeriods,
  convert,
  openPeriod,
  runTimeMs,
  type ErpMessage,
  type OperationProgress,
  type OperationReport,
  type OrderAction,
  type OrderStatus,
} from '../../model/index.ts';
import type { Store } from '../../store/types.ts';
import { invalid } from './import.ts';
import { Measurer, type Measured } from './measure.ts';
import type { ActOptions, OrderData } from './types.ts';

const PIECES = 'H87';

export class OrderLifecycle {
  private readonly measurer: Measurer;

  constructor(
    store: Store,
    private readonly now: () => number,
  ) {
    this.measurer = new Measurer(store);
  }

  /** The order after an action, and the messages it sends. */
  async apply(
    before: OrderData,
    action: OrderAction,
    to: OrderStatus,
    opts: ActOptions,
  ): Promise<{ data: OrderData; messages: ErpMessage[] }> {
    const at = this.now();
    const id = before.content.externalId;
    const messages: ErpMessage[] = [];
    const seq0 = before.messageSeq ?? 0;
    const msg = (m: Omit<ErpMessage, 'id' | 'orderId' | 'at' | 'seq'>): void => {
      messages.push({
        id: randomUUID(),
        orderId: id,
        seq: seq0 + messages.length + 1,
        at,
        ...m,
      } as ErpMessage);
    };
    let ops = [...before.operations];
    let status = to;
    const named = (which: string): number => {
      const i = ops.findIndex((o) => o.id === which);
      if (i < 0)
        throw invalid(
          'body.operation',
          `order ${id} has no operation ${JSON.stringify(which)} (operations: ${ops.map((o) => o.id).join(', ')})`,
        );
      return i;
    };
    switch (action) {
      case 'dispatch':
      case 'close':
        if (action === 'close') msg({ type: 'order.closed', data: {} });
        break;
      case 'start': {
        const i =
          opts.operation !== undefined
            ? named(opts.operation)
            : ops.findIndex((o) => o.status === 'waiting');
        if (i < 0 || ops[i]!.status !== 'waiting')
          throw invalid(
            'body.operation',
            i < 0
              ? `order ${id} has no operation waiting to start`
              : `operation ${ops[i]!.id} is ${ops[i]!.status}, not waiting`,
          );
        const op = ops[i]!;
        ops[i] = { ...op, status: 'running', startedAt: at, periods: openPeriod(op.periods, at) };
        if (before.status !== 'running')
          msg({
            type: 'order.started',
            data: { operation: op.id, equipment: before.content.operations[i]!.equipment },
          });
        break;
      }
      case 'hold':
        for (const [i, op] of ops.entries()) {
          if (op.status !== 'running') continue;
          ops[i] = { ...op, status: 'held', periods: closePeriods(op.periods, at) };
          ops[i] = await this.confirm(before, ops[i]!, i, false, at, msg);
        }
        break;
      case 'resume':
        ops = ops.map((op) =>
          op.status === 'held'
            ? { ...op, status: 'running', periods: openPeriod(op.periods, at) }
            : op,
        );
        break;
      case 'complete': {
        const which =
          opts.operation === undefined ? ops.map((_o, i) => i) : [named(opts.operation)];
        for (const i of which) {
          const op = ops[i]!;
          if (
            op.status === 'completed' ||
            (op.status === 'waiting' && opts.operation === undefined)
          )
            continue;
          if (op.status === 'waiting')
            throw invalid('body.operation', `operation ${op.id} has not started`);
          const closed = {
            ...op,
            status: 'completed' as const,
            completedAt: at,
            periods: closePeriods(op.periods, at),
          };
          ops[i] = await this.confirm(before, closed, i, true, at, msg);
          const used = await this.measureOp(before, ops[i]!, i);
          for (const [material, c] of used.consumed)
            msg({
              type: 'goods.issue',
              data: {
                material,
                quantity: c.quantity.toString(),
                uom: c.uom,
                operation: op.id,
                equipment: before.content.operations[i]!.equipment,
              },
            });
        }
        if (ops.some((o) => o.status !== 'completed' && o.status !== 'waiting')) {
          status = before.status; // an operation done, the order goes on
          break;
        }
        ops = ops.map((o) =>
          o.status === 'waiting' ? { ...o, status: 'completed', completedAt: at } : o,
        );
        await this.completed(before, ops, at, msg);
        break;
      }
      case 'cancel':
        ops = ops.map((op) =>
          op.status === 'running' || op.status === 'held'
            ? { ...op, periods: closePeriods(op.periods, at) }
            : op,
        );
        msg({ type: 'order.cancelled', data: { reason: opts.reason ?? null } });
        break;
    }
    return {
      data: {
        ...before,
        status,
        operations: ops,
        startedAt: before.startedAt ?? (status === 'running' ? at : null),
        completedAt: status === 'completed' ? at : before.completedAt,
        statusChangedAt: status === before.status ? before.statusChangedAt : at,
        messageSeq: seq0 + messages.length,
      },
      messages,
    };
  }

  /** What operation `i` of the order made and used so far (measure.ts). */
  measureOp(order: OrderData, op: OperationProgress, i: number): Promise<Measured> {
    return this.measurer.measure(
      `${order.content.externalId}\u0000${op.id}`,
      order.content.operations[i]!.equipment,
      op.countingUnit,
      op.periods,
    );
  }

  /** A confirmation of what the operation made since the last one; the op with it booked. */
  private async confirm(
    order: OrderData,
    op: OperationProgress,
    i: number,
    final: boolean,
    at: number,
    msg: (m: Omit<ErpMessage, 'id' | 'orderId' | 'at' | 'seq'>) => void,
  ): Promise<OperationProgress> {
    const m = await this.measureOp(order, op, i);
    const good = m.good.minus(op.confirmedGood);
    const scrap = m.scrap.minus(op.confirmedScrap);
    if (final || !good.isZero() || !scrap.isZero()) {
      const q = inOrderUnit(good, scrap, order.content.uom);
      msg({ type: 'operation.confirmed', data: { ...this.report(order, op, i, q, at), final } });
    }
    return { ...op, confirmedGood: m.good.toString(), confirmedScrap: m.scrap.toString() };
  }

  private report(
    order: OrderData,
    op: OperationProgress,
    i: number,
    q: { good: string; scrap: string; uom: string },
    at: number,
  ): OperationReport {
    return {
      id: op.id,
      equipment: order.content.operations[i]!.equipment,
      workUnit: op.countingUnit,
      yield: q.good,
      scrap: q.scrap,
      uom: q.uom,
      startedAt: op.startedAt,
      endedAt: op.completedAt,
      runTimeMs: runTimeMs(op.periods, at),
    };
  }

  /** Goods receipt of the order's output and the completion summary. */
  private async completed(
    order: OrderData,
    ops: readonly OperationProgress[],
    at: number,
    msg: (m: Omit<ErpMessage, 'id' | 'orderId' | 'at' | 'seq'>) => void,
  ): Promise<void> {
    const measured = await Promise.all(ops.map((op, i) => this.measureOp(order, op, i)));
    const reports = ops.map((op, i) =>
      this.report(
        order,
        op,
        i,
        inOrderUnit(measured[i]!.good, measured[i]!.scrap, order.content.uom),
        at,
      ),
    );
    const last = ops.length - 1;
    const scrapAll = measured.reduce((s, m) => s.plus(m.scrap), new Decimal(0));
    const out = inOrderUnit(measured[last]!.good, scrapAll, order.content.uom);
    const consumed = new Map<string, { quantity: Decimal; uom: string }>();
    for (const m of measured)
      for (const [material, c] of m.consumed) {
        const had = consumed.get(material);
        consumed.set(material, {
          quantity: (had?.quantity ?? new Decimal(0)).plus(c.quantity),
          uom: c.uom,
        });
      }
    const lot = order.content.lot ?? order.content.externalId;
    const outputEquipment = order.content.operations[last]!.equipment;
    msg({
      type: 'goods.receipt',
      data: {
        material: order.content.material,
        quantity: out.good,
        uom: out.uom,
        lot,
        equipment: outputEquipment,
      },
    });
    msg({
      type: 'order.completed',
      data: {
        material: order.content.material,
        plannedQuantity: order.content.quantity,
        produced: out.good,
        scrap: out.scrap,
        uom: out.uom,
        lot,
        startedAt: order.startedAt,
        endedAt: at,
        operations: reports,
        consumed: [...consumed].map(([material, c]) => ({
          material,
          quantity: c.quantity.toString(),
          uom: c.uom,
        })),
      },
    });
  }
}

/**
 * Counts are pieces (UN/CEFACT H87). They are reported in the order's unit when it is a count
 * unit the catalog converts exactly (C62, DZN …); otherwise in pieces, saying so by the unit.
 */
function inOrderUnit(
  good: Decimal,
  scrap: Decimal,
  uom: string,
): { good: string; scrap: string; uom: string } {
  try {
    return {
      good: convert(good, PIECES, uom).toString(),
      scrap: convert(scrap, PIECES, uom).toString(),
      uom,
    };
  } catch {
    return { good: good.toString(), scrap: scrap.toString(), uom: PIECES };
  }
}
