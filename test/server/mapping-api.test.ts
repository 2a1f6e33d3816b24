/**
 * Identity mapping over HTTP on a real hub (issue #5): import a CSV table, look codes up both
 * ways, replace it with changes (one audit row per PUT with old → new per entry), optimistic
 * concurrency (412 on a stale If-Match), permissions (config.read / config.write) and the
 * errors a bad file gets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  adminHeaders,
  call,
  createTestUser,
  login,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type Answer,
  type TestHub,
} from '../helpers/hub.ts';

/** A PUT with a raw body (CSV or YAML), answered like `call`. */
async function put(
  hub: TestHub,
  path: string,
  contentType: string,
  text: string,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await fetch(`${hub.url!}${path}`, {
    method: 'PUT',
    headers: { 'content-type': contentType, ...headers },
    body: text,
  });
  const body = await res.text();
  let parsed: unknown = body;
  try {
    parsed = JSON.parse(body);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, text: body, body: parsed };
}

const MATERIAL_CSV = [
  'ours,theirs,note',
  'MAT-1,X,',
  'MAT-2,100-200,"bottle, 0.5 l"',
  'MAT-3,100-300,',
].join('\r\n');

describe('mapping API', () => {
  let hub: TestHub;
  let admin: { authorization: string };
  let engineer: { authorization: string };
  let viewer: { authorization: string };

  before(async () => {
    hub = await startTestHub(testConfig(PLANT_YAML));
    admin = await adminHeaders(hub);
    await createTestUser(hub, 'erin', ['engineer']);
    engineer = await login(hub.url!, 'erin', 'plant floor pass phrase 42');
    await createTestUser(hub, 'victor', ['viewer']);
    viewer = await login(hub.url!, 'victor', 'plant floor pass phrase 42');
  });
  after(() => hub.dispose());

  const auditOf = async (id: string) =>
    (await call(hub, 'GET', `/api/v1/audit?entity=mapping-table&id=${id}`, { headers: admin })).body
      .items;

  it('imports a CSV table and looks codes up both ways', async () => {
    const res = await put(hub, '/api/v1/mappings/erp/material', 'text/csv', MATERIAL_CSV, {
      ...engineer,
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get('etag'), '"1"');
    assert.deepEqual(
      { ...res.body, updatedAt: undefined },
      {
        system: 'erp',
        kind: 'material',
        count: 3,
        version: 1,
        updatedAt: undefined,
        changes: { added: 3, removed: 0, changed: 0 },
      },
    );

    const theirs = await call(hub, 'GET', '/api/v1/mappings/erp/material/lookup?ours=MAT-2', {
      headers: engineer,
    });
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.body, {
      system: 'erp',
      kind: 'material',
      ours: 'MAT-2',
      theirs: '100-200',
      note: 'bottle, 0.5 l',
    });
    const ours = await call(hub, 'GET', '/api/v1/mappings/erp/material/lookup?theirs=X', {
      headers: engineer,
    });
    assert.equal(ours.body.ours, 'MAT-1');
    assert.equal(hub.mappings.toOurs('erp', 'material', '100-300'), 'MAT-3');

    const unknown = await call(hub, 'GET', '/api/v1/mappings/erp/material/lookup?theirs=MAT-77', {
      headers: engineer,
    });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'MW_ERR_MAPPING_UNKNOWN_CODE');
    assert.equal(
      unknown.body.error.message,
      'erp material code "MAT-77" has no mapping (table erp/material)',
    );

    const [row] = await auditOf('erp/material');
    assert.equal(row.action, 'create');
    assert.equal(row.actor, 'user:erin');
    assert.deepEqual(row.changes, {
      'entries.MAT-1': { old: null, new: 'X' },
      'entries.MAT-2': { old: null, new: '100-200' },
      'entries.MAT-3': { old: null, new: '100-300' },
      'notes.MAT-2': { old: null, new: 'bottle, 0.5 l' },
    });
  });

  it('exports the table as JSON, CSV and YAML, and lists the tables', async () => {
    const json = await call(hub, 'GET', '/api/v1/mappings/erp/material', { headers: engineer });
    assert.equal(json.status, 200);
    assert.equal(json.headers.get('etag'), '"1"');
    assert.deepEqual(json.body.entries, [
      { ours: 'MAT-1', theirs: 'X' },
      { ours: 'MAT-2', theirs: '100-200', note: 'bottle, 0.5 l' },
      { ours: 'MAT-3', theirs: '100-300' },
    ]);
    const csv = await call(hub, 'GET', '/api/v1/mappings/erp/material?format=csv', {
      headers: engineer,
    });
    assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
    assert.equal(csv.text, `${MATERIAL_CSV}\r\n`);
    const yaml = await call(hub, 'GET', '/api/v1/mappings/erp/material?format=yaml', {
      headers: engineer,
    });
    assert.match(yaml.headers.get('content-type') ?? '', /^application\/yaml/);
    assert.match(yaml.text, /^# Millwright mapping table erp\/material, version 1/);

    // The YAML export sent back changes nothing: no new version, no audit row.
    const again = await put(hub, '/api/v1/mappings/erp/material', 'application/yaml', yaml.text, {
      ...engineer,
      'if-match': '"1"',
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.version, 1);
    assert.deepEqual(again.body.changes, { added: 0, removed: 0, changed: 0 });
    assert.equal((await auditOf('erp/material')).length, 1);
    // So does the JSON answer, whose version stands for If-Match.
    const back = await call(hub, 'PUT', '/api/v1/mappings/erp/material', {
      headers: engineer,
      body: json.body,
    });
    assert.equal(back.status, 200, back.text);
    assert.equal(back.body.version, 1);
    assert.equal((await auditOf('erp/material')).length, 1);

    const list = await call(hub, 'GET', '/api/v1/mappings', { headers: engineer });
    assert.deepEqual(
      list.body.items.map((t: { system: string; kind: string; count: number }) => [
        t.system,
        t.kind,
        t.count,
      ]),
      [['erp', 'material', 3]],
    );
  });

  it('replaces a table: one audit row per PUT, with old → new of each entry changed', async () => {
    const res = await call(hub, 'PUT', '/api/v1/mappings/erp/material', {
      headers: { ...engineer, 'if-match': '1' },
      body: {
        reason: 'CR-42: new ERP numbers',
        entries: [
          { ours: 'MAT-1', theirs: 'Y' },
          { ours: 'MAT-2', theirs: '100-200', note: 'bottle, 0.5 l' },
          { ours: 'MAT-4', theirs: '100-400' },
        ],
      },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('etag'), '"2"');
    assert.deepEqual(res.body.changes, { added: 1, removed: 1, changed: 1 });
    const rows = await auditOf('erp/material');
    assert.equal(rows.length, 2);
    const last = rows[1];
    assert.equal(last.action, 'update');
    assert.equal(last.reason, 'CR-42: new ERP numbers');
    assert.deepEqual(last.changes, {
      'entries.MAT-1': { old: 'X', new: 'Y' },
      'entries.MAT-3': { old: '100-300', new: null },
      'entries.MAT-4': { old: null, new: '100-400' },
    });
    assert.equal(hub.mappings.toTheirs('erp', 'material', 'MAT-1'), 'Y');
    assert.throws(() => hub.mappings.toTheirs('erp', 'material', 'MAT-3'), {
      code: 'MW_ERR_MAPPING_UNKNOWN_CODE',
    });
  });

  it('answers 412 to a stale If-Match and changes nothing', async () => {
    const res = await put(hub, '/api/v1/mappings/erp/material', 'text/csv', MATERIAL_CSV, {
      ...engineer,
      'if-match': '"1"',
    });
    assert.equal(res.status, 412, res.text);
    assert.equal(res.body.error.code, 'MW_ERR_MAPPING_VERSION_MISMATCH');
    assert.match(res.body.error.message, /erp\/material is at version 2, not 1/);
    assert.equal((await auditOf('erp/material')).length, 2);
    assert.equal(hub.mappings.toTheirs('erp', 'material', 'MAT-1'), 'Y');

    const create = await put(hub, '/api/v1/mappings/erp/material', 'text/csv', MATERIAL_CSV, {
      ...engineer,
      'if-match': '0',
    });
    assert.equal(create.status, 412, 'If-Match: 0 means "only if the table does not exist"');
  });

  it('refuses writes without config.write, naming the permission', async () => {
    const res = await put(hub, '/api/v1/mappings/erp/uom', 'text/csv', 'ours,theirs\nKGM,KG\n', {
      ...viewer,
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'MW_ERR_AUTH_FORBIDDEN');
    assert.match(res.body.error.message, /config\.write/);
    const read = await call(hub, 'GET', '/api/v1/mappings', { headers: viewer });
    assert.equal(read.status, 403);
    assert.match(read.body.error.message, /config\.read/);
  });

  it('refuses a bad CSV with 400 naming the line and the rule, and keeps the table', async () => {
    const res = await put(
      hub,
      '/api/v1/mappings/erp/uom',
      'text/csv; charset=utf-8',
      '\uFEFFours,theirs,note\r\nH87,PC,\r\nKGM,KG,\r\nC62,PC,\r\n',
      { ...engineer },
    );
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.code, 'MW_ERR_MAPPING_INVALID');
    assert.equal(
      res.body.error.message,
      'mapping table erp/uom: line 4: duplicate theirs "PC" (also on line 2)',
    );
    const missing = await call(hub, 'GET', '/api/v1/mappings/erp/uom', { headers: engineer });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.message, 'mapping table erp/uom does not exist');

    const empty = await put(hub, '/api/v1/mappings/erp/uom', 'text/csv', '', { ...engineer });
    assert.equal(empty.status, 400);
    assert.match(empty.body.error.message, /line 1: the header "ours,theirs,note" is missing/);
    const notUtf8 = await fetch(`${hub.url!}/api/v1/mappings/erp/uom`, {
      method: 'PUT',
      headers: { ...engineer, 'content-type': 'text/csv' },
      body: Buffer.from('ours,theirs\nM\xb2,m2\n', 'latin1'),
    });
    assert.equal(notUtf8.status, 400);
    assert.match(await notUtf8.text(), /not valid UTF-8/);
  });

  it('checks that an equipment id exists in the hierarchy', async () => {
    const res = await put(
      hub,
      '/api/v1/mappings/erp/equipment',
      'application/yaml',
      'entries:\n  - { ours: acme/plant1/packaging/line1/filler, theirs: WC-100 }\n  - { ours: acme/plant9, theirs: WC-900 }\n',
      { ...engineer },
    );
    assert.equal(res.status, 400, res.text);
    assert.equal(
      res.body.error.message,
      'mapping table erp/equipment: line 3: ours "acme/plant9" is not an equipment id of the hierarchy (GET /api/v1/equipment)',
    );
  });

  it('validates the system and kind in the path', async () => {
    const res = await call(hub, 'GET', '/api/v1/mappings/ERP!/colour', { headers: engineer });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'MW_ERR_API_VALIDATION');
    assert.match(res.body.error.message, /^params\.system: a system id is/);
  });
});
