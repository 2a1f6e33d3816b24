/**
 * The Store contract on PostgreSQL (PG_URL of test/helpers/services.ts): each test on its own
 * fresh schema, dropped at its end. Skipped with a line naming PostgreSQL when it is
 * unreachable, failed instead under MILLWRIGHT_REQUIRE_SERVICES=1.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { isMwError } from '../../src/errors.ts';
import { openPostgresStore, openStore, redactUrl, type Store } from '../../src/store/index.ts';
import { needService, PG_URL } from '../helpers/services.ts';
import { auditTamperSuite } from './audit-tamper.ts';
import { CONTRACT_OPTIONS, storeContract, type NewStoreTarget } from './contract.ts';
import { genealogyContract } from './genealogy-contract.ts';
import { kpiContract } from './kpi-contract.ts';
import { batch } from './fixtures.ts';
import { outboxContract } from './outbox-contract.ts';

const auditSample = {
  at: 1_700_000_000_000,
  actor: 'system',
  action: 'create',
  entityType: 'work-unit',
  entityId: 'acme/plant1/line1/filler',
  changes: { name: { old: null, new: 'Filler' } },
  reason: null,
};

const RUN = `mw_test_${process.pid}_${randomBytes(4).toString('hex')}`;
let targets = 0;

/** Run SQL on PG_URL with `search_path` set to `schema`, on a connection of its own. */
async function onSchema(schema: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`SET search_path TO ${pg.escapeIdentifier(schema)}`);
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh schema per test, dropped with everything in it once the test's stores are closed. */
const newTarget: NewStoreTarget = async (t) => {
  const schema = `${RUN}_${++targets}`;
  const opened: Store[] = [];
  t.after(async () => {
    for (const s of opened) await s.close();
    await onSchema('public', `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  });
  return {
    async open(options) {
      const store = await openPostgresStore({
        ...CONTRACT_OPTIONS,
        ...options,
        url: PG_URL,
        schema,
        poolSize: 3,
      });
      opened.push(store);
      return store;
    },
    exec: (sql) => onSchema(schema, sql),
  };
};

test('Store contract on PostgreSQL', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  await storeContract(t, newTarget);
});

test('Outbox contract on PostgreSQL', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  await outboxContract(t, newTarget);
});

test('KPI bucket contract on PostgreSQL', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  await kpiContract(t, newTarget);
});

test('Genealogy contract on PostgreSQL', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  await genealogyContract(t, newTarget);
});

test('Audit trail tampering on PostgreSQL', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  await auditTamperSuite(
    t,
    newTarget,
    'DROP TRIGGER audit_log_append_only ON audit_log; DROP TRIGGER audit_log_append_only_truncate ON audit_log',
  );
});

// 21 CFR 11.10(e); TRUNCATE fires no row trigger, so PostgreSQL needs a statement trigger too.
test('PostgreSQL: TRUNCATE of the audit trail is refused', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  const target = await newTarget(t);
  const store = await target.open();
  await store.migrate();
  await store.commit({ samples: [], events: [], units: [], quarantine: [], audit: [auditSample] });
  await assert.rejects(target.exec('TRUNCATE audit_log'), /append-only: TRUNCATE/);
  assert.deepEqual(await store.verifyAudit(), { ok: true, count: 1 });
});

test('PostgreSQL: TRUNCATE of the genealogy links is refused', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  const target = await newTarget(t);
  const store = await target.open();
  await store.migrate();
  const link = { quantity: '1', uom: 'KGM', kind: 'consume' as const, at: 1, actor: 'system' };
  const none = { order: null, operation: null, equipment: null };
  await store.writeRecords([], [], [], [{ from: 'A', to: 'B', ...link, ...none }]);
  await assert.rejects(target.exec('TRUNCATE lot_links'), /append-only: TRUNCATE/);
  const trace = await store.traceLots({
    lots: ['A'],
    direction: 'forward',
    maxDepth: 1,
    maxLinks: 10,
  });
  assert.equal(trace.links.length, 1);
});

test('PostgreSQL: openStore opens the configured schema; location has no password', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  const schema = `${RUN}_open`;
  const store = await openStore(
    { type: 'postgres', url: PG_URL, schema, poolSize: 2 },
    { dataDir: '/nonexistent', ...CONTRACT_OPTIONS },
  );
  try {
    assert.equal(store.kind, 'postgres');
    assert.equal(store.location, redactUrl(PG_URL));
    const password = new URL(PG_URL).password;
    if (password !== '') assert.ok(!store.location.includes(password));
    assert.ok((await store.migrate()).every((m) => m.state === 'applied'));
  } finally {
    await store.close();
    await onSchema('public', `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  }
});

test('PostgreSQL: redactUrl removes the password', () => {
  const shown = redactUrl(
    'postgres://mes:s3cret@db.example:5432/mes?sslmode=require&password=s3cret',
  );
  assert.ok(!shown.includes('s3cret'), shown);
  assert.match(shown, /^postgres:\/\/mes@db\.example:5432\/mes\?sslmode=require$/);
});

test('PostgreSQL: an unreachable server is MW_ERR_STORE_UNAVAILABLE at open', async () => {
  // A port that was just free: bound on port 0, then closed, so nothing listens there.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const url = `postgres://mes:s3cret@127.0.0.1:${port}/mes`;
  await assert.rejects(
    openPostgresStore({ ...CONTRACT_OPTIONS, url, schema: 'millwright', poolSize: 1 }),
    (err: unknown) => {
      assert.ok(isMwError(err));
      assert.equal(err.code, 'MW_ERR_STORE_UNAVAILABLE');
      assert.ok(
        err.message.includes(`127.0.0.1:${port}`) && !err.message.includes('s3cret'),
        err.message,
      );
      return true;
    },
  );
});

test('PostgreSQL: the KPI views a BI tool reads give the buckets and the state intervals', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  const schema = `${RUN}_${++targets}`;
  const store = await openPostgresStore({ ...CONTRACT_OPTIONS, url: PG_URL, schema, poolSize: 2 });
  const client = new pg.Client({ connectionString: PG_URL });
  t.after(async () => {
    await store.close();
    await client.end();
    await onSchema('public', `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  });
  await store.migrate();
  const unit = 'acme/plant1/packaging/line1/filler';
  const t0 = Date.UTC(2026, 2, 2, 6, 0, 0);
  // Running 06:00–06:30 ends with this change, then down 06:30–06:32 (JAM).
  const changed = (
    ts: number,
    previousState: 'running' | 'down',
    ms: number,
    code: string | null,
  ) => ({
    type: 'state.changed' as const,
    equipmentId: unit,
    ts,
    data: {
      state: previousState === 'running' ? ('down' as const) : ('running' as const),
      reasonCode: null,
      previousState,
      previousReasonCode: code,
      previousDurationMs: ms,
      previousMicroStop: false,
    },
  });
  await store.commit(
    batch({
      events: [
        changed(t0 + 30 * 60_000, 'running', 30 * 60_000, null),
        changed(t0 + 32 * 60_000, 'down', 2 * 60_000, 'JAM'),
      ],
    }),
  );
  await client.connect();
  const hour = await client.query(
    `SELECT equipment_id, bucket_start, running_ms, down_ms, down_n FROM ${pg.escapeIdentifier(schema)}.kpi_hour_v`,
  );
  assert.deepEqual(
    hour.rows.map((r) => [
      r.equipment_id,
      (r.bucket_start as Date).toISOString(),
      Number(r.running_ms),
      Number(r.down_ms),
      Number(r.down_n),
    ]),
    [[unit, '2026-03-02T06:00:00.000Z', 30 * 60_000, 2 * 60_000, 1]],
  );
  const minutes = await client.query(
    `SELECT count(*) AS n, sum(running_ms) AS running FROM ${pg.escapeIdentifier(schema)}.kpi_minute_v`,
  );
  assert.deepEqual([Number(minutes.rows[0].n), Number(minutes.rows[0].running)], [32, 30 * 60_000]);
  const quarters = await client.query(
    `SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'HH24:MI') AS q, running_ms, down_ms FROM ${pg.escapeIdentifier(schema)}.kpi_quarter_v ORDER BY bucket_start`,
  );
  assert.deepEqual(
    quarters.rows.map((r) => [r.q, Number(r.running_ms), Number(r.down_ms)]),
    [
      ['06:00', 15 * 60_000, 0],
      ['06:15', 15 * 60_000, 0],
      ['06:30', 0, 2 * 60_000],
    ],
  );
  const intervals = await client.query(
    `SELECT state, reason_code, started_at, ended_at, duration_ms FROM ${pg.escapeIdentifier(schema)}.kpi_state_intervals_v ORDER BY ended_by_seq`,
  );
  assert.deepEqual(
    intervals.rows.map((r) => [
      r.state,
      r.reason_code,
      (r.started_at as Date).toISOString(),
      Number(r.duration_ms),
    ]),
    [
      ['running', null, '2026-03-02T06:00:00.000Z', 30 * 60_000],
      ['down', 'JAM', '2026-03-02T06:30:00.000Z', 2 * 60_000],
    ],
  );
});

test('PostgreSQL: a pool of one connection migrates and fills the KPI buckets from the journal', async (t) => {
  if (!(await needService(t, 'PostgreSQL', PG_URL))) return;
  const schema = `${RUN}_${++targets}`;
  const store = await openPostgresStore({ ...CONTRACT_OPTIONS, url: PG_URL, schema, poolSize: 1 });
  t.after(async () => {
    await store.close();
    await onSchema('public', `DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  });
  const status = await store.migrate();
  assert.ok(status.some((m) => m.name === '008_kpi_buckets' && m.state === 'applied'));
  assert.deepEqual(
    await store.sumKpi({ equipmentIds: ['x'], ranges: [{ from: 0, to: 60_000 }] }),
    [],
  );
});
