/**
 * Outbound quality messages (issue #12): lot.held, lot.released and inspection.recorded in
 * every wire format — JSON, CSV (parsed back), B2MML in V0401, V0600 and V0701 (validated
 * against the official XSD of each and read back), the OData / SOAP entity — with the codes
 * mapped into the receiver's; the configuration checks of the targets that carry them; and a
 * lot.held delivered through the real outbox dispatcher and a webhook target to a recording
 * HTTP server on loopback (retried with the same Idempotency-Key, the release waiting behind
 * it). The messages are built here: the service that writes them is core/genealogy.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { renderB2mml } from '../../src/enterprise/b2mml/render.ts';
import { parseTree, type Element } from '../../src/enterprise/b2mml/tree.ts';
import { validateB2mml } from '../../src/enterprise/b2mml/validate.ts';
import { readXml } from '../../src/enterprise/b2mml/xml-source.ts';
import { CSV_COLUMNS } from '../../src/enterprise/files/csv.ts';
import { jsonMessage, renderMessages } from '../../src/enterprise/formats.ts';
import { createTarget } from '../../src/enterprise/index.ts';
import { odataTarget } from '../../src/enterprise/odata/index.ts';
import { OutboxDispatcher } from '../../src/enterprise/outbox.ts';
import { erpEntity } from '../../src/enterprise/shared/entity.ts';
import {
  DeliveryError,
  type B2mmlVersion,
  type ErpMessage,
  type OutboundMessage,
  type QualityMessage,
  type RenderContext,
} from '../../src/enterprise/types.ts';
import { isMwError, MwError } from '../../src/errors.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import { tempDir, testConfig } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { gateway, peer } from './erp-peers.ts';

const tmp = tempDir('mw-quality-messages-');

after(async () => {
  tmp.remove();
  // STYLE.md rule 16: no sockets, servers or timers left behind.
  const left = (): string[] =>
    process.getActiveResourcesInfo().filter((r) => /TCP|TLS|Timeout/.test(r));
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(), [], 'handles left open');
});

// ---------------------------------------------------------------------------------------------
// Sample messages, in the hub's codes

const AT = Date.UTC(2026, 2, 3, 9, 30);
const LOT = {
  lot: 'L-100',
  material: 'FG-1',
  quantity: '480.5',
  uom: 'KGM',
  status: 'on-hold',
} as const;

const INSPECTED: QualityMessage = {
  id: 'q1',
  orderId: 'lot:L-100',
  seq: 1,
  at: AT - 600_000,
  type: 'inspection.recorded',
  data: {
    ...LOT,
    inspection: 'I-311',
    plan: 'FG-final',
    operation: '0020',
    disposition: 'rejected',
    sampleSize: 5,
    results: [
      {
        characteristic: 'fill-weight',
        kind: 'numeric',
        value: '498.2',
        uom: 'GRM',
        lsl: '495',
        usl: '505',
        target: '500',
        pass: true,
      },
      {
        characteristic: 'seal',
        kind: 'attribute',
        value: 'fail',
        uom: null,
        lsl: null,
        usl: null,
        target: null,
        pass: false,
      },
    ],
    by: 'qa.berger',
  },
};

const HELD: QualityMessage = {
  id: 'q2',
  orderId: 'lot:L-100',
  seq: 2,
  at: AT,
  type: 'lot.held',
  data: {
    ...LOT,
    hold: 'H-42',
    reason: 'seal <leak> & "smell"',
    origin: 'propagated',
    rootLot: 'L-099',
    by: 'qa.berger',
  },
};

const RELEASED: QualityMessage = {
  id: 'q3',
  orderId: 'lot:L-100',
  seq: 3,
  at: AT + 3_600_000,
  type: 'lot.released',
  data: {
    ...LOT,
    status: 'available',
    hold: 'H-42',
    reason: 'retest passed',
    by: 'qa.lead',
    fullName: 'Dana Lead',
    signature: 'sig-7',
  },
};

const MESSAGES: readonly QualityMessage[] = [INSPECTED, HELD, RELEASED];
const VERSIONS: readonly B2mmlVersion[] = ['V0401', 'V0600', 'V0701'];

/** The receiver's codes (a mapping system `sap`); any other code has no mapping. */
const THEIRS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  material: { 'FG-1': '000000000000401100' },
  uom: { KGM: 'KG', GRM: 'G' },
  equipment: {},
};
const SAP: RenderContext = {
  toTheirs(kind, ours) {
    const theirs = THEIRS[kind]?.[ours];
    if (theirs === undefined)
      throw new MwError('MW_ERR_MAPPING_UNKNOWN_CODE', {
        owner: 'hub',
        kind,
        code: ours,
        table: `sap/${kind}`,
      });
    return theirs;
  },
};
const MAPPED = { material: '000000000000401100', uom: 'KG' };

