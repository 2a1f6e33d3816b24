/**
 * Tampering with the audit trail behind the hub's back (21 CFR 11.10(e)), run unchanged on
 * every Store by sqlite.test.ts and postgres.test.ts, like the contract (STYLE.md rule 14).
 *
 * Each test plays an attacker with database rights: drop the append-only triggers, then edit,
 * delete or insert rows with plain SQL. `verifyAudit()` must then name the first broken row.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { AuditVerification } from '../../src/compliance/audit.ts';
import type { Store } from '../../src/store/index.ts';
import type { NewStoreTarget, StoreTarget } from './contract.ts';
import { allAudit, auditEntries, batch, T0 } from './fixtures.ts';

/** Rows in the trail each test starts from. */
const ROWS = 20;

/**
 * @param dropAppendOnly SQL that removes the backend's append-only triggers on `audit_log`
 *   (trigger DDL differs between SQLite and PostgreSQL; everything else here is plain SQL).
 */
export async function auditTamperSuite(
  t: TestContext,
  newTarget: NewStoreTarget,
  dropAppendOnly: string,
): Promise<void> {
  /** A store holding 20 chained audit rows, committed over a few batches. */
  async function trail(t: TestContext): Promise<{ target: StoreTarget; store: Store }> {
    const target = await newTarget(t);
    const store = await target.open();
    await store.migrate();
    let offset = 0;
    for (const n of [7, 1, 5, 7]) {
      await store.commit(batch({ audit: auditEntries(n, offset) }));
      offset += n;
    }
    assert.equal(await store.countAudit(), ROWS);
    return { target, store };
  }

  /** `count`: rows that verified before the broken one. */
  function assertBroken(
    result: AuditVerification,
    seq: number,
    count: number,
    reason: RegExp,
  ): void {
    assert.equal(result.ok, false, `expected a broken chain, got ${JSON.stringify(result)}`);
    if (result.ok) return;
    assert.equal(result.seq, seq, `reported at seq ${result.seq}: ${result.reason}`);
    assert.equal(result.count, count, 'the rows before it verified');
    assert.match(result.reason, reason);
  }

  /** An INSERT of row 21 that did not come from the hub. */
  const forged = (prevHash: string, hash: string) => `
    INSERT INTO audit_log (seq, at, actor, action, entity_type, entity_id, changes, reason, prev_hash, hash)
    VALUES (${ROWS + 1}, ${T0 + 500}, 'user:mallory', 'delete', 'material-lot', 'LOT-1',
            '{"qty":{"new":null,"old":10}}', NULL, '${prevHash}', '${hash}')`;

  await t.test('an untampered trail of 20 rows verifies', async (t) => {
    const { store } = await trail(t);
    assert.deepEqual(await store.verifyAudit(), { ok: true, count: ROWS });
  });

  await t.test('a changed field is reported at its row (content vs hash)', async (t) => {
    const { target, store } = await trail(t);
    await target.exec(`${dropAppendOnly};
      UPDATE audit_log SET actor = 'user:mallory' WHERE seq = 7`);
    assert.equal((await allAudit(store))[6]!.actor, 'user:mallory', 'the edit went through');
    assertBroken(await store.verifyAudit(), 7, 6, /content does not match its hash/);
  });

  await t.test('a deleted row is reported at the row after it (missing row)', async (t) => {
    const { target, store } = await trail(t);
    await target.exec(`${dropAppendOnly}; DELETE FROM audit_log WHERE seq = 12`);
    assert.equal(await store.countAudit(), ROWS - 1);
    assertBroken(await store.verifyAudit(), 13, 11, /row 12 is missing/);
  });

  await t.test('a forged row with a made-up hash is reported at its seq', async (t) => {
    const { target, store } = await trail(t);
    await target.exec(`${dropAppendOnly}; ${forged('f'.repeat(64), 'e'.repeat(64))}`);
    assertBroken(await store.verifyAudit(), ROWS + 1, ROWS, /link to the previous row/);
  });

  await t.test(
    'a forged row linked to the last row but with a wrong hash is reported',
    async (t) => {
      const { target, store } = await trail(t);
      const last = (await allAudit(store)).at(-1)!;
      await target.exec(`${dropAppendOnly}; ${forged(last.hash, 'e'.repeat(64))}`);
      assertBroken(await store.verifyAudit(), ROWS + 1, ROWS, /content does not match its hash/);
    },
  );
}
