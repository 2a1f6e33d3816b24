/**
 * B2MML in and out (src/enterprise/b2mml/): the official V0401 examples and the V0701 test
 * instances of standards/b2mml as they are (BOM, CRLF), hand-written V0600 and V0701 schedules,
 * the refusals (DTD/XXE, billion laughs, malformed, schema-invalid with the element path,
 * unknown root), and every outbound message type in every version validated against its XSD
 * and read back.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseB2mml } from '../../src/enterprise/b2mml/parse.ts';
import { renderB2mml } from '../../src/enterprise/b2mml/render.ts';
import { schemaDirectory } from '../../src/enterprise/b2mml/schemas.ts';
import { parseTree, type Element } from '../../src/enterprise/b2mml/tree.ts';
import { validateB2mml } from '../../src/enterprise/b2mml/validate.ts';
import { readXml } from '../../src/enterprise/b2mml/xml-source.ts';
import type { B2mmlVersion, ErpMessage } from '../../src/enterprise/types.ts';
import { isMwError, type ErrorCode } from '../../src/errors.ts';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const standards = path.resolve(repoRoot, '../shared/standards/b2mml');
const haveStandards = existsSync(standards);
if (!haveStandards) console.log(`b2mml tests: ${standards} is absent, its examples are skipped`);
const skip = haveStandards ? false : `${standards} is absent`;

const VERSIONS: readonly B2mmlVersion[] = ['V0401', 'V0600', 'V0701'];

function standard(file: string): Buffer {
  return readFileSync(path.join(standards, file));
}

/** The HTTP status each B2MML refusal answers with. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  MW_ERR_B2MML_TOO_LARGE: 413,
  MW_ERR_B2MML_DTD: 400,
  MW_ERR_B2MML_MALFORMED: 400,
  MW_ERR_B2MML_UNSUPPORTED: 415,
  MW_ERR_B2MML_INVALID: 422,
  MW_ERR_B2MML_INCOMPLETE: 422,
};

/** Asserts that `promise` rejects with an MwError of `code` (and `path`, when given). */
async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  expect: { path?: string; message?: RegExp } = {},
) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isMwError(err), `expected an MwError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, STATUS[code] ?? err.status);
    if (expect.path !== undefined) assert.equal(err.path, expect.path, err.message);
    if (expect.message !== undefined) assert.match(err.message, expect.message);
    return true;
  });
}

test('the schemas are found from the package root, with their licence', () => {
  const dir = schemaDirectory();
  assert.equal(dir, path.join(repoRoot, 'src', 'enterprise', 'b2mml', 'schemas'));
  for (const v of VERSIONS)
    assert.ok(readdirSync(path.join(dir, v)).some((f) => f.endsWith('.xsd')));
  assert.match(
    readFileSync(path.join(dir, 'LICENSE-MESA-B2MML.txt'), 'utf8'),
    /MESA International/,
  );
  assert.match(
    readFileSync(path.join(dir, 'README.md'), 'utf8'),
    /used courtesy of MESA International/,
  );
});

// ---------------------------------------------------------------------------------------------
// The official V0401 examples (Courbon, 2013), as they are

const V0401 = 'examples/V0401';

test(
  'official V0401 examples: UTF-8 with BOM and CRLF, imported as they are',
  { skip },
  async (t) => {
    for (const f of readdirSync(path.join(standards, V0401))) {
      const bytes = standard(`${V0401}/${f}`);
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], `${f} starts with a BOM`);
      assert.ok(bytes.includes('\r\n'), `${f} has CRLF line ends`);
    }
    const read = async (f: string) => {
      const started = performance.now();
      const doc = await parseB2mml(standard(`${V0401}/${f}`));
      t.diagnostic(`${f}: read and validated in ${Math.round(performance.now() - started)} ms`);
      return doc;
    };
    assert.deepEqual(await read('MAT-20121210170256-CRBN0001.xml'), {
      format: 'b2mml-V0401',
      root: 'SyncMaterialDefinition',
      orders: [],
      // The base unit is the MaterialDefinitionProperty BaseUnitOfMeasure.
      materials: [{ id: 'CRBN0001', description: 'Product Courbon0001', uom: 'KG' }],
      lots: [],
    });
    // The lot names no MaterialDefinitionID: its material is the MaterialInformation ID.
    assert.deepEqual((await read('LOT-20121210170718-0001L0001.xml')).lots, [
      { id: 'CRBN0001_LOT01', material: 'CRBN0001', quantity: null, uom: null, status: 'Valid' },
    ]);
    assert.deepEqual((await read('INV-20121210175555-0001L0001_01.xml')).lots, [
      {
        id: 'CRBN0001_LOT01',
        material: 'CRBN0001',
        quantity: null,
        uom: null,
        status: null,
        sublots: [{ id: 'CRBN0001_LOT01_01', quantity: '24.91', uom: 'KG', status: 'NotValid' }],
      },
    ]);
    assert.deepEqual(await read('PRO-20121210181416-27942.xml'), {
      format: 'b2mml-V0401',
      root: 'SyncProductionSchedule',
      orders: [
        {
          externalId: '258456',
          material: 'SO1215',
          quantity: '1',
          uom: 'KG',
          // Segment 0010 names no equipment; its nested segment's ProcessSegmentID does.
          operations: [{ id: '0010', equipment: 'Weighing', description: null }],
          plannedStart: null,
          plannedEnd: null,
          priority: 0,
          lot: null,
          description: null,
        },
      ],
      materials: [],
      lots: [],
    });
  },
);

test(
  'official V0401 PES example: a performance message, not an import; it lacks releaseID',
  { skip },
  async () => {
    const pes = standard(`${V0401}/PES-20121229115825-53107.xml`);
    await rejectsWith(parseB2mml(pes), 'MW_ERR_B2MML_UNSUPPORTED', {
      path: '/SyncProductionPerformance',
      message: /accepted: ProductionSchedule \(V0401, V0600\)/,
    });
    await rejectsWith(validateB2mml(pes), 'MW_ERR_B2MML_INVALID', {
      path: '/SyncProductionPerformance',
      message: /The attribute 'releaseID' is required but missing/,
    });
    const fixed = pes.toString('utf8').replace('<SyncProductionPerformance ', '$&releaseID="" ');
    assert.equal((await validateB2mml(fixed)).message.noun, 'ProductionPerformance');
  },
);

// ---------------------------------------------------------------------------------------------
// The V0701 test instances

test('V0701 test instances', { skip }, async () => {
  const dir = 'test-instances/V0701';
  const schedule = await parseB2mml(standard(`${dir}/ProcessOperationsSchedule.xml`));
  assert.deepEqual(schedule.orders, [
    {
      externalId: 'WO-1001',
      material: 'SKU-42',
      quantity: '1200',
      uom: 'EA',
      // No EquipmentRequirement: the ProcessSegmentID names the equipment.
      operations: [{ id: '0010', equipment: 'Filling', description: null }],
      plannedStart: null,
      plannedEnd: null,
      priority: 0,
      lot: null,
      description: null,
    },
  ]);
  assert.deepEqual((await parseB2mml(standard(`${dir}/SyncMaterialLot.xml`))).lots, [
    { id: 'LOT-0001', material: 'SKU-42', quantity: '1180', uom: 'EA', status: 'Released' },
  ]);
  assert.deepEqual((await parseB2mml(standard(`${dir}/SyncMaterialInformation.xml`))).lots, [
    { id: 'LOT-0001', material: 'SKU-42', quantity: null, uom: null, status: null },
  ]);
  const perf = standard(`${dir}/SyncOperationsPerformance.xml`);
  assert.equal((await validateB2mml(perf)).message.version, 'V0701');
  await rejectsWith(parseB2mml(perf), 'MW_ERR_B2MML_UNSUPPORTED');
});

// ---------------------------------------------------------------------------------------------
// Hand-written schedules

const V0600_SCHEDULE = `<?xml version="1.0" encoding="UTF-8"?>
<ProcessProductionSchedule xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600">
  <ApplicationArea>
    <Sender><LogicalID>SAP-ERP</LogicalID></Sender>
    <CreationDateTime>2024-05-02T05:00:00Z</CreationDateTime>
    <BODID>PS-4711</BODID>
  </ApplicationArea>
  <DataArea>
    <Process/>
    <ProductionSchedule>
      <ID>PS-2024-05-02</ID>
      <ProductionRequest>
        <ID>100200300</ID>
        <Description>Tomato soup 400 g &amp; lid</Description>
        <StartTime>2024-05-02T06:00:00+02:00</StartTime>
        <EndTime>2024-05-02T14:00:00</EndTime>
        <Priority>5</Priority>
        <SegmentRequirement>
          <ID>0010</ID>
          <ProcessSegmentID>Cooking</ProcessSegmentID>
          <Description>Cook</Description>
          <EquipmentRequirement><EquipmentID>WC-KETTLE-1</EquipmentID></EquipmentRequirement>
          <MaterialRequirement>
            <MaterialDefinitionID>RAW-TOMATO</MaterialDefinitionID>
            <MaterialUse>Consumed</MaterialUse>
            <Quantity><QuantityString>640.5</QuantityString><UnitOfMeasure>KGM</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
        <SegmentRequirement>
          <ID>0020</ID>
          <ProcessSegmentID>Filling</ProcessSegmentID>
          <EquipmentRequirement><EquipmentID>WC-FILL-2</EquipmentID></EquipmentRequirement>
          <MaterialProducedRequirement>
            <MaterialDefinitionID>SOUP-400</MaterialDefinitionID>
            <MaterialLotID>L2405020001</MaterialLotID>
            <Quantity><QuantityString>2000</QuantityString><DataType>decimal</DataType><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
          </MaterialProducedRequirement>
        </SegmentRequirement>
      </ProductionRequest>
      <ProductionRequest>
        <ID>100200301</ID>
        <SegmentRequirement>
          <ID>0010</ID>
          <Location><EquipmentID>WC-FILL-2</EquipmentID><EquipmentElementLevel>WorkCenter</EquipmentElementLevel></Location>
          <EarliestStartTime>2024-05-03T06:00:00Z</EarliestStartTime>
          <LatestEndTime>2024-05-03T08:30:00.5Z</LatestEndTime>
          <MaterialRequirement>
            <MaterialDefinitionID>SOUP-400</MaterialDefinitionID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>1.2e3</QuantityString><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
      </ProductionRequest>
    </ProductionSchedule>
  </DataArea>