const iso = (ms: number): string => new Date(ms).toISOString();

// ---------------------------------------------------------------------------------------------
// JSON

describe('quality messages in JSON', () => {
  it('go in the envelope of docs/erp.md, with the lot’s and results’ codes the receiver’s', () => {
    for (const m of MESSAGES) {
      const out = renderMessages([m], { format: 'json', b2mmlVersion: 'V0701' }, SAP);
      assert.equal(out.contentType, 'application/json');
      assert.equal(out.fileName, `lot_L-100-00000${m.seq}-${m.type}-${m.id}.json`);
      const body = JSON.parse(out.body.toString()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), ['id', 'type', 'orderId', 'seq', 'at', 'data']);
      assert.equal(body.orderId, 'lot:L-100');
      assert.equal(body.at, iso(m.at));
      const data = { ...m.data, ...MAPPED } as Record<string, unknown>;
      if (m.type === 'inspection.recorded')
        data.results = m.data.results.map((r) => ({ ...r, uom: r.uom === null ? null : 'G' }));
      assert.deepEqual(body.data, data);
    }
    const batch = renderMessages(MESSAGES, { format: 'json', b2mmlVersion: 'V0701' }, SAP);
    const { messages } = JSON.parse(batch.body.toString()) as { messages: { id: string }[] };
    assert.deepEqual(
      messages.map((m) => m.id),
      ['q1', 'q2', 'q3'],
    );
    // Without a mapping system the hub's codes go as they are.
    assert.deepEqual(jsonMessage(HELD).data, HELD.data);
  });

  it('an unmapped code is a permanent DeliveryError naming the code and the table', () => {
    const odd: QualityMessage = {
      ...INSPECTED,
      data: {
        ...INSPECTED.data,
        results: [{ ...INSPECTED.data.results[0]!, uom: 'CEL' }],
      },
    };
    for (const format of ['json', 'csv', 'b2mml'] as const)
      assert.throws(
        () => renderMessages([odd], { format, b2mmlVersion: 'V0600' }, SAP),
        (err: unknown) =>
          err instanceof DeliveryError &&
          err.permanent &&
          /uom code "CEL" has no mapping \(table sap\/uom\)/.test(err.message),
      );
  });
});

// ---------------------------------------------------------------------------------------------
// CSV

