/**
 * The outbox part of the Store contract (STYLE.md rule 14): run unchanged on SQLite and
 * PostgreSQL by sqlite.test.ts and postgres.test.ts.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { OutboxInsert, Store } from '../../src/store/index.ts';
import type { NewStoreTarget } from './contract.ts';
import { auditEntry } from './fixtures.ts';

const T0 = 1_767_000_000_000;

function row(n: number, key: string, target = 'erp'): OutboxInsert {
  return {
    target,
    messageId: `m-${key}-${n}`,
    orderingKey: key,
    type: 'order.started',
    payload: { n, key, text: 'ä "quoted" \\ /' },
    createdAt: T0 + n,
  };
}

async function enqueue(store: Store, rows: OutboxInsert[]): Promise<void> {
  await store.writeRecords(
    [{ entityType: 'order', entityId: `o-${rows[0]!.messageId}`, expectedVersion: 0, data: {} }],
    [],
    rows,
  );
}

const lease = (store: Store, now: number, headOfLine = true, owner = 'a', limit = 100) =>
  store.leaseOutbox({ target: 'erp', now, limit, leaseMs: 30_000, owner, headOfLine });

export async function outboxContract(t: TestContext, newTarget: NewStoreTarget): Promise<void> {
  async function fresh(t: TestContext): Promise<Store> {
    const store = await (await newTarget(t)).open();
    await store.migrate();
    return store;
  }

  await t.test('rows commit with their record, or not at all', async (t) => {
    const store = await fresh(t);
    await enqueue(store, [row(1, 'A'), row(2, 'A')]);
    const listed = await store.listOutbox({ limit: 10 });
    assert.deepEqual(
      listed.map((r) => [r.messageId, r.status, r.attempts]),
      [
        ['m-A-2', 'pending', 0],
        ['m-A-1', 'pending', 0],
      ],
    );
    assert.deepEqual(listed[1]!.payload, row(1, 'A').payload);
    // A conflicting record write takes its outbox rows down with it.
    await assert.rejects(
      store.writeRecords(
        [{ entityType: 'order', entityId: 'o-m-A-1', expectedVersion: 0, data: {} }],
        [],
        [row(3, 'A')],
      ),
    );
    assert.equal((await store.listOutbox({ limit: 10 })).length, 2);
  });

  await t.test('head of line: one row per ordering key, in id order', async (t) => {
    const store = await fresh(t);
    await enqueue(store, [row(1, 'A'), row(2, 'A'), row(3, 'B')]);
    const first = await lease(store, T0 + 10);
    assert.deepEqual(
      first.map((r) => r.messageId),
      ['m-A-1', 'm-B-3'],
    );
    // Leased rows are not handed out again, and A-2 waits behind A-1.
    assert.deepEqual(await lease(store, T0 + 11, true, 'b'), []);
    assert.equal(
      await store.settleOutbox(first[0]!.id, 'a', { outcome: 'delivered', at: T0 + 12 }),
      true,
    );
    const second = await lease(store, T0 + 13, true, 'b');
    assert.deepEqual(
      second.map((r) => r.messageId),
      ['m-A-2'],
    );
    const done = await store.getOutbox(first[0]!.id);
    assert.equal(done?.status, 'delivered');
    assert.equal(done?.attempts, 1);
    assert.equal(done?.deliveredAt, T0 + 12);
  });

  await t.test(
    'a retry waits until due; a lease expires; a stale owner cannot settle',
    async (t) => {
      const store = await fresh(t);
      await enqueue(store, [row(1, 'A'), row(2, 'A')]);
      const [r1] = await lease(store, T0 + 10);
      assert.ok(r1);
      const settled = await store.settleOutbox(r1.id, 'a', {
        outcome: 'retry',
        at: T0 + 11,
        nextAttemptAt: T0 + 1000,
        error: 'HTTP 500',
      });
      assert.equal(settled, true);
      assert.deepEqual(
        await lease(store, T0 + 999),
        [],
        'not due yet, and A-2 may not overtake it',
      );
      const again = await lease(store, T0 + 1000, true, 'b');
      assert.deepEqual(
        again.map((r) => [r.messageId, r.attempts, r.lastError]),
        [['m-A-1', 1, 'HTTP 500']],
      );
      // b's lease runs out; c takes the row; b's late answer is refused.
      const c = await lease(store, T0 + 1000 + 30_000, true, 'c');
      assert.equal(c.length, 1);
      assert.equal(
        await store.settleOutbox(r1.id, 'b', { outcome: 'delivered', at: T0 + 31_001 }),
        false,
      );
      assert.equal(
        await store.settleOutbox(r1.id, 'c', { outcome: 'delivered', at: T0 + 31_002 }),
        true,
      );
    },
  );

  await t.test('a dead row holds its key until replayed or discarded, audited', async (t) => {
    const store = await fresh(t);
    await enqueue(store, [row(1, 'A'), row(2, 'A'), row(3, 'B')]);
    const [a1] = await lease(store, T0 + 10, true, 'a', 1);
    await store.settleOutbox(a1!.id, 'a', { outcome: 'dead', at: T0 + 11, error: 'HTTP 400' });
    const next = await lease(store, T0 + 12, false, 'b');
    assert.deepEqual(
      next.map((r) => r.messageId),
      ['m-B-3'],
      'batch mode skips the key behind a dead row too',
    );
    const counts = await store.countOutbox();
    assert.deepEqual(counts.erp, { pending: 2, delivered: 0, dead: 1, discarded: 0 });
    const audit = [
      auditEntry(1, { action: 'outbox.replay', entityType: 'outbox', entityId: String(a1!.id) }),
    ];
    const replayed = await store.settleDeadOutbox(a1!.id, 'replay', T0 + 20, audit);
    assert.equal(replayed?.status, 'pending');
    assert.equal(replayed?.attempts, 0);
    assert.equal(replayed?.ageFrom, T0 + 20);
    assert.equal(
      await store.settleDeadOutbox(a1!.id, 'replay', T0 + 21, audit),
      undefined,
      'only a dead row',
    );
    const trail = await store.listAudit({ entityType: 'outbox', limit: 10 });
    assert.equal(trail.length, 1);
    const [again] = await lease(store, T0 + 30, true, 'c');
    assert.equal(again?.messageId, 'm-A-1');
    await store.settleOutbox(again!.id, 'c', { outcome: 'dead', at: T0 + 31, error: 'no' });
    const discarded = await store.settleDeadOutbox(again!.id, 'discard', T0 + 32, audit);
    assert.equal(discarded?.status, 'discarded');
    assert.deepEqual(
      (await lease(store, T0 + 40, true, 'd')).map((r) => r.messageId),
      ['m-A-2'],
      'a discarded row no longer holds its key',
    );
  });

  await t.test('batch mode: every due row of a key in order; listOutbox filters', async (t) => {
    const store = await fresh(t);
    await enqueue(store, [row(1, 'A'), row(2, 'A'), row(3, 'B'), { ...row(4, 'A'), target: 'bi' }]);
    const batch = await lease(store, T0 + 10, false);
    assert.deepEqual(
      batch.map((r) => r.messageId),
      ['m-A-1', 'm-A-2', 'm-B-3'],
    );
    assert.deepEqual(
      (await store.listOutbox({ target: 'bi', limit: 10 })).map((r) => r.messageId),
      ['m-A-4'],
    );
    assert.deepEqual(
      (await store.listOutbox({ orderingKey: 'A', target: 'erp', limit: 1 })).map(
        (r) => r.messageId,
      ),
      ['m-A-2'],
    );
    const older = await store.listOutbox({ target: 'erp', beforeId: batch[1]!.id, limit: 10 });
    assert.deepEqual(
      older.map((r) => r.messageId),
      ['m-A-1'],
    );
    assert.equal((await store.listOutbox({ status: 'dead', limit: 10 })).length, 0);
  });

  await t.test(
    'a restarted hub voids the leases of its earlier boot, never those of another hub',
    async (t) => {
      const store = await fresh(t);
      await enqueue(store, [row(1, 'A'), row(2, 'B'), row(3, 'C'), row(4, 'D')]);
      const hub1 = 'hub-1:boot-1';
      const [a, b] = await lease(store, T0 + 10, true, hub1, 2);
      const [c] = await lease(store, T0 + 10, true, 'hub-2:boot-1', 1);
      // hub-10 starts with "hub-1" but is another hub: the ':' ends the prefix.
      const [d] = await lease(store, T0 + 10, true, 'hub-10:boot-1', 1);
      assert.deepEqual(
        [a, b, c, d].map((r) => r?.messageId),
        ['m-A-1', 'm-B-2', 'm-C-3', 'm-D-4'],
      );
      await store.settleOutbox(b!.id, hub1, { outcome: 'delivered', at: T0 + 11 });
      // hub-1 is killed with A-1 in flight and restarts as boot 2.
      assert.equal(await store.releaseOutboxLeases('hub-1:', 'hub-1:boot-2', T0 + 20), 1);
      const again = await lease(store, T0 + 21, true, 'hub-1:boot-2');
      assert.deepEqual(
        again.map((r) => [r.messageId, r.attempts]),
        [['m-A-1', 0]],
        'A-1 is due again at once (the lease had 30 s to run), C-3 and D-4 stay leased',
      );
      assert.equal(
        await store.settleOutbox(a!.id, hub1, { outcome: 'delivered', at: T0 + 22 }),
        false,
        'the killed boot can no longer settle it',
      );
      assert.equal(
        await store.releaseOutboxLeases('hub-1:', 'hub-1:boot-2', T0 + 23),
        0,
        'the running boot keeps its own leases',
      );
      assert.equal(
        await store.settleOutbox(c!.id, 'hub-2:boot-1', { outcome: 'delivered', at: T0 + 24 }),
        true,
        'the other hub still holds its lease',
      );
      assert.equal((await store.getOutbox(b!.id))?.status, 'delivered', 'settled rows stay so');
    },
  );

  await t.test('two leasing stores never share a row', async (t) => {
    const target = await newTarget(t);
    const one = await target.open();
    await one.migrate();
    const two = await target.open();
    const rows = Array.from({ length: 60 }, (_, i) => row(i + 1, `K${i % 20}`));
    await enqueue(one, rows);
    const seen = new Set<number>();
    for (let round = 0; round < 5; round++) {
      const [a, b] = await Promise.all([
        one.leaseOutbox({
          target: 'erp',
          now: T0 + 100,
          limit: 7,
          leaseMs: 60_000,
          owner: 'one',
          headOfLine: false,
        }),
        two.leaseOutbox({
          target: 'erp',
          now: T0 + 100,
          limit: 7,
          leaseMs: 60_000,
          owner: 'two',
          headOfLine: false,
        }),
      ]);
      for (const r of [...a, ...b]) {
        assert.ok(!seen.has(r.id), `row ${r.id} leased twice`);
        seen.add(r.id);
      }
    }
    assert.ok(seen.size > 0);
  });
}
