/**
 * `millwright audit export` as a child process on a config whose store holds audit rows: the
 * file (or stdout) is the matching rows, the summary and progress go to stderr, bad options
 * exit 1 naming the option.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { AuditEntry, AuditRecord } from '../../src/compliance/audit.ts';
import { AUDIT_CSV_COLUMNS, auditRowJson } from '../../src/compliance/audit-export.ts';
import { parseConfig } from '../../src/config/load.ts';
import { openConfiguredStore } from '../../src/hub.ts';
import type { Store } from '../../src/store/types.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';

const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', path.resolve('src/cli/bin.ts'), ...args], {
    encoding: 'utf8',
  });

const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);
const YAML = `${PLANT_YAML}\ndataDir: ./data\n`;

function entry(i: number): AuditEntry {
  return {
    at: T0 + i * 1000,
    actor: ['user:alice', 'token:abc', 'cli:root'][i % 3]!,
    action: 'update',
    entityType: i % 2 === 0 ? 'config' : 'user',
    entityId: `e${i}`,
    changes: { note: { old: `v${i}`, new: `v${i + 1}, "quoted"\nnext line` } },
    reason: i % 2 === 0 ? null : `reason ${i}; ü`,
  };
}

async function openStore(dir: string): Promise<Store> {
  const { store } = await openConfiguredStore({ config: parseConfig(YAML), baseDir: dir });
  await store.migrate();
  return store;
}

describe('millwright audit export', () => {
  const tmp = tempDir('mw-audit-export-cli-');
  const config = path.join(tmp.dir, 'millwright.yaml');
  let stored: AuditRecord[];

  before(async () => {
    writeFileSync(config, YAML);
    const store = await openStore(tmp.dir);
    try {
      await store.commit({
        samples: [],
        events: [],
        units: [],
        quarantine: [],
        audit: Array.from({ length: 12 }, (_, i) => entry(i)),
      });
      stored = await store.listAudit({ limit: 1000 });
    } finally {
      await store.close();
    }
  });
  after(() => tmp.remove());

  it('writes the matching rows as CSV to --out, and a summary to stderr', () => {
    const out = path.join(tmp.dir, 'alice-config.csv');
    const r = cli('audit', 'export', '-c', config, '--out', out, '--user', 'alice');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
    const expected = stored.filter((s) => s.actor === 'user:alice');
    assert.equal(expected.length, 4);
    assert.equal(r.stderr, `exported 4 audit row(s) to ${out}\n`);
    assert.ok(!existsSync(`${out}.partial`));
    const records = parse(readFileSync(out, 'utf8')) as string[][];
    assert.deepEqual(records[0], [...AUDIT_CSV_COLUMNS]);
    assert.deepEqual(
      records.slice(1).map((row) => [row[0], row[1], row[2], row[5], row[6], row[7]]),
      expected.map((s) => [
        String(s.seq),
        new Date(s.at).toISOString(),
        'user:alice',
        s.entityId,
        `note: ${JSON.stringify(s.changes.note!.old)} → ${JSON.stringify(s.changes.note!.new)}`,
        s.reason ?? '',
      ]),
    );
  });

  it('writes JSON to stdout, with entity, full actor and a from/to window', () => {
    // Boundaries: from is e4's time (inclusive), to is e10's time (exclusive).
    const from = new Date(T0 + 4000).toISOString();
    const r = cli(
      'audit',
      'export',
      '-c',
      config,
      '--format',
      'json',
      '--entity',
      'config',
      '--user',
      'token:abc',
      '--from',
      from,
      '--to',
      String(T0 + 10_000),
    );
    assert.equal(r.status, 0, r.stderr);
    const expected = stored.filter(
      (s) =>
        s.entityType === 'config' &&
        s.actor === 'token:abc' &&
        s.at >= T0 + 4000 &&
        s.at < T0 + 10_000,
    );
    assert.deepEqual(
      expected.map((s) => s.entityId),
      ['e4'],
    );
    assert.deepEqual(JSON.parse(r.stdout), expected.map(auditRowJson));
    assert.equal(r.stderr, 'exported 1 audit row(s) to standard output\n');
  });

  it('exports the whole trail with no filter, with --id selecting one entity', () => {
    const all = cli('audit', 'export', '-c', config, '--format', 'json');
    assert.equal(all.status, 0, all.stderr);
    assert.deepEqual(JSON.parse(all.stdout), stored.map(auditRowJson));
    const one = cli('audit', 'export', '-c', config, '--id', 'e5');
    assert.equal(one.status, 0, one.stderr);
    const records = parse(one.stdout) as string[][];
    assert.deepEqual(
      records.slice(1).map((row) => row[5]),
      ['e5'],
    );
  });

  it('rejects a bad time or format, naming the option', () => {
    const time = cli('audit', 'export', '-c', config, '--from', 'yesterday');
    assert.equal(time.status, 1);
    assert.match(time.stderr, /--from.*yesterday.*ISO 8601/s);
    const format = cli('audit', 'export', '-c', config, '--format', 'xml');
    assert.equal(format.status, 1);
    assert.match(format.stderr, /--format.*xml.*csv, json/s);
  });

  it('reports progress every 100,000 rows of a long export', { timeout: 120_000 }, async () => {
    const big = tempDir('mw-audit-export-big-');
    try {
      const file = path.join(big.dir, 'millwright.yaml');
      writeFileSync(file, YAML);
      const store = await openStore(big.dir);
      try {
        for (let i = 0; i < 100_001; i += 10_000) {
          const n = Math.min(10_000, 100_001 - i);
          await store.commit({
            samples: [],
            events: [],
            units: [],
            quarantine: [],
            audit: Array.from({ length: n }, (_, k) => entry(i + k)),
          });
        }
      } finally {
        await store.close();
      }
      const out = path.join(big.dir, 'all.csv');
      const r = cli('audit', 'export', '-c', file, '-o', out);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(
        r.stderr,
        `… 100000 audit row(s) exported\nexported 100001 audit row(s) to ${out}\n`,
      );
      const lines = readFileSync(out, 'utf8').split('\r\n');
      assert.equal(lines.at(-1), '');
      assert.match(lines.at(-2)!, /^100001,/);
    } finally {
      big.remove();
    }
  });
});
