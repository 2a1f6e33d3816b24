/**
 * Electronic signatures over the HTTP API (21 CFR 11.50, 11.70, 11.200): signing re-enters user
 * name and password, only as oneself and never with an API token; the signature shows full name,
 * UTC time and meaning, is bound to the record's content, and lists as no longer valid once the
 * record changes. One hub for the file; each test uses users of its own.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { AuditRecord } from '../../src/compliance/audit.ts';
import { contentHash } from '../../src/compliance/signatures.ts';
import {
  adminHeaders,
  createTestUser,
  login,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
  call,
  type Answer,
} from '../helpers/hub.ts';

/** The audit rows written while `action` ran, and its result. */
async function newRows<T>(
  hub: TestHub,
  action: () => Promise<T>,
): Promise<{ result: T; rows: AuditRecord[] }> {
  const before = await hub.store.countAudit();
  const result = await action();
  return { result, rows: await hub.store.listAudit({ afterSeq: before, limit: 1000 }) };
}

/** Accepted by the password policy for every user name here. */
const PASSWORD = 'plant floor pass phrase 42';

let hub: TestHub;
let admin: { authorization: string };

before(async () => {
  hub = await startTestHub(
    testConfig(`${PLANT_YAML}\nsecurity: { loginRateLimit: 1000, lockout: { attempts: 5 } }\n`),
  );
  admin = await adminHeaders(hub);
});

after(async () => {
  await hub?.dispose();
});

test('a quality user signs a record: full name, meaning, UTC time; bound to its content', async () => {
  await createTestUser(hub, 'quinn', ['quality'], PASSWORD);
  // The records to sign: users that never log in, so nothing but the admin's PATCH changes them.
  await createTestUser(hub, 'sam', ['viewer'], PASSWORD);
  await createTestUser(hub, 'ursula', ['viewer'], PASSWORD);
  const quinn = await login(hub.url!, 'quinn', PASSWORD);

  const { result: signed, rows } = await newRows(hub, () =>
    call(hub, 'POST', '/api/v1/signatures', {
      headers: quinn,
      body: {
        entityType: 'user',
        entityId: 'sam',
        meaning: 'reviewed',
        username: 'quinn',
        password: PASSWORD,
        reason: 'access review Q3',
      },
    }),
  );
  assert.equal(signed.status, 201, signed.text);
  const s = signed.body;
  assert.equal(s.signer, 'quinn');
  assert.equal(s.fullName, 'Test quinn');
  assert.equal(s.meaning, 'reviewed');
  assert.match(s.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(s.at) - Date.now()) < 60_000, s.at);
  assert.equal(s.valid, true);
  assert.equal(s.invalidReason, null);
  assert.equal(s.reason, 'access review Q3');
  assert.ok(!signed.text.includes(PASSWORD), 'the password is echoed');

  const sam = (await hub.store.getRecord('user', 'sam'))!;
  assert.equal(s.contentHash, contentHash(sam));
  assert.equal(s.recordVersion, sam.version);

  // Exactly one audit row: the signature, on the signed record, by the signer.
  assert.equal(rows.length, 1, JSON.stringify(rows));
  const row = rows[0]!;
  assert.deepEqual(
    [row.action, row.actor, row.entityType, row.entityId, row.reason],
    ['sign', 'user:quinn', 'user', 'sam', 'access review Q3'],
  );
  const mark = row.changes.signature as { old: unknown; new: Record<string, unknown> };
  assert.equal(mark.old, null);
  assert.equal(mark.new.contentHash, s.contentHash);
  assert.equal(mark.new.id, s.id);
  assert.equal(mark.new.meaning, 'reviewed');
  assert.ok(!JSON.stringify(row).includes(PASSWORD));

  const list = await call(hub, 'GET', '/api/v1/signatures?entityType=user&entityId=sam', {
    headers: quinn,
  });
  assert.equal(list.status, 200, list.text);
  assert.equal(list.body.items.length, 1);
  assert.equal(list.body.items[0].id, s.id);
  assert.equal(list.body.items[0].valid, true);

  // It cannot be moved: another record has another hash, and lists no signature.
  const ursula = (await hub.store.getRecord('user', 'ursula'))!;
  assert.notEqual(contentHash(ursula), s.contentHash);
  const none = await call(hub, 'GET', '/api/v1/signatures?entityType=user&entityId=ursula', {
    headers: quinn,
  });
  assert.deepEqual(none.body.items, []);

  // The record changes after signing: the signature lists as no longer valid.
  const patched = await call(hub, 'PATCH', '/api/v1/users/sam', {
    headers: admin,
    body: { fullName: 'Samuel Example' },
  });
  assert.equal(patched.status, 200, patched.text);
  const later = await call(hub, 'GET', '/api/v1/signatures?entityType=user&entityId=sam', {
    headers: quinn,
  });
  assert.equal(later.body.items.length, 1);
  assert.equal(later.body.items[0].valid, false);
  assert.match(later.body.items[0].invalidReason, /changed after signing/);
  assert.match(later.body.items[0].invalidReason, new RegExp(`version ${sam.version}\\b`));

  const verify = await call(hub, 'GET', '/api/v1/audit/verify', { headers: admin });
  assert.equal(verify.body.ok, true, verify.text);
});