</ProcessProductionSchedule>
`;

const V0600_ORDERS = [
  {
    externalId: '100200300',
    material: 'SOUP-400',
    quantity: '2000',
    uom: 'H87',
    operations: [
      { id: '0010', equipment: 'WC-KETTLE-1', description: 'Cook' },
      { id: '0020', equipment: 'WC-FILL-2', description: null },
    ],
    plannedStart: Date.UTC(2024, 4, 2, 4, 0, 0),
    plannedEnd: Date.UTC(2024, 4, 2, 14, 0, 0), // no offset: UTC
    priority: 5,
    lot: 'L2405020001',
    description: 'Tomato soup 400 g & lid',
  },
  {
    externalId: '100200301',
    material: 'SOUP-400',
    quantity: '1200',
    uom: 'H87',
    operations: [{ id: '0010', equipment: 'WC-FILL-2', description: null }],
    plannedStart: Date.UTC(2024, 4, 3, 6, 0, 0),
    plannedEnd: Date.UTC(2024, 4, 3, 8, 30, 0, 500),
    priority: 0,
    lot: null,
    description: null,
  },
];

test('a V0600 ProductionSchedule validates and yields its orders', async () => {
  const validated = await validateB2mml(V0600_SCHEDULE);
  assert.equal(validated.message.schema, 'B2MML-V0600-ProductionSchedule.xsd');
  assert.deepEqual(await parseB2mml(V0600_SCHEDULE), {
    format: 'b2mml-V0600',
    root: 'ProcessProductionSchedule',
    orders: V0600_ORDERS,
    materials: [],
    lots: [],
  });
});

test('a document in another encoding is decoded by its declaration', async () => {
  const latin1 = V0600_SCHEDULE.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace(
    'Tomato soup 400 g &amp; lid',
    'Crème brûlée\r\nà 400 g',
  );
  const doc = await parseB2mml(Buffer.from(latin1, 'latin1'));
  assert.equal(doc.orders[0]?.description, 'Crème brûlée\nà 400 g');
});

const V0701_SCHEDULE = `<?xml version="1.0" encoding="UTF-8"?>
<SyncOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML" releaseID="V0701">
  <ApplicationArea><CreationDateTime>2024-05-02T05:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea>
    <Sync/>
    <OperationsSchedule>
      <ID>OS-1</ID>
      <OperationsType>Production</OperationsType>
      <OperationsRequest>
        <ID>WO-2002</ID>
        <Description>Bottles 1 l</Description>
        <OperationsType>Production</OperationsType>
        <Priority>2</Priority>
        <SegmentRequirement>
          <ID>0010</ID>
          <EarliestStartTime>2024-05-02T06:00:00Z</EarliestStartTime>
          <LatestEndTime>2024-05-02T10:00:00Z</LatestEndTime>
          <ProcessSegmentID>Mixing</ProcessSegmentID>
          <OperationsDefinitionID>BOTTLE-1L</OperationsDefinitionID>
          <OperationsSegmentID>Mix</OperationsSegmentID>
          <EquipmentRequirement><ID>ER-1</ID><EquipmentID>MIXER-3</EquipmentID></EquipmentRequirement>
          <MaterialRequirement>
            <ID>MR-1</ID>
            <MaterialDefinitionID>SYRUP</MaterialDefinitionID>
            <MaterialUse>Consumed</MaterialUse>
            <Quantity><QuantityString>120.25</QuantityString><UnitOfMeasure>LTR</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
        <SegmentRequirement>
          <ID>0020</ID>
          <Description>Fill</Description>
          <EarliestStartTime>2024-05-02T10:00:00Z</EarliestStartTime>
          <LatestEndTime>2024-05-02T16:30:00+02:00</LatestEndTime>
          <ProcessSegmentID>Filling</ProcessSegmentID>
          <OperationsDefinitionID>BOTTLE-1L</OperationsDefinitionID>
          <OperationsSegmentID>Fill</OperationsSegmentID>
          <EquipmentRequirement><ID>ER-2</ID><EquipmentID>FILLER-1</EquipmentID></EquipmentRequirement>
          <MaterialRequirement>
            <ID>MR-2</ID>
            <MaterialDefinitionID>BOTTLE-1L</MaterialDefinitionID>
            <MaterialLotID>LOT-77</MaterialLotID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>4800</QuantityString><DataType>integer</DataType><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
      </OperationsRequest>
    </OperationsSchedule>
  </DataArea>
