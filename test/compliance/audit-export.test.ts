/**
 * Copies of the audit trail (21 CFR 11.10(b)) from a real store: the CSV parses back to exactly
 * the stored values, the JSON copy re-verifies as a hash chain, each filter selects exactly its
 * rows (on SQLite, and on PostgreSQL when it is reachable) and paging returns every row once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { verifyAuditChain, type AuditEntry, type AuditRecord } from '../../src/compliance/audit.ts';
import {
  actorFilter,
  AUDIT_CSV_COLUMNS,
  auditExportFileName,
  auditExportLines,
  auditPages,
  auditRowJson,
  formatChanges,
  type AuditExportOptions,
  type AuditFilter,
  type AuditRowJson,
} from '../../src/compliance/audit-export.ts';
import { openPostgresStore, openSqliteStore, type Store } from '../../src/store/index.ts';
import { PG_URL, serviceSkip } from '../helpers/services.ts';
import { CONTRACT_OPTIONS } from '../store/contract.ts';

const T0 = 1_700_000_000_000;

/** Entries with what a CSV writer gets wrong: separators, quotes, line breaks, unicode. */
const TRICKY: AuditEntry[] = [
  {
    at: T0,
    actor: 'user:alice',
    action: 'create',
    entityType: 'user',
    entityId: 'bob',
    changes: { fullName: { old: null, new: 'Bob "the Builder", Jr.' } },
    reason: 'onboarding, see "HR-1"',
  },
  {
    at: T0 + 1000,
    actor: 'token:abc',
    action: 'update',
    entityType: 'config',
    entityId: 'line1, filler\nbay 2',
    changes: {
      note: { old: 'a, "b"\nc', new: 'Füller → ✓ 日本語 😀' },
      limits: { old: [1, 2], new: { max: 3.5, min: null } },
    },
    reason: 'line one\nline two\r\nline three',
  },
  {
    at: T0 + 2000,
    actor: 'connection:line1',
    action: 'delete',
    entityType: 'config',
    entityId: '=cmd|"/c calc"!A1',
    changes: { enabled: { old: true, new: null } },
    reason: null,
  },
  {
    at: T0 + 3000,
    actor: 'system',
    action: 'session-expired',
    entityType: 'session',
    entityId: 's1',
    changes: {},
    reason: '',
  },
  {
    at: T0 + 4000,
    actor: 'cli:root',
    action: 'update',
    entityType: 'user',
    entityId: 'alice',
    changes: { roles: { old: ['viewer'], new: ['viewer', 'quality'] } },
    reason: '  leading and trailing spaces  ',
  },
  {
    at: T0 + 5000,
    actor: 'user:alice',
    action: 'update',
    entityType: 'user',
    entityId: 'bob',
    changes: { 'odd; key': { old: 'x;y', new: '\t"tab"' } },
    reason: 'semicolons; and tabs\t\rand a bare CR',
  },
];

/** More rows for the filters: three entity types, four actors, one second apart. */
function filterEntries(): AuditEntry[] {
  const actors = ['user:alice', 'user:bob', 'token:abc', 'system', 'address:1.2.3.4'];
  return Array.from({ length: 40 }, (_, i) => ({
    at: T0 + 10_000 + i * 1000,
    actor: actors[i % actors.length]!,
    action: 'update',
    entityType: ['user', 'config', 'api-token'][i % 3]!,
    entityId: `e${i % 4}`,
    changes: { n: { old: i, new: i + 1 } },
    reason: i % 2 === 0 ? null : `r${i}`,
  }));
}

async function commitAudit(store: Store, audit: AuditEntry[]): Promise<void> {
  await store.commit({ samples: [], events: [], units: [], quarantine: [], audit });
}

async function text(store: Store, options: AuditExportOptions): Promise<string> {
  let out = '';
  for await (const line of auditExportLines((q) => store.listAudit(q), options)) out += line;
  return out;
}

