/**
 * Outbound B2MML for the quality messages (issue #12): lot.held, lot.released and
 * inspection.recorded → `SyncMaterialLot` (B2MML Material.xsd, every version), one MaterialLot
 * per message, in order (render.ts's renderB2mml sends them here):
 * - Why Sync: the hub owns the lot's quality status (it placed the hold; a user released it
 *   there with an electronic signature), and a Sync is how the owner of an object publishes a
 *   change of it to the systems that keep a copy (the ISA-95 Part 5 / OAGIS verbs): no
 *   answer expected, as for the performance documents and the official V0401 examples. Its
 *   ActionCriteria say `actionCode="Change"`: the lot exists at the receiver (its goods
 *   receipt), this changes it. Change would ask the receiver to change an object the
 *   receiver owns, Process to act on a request (a new order): neither says "this lot's
 *   status changed here".
 * - MaterialLot: ID (the lot number), Description (one line for people), MaterialDefinitionID,
 *   Status (the lot's status after the fact in B2MML wording: `OnHold`, `Released` …),
 *   V0701 also Disposition (`Restricted` while on hold, `UnRestricted` when available: the
 *   ISA-95 2018 values), the MaterialLotProperty entries, Quantity (what it holds).
 * - Properties of every message: MessageID (what the receiver deduplicates on: one document
 *   may hold several lots), MessageType, EventTime. lot.held: HoldID, HoldReason,
 *   HoldOrigin, RootLotID (a propagated hold), HeldBy. lot.released: HoldID, ReleaseReason,
 *   ReleasedBy, ReleasedByName, SignatureID. inspection.recorded: InspectionID, OperationID
 *   (when given), InspectionDisposition, SampleSize, InspectedBy, then one property per
 *   characteristic (its ID the characteristic's) holding the measured value (Value with
 *   DataType decimal or string and the unit), and the plan's LSL, USL and Target as Values
 *   with that Key.
 * - What each version offers for the test itself: V0401 and V0600 have a TestResult in the
 *   MaterialLotProperty (the QA test result of ISA-95 Part 2): ID the inspection, TestDateTime,
 *   Result the measured value (Key Measured) and the evaluation (Key Evaluation, Pass / Fail);
 *   the plan is the property's QAMaterialTestSpecificationID (V0401) or
 *   MaterialTestSpecificationID (V0600, also on the lot). V0701 (ISA-95 Part 2 2018) keeps
 *   test results in OperationsTest.xsd (TestResult, a document of its own that references the
 *   tested object), so its MaterialLotProperty has none: the evaluation is a Value with Key
 *   Evaluation, the plan the lot's TestSpecificationID.
 *
 * Element order follows each XSD's sequence (checked by the tests that validate every message
 * type in every version: test/enterprise/quality-messages.test.ts).
 */
import type { InspectionResultReport, QualityMessage } from '../types.ts';
import { iso, quantity, type Dialect, type Xml } from './render-common.ts';

/** The hub's lot statuses (model/lot.ts LOT_STATUSES) as MaterialLot Status (a free code). */
const LOT_STATUS: Readonly<Record<string, string>> = {
  available: 'Released',
  'on-hold': 'OnHold',
  consumed: 'Consumed',
  shipped: 'Shipped',
  scrapped: 'Scrapped',
};

/** V0701 MaterialLot Disposition (B2MML-Common.xsd Disposition1Type; ISA-95 Part 2 2018). */
const LOT_DISPOSITION: Readonly<Record<string, string>> = {
  available: 'UnRestricted',
  'on-hold': 'Restricted',
  consumed: 'Closed',
  shipped: 'Closed',
  scrapped: 'Closed',
};

interface Val {
  readonly value: string;
  /** B2MML Common.xsd DataType1Type: the XSD type names. */
  readonly type: 'string' | 'decimal' | 'integer' | 'dateTime';
  readonly uom?: string | null;
  readonly key?: string;
}

interface Property {
  readonly id: string;
  readonly values: readonly Val[];
  /** A characteristic's inspection (the test that determined its value). */
  readonly test?: {
    readonly inspection: string;
    readonly plan: string;
    readonly at: number;
    readonly result: InspectionResultReport;
  };
}

/** B2MML Common.xsd ValueType (and ResultType, the same sequence). */
function value(d: Dialect, v: Val): Xml {
  // V0401: DataType and UnitOfMeasure are required (nillable), empty where there is no unit,
  // as the official V0401 LOT example writes it; V0600 / V0701: optional.
  const uom = v.uom ?? (d.version === 'V0401' ? '' : undefined);
  return { ValueString: v.value, DataType: v.type, UnitOfMeasure: uom, Key: v.key };
}

const text = (id: string, v: string): Property => ({ id, values: [{ value: v, type: 'string' }] });

function resultValue(r: InspectionResultReport, key?: string): Val {
  const type = r.kind === 'numeric' ? 'decimal' : 'string';
  return { value: r.value, type, uom: r.uom, ...(key === undefined ? {} : { key }) };
}

