/**
 * Production orders from B2MML schedules: one InboundOrder per ProductionRequest (V0401, V0600
 * ProductionSchedule) or OperationsRequest with OperationsType Production (V0600, V0701
 * OperationsSchedule; V0701 has no ProductionSchedule). Codes stay the ERP's.
 *
 * Per request (ISA-95 Part 2 operations request → segment requirements):
 * - externalId: the request's ID.
 * - material, quantity, uom, lot: the first material requirement, depth first through the
 *   segment requirements, that is produced: MaterialRequirement with MaterialUse "Produced"
 *   or a MaterialProducedRequirement (the pre-V04 form, still in V0401/V0600). Consumed
 *   requirements (the bill of materials) are not part of an InboundOrder.
 * - operations: one per top-level SegmentRequirement: its ID (else its ProcessSegmentID) and
 *   the equipment it runs on (equipmentOf).
 * - plannedStart / plannedEnd: the request's StartTime / EndTime, else the earliest
 *   EarliestStartTime / latest LatestEndTime of its segment requirements.
 * - priority: the request's Priority (0 when absent); description: its first Description.
 */
import { MwError } from '../../errors.ts';
import type { B2mmlVersion, InboundOperation, InboundOrder } from '../types.ts';
import { childTime, incomplete, quantityOf, type Element } from './tree.ts';

export interface ScheduleShape {
  readonly request: 'ProductionRequest' | 'OperationsRequest';
  /** The element of a nested segment requirement. */
  readonly nested: 'SegmentRequirement' | 'SegmentRequirementChild';
  /** Operations schedules say what kind of operations they request (OperationsType). */
  readonly hasOperationsType: boolean;
}

export function scheduleShape(version: B2mmlVersion, noun: string): ScheduleShape {
  if (noun === 'ProductionSchedule')
    // B2MML V0401 / V0600 ProductionSchedule.xsd: ProductionRequestType, SegmentRequirementType
    return { request: 'ProductionRequest', nested: 'SegmentRequirement', hasOperationsType: false };
  return {
    request: 'OperationsRequest',
    // B2MML V0701 OperationsSchedule.xsd: OpSegmentRequirementType/SegmentRequirementChild;
    // V0600 OperationsSchedule.xsd: OpSegmentRequirementType/SegmentRequirement
    nested: version === 'V0701' ? 'SegmentRequirementChild' : 'SegmentRequirement',
    hasOperationsType: true,
  };
}

/**
 * The OperationsType of an element, inherited from its parent when absent. Only Production is
 * imported (an order); no OperationsType at all counts as Production.
 */
function operationsType(el: Element, inherited: string | null): string | null {
  const own = el.child('OperationsType');
  const type = own?.text() ?? inherited;
  if (type !== null && type !== 'Production') {
    const path = own?.path ?? `${el.path}/OperationsType`;
    throw new MwError(
      'MW_ERR_B2MML_UNSUPPORTED',
      {
        what: `${path} "${type}" (orders are imported from production operations only)`,
        accepted: 'OperationsType Production, or none',
      },
      { path },
    );
  }
  return type;
}

function isProduced(requirement: Element): boolean {
  // B2MML V0401 / V0600 Common.xsd MaterialUse1Type, V0701 Common.xsd MaterialUse1Type
  return requirement.childText('MaterialUse') === 'Produced';
}

