/**
 * Outbound B2MML: the hub's order messages to an ERP as one production performance document;
 * its quality messages (issue #12) as one material lot document (render-lot.ts).
 *
 * - V0401, V0600: `SyncProductionPerformance` (B2MML ProductionPerformance.xsd) holding
 *   ProductionResponses; V0701 (no production schemas any more): `SyncOperationsPerformance`
 *   with OperationsType Production holding OperationsResponses.
 * - ApplicationArea: CreationDateTime (the time of the latest message: the message was written
 *   then, so a re-rendered dead letter is byte for byte the same) and BODID (the message id, or
 *   `batch-<first id>` for several, as the file name).
 * - One response per message, in order: its ID is the message id (what the ERP deduplicates
 *   on), its request ID the ERP's order number. A message is a transaction point of its own,
 *   so two messages of one order in a batch stay two responses.
 * - SegmentResponses: ID = the operation for what an operation did (confirmation, issue), the
 *   order number for what the order did (start without operation, receipt, completion, close,
 *   cancel). Material is a MaterialActual with MaterialUse Produced / Consumed in every version:
 *   V04 made it the replacement of MaterialProducedActual / MaterialConsumedActual (B2MML
 *   V0401 ProductionPerformance.xsd revision history), V0701 has nothing else, and the official
 *   V0401 example (PES) uses it. Good and scrap are two Quantity elements, Key Good / Scrap.
 *
 * Message → response:
 * - order.started: ResponseState Running; a SegmentResponse (the operation, else the order)
 *   Running with its equipment.
 * - operation.confirmed: a SegmentResponse for the operation: start, end, EquipmentActual (run
 *   time as its Quantity in SEC), MaterialActual Produced good + scrap; SegmentState Completed
 *   when final, else Holding (V0701: Held).
 * - goods.receipt: MaterialActual Produced with MaterialLotID; goods.issue: MaterialActual
 *   Consumed in the operation's segment.
 * - order.completed: ResponseState Completed; the order's segment (output into the lot with
 *   good + scrap, a MaterialActual Consumed per consumed material), then one per operation.
 * - order.closed: Completed (V0701: Closed); order.cancelled: Aborted, the reason as the
 *   segment's Description.
 * - kpi.shift: none. A production performance document reports what orders did; shift KPIs
 *   have no element in it. The configuration refuses `kpi.shift` for `format: b2mml`
 *   (config/cross-references.ts), so one only comes here from a store written under another
 *   configuration: a permanent DeliveryError, a dead letter naming the reason.
 *
 * A document holds one noun, so a batch cannot mix quality and order messages: the
 * configuration refuses a `b2mml` batch target that lists both (config/cross-references.ts);
 * from a store written under another configuration such a batch is a permanent DeliveryError.
 *
 * Element order follows each XSD's sequence (checked by the tests that validate every message
 * type in every version: test/enterprise/b2mml.test.ts).
 */
import { Decimal } from 'decimal.js';
import { XMLBuilder } from 'fast-xml-parser';
import { messageFileStem, safeName } from '../file-names.ts';
import {
  DeliveryError,
  QUALITY_MESSAGE_TYPES,
  type B2mmlVersion,
  type ErpMessage,
  type KpiMessage,
  type OperationReport,
  type OutboundMessage,
  type QualityMessage,
  type RenderedMessage,
} from '../types.ts';
import {
  dialect,
  iso,
  quantity,
  type Dialect,
  type Qty,
  type State,
  type Xml,
} from './render-common.ts';
import { lotDocument } from './render-lot.ts';
import { B2MML_NAMESPACES } from './schemas.ts';
import { NOT_XML_CHAR } from './xml-source.ts';

/** The messages a performance document reports. */
type PerformanceMessage = ErpMessage | KpiMessage;

function isQualityMessage(m: OutboundMessage): m is QualityMessage {
  return (QUALITY_MESSAGE_TYPES as readonly string[]).includes(m.type);
}

// ---------------------------------------------------------------------------------------------
// What a response says, before it is laid out in a version's elements

interface MaterialActual {
  readonly material?: string;
  readonly lot?: string;
  readonly use: 'Produced' | 'Consumed';
  readonly quantities: readonly Qty[];
}

interface EquipmentActual {
  readonly id: string;
  readonly runTimeMs?: number;
}

interface Segment {
  readonly id: string;
  readonly description?: string;
  readonly start?: number | null;
  readonly end?: number | null;
  readonly state?: State;
  readonly equipment?: readonly EquipmentActual[];
  readonly materials?: readonly MaterialActual[];
}