</SyncOperationsSchedule>
`;

const REQUEST_0701 = '/SyncOperationsSchedule/DataArea/OperationsSchedule/OperationsRequest[1]';

test('a V0701 production OperationsSchedule with two operations', async () => {
  assert.deepEqual((await parseB2mml(V0701_SCHEDULE)).orders, [
    {
      externalId: 'WO-2002',
      material: 'BOTTLE-1L',
      quantity: '4800',
      uom: 'H87',
      operations: [
        { id: '0010', equipment: 'MIXER-3', description: null },
        { id: '0020', equipment: 'FILLER-1', description: 'Fill' },
      ],
      plannedStart: Date.UTC(2024, 4, 2, 6, 0, 0),
      plannedEnd: Date.UTC(2024, 4, 2, 14, 30, 0),
      priority: 2,
      lot: 'LOT-77',
      description: 'Bottles 1 l',
    },
  ]);
});

test('a V0600 production OperationsSchedule yields its order too', async () => {
  const doc = `<ProcessOperationsSchedule xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600">
  <ApplicationArea><CreationDateTime>2024-05-02T05:00:00Z</CreationDateTime></ApplicationArea>
  <DataArea>
    <Process/>
    <OperationsSchedule>
      <OperationsType>Production</OperationsType>
      <OperationsRequest>
        <ID>WO-3003</ID>
        <SegmentRequirement>
          <ID>0010</ID>
          <ProcessSegmentID>Packing</ProcessSegmentID>
          <EquipmentRequirement><EquipmentID>PACK-1</EquipmentID></EquipmentRequirement>
          <MaterialRequirement>
            <MaterialDefinitionID>BOX-6</MaterialDefinitionID>
            <MaterialUse>Produced</MaterialUse>
            <Quantity><QuantityString>300</QuantityString><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
          </MaterialRequirement>
        </SegmentRequirement>
      </OperationsRequest>
    </OperationsSchedule>
  </DataArea>