describe('quality messages in CSV', () => {
  const QUALITY_COLUMNS = [
    'status',
    'hold',
    'reason',
    'origin',
    'root_lot',
    'by',
    'full_name',
    'signature',
    'inspection',
    'plan',
    'disposition',
    'sample_size',
    'characteristic',
    'kind',
    'value',
    'lsl',
    'usl',
    'target',
    'pass',
  ];

  it('a row per message, a row per result, in the columns of the header comment', () => {
    const out = renderMessages(MESSAGES, { format: 'csv', b2mmlVersion: 'V0701' }, SAP);
    const text = out.body.toString('utf8');
    const header = text.slice(0, text.indexOf('\r\n')).split(',');
    assert.deepEqual(header, [...CSV_COLUMNS]);
    assert.deepEqual(header.slice(-QUALITY_COLUMNS.length), QUALITY_COLUMNS, 'appended last');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    const empty = Object.fromEntries(CSV_COLUMNS.map((c) => [c, '']));
    const head = (m: QualityMessage) => ({
      ...empty,
      message_id: m.id,
      type: m.type,
      order_id: 'lot:L-100',
      seq: String(m.seq),
      at: iso(m.at),
    });
    const lot = { lot: 'L-100', material: MAPPED.material, quantity: '480.5', uom: 'KG' };
    assert.deepEqual(rows, [
      {
        ...head(INSPECTED),
        ...lot,
        status: 'on-hold',
        by: 'qa.berger',
        inspection: 'I-311',
        plan: 'FG-final',
        operation: '0020',
        disposition: 'rejected',
        sample_size: '5',
      },
      {
        ...head(INSPECTED),
        type: 'inspection.recorded/result',
        lot: 'L-100',
        inspection: 'I-311',
        characteristic: 'fill-weight',
        kind: 'numeric',
        value: '498.2',
        uom: 'G',
        lsl: '495',
        usl: '505',
        target: '500',
        pass: 'true',
      },
      {
        ...head(INSPECTED),
        type: 'inspection.recorded/result',
        lot: 'L-100',
        inspection: 'I-311',
        characteristic: 'seal',
        kind: 'attribute',
        value: 'fail',
        pass: 'false',
      },
      {
        ...head(HELD),
        ...lot,
        status: 'on-hold',
        hold: 'H-42',
        reason: 'seal <leak> & "smell"',
        origin: 'propagated',
        root_lot: 'L-099',
        by: 'qa.berger',
      },
      {
        ...head(RELEASED),
        ...lot,
        status: 'available',
        hold: 'H-42',
        reason: 'retest passed',
        by: 'qa.lead',
        full_name: 'Dana Lead',
        signature: 'sig-7',
      },
    ]);
  });

  it('a reason a spreadsheet would run as a formula gets a leading apostrophe', () => {
    const evil: QualityMessage = {
      ...HELD,
      data: { ...HELD.data, reason: '=HYPERLINK("http://x.example","click")', rootLot: null },
    };
    const out = renderMessages([evil], { format: 'csv', b2mmlVersion: 'V0701' }, SAP);
    const [row] = parse(out.body, { columns: true }) as Record<string, string>[];
    assert.equal(row!.reason, `'=HYPERLINK("http://x.example","click")`);
    assert.equal(row!.root_lot, '', 'null is an empty cell');
  });
});

// ---------------------------------------------------------------------------------------------
// B2MML

/** The validated document, read back: its MaterialLot elements. */
async function renderAndValidate(messages: readonly OutboundMessage[], version: B2mmlVersion) {
  const rendered = renderB2mml(messages, version);
  assert.equal(rendered.contentType, 'application/xml');
  const { message } = await validateB2mml(rendered.body);
  assert.equal(message.version, version);
  assert.equal(message.root, 'SyncMaterialLot');
  const root = parseTree(readXml(rendered.body).text, message.root);
  assert.equal(root.attribute('releaseID'), version);
  const dataArea = root.child('DataArea')!;
  const action = dataArea.child('Sync')?.child('ActionCriteria')?.child('ActionExpression');
  assert.equal(action?.attribute('actionCode'), 'Change');
  return { rendered, root, lots: dataArea.children('MaterialLot') };
}

/** A MaterialLotProperty's Values as [value, data type, unit, key]. */
const valuesOf = (p: Element, name = 'Value') =>
  p
    .children(name)
    .map((v) => [
      v.childText('ValueString'),
      v.childText('DataType'),
      v.childText('UnitOfMeasure'),
      v.childText('Key'),
    ]);

function propertiesOf(lot: Element): Map<string, Element> {
  return new Map(lot.children('MaterialLotProperty').map((p) => [p.childText('ID')!, p]));
}

/** The single-valued text properties as id → value. */
function textProperties(lot: Element): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const [id, p] of propertiesOf(lot))
    if (p.children('Value').length === 1) out[id] = p.child('Value')!.childText('ValueString');
  return out;
}