interface Response {
  readonly start?: number | null;
  readonly end?: number | null;
  readonly state?: State;
  readonly segments: readonly Segment[];
}

function operationSegment(op: OperationReport, state: State): Segment {
  return {
    id: op.id,
    start: op.startedAt,
    end: op.endedAt,
    state,
    equipment: [
      { id: op.equipment, runTimeMs: op.runTimeMs },
      ...(op.workUnit === op.equipment ? [] : [{ id: op.workUnit }]),
    ],
    materials: [
      {
        use: 'Produced',
        quantities: [
          { value: op.yield, uom: op.uom, key: 'Good' },
          { value: op.scrap, uom: op.uom, key: 'Scrap' },
        ],
      },
    ],
  };
}

function responseOf(m: PerformanceMessage): Response {
  switch (m.type) {
    case 'order.started': {
      const { operation, equipment } = m.data;
      const seg = { id: operation ?? m.orderId, start: m.at, state: 'running' as const };
      return {
        start: m.at,
        state: 'running',
        segments: [{ ...seg, equipment: equipment === null ? [] : [{ id: equipment }] }],
      };
    }
    case 'operation.confirmed':
      return { segments: [operationSegment(m.data, m.data.final ? 'completed' : 'held')] };
    case 'goods.receipt': {
      const { material, lot, quantity, uom, equipment } = m.data;
      const actual = {
        material,
        lot,
        use: 'Produced' as const,
        quantities: [{ value: quantity, uom }],
      };
      return {
        segments: [
          { id: m.orderId, end: m.at, equipment: [{ id: equipment }], materials: [actual] },
        ],
      };
    }
    case 'goods.issue': {
      const { material, quantity, uom, operation, equipment } = m.data;
      const actual = { material, use: 'Consumed' as const, quantities: [{ value: quantity, uom }] };
      return {
        segments: [
          { id: operation, end: m.at, equipment: [{ id: equipment }], materials: [actual] },
        ],
      };
    }
    case 'order.completed':
      return completedResponse(m.orderId, m.data);
    case 'order.closed':
      return {
        end: m.at,
        state: 'closed',
        segments: [{ id: m.orderId, end: m.at, state: 'closed' }],
      };
    case 'order.cancelled': {
      const reason = m.data.reason === null ? {} : { description: m.data.reason };
      const seg = { id: m.orderId, ...reason, end: m.at, state: 'aborted' as const };
      return { end: m.at, state: 'aborted', segments: [seg] };
    }
    case 'kpi.shift':
      throw new DeliveryError(
        `message ${m.id} (kpi.shift of ${m.data.site}): B2MML has no document for shift KPIs; send kpi.shift with format json or csv`,
        true,
      );
  }
}

function completedResponse(
  orderId: string,
  d: Extract<ErpMessage, { type: 'order.completed' }>['data'],
): Response {
  const output: MaterialActual = {
    material: d.material,
    lot: d.lot,
    use: 'Produced',
    quantities: [
      { value: d.produced, uom: d.uom, key: 'Good' },
      { value: d.scrap, uom: d.uom, key: 'Scrap' },
    ],
  };
  const consumed = d.consumed.map((c): MaterialActual => ({
    material: c.material,
    use: 'Consumed',
    quantities: [{ value: c.quantity, uom: c.uom }],
  }));
  const order: Segment = {
    id: orderId,
    start: d.startedAt,
    end: d.endedAt,
    state: 'completed',
    materials: [output, ...consumed],
  };
  return {
    start: d.startedAt,
    end: d.endedAt,
    state: 'completed',
    segments: [order, ...d.operations.map((op) => operationSegment(op, 'completed'))],
  };
}

// ---------------------------------------------------------------------------------------------
// Layout in the elements of a version (key order = XSD sequence order)

function equipmentActual(d: Dialect, e: EquipmentActual): Xml {
  const runTime =
    e.runTimeMs === undefined
      ? undefined
      : quantity({
          value: new Decimal(e.runTimeMs).div(1000).toFixed(),
          uom: 'SEC',
          key: 'RunTime',
        });
  // V0701 OperationsPerformanceTypes.xsd OpEquipmentActualType: ID is required
  return { ...(d.operations ? { ID: e.id } : {}), EquipmentID: e.id, Quantity: runTime };
}