</ProcessOperationsSchedule>`;
  const { orders, format } = await parseB2mml(doc);
  assert.equal(format, 'b2mml-V0600');
  assert.deepEqual(
    orders.map((o) => [o.externalId, o.material, o.quantity, o.uom, o.operations]),
    [['WO-3003', 'BOX-6', '300', 'H87', [{ id: '0010', equipment: 'PACK-1', description: null }]]],
  );
});

test('a V0701 OperationsSchedule of another OperationsType is refused', async () => {
  const maintenance = V0701_SCHEDULE.replace(
    '<Description>Bottles 1 l</Description>\n        <OperationsType>Production',
    '<Description>Bottles 1 l</Description>\n        <OperationsType>Maintenance',
  );
  await rejectsWith(parseB2mml(maintenance), 'MW_ERR_B2MML_UNSUPPORTED', {
    path: `${REQUEST_0701}/OperationsType`,
    message: /"Maintenance" \(orders are imported from production operations only\)/,
  });
});

// ---------------------------------------------------------------------------------------------
// Refusals

test('a DTD is refused before any parser sees it: XXE and billion laughs', async () => {
  const xxe =
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>';
  await rejectsWith(parseB2mml(xxe), 'MW_ERR_B2MML_DTD', { message: /<!DOCTYPE>/ });
  const lol = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE lolz [',
    '  <!ENTITY lol "lol">',
    ...Array.from({ length: 9 }, (_, i) => {
      const prev = i === 0 ? 'lol' : `lol${i}`;
      return `  <!ENTITY lol${i + 1} "${`&${prev};`.repeat(10)}">`;
    }),
    ']>',
    '<lolz>&lol9;</lolz>',
  ].join('\n');
  await rejectsWith(validateB2mml(lol), 'MW_ERR_B2MML_DTD');
  // An entity declaration without a DOCTYPE (not well-formed anyway) is refused the same way.
  await rejectsWith(parseB2mml('<!ENTITY e "x"><x/>'), 'MW_ERR_B2MML_DTD', { message: /ENTITY/ });
});

test('malformed XML, unknown roots and oversized documents are refused', async () => {
  await rejectsWith(
    parseB2mml(
      '<ProcessProductionSchedule xmlns="http://www.mesa.org/xml/B2MML-V0600">\n<DataArea></ApplicationArea>',
    ),
    'MW_ERR_B2MML_MALFORMED',
    { message: /line 2/ },
  );
  // No entity but the predefined ones, no character XML does not allow.
  const withDescription = (text: string) =>
    V0600_SCHEDULE.replace('Tomato soup 400 g &amp; lid', text);
  await rejectsWith(parseB2mml(withDescription('soup &e; lid')), 'MW_ERR_B2MML_MALFORMED', {
    message: /line 14, col 27: "&" must start a character reference/,
  });
  await rejectsWith(parseB2mml(withDescription('soup \u0007')), 'MW_ERR_B2MML_MALFORMED', {
    message: /line 14, col 27: character U\+0007 is not allowed in XML/,
  });
  await rejectsWith(parseB2mml(withDescription('&#x1B;')), 'MW_ERR_B2MML_MALFORMED', {
    message: /&#x1B; refers to a character XML does not allow/,
  });
  await rejectsWith(
    parseB2mml(Buffer.from([0x3c, 0x78, 0x3e, 0xff, 0x3c, 0x2f, 0x78, 0x3e])),
    'MW_ERR_B2MML_MALFORMED',
    {
      message: /not valid utf-8/,
    },
  );
  await rejectsWith(
    parseB2mml('<Foo xmlns="http://www.mesa.org/xml/B2MML-V0600"/>'),
    'MW_ERR_B2MML_UNSUPPORTED',
    {
      path: '/Foo',
      message:
        /root element Foo in namespace "http:\/\/www.mesa.org\/xml\/B2MML-V0600" is not accepted; accepted: ProductionSchedule \(V0401, V0600\), OperationsSchedule \(V0600, V0701\)/,
    },
  );
  const otherNamespace = V0600_SCHEDULE.replace('http://www.mesa.org/xml/B2MML-V0600', 'urn:x');
  await rejectsWith(parseB2mml(otherNamespace), 'MW_ERR_B2MML_UNSUPPORTED', { message: /"urn:x"/ });
  await rejectsWith(parseB2mml(V0600_SCHEDULE, { maxBytes: 1000 }), 'MW_ERR_B2MML_TOO_LARGE', {
    message: /of \d+ bytes exceeds the limit of 1000 bytes/,
  });
  await rejectsWith(parseB2mml(`<x>${' '.repeat(10 * 1024 * 1024)}</x>`), 'MW_ERR_B2MML_TOO_LARGE');
});

const REQUEST_0600 = '/ProcessProductionSchedule/DataArea/ProductionSchedule/ProductionRequest[1]';
const PRODUCED_0600 = `${REQUEST_0600}/SegmentRequirement[2]/MaterialProducedRequirement[1]`;

test('schema errors quote libxml2 and name the element path', async () => {
  const badQuantity = V0600_SCHEDULE.replace(
    '<Quantity><QuantityString>2000</QuantityString><DataType>decimal</DataType><UnitOfMeasure>H87</UnitOfMeasure></Quantity>',
    '<Quantity><UnitOfMeasure>H87</UnitOfMeasure><QuantityString>2000</QuantityString></Quantity>',
  );
  await rejectsWith(parseB2mml(badQuantity), 'MW_ERR_B2MML_INVALID', {
    path: `${PRODUCED_0600}/Quantity/UnitOfMeasure`,
    message: new RegExp(
      `^${PRODUCED_0600.replace(/[[\]]/g, '\\$&')}/Quantity/UnitOfMeasure: Element '\\{http://www.mesa.org/xml/B2MML-V0600\\}UnitOfMeasure': This element is not expected\\. Expected is \\( \\{http://www.mesa.org/xml/B2MML-V0600\\}QuantityString \\)\\.$`,
    ),
  });
  const badPriority = V0600_SCHEDULE.replace('<Priority>5</Priority>', '<Priority>high</Priority>');
  await rejectsWith(parseB2mml(badPriority), 'MW_ERR_B2MML_INVALID', {
    path: `${REQUEST_0600}/Priority`,
    message:
      /Priority: Element '\{http:\/\/www.mesa.org\/xml\/B2MML-V0600\}Priority': 'high' is not a valid value of the local atomic type\.$/,
  });
  // On one line, each element still has its own path; every error is in the details.
  const oneLine = V0701_SCHEDULE.replace(/>\s+</g, '><')
    .replace('16:30:00+02:00', 'soon')
    .replace('<Priority>2</Priority>', '<Priority>-</Priority>');
  await assert.rejects(parseB2mml(oneLine), (err: unknown) => {
    assert.ok(isMwError(err) && err.code === 'MW_ERR_B2MML_INVALID');
    assert.equal(err.path, `${REQUEST_0701}/Priority`);
    assert.match(err.message, / \(and 1 more error\(s\)\)$/);
    assert.equal(err.details.length, 2);
    assert.match(
      err.details[1]!,
      new RegExp(
        `^${REQUEST_0701.replace(/[[\]]/g, '\\$&')}/SegmentRequirement\\[2\\]/LatestEndTime: Element '.*LatestEndTime': '2024-05-02Tsoon' is not a valid value of the atomic type 'xs:dateTime'\\.$`,
      ),
    );
    return true;
  });
});

