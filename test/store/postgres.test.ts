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
import { kpiContract } from './kpi-contract.ts';
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