/** The first produced material requirement of a segment or of its nested segments. */
function producedRequirement(segment: Element, shape: ScheduleShape): Element | null {
  const produced =
    segment.child('MaterialProducedRequirement') ??
    segment.children('MaterialRequirement').find(isProduced) ??
    null;
  if (produced !== null) return produced;
  for (const nested of segment.children(shape.nested)) {
    const found = producedRequirement(nested, shape);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The equipment of an operation: an EquipmentRequirement's EquipmentID; else the segment's
 * Location or HierarchyScope EquipmentID; else its ProcessSegmentID or OperationsSegmentID
 * (a process segment named after the work center, translated by the equipment mapping); else
 * the same from its nested segment requirements.
 */
function equipmentOf(segment: Element, shape: ScheduleShape): string | null {
  for (const req of segment.children('EquipmentRequirement')) {
    const id = req.childText('EquipmentID');
    if (id !== null) return id;
  }
  const direct =
    segment.child('Location')?.childText('EquipmentID') ??
    segment.child('HierarchyScope')?.childText('EquipmentID') ??
    segment.childText('ProcessSegmentID') ??
    segment.childText('OperationsSegmentID');
  if (direct !== null && direct !== undefined) return direct;
  for (const nested of segment.children(shape.nested)) {
    const found = equipmentOf(nested, shape);
    if (found !== null) return found;
  }
  return null;
}

function mapOperation(segment: Element, shape: ScheduleShape): InboundOperation {
  const id = segment.childText('ID') ?? segment.childText('ProcessSegmentID');
  if (id === null) throw incomplete(segment.path, 'no ID: it is the operation number');
  const equipment = equipmentOf(segment, shape);
  if (equipment === null)
    throw incomplete(
      segment.path,
      'no EquipmentRequirement/EquipmentID, Location/EquipmentID, ProcessSegmentID or OperationsSegmentID: an operation needs the equipment it runs on',
    );
  return { id, equipment, description: segment.childText('Description') };
}

function plannedTimes(request: Element, segments: readonly Element[]) {
  const starts = segments.map((s) => childTime(s, 'EarliestStartTime')).filter((t) => t !== null);
  const ends = segments.map((s) => childTime(s, 'LatestEndTime')).filter((t) => t !== null);
  return {
    plannedStart: childTime(request, 'StartTime') ?? (starts.length ? Math.min(...starts) : null),
    plannedEnd: childTime(request, 'EndTime') ?? (ends.length ? Math.max(...ends) : null),
  };
}

function priorityOf(request: Element): number {
  const p = request.child('Priority');
  const text = p?.text() ?? null;
  if (p === null || text === null) return 0;
  const n = Number(text); // xs:decimal (PriorityType → NumericType), checked by the XSD
  if (!Number.isFinite(n)) throw incomplete(p.path, `"${text}" is not a number`);
  return n;
}

function mapRequest(request: Element, shape: ScheduleShape): InboundOrder {
  const externalId = request.childText('ID');
  if (externalId === null) throw incomplete(request.path, 'no ID: it is the order number');
  const segments = request.children('SegmentRequirement');
  let produced: Element | null = null;
  for (const s of segments) produced ??= producedRequirement(s, shape);
  if (produced === null)
    throw incomplete(
      request.path,
      'no MaterialRequirement with MaterialUse "Produced" (or MaterialProducedRequirement) in its segment requirements: an order needs the material and quantity to make',
    );
  const material = produced.childText('MaterialDefinitionID');
  if (material === null)
    throw incomplete(produced.path, 'no MaterialDefinitionID: the material the order makes');
  const q = quantityOf(produced, { positive: true });
  if (q === null) throw incomplete(produced.path, 'no Quantity: the quantity the order makes');
  if (q.uom === null) throw incomplete(`${produced.child('Quantity')!.path}`, 'no UnitOfMeasure');
  return {
    externalId,
    material,
    quantity: q.quantity,
    uom: q.uom,
    operations: segments.map((s) => mapOperation(s, shape)),
    ...plannedTimes(request, segments),
    priority: priorityOf(request),
    lot: produced.childText('MaterialLotID'),
    description: request.childText('Description'),
  };
}

/** The orders of one schedule element (ProductionSchedule or OperationsSchedule). */
export function mapSchedule(schedule: Element, shape: ScheduleShape): InboundOrder[] {
  const scheduleType = shape.hasOperationsType ? operationsType(schedule, null) : null;
  return schedule.children(shape.request).map((request) => {
    if (shape.hasOperationsType) operationsType(request, scheduleType);
    return mapRequest(request, shape);
  });
}
