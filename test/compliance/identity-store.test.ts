/**
 * The identity services directly (no HTTP) on PostgreSQL: lockout, token scope, signatures that
 * stop holding when their record changes, a racing double-create of one user name, and the
 * database itself refusing to delete users or rewrite the audit trail (21 CFR 11.10(e)).
 * A hub on a fresh schema of PG_URL (test/helpers/services.ts), dropped at the end; skipped
 * with a line naming PostgreSQL when it is unreachable (failed under
 * MILLWRIGHT_REQUIRE_SERVICES=1).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { localPrincipal } from '../../src/compliance/identity.ts';
import { authorize, type Principal } from '../../src/compliance/roles.ts';
import { isMwError } from '../../src/errors.ts';
import { createTestUser, PLANT_YAML, startTestHub, testConfig } from '../helpers/hub.ts';
import { PG_URL, serviceSkip } from '../helpers/services.ts';

const skip = await serviceSkip('PostgreSQL', PG_URL);

const SCHEMA = `mw_test_identity_${process.pid}_${randomBytes(4).toString('hex')}`;
/** Accepted by the password policy for every user name here. */
const PASSWORD = 'plant floor pass phrase 42';
const ADDRESS = '192.0.2.7';

/** Run SQL on PG_URL on a connection of its own. */
async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A rejection carrying this MwError code. */
const code =
  (expected: string) =>
  (err: unknown): boolean => {
    assert.ok(isMwError(err), String(err));
    assert.equal(err.code, expected, err.message);
    return true;
  };