test('an error far down a long document still has its exact path', async () => {
  // Over 65535 lines once each tag ends on a line of its own: more than a libxml2 DOM element
  // can hold as its line number (streaming validation reports real lines).
  const lots = Array.from(
    { length: 15_000 },
    (_, i) =>
      `<MaterialLot><ID>L${i}</ID><MaterialDefinitionID>M</MaterialDefinitionID><Quantity><QuantityString>${i}</QuantityString></Quantity></MaterialLot>`,
  );
  lots[14_998] = lots[14_998]!.replace('<QuantityString>14998</QuantityString>', '');
  const doc = `<SyncMaterialLot xmlns="http://www.mesa.org/xml/B2MML-V0600" releaseID="V0600"><ApplicationArea><CreationDateTime>2024-01-01T00:00:00Z</CreationDateTime></ApplicationArea><DataArea><Sync/>${lots.join('')}</DataArea></SyncMaterialLot>`;
  await rejectsWith(parseB2mml(doc), 'MW_ERR_B2MML_INVALID', {
    path: '/SyncMaterialLot/DataArea/MaterialLot[14999]/Quantity',
    message:
      /Missing child element\(s\)\. Expected is \( \{http:\/\/www.mesa.org\/xml\/B2MML-V0600\}QuantityString \)/,
  });
  const valid = await parseB2mml(doc.replace('<Quantity></Quantity>', ''));
  assert.equal(valid.lots.length, 15_000);
  assert.deepEqual(valid.lots[14_999], {
    id: 'L14999',
    material: 'M',
    quantity: '14999',
    uom: null,
    status: null,
  });
});