function materialActual(d: Dialect, m: MaterialActual, n: number): Xml {
  return {
    // V0701 OpMaterialActualType: ID is required (numbered within its segment response)
    ...(d.operations ? { ID: String(n) } : {}),
    MaterialDefinitionID: m.material,
    MaterialLotID: m.lot,
    MaterialUse: m.use,
    Quantity: m.quantities.map(quantity),
  };
}

function segmentResponse(d: Dialect, s: Segment): Xml {
  const state = s.state === undefined ? undefined : d.states[s.state];
  const actuals = {
    EquipmentActual: (s.equipment ?? []).map((e) => equipmentActual(d, e)),
    MaterialActual: (s.materials ?? []).map((m, i) => materialActual(d, m, i + 1)),
  };
  const head = {
    ID: s.id,
    Description: s.description,
    ActualStartTime: iso(s.start),
    ActualEndTime: iso(s.end),
  };
  // V0701 OpSegmentResponseType: SegmentState before the actuals; V0401 / V0600
  // SegmentResponseType: SegmentState last.
  return d.operations
    ? { ...head, SegmentState: state, ...actuals }
    : { ...head, ...actuals, SegmentState: state };
}

function response(d: Dialect, m: PerformanceMessage): Xml {
  const r = responseOf(m);
  const state = r.state === undefined ? undefined : d.states[r.state];
  const segments = r.segments.map((s) => segmentResponse(d, s));
  const times = { StartTime: iso(r.start), EndTime: iso(r.end) };
  if (d.operations)
    // V0701 OperationsPerformance.xsd OperationsResponseType
    return {
      ID: m.id,
      ...times,
      OperationsType: 'Production',
      OperationsRequestID: m.orderId,
      ResponseState: state,
      SegmentResponse: segments,
    };
  // V0401 / V0600 ProductionPerformance.xsd ProductionResponseType
  return {
    ID: m.id,
    ProductionRequestID: m.orderId,
    ...times,
    SegmentResponse: segments,
    ResponseState: state,
  };
}

const NOT_XML_CHARS = new RegExp(NOT_XML_CHAR.source, 'gu');

/** Characters XML 1.0 cannot carry (§2.2) become U+FFFD instead of breaking the document. */
function xmlChars(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(NOT_XML_CHARS, '\uFFFD') : value;
}

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  format: true,
  indentBy: '  ',
  suppressEmptyNode: true,
  processEntities: true, // escapes &, <, >, quotes
  tagValueProcessor: (_name, value) => xmlChars(value),
  attributeValueProcessor: (_name, value) => xmlChars(value),
});

// ---------------------------------------------------------------------------------------------
// Documents

function performanceDocument(
  d: Dialect,
  messages: readonly PerformanceMessage[],
  bodId: string,
): { root: string; dataArea: Xml } {
  const noun: Xml = {
    ID: bodId,
    ...(d.operations ? { OperationsType: 'Production' } : {}),
    [d.response]: messages.map((m) => response(d, m)),
  };
  return { root: d.root, dataArea: { Sync: '', [d.noun]: noun } };
}

export function renderB2mml(
  messages: readonly OutboundMessage[],
  version: B2mmlVersion,
): RenderedMessage {
  const first = messages[0];
  if (first === undefined) throw new Error('renderB2mml: no messages');
  const d = dialect(version);
  const bodId = messages.length === 1 ? first.id : `batch-${first.id}`;
  const created = Math.max(...messages.map((m) => m.at));
  const quality = messages.filter(isQualityMessage);
  const orders = messages.filter((m): m is PerformanceMessage => !isQualityMessage(m));
  if (quality.length > 0 && orders.length > 0)
    throw new DeliveryError(
      `batch ${bodId}: ${quality.length} quality message(s) (${quality[0]!.type} …, a SyncMaterialLot) and ${orders.length} order message(s) (${orders[0]!.type} …, a ${d.root}) cannot be one B2MML document; send the quality messages through a target of their own`,
      true,
    );
  const { root, dataArea } =
    quality.length > 0 ? lotDocument(d, quality) : performanceDocument(d, orders, bodId);
  const doc = {
    [root]: {
      '@_xmlns': B2MML_NAMESPACES[version],
      '@_releaseID': version,
      ApplicationArea: { CreationDateTime: iso(created), BODID: bodId },
      DataArea: dataArea,
    },
  };
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(doc) as string}`;
  return {
    body: Buffer.from(xml, 'utf8'),
    contentType: 'application/xml',
    fileName:
      messages.length === 1 ? `${messageFileStem(first)}.xml` : `batch-${safeName(first.id)}.xml`,
  };
}