function checkLot(version: B2mmlVersion, m: QualityMessage, lot: Element): void {
  const v7 = version === 'V0701';
  assert.equal(lot.childText('ID'), 'L-100');
  assert.equal(lot.childText('MaterialDefinitionID'), MAPPED.material);
  const available = m.data.status === 'available';
  assert.equal(lot.childText('Status'), available ? 'Released' : 'OnHold');
  assert.equal(
    lot.childText('Disposition'),
    v7 ? (available ? 'UnRestricted' : 'Restricted') : null,
  );
  assert.deepEqual(
    lot
      .children('Quantity')
      .map((q) => [q.childText('QuantityString'), q.childText('UnitOfMeasure')]),
    [['480.5', 'KG']],
  );
  const props = textProperties(lot);
  assert.equal(props.MessageID, m.id);
  assert.equal(props.MessageType, m.type);
  assert.equal(props.EventTime, iso(m.at));
  switch (m.type) {
    case 'lot.held':
      assert.equal(lot.childText('Description'), 'quality hold H-42: seal <leak> & "smell"');
      assert.deepEqual(
        [props.HoldID, props.HoldReason, props.HoldOrigin, props.RootLotID, props.HeldBy],
        ['H-42', 'seal <leak> & "smell"', 'propagated', 'L-099', 'qa.berger'],
      );
      break;
    case 'lot.released':
      assert.deepEqual(
        [
          props.HoldID,
          props.ReleaseReason,
          props.ReleasedBy,
          props.ReleasedByName,
          props.SignatureID,
        ],
        ['H-42', 'retest passed', 'qa.lead', 'Dana Lead', 'sig-7'],
      );
      break;
    case 'inspection.recorded': {
      assert.deepEqual(
        [
          props.InspectionID,
          props.OperationID,
          props.InspectionDisposition,
          props.SampleSize,
          props.InspectedBy,
        ],
        ['I-311', '0020', 'rejected', '5', 'qa.berger'],
      );
      const weight = propertiesOf(lot).get('fill-weight')!;
      const seal = propertiesOf(lot).get('seal')!;
      const evaluation = (pass: string) => [pass, 'string', null, 'Evaluation'];
      assert.deepEqual(valuesOf(weight), [
        ['498.2', 'decimal', 'G', null],
        ['495', 'decimal', 'G', 'LSL'],
        ['505', 'decimal', 'G', 'USL'],
        ['500', 'decimal', 'G', 'Target'],
        ...(v7 ? [evaluation('Pass')] : []),
      ]);
      assert.deepEqual(valuesOf(seal), [
        ['fail', 'string', null, null],
        ...(v7 ? [evaluation('Fail')] : []),
      ]);
      // V0401's ValueType requires the unit element: there, empty where there is no unit.
      assert.equal(seal.child('Value')!.child('UnitOfMeasure') !== null, version === 'V0401');
      if (v7) {
        assert.equal(weight.child('TestResult'), null, 'V0701 has no TestResult in a property');
        assert.equal(lot.childText('TestSpecificationID'), 'FG-final');
      } else {
        const test = weight.child('TestResult')!;
        assert.equal(test.childText('ID'), 'I-311');
        assert.equal(test.childText('TestDateTime'), iso(m.at));
        assert.deepEqual(valuesOf(test, 'Result'), [
          ['498.2', 'decimal', 'G', 'Measured'],
          evaluation('Pass'),
        ]);
        assert.deepEqual(valuesOf(seal.child('TestResult')!, 'Result')[1], evaluation('Fail'));
        const spec =
          version === 'V0401' ? 'QAMaterialTestSpecificationID' : 'MaterialTestSpecificationID';
        assert.equal(weight.childText(spec), 'FG-final');
        const onLot = lot.childText('MaterialTestSpecificationID');
        assert.equal(onLot, version === 'V0600' ? 'FG-final' : null, 'V0600 names it on the lot');
      }
      break;
    }
  }
}