test('a valid document without what an order needs is refused naming the element', async () => {
  const noQuantity = V0600_SCHEDULE.replace(
    '<Quantity><QuantityString>2000</QuantityString><DataType>decimal</DataType><UnitOfMeasure>H87</UnitOfMeasure></Quantity>',
    '',
  );
  await rejectsWith(parseB2mml(noQuantity), 'MW_ERR_B2MML_INCOMPLETE', {
    path: PRODUCED_0600,
    message: /no Quantity/,
  });
  const noMaterial = V0600_SCHEDULE.replace(
    '<MaterialDefinitionID>SOUP-400</MaterialDefinitionID>\n            <MaterialLotID>',
    '<MaterialLotID>',
  );
  await rejectsWith(parseB2mml(noMaterial), 'MW_ERR_B2MML_INCOMPLETE', {
    path: PRODUCED_0600,
    message: /no MaterialDefinitionID/,
  });
  const notDecimal = V0600_SCHEDULE.replace('<QuantityString>2000<', '<QuantityString>2 thousand<');
  await rejectsWith(parseB2mml(notDecimal), 'MW_ERR_B2MML_INCOMPLETE', {
    path: `${PRODUCED_0600}/Quantity/QuantityString`,
    message: /"2 thousand" is not a decimal number/,
  });
  const noProduct = V0701_SCHEDULE.replace(
    '<MaterialUse>Produced</MaterialUse>',
    '<MaterialUse>Consumed</MaterialUse>',
  );
  await rejectsWith(parseB2mml(noProduct), 'MW_ERR_B2MML_INCOMPLETE', {
    path: REQUEST_0701,
    message: /no MaterialRequirement with MaterialUse "Produced"/,
  });
});