test('a wrong password is 401 MW_ERR_AUTH_FAILED, audited as sign.failed, counts towards lockout', async () => {
  await createTestUser(hub, 'quentin', ['quality'], PASSWORD);
  await createTestUser(hub, 'saul', ['viewer'], PASSWORD);
  const session = await login(hub.url!, 'quentin', PASSWORD);

  const { result, rows } = await newRows(hub, () =>
    call(hub, 'POST', '/api/v1/signatures', {
      headers: session,
      body: {
        entityType: 'user',
        entityId: 'saul',
        meaning: 'approved',
        username: 'quentin',
        password: 'not my password at all',
      },
    }),
  );
  assert.equal(result.status, 401, result.text);
  assert.equal(result.body.error.code, 'MW_ERR_AUTH_FAILED');
  assert.deepEqual(
    rows.map((r) => [r.action, r.entityType, r.entityId]),
    [['sign.failed', 'user', 'quentin']],
  );
  assert.deepEqual(rows[0]!.changes.failedLogins, { old: 0, new: 1 });
  const user = await call(hub, 'GET', '/api/v1/users/quentin', { headers: admin });
  assert.equal(user.body.failedLogins, 1);

  const list = await call(hub, 'GET', '/api/v1/signatures?entityType=user&entityId=saul', {
    headers: admin,
  });
  assert.deepEqual(list.body.items, []);
});

test('one signs only as oneself (400), a viewer cannot sign (403), nor can an API token (403)', async () => {
  await createTestUser(hub, 'quincy', ['quality'], PASSWORD);
  await createTestUser(hub, 'tess', ['viewer'], PASSWORD);
  await createTestUser(hub, 'simon', ['viewer'], PASSWORD);
  const quincy = await login(hub.url!, 'quincy', PASSWORD);
  const record = { entityType: 'user', entityId: 'simon', meaning: 'approved' };
  const before = await hub.store.countAudit();

  // As another user, with that user's right password.
  const other = await call(hub, 'POST', '/api/v1/signatures', {
    headers: quincy,
    body: { ...record, username: 'tess', password: PASSWORD },
  });
  assert.equal(other.status, 400, other.text);
  assert.equal(other.body.error.code, 'MW_ERR_API_VALIDATION');
  assert.equal(other.body.error.path, 'username');

  const tess = await login(hub.url!, 'tess', PASSWORD);
  const viewer = await call(hub, 'POST', '/api/v1/signatures', {
    headers: tess,
    body: { ...record, username: 'tess', password: PASSWORD },
  });
  assert.equal(viewer.status, 403, viewer.text);
  assert.equal(viewer.body.error.code, 'MW_ERR_AUTH_FORBIDDEN');
  assert.match(viewer.body.error.message, /signatures\.sign/);

  const created = await call(hub, 'POST', '/api/v1/tokens', {
    headers: admin,
    body: { name: 'all powers', role: 'admin' },
  });
  assert.equal(created.status, 201, created.text);
  const token = await call(hub, 'POST', '/api/v1/signatures', {
    headers: { authorization: `Bearer ${created.body.token as string}` },
    body: { ...record, username: 'admin', password: 'correct horse battery staple' },
  });
  assert.equal(token.status, 403, token.text);
  assert.equal(token.body.error.code, 'MW_ERR_AUTH_FORBIDDEN');
  assert.match(token.body.error.message, /API tokens cannot sign/);

  const rows = await hub.store.listAudit({ afterSeq: before, limit: 1000 });
  assert.deepEqual(
    rows.filter((r) => r.action.startsWith('sign')),
    [],
    'a refused signature wrote a sign row',
  );
  const list = await call(hub, 'GET', '/api/v1/signatures?entityType=user&entityId=simon', {
    headers: admin,
  });
  assert.deepEqual(list.body.items, []);
});

// security.lockout.attempts counts *consecutive* failures (src/config/schema.ts). A successful
// login resets the count; a successful signature does not (checkCredentials in
// src/compliance/identity.ts), so failures separated by good signatures still lock the account.
test('a successful signature ends a run of failures, as a successful login does', async () => {
  await createTestUser(hub, 'quirin', ['quality'], PASSWORD);
  await createTestUser(hub, 'sven', ['viewer'], PASSWORD);
  const session = await login(hub.url!, 'quirin', PASSWORD);
  const sign = (password: string): Promise<Answer> =>
    call(hub, 'POST', '/api/v1/signatures', {
      headers: session,
      body: {
        entityType: 'user',
        entityId: 'sven',
        meaning: 'verified',
        username: 'quirin',
        password,
      },
    });
  assert.equal((await sign('not my password at all')).status, 401);
  const good = await sign(PASSWORD);
  assert.equal(good.status, 201, good.text);
  const user = await call(hub, 'GET', '/api/v1/users/quirin', { headers: admin });
  assert.equal(user.body.failedLogins, 0, 'the failure before a good signature still counts');
});
