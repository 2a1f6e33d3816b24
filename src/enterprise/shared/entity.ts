/**
 * An ErpMessage or QualityMessage laid out as one flat record with PascalCase property names,
 * as SAP Gateway OData services and SOAP interfaces name them: the body of an OData entity
 * (odata/) and the arguments of a SOAP operation (soap/). The codes are the receiver's (toReceiverCodes), the
 * values those of the JSON format (docs/erp.md): times ISO 8601 UTC, quantities decimal text.
 *
 * Every message:   MessageID, MessageType, OrderID, EventTime (= `at`)
 * order.started:        OperationID, Equipment
 * operation.confirmed:  OperationID, Equipment, WorkUnit, Yield, Scrap, UnitOfMeasure,
 *                       StartedAt, EndedAt, RunTimeMs, Final
 * goods.receipt:        Material, Quantity, UnitOfMeasure, Lot, Equipment
 * goods.issue:          Material, Quantity, UnitOfMeasure, OperationID, Equipment
 * order.completed:      Material, PlannedQuantity, Produced, Scrap, UnitOfMeasure, Lot,
 *                       StartedAt, EndedAt,
 *                       Operations: [{ OperationID, Equipment, WorkUnit, Yield, Scrap,
 *                                      UnitOfMeasure, StartedAt, EndedAt, RunTimeMs }],
 *                       Consumption: [{ Material, Quantity, UnitOfMeasure }]
 * order.closed:         (nothing more)
 * order.cancelled:      Reason
 * lot.held:             Lot, Material, Quantity, UnitOfMeasure, Status, Hold, Reason, Origin,
 *                       RootLot, By
 * lot.released:         Lot, Material, Quantity, UnitOfMeasure, Status, Hold, Reason, By,
 *                       FullName, Signature
 * inspection.recorded:  Lot, Material, Quantity, UnitOfMeasure, Status, Inspection, Plan,
 *                       OperationID, Disposition, SampleSize, By,
 *                       Results: [{ Characteristic, Kind, Value, UnitOfMeasure, LSL, USL,
 *                                   Target, Pass }]
 *
 * OrderID is the message's stream key: the ERP's order number, or `lot:<lot id>` for a quality
 * message (its Lot property holds the lot id itself).
 *
 * The names follow the JSON format's keys (first letter upper case), except: `id` and
 * `operation` → OperationID, `uom` → UnitOfMeasure (the ISA-95 / B2MML name), `consumed` →
 * Consumption, `lsl` / `usl` → LSL / USL.
 *
 * kpi.shift: none. OData and SOAP targets are an ERP's transaction interfaces, with no entity or
 * operation for shift KPIs; the configuration refuses `kpi.shift` for them
 * (config/cross-references.ts), so one only comes here from a store written under another
 * configuration: a permanent DeliveryError (`kpiRefused`).
 */
import { isMwError } from '../../errors.ts';
import { jsonMessage, toReceiverCodes } from '../formats.ts';
import {
  DeliveryError,
  type KpiMessage,
  type OutboundMessage,
  type RenderContext,
} from '../types.ts';

/** The messages an ERP interface has an entity or operation for: all but kpi.shift. */
export type EntityMessage = Exclude<OutboundMessage, KpiMessage>;

const RENAMED: Readonly<Record<string, string>> = {
  id: 'OperationID',
  operation: 'OperationID',
  uom: 'UnitOfMeasure',
  consumed: 'Consumption',
  lsl: 'LSL',
  usl: 'USL',
};

function pascal(key: string): string {
  return RENAMED[key] ?? key.charAt(0).toUpperCase() + key.slice(1);
}

type Value = string | number | boolean | null | Entity | Entity[];
export interface Entity {
  [property: string]: Value;
}

function layOut(data: Record<string, unknown>, omitNull: boolean): Entity {
  const out: Entity = {};
  for (const [key, value] of Object.entries(data)) {
    if (value === null && omitNull) continue;
    out[pascal(key)] = Array.isArray(value)
      ? value.map((v) => layOut(v as Record<string, unknown>, omitNull))
      : (value as Value);
  }
  return out;
}

/** The permanent failure of a kpi.shift message on a target that has no place for it. */
export function kpiRefused(m: KpiMessage, target: string): DeliveryError {
  return new DeliveryError(
    `${target}: message ${m.id} (kpi.shift of ${m.data.site}) has no ERP entity or operation; send kpi.shift to a folder, webhook or AMQP target with format json or csv`,
    true,
  );
}

/**
 * The message as an entity in the receiver's codes. `omitNull`: leave out properties without a
 * value (SOAP: an absent optional element) instead of sending null (OData).
 * An unmapped code is a permanent DeliveryError, as in renderMessages; so is a kpi.shift.
 */
export function erpEntity(m: OutboundMessage, ctx: RenderContext, omitNull = false): Entity {
  if (m.type === 'kpi.shift') throw kpiRefused(m, 'ERP entity');
  let mapped: OutboundMessage;
  try {
    mapped = toReceiverCodes(m, ctx);
  } catch (err) {
    if (isMwError(err)) throw new DeliveryError(err.message, true, { cause: err });
    throw err;
  }
  const json = jsonMessage(mapped);
  return {
    MessageID: m.id,
    MessageType: m.type,
    OrderID: m.orderId,
    EventTime: json.at as string,
    ...layOut(json.data as Record<string, unknown>, omitNull),
  };
}
