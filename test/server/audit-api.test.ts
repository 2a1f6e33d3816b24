/**
 * The audit trail over HTTP on a real hub: GET /api/v1/audit (filters, paging) and
 * GET /api/v1/audit/export (CSV and JSON copies, streamed), and who may read them (audit.read).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import type { AuditEntry, AuditRecord } from '../../src/compliance/audit.ts';
import { AUDIT_CSV_COLUMNS } from '../../src/compliance/audit-export.ts';
import {
  adminHeaders,
  createTestUser,
  login,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

const T0 = Date.UTC(2026, 10, 25, 8, 0, 0);

/** Rows of entity type `test-record` (the hub writes its own rows for users and sessions). */
const ENTRIES: AuditEntry[] = [
  {
    at: T0,
    actor: 'user:alice',
    action: 'create',
    entityType: 'test-record',
    entityId: 'r1',
    changes: { name: { old: null, new: 'Füller, "A"' } },
    reason: 'line one\nline two',
  },
  {
    at: T0 + 1000,
    actor: 'token:abc',
    action: 'update',
    entityType: 'test-record',
    entityId: 'r2',
    changes: { limit: { old: 1, new: 2.5 } },
    reason: null,
  },
  {
    at: T0 + 2000,
    actor: 'user:alice',
    action: 'update',
    entityType: 'test-record',
    entityId: 'r1',
    changes: { name: { old: 'Füller, "A"', new: 'Filler 日本' } },
    reason: 'rename; CR-7',
  },
  {
    at: T0 + 3000,
    actor: 'connection:line1',
    action: 'delete',
    entityType: 'test-record',
    entityId: 'r2',
    changes: { limit: { old: 2.5, new: null } },
    reason: 'retired',
  },
  {
    at: T0 + 4000,
    actor: 'cli:root',
    action: 'update',
    entityType: 'test-record',
    entityId: 'r3',
    changes: {},
    reason: '',
  },
];

/** The API's view of a stored row, spelled out independently of the code under test. */
function view(r: AuditRecord) {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    entityType: r.entityType,
    entityId: r.entityId,
    changes: r.changes,
    reason: r.reason,
    hash: r.hash,
    prevHash: r.prevHash,
  };
}

interface Page {
  items: ReturnType<typeof view>[];
  nextCursor: string | null;
}