// ---------------------------------------------------------------------------------------------
// Rendering

const AT = Date.UTC(2024, 2, 1, 14, 0, 0);
const OP = {
  id: '0010',
  equipment: 'L1',
  workUnit: 'L1-FILLER',
  yield: '95',
  scrap: '5',
  uom: 'H87',
  startedAt: AT - 3_600_000,
  endedAt: AT,
  runTimeMs: 3_500_500,
};

const MESSAGES: readonly ErpMessage[] = [
  {
    id: 'm1',
    orderId: '4711/A&B',
    seq: 1,
    at: AT,
    type: 'order.started',
    data: { operation: '0010', equipment: 'L1' },
  },
  {
    id: 'm2',
    orderId: '4711',
    seq: 2,
    at: AT,
    type: 'operation.confirmed',
    data: { ...OP, final: false },
  },
  {
    id: 'm3',
    orderId: '4711',
    seq: 3,
    at: AT,
    type: 'goods.receipt',
    data: { material: 'SKU-1', quantity: '95', uom: 'H87', lot: 'LOT-1', equipment: 'L1' },
  },
  {
    id: 'm4',
    orderId: '4711',
    seq: 4,
    at: AT,
    type: 'goods.issue',
    data: { material: 'RAW-1', quantity: '12.5', uom: 'KGM', operation: '0010', equipment: 'L1' },
  },
  {
    id: 'm5',
    orderId: '4711',
    seq: 5,
    at: AT,
    type: 'order.completed',
    data: {
      material: 'SKU-1',
      plannedQuantity: '100',
      produced: '95',
      scrap: '5',
      uom: 'H87',
      lot: 'LOT-1',
      startedAt: AT - 3_600_000,
      endedAt: AT,
      operations: [OP, { ...OP, id: '0020', equipment: 'L2', workUnit: 'L2' }],
      consumed: [{ material: 'RAW-1', quantity: '12.5', uom: 'KGM' }],
    },
  },
  { id: 'm6', orderId: '4711', seq: 6, at: AT + 1000, type: 'order.closed', data: {} },
  {
    id: 'm7',
    orderId: '4711',
    seq: 7,
    at: AT,
    type: 'order.cancelled',
    data: { reason: 'no <material> & no time' },
  },
];

interface ReadBack {
  readonly root: Element;
  readonly responses: Element[];
}

async function renderAndValidate(messages: readonly ErpMessage[], version: B2mmlVersion) {
  const rendered = renderB2mml(messages, version);
  assert.equal(rendered.contentType, 'application/xml');
  const { message } = await validateB2mml(rendered.body);
  assert.equal(message.version, version);
  const source = readXml(rendered.body);
  const root = parseTree(source.text, message.root);
  const noun = root.child('DataArea')!.child(message.noun)!;
  const responses = noun.children(
    version === 'V0701' ? 'OperationsResponse' : 'ProductionResponse',
  );
  return { rendered, readBack: { root, responses } satisfies ReadBack };
}

/** Quantities of a MaterialActual: [value, uom, key]. */
const quantities = (actual: Element) =>
  actual
    .children('Quantity')
    .map((q) => [q.childText('QuantityString'), q.childText('UnitOfMeasure'), q.childText('Key')]);

