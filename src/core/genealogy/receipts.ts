/**
 * Goods receipts of lots from the ERP (B2MML MaterialLot, issue #12): a lot the hub has not
 * seen becomes a received lot, its sublots lots of their own split from it (parent → sublot
 * links, so what is in the sublots is no longer counted in the lot). A resend of a lot
 * received already is a no-op; one that changes what it is (material, quantity, unit) is
 * refused: the shop floor may have used it, and a correction is a new receipt.
 */
import { Decimal } from 'decimal.js';
import type { LotData, LotLink } from '../../model/index.ts';
import type { AuditEntry, RecordWrite, Store } from '../../store/types.ts';
import { diffFields } from '../../compliance/identity-records.ts';
import type { MaterialLotContent } from '../orders/import.ts';
import { invalid } from '../orders/import.ts';
import { MwError } from '../../errors.ts';
import { LOT_ENTITY, materialRef } from './types.ts';

export interface ReceiptWrites {
  readonly writes: RecordWrite[];
  readonly audit: AuditEntry[];
  readonly links: LotLink[];
}

type Audit = (
  entityType: string,
  entityId: string,
  changes: Record<string, { old: unknown; new: unknown }>,
) => AuditEntry;

export async function receivedLots(
  store: Store,
  lots: readonly MaterialLotContent[],
  actor: string,
  at: number,
  audit: Audit,
): Promise<ReceiptWrites> {
  const out: ReceiptWrites = { writes: [], audit: [], links: [] };
  if (lots.length === 0) return out; // an order import: no read
  const ids = lots.flatMap((l) => [l.id, ...l.sublots.map((s) => s.id)]);
  const stored = new Map(
    (await store.getRecords(LOT_ENTITY, ids)).flatMap((r) =>
      r === undefined ? [] : [[r.entityId, r.data as unknown as LotData] as const],
    ),
  );
  const base = (material: string, quantity: string, uom: string, status: string | null) => ({
    parent: null as string | null,
    material,
    quantity,
    initialQuantity: quantity,
    uom,
    status: 'available' as const,
    holds: [],
    location: null,
    order: null,
    operation: null,
    origin: 'received' as const,
    properties: (status === null ? {} : { erpStatus: status }) as Record<string, string>,
    source: actor,
    at,
  });
  lots.forEach((lot, i) => {
    const path = `lots[${i}]`;
    if (lot.quantity === null)
      throw invalid(`${path}.quantity`, 'a goods receipt needs the quantity');
    if (lot.uom === null) throw invalid(`${path}.uom`, 'a goods receipt needs the unit');
    const had = stored.get(lot.id);
    if (had !== undefined) {
      const same =
        had.material === lot.material &&
        new Decimal(had.initialQuantity).eq(lot.quantity) &&
        had.uom === lot.uom;
      if (same) return;
      throw invalid(
        path,
        `lot ${lot.id} was received already as ${had.initialQuantity} ${had.uom} of ${had.material}; a received lot is not changed by import (send a new lot for a correction)`,
      );
    }
    let left = new Decimal(lot.quantity);
    for (const [j, sub] of lot.sublots.entries()) {
      const at2 = `${path}.sublots[${j}]`;
      if (stored.has(sub.id)) throw invalid(`${at2}.id`, `lot ${sub.id} exists already`);
      if (sub.quantity === null) throw invalid(`${at2}.quantity`, 'a sublot needs its quantity');
      if (sub.uom !== null && sub.uom !== lot.uom)
        throw invalid(`${at2}.uom`, `a sublot is counted in its lot's unit (${lot.uom})`);
      left = left.minus(sub.quantity);
      if (left.isNegative())
        throw invalid(
          `${at2}.quantity`,
          `the sublots hold more than the lot (${lot.quantity} ${lot.uom})`,
        );
      const data: LotData = {
        ...base(lot.material, sub.quantity, lot.uom, sub.status),
        parent: lot.id,
        origin: 'split',
      };
      write(out, sub.id, data, audit);
      out.links.push({
        from: lot.id,
        to: sub.id,
        quantity: sub.quantity,
        uom: lot.uom,
        kind: 'split',
        order: null,
        operation: null,
        equipment: null,
        at,
        actor,
      });
    }
    const data: LotData = {
      ...base(lot.material, lot.quantity, lot.uom, lot.status),
      quantity: left.toFixed(),
      status: left.isZero() && lot.sublots.length > 0 ? 'consumed' : 'available',
    };
    write(out, lot.id, data, audit);
  });
  return out;
}

function write(out: ReceiptWrites, id: string, data: LotData, audit: Audit): void {
  out.writes.push({
    entityType: LOT_ENTITY,
    entityId: id,
    expectedVersion: 0,
    data: { ...data },
    ref: materialRef(data.material),
  });
  out.audit.push(audit(LOT_ENTITY, id, diffFields(null, { ...data })));
}

/** What an order's completion received into its lot (its goods.receipt). */
export interface OrderReceipt {
  readonly order: string;
  readonly lot: string;
  readonly material: string;
  readonly quantity: string;
  readonly uom: string;
  readonly equipment: string;
}

/**
 * The order's output lot as its completion leaves it, written in the order's transaction: made
 * now (origin `produced`), or — when lots were consumed into it while the order ran — given
 * what was produced. A lot of that number of another material or order is refused.
 */
export async function orderOutputLot(
  store: Store,
  receipt: OrderReceipt,
  actor: string,
  at: number,
  audit: Audit,
): Promise<ReceiptWrites> {
  const rec = await store.getRecord(LOT_ENTITY, receipt.lot);
  const had = rec?.data as unknown as LotData | undefined;
  if (had !== undefined && (had.material !== receipt.material || had.order !== receipt.order))
    throw new MwError('MW_ERR_LOT_EXISTS', { id: receipt.lot, material: had.material });
  const data: LotData = had
    ? {
        ...had,
        quantity: new Decimal(had.quantity).plus(receipt.quantity).toFixed(),
        initialQuantity: new Decimal(had.initialQuantity).plus(receipt.quantity).toFixed(),
        location: had.location ?? receipt.equipment,
      }
    : {
        material: receipt.material,
        quantity: receipt.quantity,
        initialQuantity: receipt.quantity,
        uom: receipt.uom,
        status: 'available',
        holds: [],
        location: receipt.equipment,
        order: receipt.order,
        operation: null,
        parent: null,
        origin: 'produced',
        properties: {},
        source: actor,
        at,
      };
  return {
    writes: [
      {
        entityType: LOT_ENTITY,
        entityId: receipt.lot,
        expectedVersion: rec?.version ?? 0,
        data: { ...data },
        ref: materialRef(data.material),
      },
    ],
    audit: [
      audit(
        LOT_ENTITY,
        receipt.lot,
        diffFields(had === undefined ? null : { ...had }, { ...data }),
      ),
    ],
    links: [],
  };
}

/** The lot an order's output is received into: its `lot`, or the order number. */
export const orderLotId = (order: { lot: string | null; externalId: string }): string =>
  order.lot ?? order.externalId;