const evaluation = (r: InspectionResultReport): Val => ({
  value: r.pass ? 'Pass' : 'Fail',
  type: 'string',
  key: 'Evaluation',
});

/** A characteristic: the measured value, then the plan's limits and target where it has them. */
function characteristic(
  m: Extract<QualityMessage, { type: 'inspection.recorded' }>,
  r: InspectionResultReport,
  v7: boolean,
): Property {
  const limits = (['lsl', 'usl', 'target'] as const).flatMap((k): Val[] => {
    const limit = r[k];
    const key = k === 'target' ? 'Target' : k.toUpperCase();
    return limit === null ? [] : [{ value: limit, type: 'decimal', uom: r.uom, key }];
  });
  const { inspection, plan } = m.data;
  return {
    id: r.characteristic,
    // V0701 has no TestResult here: the evaluation is a Value of the property.
    values: [resultValue(r), ...limits, ...(v7 ? [evaluation(r)] : [])],
    ...(v7 ? {} : { test: { inspection, plan, at: m.at, result: r } }),
  };
}

function lotProperties(m: QualityMessage, v7: boolean): Property[] {
  const head: Property[] = [
    text('MessageID', m.id),
    text('MessageType', m.type),
    { id: 'EventTime', values: [{ value: new Date(m.at).toISOString(), type: 'dateTime' }] },
  ];
  switch (m.type) {
    case 'lot.held': {
      const { hold, reason, origin, rootLot, by } = m.data;
      return [
        ...head,
        text('HoldID', hold),
        text('HoldReason', reason),
        text('HoldOrigin', origin),
        ...(rootLot === null ? [] : [text('RootLotID', rootLot)]),
        text('HeldBy', by),
      ];
    }
    case 'lot.released': {
      const { hold, reason, by, fullName, signature } = m.data;
      return [
        ...head,
        text('HoldID', hold),
        text('ReleaseReason', reason),
        text('ReleasedBy', by),
        text('ReleasedByName', fullName),
        text('SignatureID', signature),
      ];
    }
    case 'inspection.recorded': {
      const { inspection, operation, disposition, sampleSize, by, results } = m.data;
      return [
        ...head,
        text('InspectionID', inspection),
        ...(operation === null ? [] : [text('OperationID', operation)]),
        text('InspectionDisposition', disposition),
        { id: 'SampleSize', values: [{ value: String(sampleSize), type: 'integer' }] },
        text('InspectedBy', by),
        ...results.map((r) => characteristic(m, r, v7)),
      ];
    }
  }
}

function lotDescription(m: QualityMessage): string {
  switch (m.type) {
    case 'lot.held':
      return `quality hold ${m.data.hold}: ${m.data.reason}`;
    case 'lot.released':
      return `quality hold ${m.data.hold} released: ${m.data.reason}`;
    case 'inspection.recorded':
      return `inspection ${m.data.inspection} (plan ${m.data.plan}): ${m.data.disposition}`;
  }
}

/** MaterialLotPropertyType of each version: ID, Description, Value, …, TestResult. */
function lotProperty(d: Dialect, p: Property): Xml {
  const values = p.values.map((v) => value(d, v));
  if (p.test === undefined) return { ID: p.id, Value: values };
  const { inspection, plan, at, result } = p.test;
  // V0401 / V0600 Common.xsd TestResultType: ID, Description, TestDateTime, Result.
  const test = {
    ID: inspection,
    TestDateTime: iso(at),
    Result: [value(d, resultValue(result, 'Measured')), value(d, evaluation(result))],
  };
  const spec =
    d.version === 'V0401'
      ? { QAMaterialTestSpecificationID: plan }
      : { MaterialTestSpecificationID: plan };
  return { ID: p.id, Value: values, ...spec, TestResult: test };
}

function materialLot(d: Dialect, m: QualityMessage): Xml {
  const { lot, material, quantity: held, uom, status } = m.data;
  const v7 = d.version === 'V0701';
  const plan = m.type === 'inspection.recorded' ? m.data.plan : undefined;
  return {
    ID: lot,
    Description: lotDescription(m),
    MaterialDefinitionID: material,
    Status: LOT_STATUS[status] ?? status,
    ...(v7 ? { Disposition: LOT_DISPOSITION[status] } : {}),
    MaterialLotProperty: lotProperties(m, v7).map((p) => lotProperty(d, p)),
    Quantity: quantity({ value: held, uom }),
    // The lot's test specifications: V0600 MaterialTestSpecificationID, V0701
    // TestSpecificationID (V0401's MaterialLot has none; its properties name the plan).
    ...(plan === undefined || d.version === 'V0401'
      ? {}
      : { [v7 ? 'TestSpecificationID' : 'MaterialTestSpecificationID']: plan }),
  };
}

export function lotDocument(
  d: Dialect,
  messages: readonly QualityMessage[],
): { root: string; dataArea: Xml } {
  const sync = { ActionCriteria: { ActionExpression: { '@_actionCode': 'Change' } } };
  return {
    root: 'SyncMaterialLot',
    dataArea: { Sync: sync, MaterialLot: messages.map((m) => materialLot(d, m)) },
  };
}