describe('quality messages in B2MML', () => {
  for (const version of VERSIONS)
    it(`every type renders a SyncMaterialLot valid against the ${version} XSD and reads back`, async () => {
      await Promise.all(
        MESSAGES.map(async (m) => {
          const mapped = renderMessages([m], { format: 'b2mml', b2mmlVersion: version }, SAP);
          const { rendered, root, lots } = await renderAndValidate([m], version);
          assert.equal(rendered.fileName, `lot_L-100-00000${m.seq}-${m.type}-${m.id}.xml`);
          assert.equal(root.child('ApplicationArea')?.childText('BODID'), m.id);
          assert.equal(lots.length, 1);
          // The same document with the receiver's codes: check it, not the hub's.
          const back = parseTree(readXml(mapped.body).text, 'SyncMaterialLot');
          await validateB2mml(mapped.body);
          checkLot(version, m, back.child('DataArea')!.child('MaterialLot')!);
          assert.equal(lots[0]!.childText('MaterialDefinitionID'), 'FG-1', 'unmapped: the hub’s');
        }),
      );
    });

  it('a batch is one document with a MaterialLot per message, in order', async () => {
    for (const version of VERSIONS) {
      const { rendered, root, lots } = await renderAndValidate(MESSAGES, version);
      assert.equal(rendered.fileName, 'batch-q1.xml');
      const app = root.child('ApplicationArea')!;
      assert.equal(app.childText('BODID'), 'batch-q1');
      assert.equal(app.childText('CreationDateTime'), iso(RELEASED.at), 'the latest message');
      assert.deepEqual(
        lots.map((l) => textProperties(l).MessageID),
        ['q1', 'q2', 'q3'],
      );
      assert.deepEqual(renderB2mml(MESSAGES, version).body, rendered.body, 'deterministic');
    }
  });

  it('a hold without a root lot and an inspection without an operation leave them out', async () => {
    const held: QualityMessage = {
      ...HELD,
      data: { ...HELD.data, origin: 'manual', rootLot: null },
    };
    const inspected: QualityMessage = {
      ...INSPECTED,
      data: { ...INSPECTED.data, operation: null, disposition: 'accepted', status: 'available' },
    };
    for (const version of VERSIONS) {
      const { lots } = await renderAndValidate([held, inspected], version);
      assert.equal(propertiesOf(lots[0]!).has('RootLotID'), false);
      assert.equal(propertiesOf(lots[1]!).has('OperationID'), false);
      assert.equal(lots[1]!.childText('Status'), 'Released');
    }
  });

  it('refuses a batch that mixes quality and order messages: one document holds one noun', () => {
    const started: ErpMessage = {
      id: 'm1',
      orderId: '4711',
      seq: 1,
      at: AT,
      type: 'order.started',
      data: { operation: '0010', equipment: null },
    };
    for (const version of VERSIONS)
      assert.throws(
        () => renderB2mml([HELD, started], version),
        (err: unknown) =>
          err instanceof DeliveryError &&
          err.permanent &&
          /1 quality message\(s\) \(lot\.held …, a SyncMaterialLot\) and 1 order message\(s\)/.test(
            err.message,
          ) &&
          /cannot be one B2MML document/.test(err.message),
      );
  });
});

// ---------------------------------------------------------------------------------------------
// OData / SOAP entity