test('IdentityService on PostgreSQL', { skip }, async (t) => {
  const store = { type: 'postgres', url: PG_URL, schema: SCHEMA, poolSize: 4 };
  const security = { loginRateLimit: 1000, lockout: { attempts: 3, duration: '15m' } };
  const hub = await startTestHub(
    testConfig(
      `${PLANT_YAML}\nstore: ${JSON.stringify(store)}\nsecurity: ${JSON.stringify(security)}\n`,
    ),
    { http: false },
  );
  const q = (name: string): string => `${pg.escapeIdentifier(SCHEMA)}.${name}`;
  try {
    assert.equal(hub.store.kind, 'postgres');
    const cli = localPrincipal();
    await createTestUser(hub, 'admin', ['admin'], PASSWORD);
    const adminSession = await hub.identity.login('admin', PASSWORD, ADDRESS);
    const admin: Principal = await hub.identity.authenticate(adminSession.token);
    const usableToken = (by: Principal, permissions: string[]) =>
      hub.identity.createToken(by, { name: 'a token', permissions });

    await t.test('the account locks after security.lockout.attempts wrong passwords', async () => {
      await createTestUser(hub, 'lara', ['operator'], PASSWORD);
      const wrong = 'not her password at all';
      await assert.rejects(hub.identity.login('lara', wrong, ADDRESS), code('MW_ERR_AUTH_FAILED'));
      await assert.rejects(hub.identity.login('lara', wrong, ADDRESS), code('MW_ERR_AUTH_FAILED'));
      await assert.rejects(hub.identity.login('lara', wrong, ADDRESS), code('MW_ERR_AUTH_LOCKED'));
      await assert.rejects(
        hub.identity.login('lara', PASSWORD, ADDRESS),
        code('MW_ERR_AUTH_LOCKED'),
      );
      const record = (await hub.store.getRecord('user', 'lara'))!;
      assert.equal(record.data.failedLogins, 3);
      assert.ok((record.data.lockedUntil as number) > Date.now());
      const failed = (
        await hub.store.listAudit({ entityType: 'user', entityId: 'lara', limit: 100 })
      ).filter((r) => r.action === 'login.failed');
      assert.deepEqual(
        failed.map((r) => r.changes.failedLogins ?? null),
        [{ old: 0, new: 1 }, { old: 1, new: 2 }, { old: 2, new: 3 }, null],
      );

      await hub.identity.unlock(admin, 'lara', 'help desk call');
      const session = await hub.identity.login('lara', PASSWORD, ADDRESS);
      assert.equal(session.user.locked, false);
      assert.equal(session.user.failedLogins, 0);
    });

    await t.test('an API token acts within its scope only', async () => {
      const { token, view } = await usableToken(admin, ['equipment.read']);
      assert.equal(view.owner, 'admin');
      const principal = await hub.identity.authenticate(token);
      assert.equal(principal.kind, 'token');
      assert.deepEqual([...principal.permissions], ['equipment.read']);
      authorize(principal, 'equipment.read');
      assert.throws(() => authorize(principal, 'users.read'), code('MW_ERR_AUTH_FORBIDDEN'));
      await assert.rejects(hub.identity.listUsers(principal), code('MW_ERR_AUTH_FORBIDDEN'));
      await assert.rejects(
        hub.identity.createToken(principal, { name: 'more', role: 'admin' }),
        code('MW_ERR_AUTH_FORBIDDEN'),
      );
      // Nobody hands out more than they have: a token that may manage tokens cannot mint one
      // with permissions beyond its own scope.
      const minter = await usableToken(admin, ['tokens.manage', 'equipment.read']);
      const minterPrincipal = await hub.identity.authenticate(minter.token);
      await assert.rejects(
        hub.identity.createToken(minterPrincipal, { name: 'wider', role: 'integration' }),
        (err: unknown) =>
          code('MW_ERR_AUTH_FORBIDDEN')(err) &&
          /orders\.read|connections\.read|ingest\.write/.test(String(err)),
      );
      await hub.identity.revokeToken(admin, view.id, 'done');
      await assert.rejects(hub.identity.authenticate(token), code('MW_ERR_AUTH_REQUIRED'));
      const rows = await hub.store.listAudit({
        entityType: 'api-token',
        entityId: view.id,
        limit: 100,
      });
      assert.deepEqual(
        rows.map((r) => r.action),
        ['create', 'revoke'],
      );
      for (const r of rows) assert.ok(!('secretHash' in r.changes));
    });

    await t.test('a signature no longer holds once its record changes', async () => {
      await createTestUser(hub, 'quinn', ['quality'], PASSWORD);
      await createTestUser(hub, 'sam', ['viewer'], PASSWORD);
      const session = await hub.identity.login('quinn', PASSWORD, ADDRESS);
      const quinn = await hub.identity.authenticate(session.token);
      const signature = await hub.signatures.sign(
        quinn,
        {
          entityType: 'user',
          entityId: 'sam',
          meaning: 'approved',
          username: 'quinn',
          password: PASSWORD,
        },
        ADDRESS,
      );
      assert.equal(signature.valid, true);
      assert.equal(signature.fullName, 'Test quinn');
      const [listed] = await hub.signatures.list(quinn, 'user', 'sam');
      assert.equal(listed?.valid, true);

      await hub.identity.updateUser(cli, 'sam', { roles: ['viewer', 'operator'] }, 'moved');
      const [after] = await hub.signatures.list(quinn, 'user', 'sam');
      assert.equal(after?.id, signature.id);
      assert.equal(after?.valid, false);
      assert.match(after?.invalidReason ?? '', /changed after signing/);

      await assert.rejects(
        hub.signatures.sign(
          quinn,
          {
            entityType: 'user',
            entityId: 'sam',
            meaning: 'approved',
            username: 'quinn',
            password: 'not my password at all',
          },
          ADDRESS,
        ),
        code('MW_ERR_AUTH_FAILED'),
      );
      assert.equal((await hub.store.getRecord('user', 'quinn'))!.data.failedLogins, 1);
    });

    await t.test(
      'two concurrent creates of one name: one succeeds, one is USER_EXISTS',
      async () => {
        const create = (fullName: string) =>
          hub.identity.createUser(cli, {
            username: 'dup',
            fullName,
            roles: ['viewer'],
            password: PASSWORD,
          });
        const results = await Promise.allSettled([create('First Dup'), create('Second Dup')]);
        const won = results.filter((r) => r.status === 'fulfilled');
        const lost = results.filter((r) => r.status === 'rejected');
        assert.equal(won.length, 1, JSON.stringify(results));
        assert.equal(lost.length, 1);
        code('MW_ERR_AUTH_USER_EXISTS')(lost[0]!.reason);
        const stored = (await hub.store.getRecord('user', 'dup'))!;
        assert.equal(stored.version, 1);
        assert.equal(stored.data.fullName, won[0]!.value.fullName);
        const rows = await hub.store.listAudit({ entityType: 'user', entityId: 'dup', limit: 100 });
        assert.deepEqual(
          rows.map((r) => r.action),
          ['create'],
        );
      },
    );

    await t.test('the database refuses to delete users and to rewrite audit rows', async () => {
      await assert.rejects(
        sql(`DELETE FROM ${q('records')} WHERE entity_type = 'user'`),
        /never deleted/,
      );
      assert.ok((await hub.store.getRecord('user', 'dup')) !== undefined);
      await assert.rejects(sql(`UPDATE ${q('audit_log')} SET actor = 'x'`), /append-only/);
      await assert.rejects(sql(`DELETE FROM ${q('audit_log')}`), /append-only/);
      assert.deepEqual(await hub.store.verifyAudit(), {
        ok: true,
        count: await hub.store.countAudit(),
      });
    });
  } finally {
    await hub.dispose();
    await sql(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(SCHEMA)} CASCADE`);
  }
});
