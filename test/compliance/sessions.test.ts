/**
 * Session lifetimes on a controlled clock (no waiting): idle expiry, the maximum age, and the
 * purge of sessions nobody ended. Real SQLite store, identity service without HTTP.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IdentityService, localPrincipal } from '../../src/compliance/identity.ts';
import { parseConfig } from '../../src/config/load.ts';
import { isMwError } from '../../src/errors.ts';
import { openSqliteStore, type Store } from '../../src/store/index.ts';
import { CONTRACT_OPTIONS } from '../store/contract.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';

const SECURITY = parseConfig(
  `${PLANT_YAML}\nsecurity: { sessionIdle: 10m, sessionMax: 1h }\n`,
).security;

describe('sessions on a controlled clock', () => {
  const tmp = tempDir('mw-sessions-');
  let store: Store;
  let clock = 1_800_000_000_000;
  let identity: IdentityService;
  const password = 'a long enough pass phrase';

  before(async () => {
    store = await openSqliteStore({
      ...CONTRACT_OPTIONS,
      path: path.join(tmp.dir, 'm.db'),
      synchronous: 'FULL',
    });
    await store.migrate();
    identity = new IdentityService(store, { security: SECURITY, now: () => clock });
    await identity.createUser(localPrincipal(), {
      username: 'olga',
      fullName: 'Olga Operator',
      roles: ['operator'],
      password,
    });
  });
  after(async () => {
    await store.close();
    tmp.remove();
  });

  const expired = (err: unknown): boolean =>
    isMwError(err) && err.code === 'MW_ERR_AUTH_REQUIRED' && /expired/.test(err.message);

  it('expires after the idle time, and each request restarts the idle time', async () => {
    const { token } = await identity.login('olga', password, '127.0.0.1');
    clock += 9 * 60_000;
    assert.equal((await identity.authenticate(token)).username, 'olga');
    clock += 9 * 60_000; // 18 min after login, 9 after the last request
    assert.equal((await identity.authenticate(token)).actor, 'user:olga');
    clock += 10 * 60_000;
    await assert.rejects(identity.authenticate(token), expired);
    // Ended for good, with an audit row.
    const rows = await store.listAudit({ entityType: 'user', entityId: 'olga', limit: 100 });
    assert.equal(rows.at(-1)?.action, 'session-expired');
  });

  it('expires at the maximum age however busy it is', async () => {
    const { token, expiresAt } = await identity.login('olga', password, '127.0.0.1');
    assert.equal(expiresAt, clock + 10 * 60_000);
    for (let minutes = 0; minutes < 55; minutes += 5) {
      clock += 5 * 60_000;
      await identity.authenticate(token);
    }
    clock += 6 * 60_000; // 61 min after login
    await assert.rejects(identity.authenticate(token), expired);
  });

  it('purges sessions that were never ended, and only those', async () => {
    const old = await identity.login('olga', password, '127.0.0.1');
    clock += 11 * 60_000;
    const fresh = await identity.login('olga', password, '127.0.0.1');
    const before = await store.listRecords({ entityType: 'session', limit: 100 });
    assert.equal(await identity.purgeExpiredSessions(), 1);
    const left = await store.listRecords({ entityType: 'session', limit: 100 });
    assert.equal(left.length, before.length - 1);
    await assert.rejects(identity.authenticate(old.token));
    assert.equal((await identity.authenticate(fresh.token)).username, 'olga');
  });
});