describe('quality messages as OData entities and SOAP arguments', () => {
  it('are the flat PascalCase record, results as repeated entries, codes the receiver’s', () => {
    assert.deepEqual(erpEntity(HELD, SAP), {
      MessageID: 'q2',
      MessageType: 'lot.held',
      OrderID: 'lot:L-100',
      EventTime: iso(AT),
      Lot: 'L-100',
      Material: MAPPED.material,
      Quantity: '480.5',
      UnitOfMeasure: 'KG',
      Status: 'on-hold',
      Hold: 'H-42',
      Reason: 'seal <leak> & "smell"',
      Origin: 'propagated',
      RootLot: 'L-099',
      By: 'qa.berger',
    });
    const released = erpEntity(RELEASED, SAP);
    assert.equal(released.FullName, 'Dana Lead');
    assert.equal(released.Signature, 'sig-7');
    // SOAP leaves out what has no value.
    const { Results, ...args } = erpEntity(INSPECTED, SAP, true);
    assert.deepEqual(args, {
      MessageID: 'q1',
      MessageType: 'inspection.recorded',
      OrderID: 'lot:L-100',
      EventTime: iso(INSPECTED.at),
      Lot: 'L-100',
      Material: MAPPED.material,
      Quantity: '480.5',
      UnitOfMeasure: 'KG',
      Status: 'on-hold',
      Inspection: 'I-311',
      Plan: 'FG-final',
      OperationID: '0020',
      Disposition: 'rejected',
      SampleSize: 5,
      By: 'qa.berger',
    });
    assert.deepEqual(Results, [
      {
        Characteristic: 'fill-weight',
        Kind: 'numeric',
        Value: '498.2',
        UnitOfMeasure: 'G',
        LSL: '495',
        USL: '505',
        Target: '500',
        Pass: true,
      },
      { Characteristic: 'seal', Kind: 'attribute', Value: 'fail', Pass: false },
    ]);
  });

  it('an odata target POSTs a quality message to the entity set configured for its type', async () => {
    const server = await gateway();
    const target = odataTarget.create(
      odataTarget.configSchema.parse({
        id: 'qm',
        type: 'odata',
        serviceUrl: server.url,
        entitySet: { 'lot.held': 'QualityHolds', 'inspection.recorded': 'InspectionResults' },
      }),
      { logger: pino({ level: 'silent' }), configDir: tmp.dir, dataDir: tmp.dir, render: SAP },
    );
    try {
      await target.deliver([INSPECTED, HELD, RELEASED]);
      assert.deepEqual(
        server.created.map((r) => r.url),
        ['/sap/opu/odata4/zmes/InspectionResults', '/sap/opu/odata4/zmes/QualityHolds'],
        'lot.released has no entity set here: skipped',
      );
      assert.deepEqual(JSON.parse(server.created[1]!.body.toString()), erpEntity(HELD, SAP));
      assert.equal(server.created[1]!.headers['idempotency-key'], '"q2"');
    } finally {
      await target.close();
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Configuration

describe('quality messages: configuration', () => {
  const PLANT = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines: [{ id: line1, units: [{ id: filler }] }]
`;
  const problems = (targets: string): string[] => {
    try {
      parseConfig(`${PLANT}targets:\n${targets}`);
    } catch (err) {
      if (isMwError(err) && err.code === 'MW_ERR_CONFIG_INVALID') return [...err.details];
      throw err;
    }
    return [];
  };

  it('refuses an odata or soap target that lists a quality message without a place for it', () => {
    const found = problems(`
  - id: s4
    type: odata
    serviceUrl: 'https://s4.example.com/odata/'
    messages: [operation.confirmed, lot.held, inspection.recorded]
    entitySet: { lot.held: QualityHolds }
  - id: pi
    type: soap
    wsdl: qm.wsdl
    operation: { operation.confirmed: Confirm }
    messages: [lot.released]
`);
    assert.equal(found.length, 2, found.join('\n'));
    assert.ok(found[0]!.startsWith('targets[0].messages[2] (line '), found[0]);
    assert.match(
      found[0]!,
      /inspection\.recorded has no entity set in `entitySet`: a odata target sends a message type only with one .*add `entitySet: \{ inspection\.recorded: … \}`/,
    );
    assert.ok(found[1]!.startsWith('targets[1].messages[0] (line '), found[1]);
    assert.match(found[1]!, /lot\.released has no operation in `operation`/);
  });

  it('refuses a b2mml batch target that mixes quality and order messages, nothing else', () => {
    const found = problems(`
  - id: mixed
    type: folder
    path: out
    format: b2mml
    mode: batch
    schedule: '0 6 * * *'
    messages: [goods.receipt, lot.held, lot.released]
  - { id: realtime, type: folder, path: out, format: b2mml, messages: [goods.receipt, lot.held] }
  - id: qms
    type: folder
    path: out
    format: b2mml
    mode: batch
    schedule: '0 6 * * *'
    messages: [lot.held, lot.released, inspection.recorded]
  - id: csv
    type: folder
    path: out
    format: csv
    mode: batch
    schedule: '0 6 * * *'
    messages: [goods.receipt, inspection.recorded]
  - id: s4
    type: odata
    serviceUrl: 'https://s4.example.com/odata/'
    messages: [inspection.recorded]
    entitySet: { inspection.recorded: InspectionResults }
  - id: hook
    type: webhook
    url: 'https://qms.example.com/in'
    messages: [lot.held, lot.released, inspection.recorded]
`);
    assert.equal(found.length, 1, found.join('\n'));
    assert.ok(found[0]!.startsWith('targets[0].messages[1] (line '), found[0]);
    assert.match(
      found[0]!,
      /lot\.held cannot share a b2mml batch with order messages \(goods\.receipt\): .*a target of their own, or use mode realtime/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Delivery through the outbox

describe('quality messages: delivered through the outbox to a webhook', () => {
  it('a lot.held reaches the receiver (retried with its key), the release after it', async () => {
    let answered = 0;
    const qms = await peer((_req, res) => {
      answered += 1;
      res.writeHead(answered === 1 ? 503 : 200).end(answered === 1 ? 'starting' : 'ok');
    });
    const config = testConfig(`
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines: [{ id: line1, units: [{ id: filler }] }]
targets:
  - id: qms
    type: webhook
    url: '${qms.url}/lots'
    system: sap
    secret: whsec-0123456789abcdef
    messages: [lot.held, lot.released, inspection.recorded]
    retry: { initialDelay: 20ms, maxDelay: 100ms }
`);
    const store = await openSqliteStore({
      path: path.join(tmp.dir, 'outbox.db'),
      synchronous: 'NORMAL',
      quarantineMaxEntries: 10,
      quarantinePayloadBytes: 64,
    });
    await store.migrate();
    const silent = pino({ level: 'silent' });
    const dispatcher = new OutboxDispatcher(
      store,
      config.targets.map((t) => ({
        id: t.id,
        type: t.type,
        mode: t.mode,
        retry: t.retry,
        instance: createTarget(t, {
          logger: silent,
          configDir: tmp.dir,
          dataDir: tmp.dir,
          render: SAP,
        }),
      })),
      { logger: silent, hubId: randomUUID(), pollMs: 50 },
    );
    try {
      await store.writeRecords(
        [],
        [],
        [HELD, RELEASED].map((m) => ({
          target: 'qms',
          messageId: m.id,
          orderingKey: m.orderId,
          type: m.type,
          payload: m as unknown as Record<string, unknown>,
          // Now, not the fact's time: retry.maxAge counts from here.
          createdAt: Date.now(),
        })),
      );
      dispatcher.start();
      dispatcher.kick(['qms']);
      await waitFor(() => qms.requests.length === 3, { what: 'held (twice) and released' });
      const [first, retry, release] = qms.requests;
      for (const req of [first!, retry!]) {
        assert.equal(req.url, '/lots');
        assert.equal(req.headers['idempotency-key'], '"q2"');
        assert.equal(req.headers['x-millwright-event'], 'lot.held');
        assert.equal(req.headers['x-millwright-order'], 'lot:L-100');
        assert.match(String(req.headers['x-millwright-signature']), /^sha256=[0-9a-f]{64}$/);
      }
      const body = JSON.parse(retry!.body.toString()) as { data: Record<string, unknown> };
      assert.deepEqual(body, {
        ...jsonMessage(HELD),
        data: { ...HELD.data, ...MAPPED },
      });
      assert.equal(release!.headers['idempotency-key'], '"q3"', 'the release only after the hold');
      await waitFor(
        async () =>
          (await store.listOutbox({ target: 'qms', limit: 10 })).every(
            (r) => r.status === 'delivered',
          ),
        { what: 'both rows delivered' },
      );
    } finally {
      await dispatcher.stop();
      await store.close();
      await qms.close();
    }
  });
});