function checkResponse(version: B2mmlVersion, m: ErpMessage, r: Element): void {
  const v7 = version === 'V0701';
  assert.equal(r.childText('ID'), m.id);
  assert.equal(r.childText(v7 ? 'OperationsRequestID' : 'ProductionRequestID'), m.orderId);
  if (v7) assert.equal(r.childText('OperationsType'), 'Production');
  const segments = r.children('SegmentResponse');
  const [first] = segments;
  assert.ok(first !== undefined);
  const materials = first.children('MaterialActual');
  switch (m.type) {
    case 'order.started':
      assert.equal(r.childText('ResponseState'), 'Running');
      assert.equal(first.childText('ID'), '0010');
      assert.equal(first.child('EquipmentActual')?.childText('EquipmentID'), 'L1');
      break;
    case 'operation.confirmed':
      assert.equal(first.childText('SegmentState'), v7 ? 'Held' : 'Holding');
      assert.deepEqual(quantities(materials[0]!), [
        ['95', 'H87', 'Good'],
        ['5', 'H87', 'Scrap'],
      ]);
      assert.deepEqual(
        first.children('EquipmentActual').map((e) => e.childText('EquipmentID')),
        ['L1', 'L1-FILLER'],
      );
      assert.deepEqual(quantities(first.child('EquipmentActual')!), [['3500.5', 'SEC', 'RunTime']]);
      break;
    case 'goods.receipt':
      assert.equal(first.childText('ID'), '4711');
      assert.equal(materials[0]?.childText('MaterialUse'), 'Produced');
      assert.equal(materials[0]?.childText('MaterialLotID'), 'LOT-1');
      assert.equal(materials[0]?.childText('MaterialDefinitionID'), 'SKU-1');
      assert.deepEqual(quantities(materials[0]!), [['95', 'H87', null]]);
      break;
    case 'goods.issue':
      assert.equal(first.childText('ID'), '0010');
      assert.equal(materials[0]?.childText('MaterialUse'), 'Consumed');
      assert.deepEqual(quantities(materials[0]!), [['12.5', 'KGM', null]]);
      break;
    case 'order.completed':
      assert.equal(r.childText('ResponseState'), 'Completed');
      assert.deepEqual(
        segments.map((s) => s.childText('ID')),
        ['4711', '0010', '0020'],
      );
      assert.deepEqual(
        materials.map((a) => [
          a.childText('MaterialUse'),
          a.childText('MaterialDefinitionID'),
          a.childText('MaterialLotID'),
        ]),
        [
          ['Produced', 'SKU-1', 'LOT-1'],
          ['Consumed', 'RAW-1', null],
        ],
      );
      assert.deepEqual(quantities(materials[0]!), [
        ['95', 'H87', 'Good'],
        ['5', 'H87', 'Scrap'],
      ]);
      assert.equal(segments[2]?.child('EquipmentActual')?.childText('EquipmentID'), 'L2');
      assert.equal(r.childText('StartTime'), new Date(AT - 3_600_000).toISOString());
      break;
    case 'order.closed':
      assert.equal(r.childText('ResponseState'), v7 ? 'Closed' : 'Completed');
      break;
    case 'order.cancelled':
      assert.equal(r.childText('ResponseState'), 'Aborted');
      assert.equal(first.childText('Description'), 'no <material> & no time');
      break;
  }
}

for (const version of VERSIONS) {
  test(`every message type renders valid B2MML ${version} and reads back`, async (t) => {
    const started = performance.now();
    await Promise.all(
      MESSAGES.map(async (m) => {
        const { rendered, readBack } = await renderAndValidate([m], version);
        assert.equal(
          rendered.fileName,
          `${m.orderId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${String(m.seq).padStart(6, '0')}-${m.type}-${m.id}.xml`,
        );
        assert.equal(readBack.root.child('ApplicationArea')?.childText('BODID'), m.id);
        assert.equal(readBack.responses.length, 1);
        checkResponse(version, m, readBack.responses[0]!);
      }),
    );
    t.diagnostic(
      `${MESSAGES.length} documents validated in ${Math.round(performance.now() - started)} ms`,
    );
  });
}

test('several messages render as one document, one response each in order', async () => {
  for (const version of VERSIONS) {
    const { rendered, readBack } = await renderAndValidate(MESSAGES, version);
    assert.equal(rendered.fileName, 'batch-m1.xml');
    const app = readBack.root.child('ApplicationArea')!;
    assert.equal(app.childText('BODID'), 'batch-m1');
    // The time of the latest message: a re-render is the same document.
    assert.equal(app.childText('CreationDateTime'), new Date(AT + 1000).toISOString());
    assert.deepEqual(
      readBack.responses.map((r) => r.childText('ID')),
      MESSAGES.map((m) => m.id),
    );
    MESSAGES.forEach((m, i) => checkResponse(version, m, readBack.responses[i]!));
    assert.deepEqual(renderB2mml(MESSAGES, version).body, rendered.body);
  }
  assert.equal(
    renderB2mml([MESSAGES[0]!], 'V0600').fileName,
    '4711_A_B-000001-order.started-m1.xml',
  );
});

test('validation time per document (diagnostic)', async (t) => {
  const docs: Record<B2mmlVersion, string> = {
    V0401: renderB2mml(MESSAGES, 'V0401').body.toString(),
    V0600: V0600_SCHEDULE,
    V0701: V0701_SCHEDULE,
  };
  for (const version of VERSIONS) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      await validateB2mml(docs[version]);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    t.diagnostic(
      `${version}: median ${Math.round(times[1]!)} ms (of ${times.map(Math.round).join(', ')})`,
    );
  }
});