async function exportJson(store: Store, filter: AuditFilter, pageRows = 7) {
  return JSON.parse(await text(store, { format: 'json', filter, pageRows })) as AuditRowJson[];
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'mw-audit-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

async function sqliteStore(t: TestContext): Promise<Store> {
  const store = await openSqliteStore({
    ...CONTRACT_OPTIONS,
    path: path.join(dir, `t${++files}.db`),
    synchronous: 'NORMAL',
  });
  t.after(() => store.close());
  await store.migrate();
  return store;
}

/**
 * Each filter, alone and combined, selects exactly the rows an independent check of the stored
 * trail selects, in seq order, through pages smaller than the result.
 */
async function filterSuite(store: Store): Promise<void> {
  await commitAudit(store, filterEntries());
  const all = await store.listAudit({ limit: 100_000 });
  assert.equal(all.length, 40);
  const atOf = (i: number) => all[i]!.at;
  const cases: { name: string; filter: AuditFilter; keep: (r: AuditRecord) => boolean }[] = [
    { name: 'no filter', filter: {}, keep: () => true },
    {
      name: 'entity',
      filter: { entityType: 'config' },
      keep: (r) => r.entityType === 'config',
    },
    { name: 'id', filter: { entityId: 'e1' }, keep: (r) => r.entityId === 'e1' },
    {
      name: 'entity and id',
      filter: { entityType: 'user', entityId: 'e2' },
      keep: (r) => r.entityType === 'user' && r.entityId === 'e2',
    },
    {
      name: 'bare user name',
      filter: { actor: actorFilter('alice') },
      keep: (r) => r.actor === 'user:alice',
    },
    {
      name: 'full user actor',
      filter: { actor: actorFilter('user:bob') },
      keep: (r) => r.actor === 'user:bob',
    },
    {
      name: 'token actor',
      filter: { actor: actorFilter('token:abc') },
      keep: (r) => r.actor === 'token:abc',
    },
    {
      name: 'address actor',
      filter: { actor: actorFilter('address:1.2.3.4') },
      keep: (r) => r.actor === 'address:1.2.3.4',
    },
    { name: 'system', filter: { actor: actorFilter('system') }, keep: (r) => r.actor === 'system' },
    {
      name: 'unknown user',
      filter: { actor: actorFilter('nobody') },
      keep: () => false,
    },
    // from is inclusive: the row at exactly `from` is in; to is exclusive: the row at `to` is out.
    { name: 'from (inclusive)', filter: { fromAt: atOf(10) }, keep: (r) => r.seq >= 11 },
    { name: 'to (exclusive)', filter: { toAt: atOf(10) }, keep: (r) => r.seq <= 10 },
    {
      name: 'from and to',
      filter: { fromAt: atOf(5), toAt: atOf(25) },
      keep: (r) => r.seq >= 6 && r.seq <= 25,
    },
    { name: 'from = to', filter: { fromAt: atOf(5), toAt: atOf(5) }, keep: () => false },
    {
      name: 'one millisecond window',
      filter: { fromAt: atOf(5), toAt: atOf(5) + 1 },
      keep: (r) => r.seq === 6,
    },
    {
      name: 'all together',
      filter: {
        entityType: 'user',
        actor: actorFilter('alice'),
        fromAt: atOf(3),
        toAt: atOf(36),
      },
      keep: (r) => r.entityType === 'user' && r.actor === 'user:alice' && r.seq >= 4 && r.seq < 37,
    },
  ];
  for (const c of cases) {
    const expected = all.filter(c.keep);
    const exported = await exportJson(store, c.filter, 3);
    assert.deepEqual(exported, expected.map(auditRowJson), c.name);
    // Paging: every matching row exactly once, in seq order, whatever the page size.
    for (const pageRows of [1, 2, 5, 1000]) {
      const seqs: number[] = [];
      for await (const page of auditPages((q) => store.listAudit(q), c.filter, pageRows)) {
        assert.ok(page.length <= pageRows);
        seqs.push(...page.map((r) => r.seq));
      }
      assert.deepEqual(
        seqs,
        expected.map((r) => r.seq),
        `${c.name}, pages of ${pageRows}`,
      );
    }
  }
  // The cases above are not vacuous: each non-empty one selects a proper subset, most of them.
  assert.ok(cases.filter((c) => all.filter(c.keep).length > 0).length >= 13);
}

describe('audit export', () => {
  it('actorFilter: a bare name is a user; a full actor and system are taken as they are', () => {
    assert.equal(actorFilter('alice'), 'user:alice');
    assert.equal(actorFilter('user:alice'), 'user:alice');
    assert.equal(actorFilter('token:abc'), 'token:abc');
    assert.equal(actorFilter('connection:line1'), 'connection:line1');
    assert.equal(actorFilter('cli:root'), 'cli:root');
    assert.equal(actorFilter('address:1.2.3.4'), 'address:1.2.3.4');
    assert.equal(actorFilter('address:::1'), 'address:::1');
    assert.equal(actorFilter('system'), 'system');
    assert.equal(actorFilter('user:system'), 'user:system');
  });

  it('names the file after the UTC time of the export', () => {
    assert.equal(
      auditExportFileName('csv', Date.UTC(2026, 10, 25, 8, 0, 5, 123)),
      'millwright-audit-20261125T080005Z.csv',
    );
    assert.equal(auditExportFileName('json', 0), 'millwright-audit-19700101T000000Z.json');
  });

  it('CSV parses back (RFC 4180) to exactly the stored values', async (t) => {
    const store = await sqliteStore(t);
    await commitAudit(store, TRICKY);
    const stored = await store.listAudit({ limit: 100_000 });
    assert.equal(stored.length, TRICKY.length);

    const csv = await text(store, { format: 'csv', filter: {}, pageRows: 2 });
    assert.ok(csv.startsWith(`${AUDIT_CSV_COLUMNS.join(',')}\r\n`), 'header row, CRLF');
    assert.ok(csv.endsWith('\r\n'));
    const records = parse(csv, { relax_quotes: false, relax_column_count: false }) as string[][];
    assert.deepEqual(records[0], [...AUDIT_CSV_COLUMNS]);
    // A bare \n or \r inside a field is quoted too, so a reader that ends a record at any line
    // break (as spreadsheets do) reads the same records.
    assert.deepEqual(
      parse(csv, { record_delimiter: ['\r\n', '\n', '\r'], relax_column_count: false }),
      records,
    );
    assert.ok(csv.includes(',"line1, filler\nbay 2",'), 'quoted bare LF');
    assert.ok(csv.includes(',"semicolons; and tabs\t\rand a bare CR",'), 'quoted bare CR');
    assert.equal(records.length, stored.length + 1);
    stored.forEach((r, i) => {
      assert.deepEqual(
        records[i + 1],
        [
          String(r.seq),
          new Date(r.at).toISOString(),
          r.actor,
          r.action,
          r.entityType,
          r.entityId,
          formatChanges(r.changes),
          r.reason ?? '',
          r.hash,
          r.prevHash,
        ],
        `row ${r.seq}`,
      );
    });
    // The stored values themselves, spelled out, for the trickiest rows.
    const row = (seq: number) => records[seq]!;
    assert.equal(row(1)[6], 'fullName: null → "Bob \\"the Builder\\", Jr."');
    assert.equal(row(1)[7], 'onboarding, see "HR-1"');
    assert.equal(row(2)[1], '2023-11-14T22:13:21.000Z');
    assert.equal(row(2)[5], 'line1, filler\nbay 2');
    assert.equal(
      row(2)[6],
      // Fields in the stored (canonical, sorted) order, the same on every backend.
      'limits: [1,2] → {"max":3.5,"min":null}; note: "a, \\"b\\"\\nc" → "Füller → ✓ 日本語 😀"',
    );
    assert.equal(row(2)[7], 'line one\nline two\r\nline three');
    assert.equal(row(3)[5], '=cmd|"/c calc"!A1');
    assert.equal(row(3)[6], 'enabled: true → null');
    assert.equal(row(4)[6], '');
    assert.equal(row(5)[6], 'roles: ["viewer"] → ["viewer","quality"]');
    assert.equal(row(5)[7], '  leading and trailing spaces  ');
    assert.equal(row(6)[6], 'odd; key: "x;y" → "\\t\\"tab\\""');
    assert.equal(row(6)[7], 'semicolons; and tabs\t\rand a bare CR');
  });

  it('JSON is the rows as stored: same values, and the copy re-verifies as a hash chain', async (t) => {
    const store = await sqliteStore(t);
    await commitAudit(store, TRICKY);
    await commitAudit(store, filterEntries());
    const stored = await store.listAudit({ limit: 100_000 });
    const exported = await exportJson(store, {}, 4);
    assert.deepEqual(exported, stored.map(auditRowJson));
    const back: AuditRecord[] = exported.map((r) => ({ ...r, at: Date.parse(r.at) }));
    assert.deepEqual(back, stored);
    async function* one() {
      yield back;
    }
    assert.deepEqual(await verifyAuditChain(one()), { ok: true, count: stored.length });
  });

  it('an empty trail (or no match) is a header alone, or an empty JSON array', async (t) => {
    const store = await sqliteStore(t);
    assert.equal(
      await text(store, { format: 'csv', filter: {} }),
      `${AUDIT_CSV_COLUMNS.join(',')}\r\n`,
    );
    assert.deepEqual(await exportJson(store, {}), []);
    await commitAudit(store, TRICKY);
    assert.deepEqual(await exportJson(store, { entityType: 'nothing' }), []);
  });

  it('reads the first page before the first line: a closed store fails the first next()', async (t) => {
    const store = await sqliteStore(t);
    const lines = auditExportLines((q) => store.listAudit(q), { format: 'csv', filter: {} });
    await store.close();
    await assert.rejects(lines.next());
  });

  it('progress counts every row once', async (t) => {
    const store = await sqliteStore(t);
    await commitAudit(store, filterEntries());
    const counts: number[] = [];
    await text(store, { format: 'csv', filter: {}, pageRows: 3, onRow: (n) => counts.push(n) });
    assert.deepEqual(
      counts,
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  it('filters select exactly their rows on SQLite', async (t) => {
    await filterSuite(await sqliteStore(t));
  });
});

const pgSkip = await serviceSkip('PostgreSQL', PG_URL);

describe('audit export on PostgreSQL', { skip: pgSkip }, () => {
  it('filters select exactly their rows on PostgreSQL', async (t) => {
    const schema = `mw_test_${process.pid}_${randomBytes(4).toString('hex')}_export`;
    const store = await openPostgresStore({
      ...CONTRACT_OPTIONS,
      url: PG_URL,
      schema,
      poolSize: 2,
    });
    t.after(async () => {
      await store.close();
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
      } finally {
        await client.end();
      }
    });
    await store.migrate();
    await filterSuite(store);
  });
});