describe('audit API', () => {
  let hub: TestHub;
  let admin: { authorization: string };
  let ours: AuditRecord[];

  const get = (path: string, headers: Record<string, string> = admin) =>
    fetch(`${hub.url}${path}`, { headers });

  async function getJson<T>(path: string): Promise<T> {
    const res = await get(path);
    assert.equal(res.status, 200, `${path}: ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
  }

  /** Every item of a query, following nextCursor; checks no page is larger than `limit`. */
  async function allPages(query: string, limit: number): Promise<Page['items']> {
    const items: Page['items'] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: Page = await getJson<Page>(
        `/api/v1/audit?${query}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      assert.ok(page.items.length <= limit);
      items.push(...page.items);
      cursor = page.nextCursor;
      if (cursor === null) return items;
    }
    throw new Error('more than 100 pages');
  }

  before(async () => {
    hub = await startTestHub(testConfig(PLANT_YAML));
    admin = await adminHeaders(hub);
    await hub.store.commit({ samples: [], events: [], units: [], quarantine: [], audit: ENTRIES });
    ours = await hub.store.listAudit({ entityType: 'test-record', limit: 1000 });
    assert.equal(ours.length, ENTRIES.length);
  });
  after(() => hub.dispose());

  it('pages through the rows oldest first, each once, with a cursor', async () => {
    const first = await getJson<Page>('/api/v1/audit?entity=test-record&limit=2');
    assert.equal(first.items.length, 2);
    assert.equal(typeof first.nextCursor, 'string');
    for (const limit of [1, 2, 3, 5, 100]) {
      assert.deepEqual(
        await allPages('entity=test-record', limit),
        ours.map(view),
        `limit ${limit}`,
      );
    }
    // No filter: the whole trail, hub rows (admin created, logged in) and ours, seq 1, 2, 3 …
    const all = await allPages('', 3);
    assert.deepEqual(
      all.map((r) => r.seq),
      Array.from({ length: all.length }, (_, i) => i + 1),
    );
    assert.ok(all.length > ours.length);
  });

  it('filters by entity id, user (bare name or full actor) and time', async () => {
    const cases: [string, (r: AuditRecord) => boolean][] = [
      ['id=r1', (r) => r.entityId === 'r1'],
      ['user=alice', (r) => r.actor === 'user:alice'],
      ['user=user:alice', (r) => r.actor === 'user:alice'],
      ['user=token:abc', (r) => r.actor === 'token:abc'],
      ['user=connection:line1', (r) => r.actor === 'connection:line1'],
      ['user=cli:root', (r) => r.actor === 'cli:root'],
      ['user=bob', () => false],
      // from inclusive, to exclusive; ISO 8601 or epoch ms.
      [`from=${new Date(T0 + 1000).toISOString()}`, (r) => r.at >= T0 + 1000],
      [`to=${new Date(T0 + 3000).toISOString()}`, (r) => r.at < T0 + 3000],
      [`from=${T0 + 1000}&to=${T0 + 3000}`, (r) => r.at >= T0 + 1000 && r.at < T0 + 3000],
      [`from=${T0 + 2000}&to=${T0 + 2001}`, (r) => r.at === T0 + 2000],
      ['user=alice&id=r1&from=2026-11-25T08:00:01Z', (r) => r.seq === ours[2]!.seq],
    ];
    for (const [query, keep] of cases) {
      const expected = ours.filter(keep).map(view);
      assert.deepEqual(await allPages(`entity=test-record&${query}`, 2), expected, query);
      const exported = await getJson<unknown[]>(
        `/api/v1/audit/export?format=json&entity=test-record&${query}`,
      );
      assert.deepEqual(exported, expected, `export ${query}`);
    }
    // Without the entity filter, a bare user name finds the rows the hub wrote for that user.
    const adminRows = await hub.store.listAudit({ actor: 'user:admin', limit: 1000 });
    assert.ok(adminRows.length > 0, 'the admin login is audited');
    assert.deepEqual(await allPages('user=admin', 2), adminRows.map(view));
  });

  it('rejects bad parameters with MW_ERR_API_VALIDATION naming the field', async () => {
    const cases: [string, string][] = [
      ['/api/v1/audit?limit=0', 'query.limit'],
      ['/api/v1/audit?limit=1001', 'query.limit'],
      ['/api/v1/audit?from=yesterday', 'query.from'],
      ['/api/v1/audit?to=2026-13-45', 'query.to'],
      ['/api/v1/audit?cursor=!!', 'query.cursor'],
      ['/api/v1/audit?cursor=bm90LWEtbnVtYmVy', 'query.cursor'],
      ['/api/v1/audit?user=', 'query.user'],
      ['/api/v1/audit?actor=alice', 'query.actor'],
      ['/api/v1/audit/export?format=xml', 'query.format'],
      ['/api/v1/audit/export?cursor=MQ', 'query.cursor'],
    ];
    for (const [path, field] of cases) {
      const res = await get(path);
      assert.equal(res.status, 400, path);
      const body = (await res.json()) as { error: { code: string; path: string } };
      assert.equal(body.error.code, 'MW_ERR_API_VALIDATION', path);
      assert.equal(body.error.path, field, path);
    }
  });

  it('exports CSV as an attachment that parses back to the stored rows', async () => {
    const before = Date.now();
    const res = await get('/api/v1/audit/export?format=csv&entity=test-record');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv; charset=utf-8/);
    const disposition = res.headers.get('content-disposition') ?? '';
    const m = /^attachment; filename="millwright-audit-(\d{8}T\d{6}Z)\.csv"$/.exec(disposition);
    assert.ok(m, disposition);
    const stamp = m[1]!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z');
    assert.ok(Math.abs(Date.parse(stamp) - before) < 60_000, `UTC time of the export: ${stamp}`);
    const records = parse(await res.text()) as string[][];
    assert.deepEqual(records[0], [...AUDIT_CSV_COLUMNS]);
    assert.deepEqual(
      records.slice(1),
      ours.map((r) => [
        String(r.seq),
        new Date(r.at).toISOString(),
        r.actor,
        r.action,
        r.entityType,
        r.entityId,
        Object.entries(r.changes)
          .map(([f, c]) => `${f}: ${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`)
          .join('; '),
        r.reason ?? '',
        r.hash,
        r.prevHash,
      ]),
    );
    assert.equal(records[1]![6], 'name: null → "Füller, \\"A\\""');
    assert.equal(records[1]![7], 'line one\nline two');
  });

  it('exports JSON: the same objects as the query, for the whole trail', async () => {
    const res = await get('/api/v1/audit/export?format=json');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.match(
      res.headers.get('content-disposition') ?? '',
      /^attachment; filename="millwright-audit-\d{8}T\d{6}Z\.json"$/,
    );
    const exported = (await res.json()) as Page['items'];
    const stored = await hub.store.listAudit({ limit: exported.length });
    assert.deepEqual(exported, stored.map(view));
    assert.deepEqual(
      exported.map((r) => r.seq),
      Array.from({ length: exported.length }, (_, i) => i + 1),
    );
    assert.ok(exported.length >= ours.length + 1);
  });

  it('streams a trail longer than one page, every row once and in order', async () => {
    const bulk = Array.from({ length: 2500 }, (_, i) => ({
      ...ENTRIES[1]!,
      entityType: 'bulk',
      entityId: `b${i}`,
      at: T0 + 10_000 + i,
    }));
    await hub.store.commit({ samples: [], events: [], units: [], quarantine: [], audit: bulk });
    const res = await get('/api/v1/audit/export?format=csv&entity=bulk');
    assert.equal(res.status, 200);
    const records = parse(await res.text()) as string[][];
    assert.equal(records.length, 2501);
    assert.deepEqual(
      records.slice(1).map((r) => r[5]),
      bulk.map((b) => b.entityId),
    );
    const seqs = records.slice(1).map((r) => Number(r[0]));
    assert.ok(seqs.every((s, i) => i === 0 || s === seqs[i - 1]! + 1));
  });

  it('needs audit.read: a viewer gets 403, no credentials 401', async () => {
    const password = await createTestUser(hub, 'vera', ['viewer'], 'quiet meadow lantern 93');
    const vera = await login(hub.url!, 'vera', password);
    for (const path of ['/api/v1/audit', '/api/v1/audit/export?format=csv']) {
      const forbidden = await get(path, vera);
      assert.equal(forbidden.status, 403, path);
      const body = (await forbidden.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'MW_ERR_AUTH_FORBIDDEN');
      assert.match(body.error.message, /audit\.read/);

      const anonymous = await get(path, {});
      assert.equal(anonymous.status, 401, path);
      const body401 = (await anonymous.json()) as { error: { code: string } };
      assert.equal(body401.error.code, 'MW_ERR_AUTH_REQUIRED');
    }
  });

  it('describes both paths in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${hub.url}/api/openapi.json`)).json()) as {
      paths: Record<string, { get: { parameters: { name: string }[] } }>;
    };
    assert.deepEqual(
      doc.paths['/api/v1/audit']?.get.parameters.map((p) => p.name),
      ['entity', 'id', 'user', 'from', 'to', 'limit', 'cursor'],
    );
    assert.deepEqual(
      doc.paths['/api/v1/audit/export']?.get.parameters.map((p) => p.name),
      ['format', 'entity', 'id', 'user', 'from', 'to'],
    );
  });
});
