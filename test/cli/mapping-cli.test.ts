/**
 * `millwright mapping list|export|import` against a real hub: a CSV file imported and exported
 * back unchanged, YAML export and re-import, the hub's validation errors printed with their
 * lines, optimistic concurrency (--if-version, a version in the file) and a missing or unknown
 * token.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseCsv, parseYaml } from '../../src/core/mapping.ts';
import { runCli as run } from '../helpers/cli.ts';
import {
  adminHeaders,
  call,
  PLANT_YAML,
  startTestHub,
  tempDir,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

/** Entries as a CSV or YAML file reads them, an empty note as none (as the hub stores them). */
const entriesOf = (rows: readonly { ours: unknown; theirs: unknown; note?: unknown }[]) =>
  rows.map((r) => ({
    ours: r.ours,
    theirs: r.theirs,
    ...(r.note === undefined || r.note === '' ? {} : { note: r.note }),
  }));

// LF line ends, a quoted note with a comma and a doubled quote, a code that YAML would read as
// a number: the export must give back the same entries, in the hub's CRLF.
const MATERIAL_LINES = [
  'ours,theirs,note',
  'MAT-1,0012,',
  'MAT-2,100-200,"bottle, ""0.5 l"""',
  'MAT-3,100-300,',
];
const MATERIAL_ENTRIES = [
  { ours: 'MAT-1', theirs: '0012' },
  { ours: 'MAT-2', theirs: '100-200', note: 'bottle, "0.5 l"' },
  { ours: 'MAT-3', theirs: '100-300' },
];

describe('millwright mapping', () => {
  let hub: TestHub;
  let admin: { authorization: string };
  let token: string;
  let files: { dir: string; remove(): void };
  let env: Record<string, string>;

  const file = (name: string, text: string): string => {
    const full = path.join(files.dir, name);
    writeFileSync(full, text);
    return full;
  };
  const mapping = (...args: string[]) => run(['mapping', ...args, '--url', hub.url!], env);
  const stored = (table: string) =>
    call(hub, 'GET', `/api/v1/mappings/${table}`, { headers: admin });

  before(async () => {
    files = tempDir('mw-mapping-cli-');
    hub = await startTestHub(testConfig(PLANT_YAML));
    admin = await adminHeaders(hub);
    const created = await call(hub, 'POST', '/api/v1/tokens', {
      headers: admin,
      body: { name: 'mapping cli', permissions: ['config.read', 'config.write'] },
    });
    assert.equal(created.status, 201, created.text);
    token = created.body.token as string;
    env = { MILLWRIGHT_TOKEN: token };
  });
  after(async () => {
    await hub?.dispose();
    files?.remove();
  });

  it('imports a CSV file and exports it back as the same entries', async () => {
    const csv = file('material.csv', `${MATERIAL_LINES.join('\n')}\n`);
    const imported = await mapping('import', 'erp', 'material', csv, '--reason', 'CR-12');
    assert.equal(imported.status, 0, imported.stderr);
    assert.equal(
      imported.stdout,
      'erp/material: version 0 → 1, +3 −0 ~0 (created)\n',
      'what changed, from the PUT answer',
    );

    const exported = await mapping('export', 'erp', 'material');
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal(exported.stdout, `${MATERIAL_LINES.join('\r\n')}\r\n`, 'the hub writes CRLF');
    assert.deepEqual(entriesOf(parseCsv(exported.stdout).rows), MATERIAL_ENTRIES);
    assert.equal(exported.stderr, 'exported 3 entries of erp/material (version 1)\n');

    const out = path.join(files.dir, 'material-export.csv');
    const written = await mapping('export', 'erp', 'material', '--out', out);
    assert.equal(written.status, 0, written.stderr);
    assert.equal(written.stdout, `wrote 3 entries of erp/material (version 1) to ${out}\n`);
    assert.equal(readFileSync(out, 'utf8'), exported.stdout);
    assert.equal(existsSync(`${out}.partial`), false, 'the partial file was renamed');

    const audit = await call(hub, 'GET', '/api/v1/audit?entity=mapping-table&id=erp/material', {
      headers: admin,
    });
    assert.deepEqual(
      audit.body.items.map((a: { action: string; reason: string | null }) => [a.action, a.reason]),
      [['create', 'CR-12']],
      '--reason reaches the audit trail',
    );
  });

  it('exports as YAML (by --format or by the name of --out) and imports it back unchanged', async () => {
    const csv = file('uom.csv', 'ours,theirs\nKGM,KG\nH87,PC\n');
    assert.equal((await mapping('import', 'mes', 'uom', csv)).status, 0);

    const exported = await mapping('export', 'mes', 'uom', '--format', 'yaml');
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /^# Millwright mapping table mes\/uom, version 1 \(/);
    const doc = parseYaml(exported.stdout);
    assert.deepEqual(doc.issues, []);
    assert.deepEqual(
      { system: doc.system, kind: doc.kind, entries: entriesOf(doc.rows) },
      {
        system: 'mes',
        kind: 'uom',
        entries: [
          { ours: 'KGM', theirs: 'KG' },
          { ours: 'H87', theirs: 'PC' },
        ],
      },
    );

    const out = path.join(files.dir, 'uom.yml');
    const written = await mapping('export', 'mes', 'uom', '--out', out);
    assert.equal(written.status, 0, written.stderr);
    assert.equal(readFileSync(out, 'utf8'), exported.stdout, '.yml names YAML');

    const again = await mapping('import', 'mes', 'uom', out);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout, 'mes/uom: version 1 → 1, +0 −0 ~0 (no change)\n');
  });

  it('prints every problem of a bad file with its line and rule, and changes nothing', async () => {
    const csv = file('bad.csv', 'ours,theirs,note\nMAT-1,X,\nMAT-2, Y,\nMAT-3,X,\n');
    const r = await mapping('import', 'lims', 'material', csv);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.match(
      lines[0]!,
      /^error: PUT http:\/\/\S+\/api\/v1\/mappings\/lims\/material: 400 MW_ERR_MAPPING_INVALID mapping table lims\/material: line 3: theirs " Y" starts or ends with a space \(and 1 more problem\(s\), listed in details\)$/,
    );
    assert.deepEqual(lines.slice(1), [
      '  line 3: theirs " Y" starts or ends with a space',
      '  line 4: duplicate theirs "X" (also on line 2)',
    ]);
    assert.equal((await stored('lims/material')).status, 404, 'no table was created');
  });

  it('--if-version with a stale version is refused with the version conflict', async () => {
    const v1 = file('reason-v1.csv', 'ours,theirs\nJAM,J1\n');
    const v2 = file('reason-v2.csv', 'ours,theirs\nJAM,J2\nSTARVED,S1\n');
    assert.equal((await mapping('import', 'erp', 'reason', v1)).status, 0);
    const current = await mapping('import', 'erp', 'reason', v2, '--if-version', '1');
    assert.equal(current.status, 0, current.stderr);
    assert.equal(current.stdout, 'erp/reason: version 1 → 2, +1 −0 ~1\n');

    const stale = await mapping('import', 'erp', 'reason', v1, '--if-version', '1');
    assert.equal(stale.status, 1);
    assert.match(
      stale.stderr,
      /412 MW_ERR_MAPPING_VERSION_MISMATCH mapping table erp\/reason is at version 2, not 1 /,
    );
    const table = await stored('erp/reason');
    assert.equal(table.body.version, 2, 'nothing was written');
    assert.equal(table.body.count, 2);
  });

  it('a version named in a JSON file is checked like --if-version', async () => {
    const json = (version: number) =>
      file(
        `equipment-${version}.json`,
        JSON.stringify({
          version,
          entries: [{ ours: 'acme/plant1/packaging/line1/filler', theirs: 'WC-100' }],
        }),
      );
    const created = await mapping('import', 'erp', 'equipment', json(0));
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stdout, 'erp/equipment: version 0 → 1, +1 −0 ~0 (created)\n');
    const stale = await mapping('import', 'erp', 'equipment', json(0));
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /412 MW_ERR_MAPPING_VERSION_MISMATCH .* is at version 1, not 0 /);
  });

  it('lists the tables', async () => {
    const csv = file('list.csv', 'ours,theirs\nA,1\nB,2\n');
    assert.equal((await mapping('import', 'qms', 'reason', csv)).status, 0);
    const r = await mapping('list');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^SYSTEM +KIND +ENTRIES +VERSION +UPDATED$/m);
    assert.match(r.stdout, /^qms +reason +2 +1 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
    const tables = (await call(hub, 'GET', '/api/v1/mappings', { headers: admin })).body.items;
    assert.match(r.stdout, new RegExp(`^${tables.length} table\\(s\\)$`, 'm'));
  });

  it('takes the token from --token, and says clearly when there is none or it is refused', async () => {
    const none = await run(['mapping', 'list', '--url', hub.url!], { MILLWRIGHT_TOKEN: '' });
    assert.equal(none.status, 1);
    assert.match(none.stderr, /^error: set MILLWRIGHT_TOKEN to an API token .*config\.read/m);

    const given = await run(['mapping', 'list', '--url', hub.url!, '--token', token], {
      MILLWRIGHT_TOKEN: '',
    });
    assert.equal(given.status, 0, given.stderr);
    assert.match(given.stdout, /table\(s\)$/m);

    const unknown = await run(['mapping', 'export', 'erp', 'material', '--url', hub.url!], {
      MILLWRIGHT_TOKEN: 'mwt_nosuchtoken_secret',
    });
    assert.equal(unknown.status, 1);
    assert.match(
      unknown.stderr,
      /^error: GET \S+: 401 MW_ERR_AUTH_REQUIRED authentication required: unknown API token$/m,
    );
    assert.equal(unknown.stdout, '');
  });
});
