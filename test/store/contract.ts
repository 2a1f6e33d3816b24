/**
 * The Store contract (STYLE.md rule 14): one suite, run unchanged on every implementation by
 * sqlite.test.ts and postgres.test.ts. A backend plugs in through a StoreTarget: fresh, empty
 * data that any number of Stores can be opened on (to test reopening and concurrent
 * migration), plus raw SQL for what the interface deliberately cannot do (alter the journal).
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { GENESIS_HASH, type AuditRecord } from '../../src/compliance/audit.ts';
import { isMwError, type ErrorCode } from '../../src/errors.ts';
import type { DomainEvent, JournalEvent } from '../../src/model/index.ts';
import type { Store, StoreOptions } from '../../src/store/index.ts';
import {
  allAudit,
  allEvents,
  auditEntries,
  auditEntry,
  batch,
  fullBatch,
  snapshot,
  CAPPER,
  counted,
  events,
  FILLER,
  quarantined,
  sample,
  stateChanged,
  T0,
  unit,
} from './fixtures.ts';

export interface StoreTarget {
  /** Open another Store on this target's data. The target closes it at the end of the test. */
  open(options?: Partial<StoreOptions>): Promise<Store>;
  /** Run SQL directly on the data (unqualified table names), bypassing the Store. */
  exec(sql: string): Promise<void>;
}

/** Fresh empty data for one test; the factory removes it (after closing its Stores) via t.after. */
export type NewStoreTarget = (t: TestContext) => Promise<StoreTarget>;

export const CONTRACT_OPTIONS: StoreOptions = {
  quarantineMaxEntries: 100,
  quarantinePayloadBytes: 64,
};

function rejectsWith(code: ErrorCode) {
  return (err: unknown): boolean => {
    assert.ok(isMwError(err), `expected an MwError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  };
}

export async function storeContract(t: TestContext, newTarget: NewStoreTarget): Promise<void> {
  /** A target and a migrated store on it. */
  async function fresh(t: TestContext, options?: Partial<StoreOptions>) {
    const target = await newTarget(t);
    const store = await target.open(options);
    await store.migrate();
    return { target, store };
  }

  await t.test(
    'migrate applies each migration once, then reports it already applied',
    async (t) => {
      const target = await newTarget(t);
      const store = await target.open();
      const first = await store.migrate();
      assert.ok(first.length > 0);
      assert.equal(first[0]?.name, '001_initial');
      assert.deepEqual(
        first.map((m) => m.name),
        [...first.map((m) => m.name)].sort(),
      );
      assert.ok(first.every((m) => m.state === 'applied'));
      const second = await store.migrate();
      assert.deepEqual(
        second,
        first.map((m) => ({ name: m.name, state: 'already-applied' })),
      );
    },
  );

  await t.test(
    'several stores migrating one database at once apply each migration once',
    async (t) => {
      const target = await newTarget(t);
      const stores = await Promise.all([target.open(), target.open(), target.open()]);
      const results = await Promise.all(stores.map((s) => s.migrate()));
      const applied = results
        .flat()
        .filter((m) => m.state === 'applied')
        .map((m) => m.name);
      assert.deepEqual(
        applied,
        results[0]!.map((m) => m.name),
      );
    },
  );

  await t.test(
    'commit round trip: samples, events, units and quarantine come back as written',
    async (t) => {
      const { store } = await fresh(t);
      const values = [42, 3.25, -0, 'text "quoted" \\ ünïcode ✓', true, false, null];
      const samples = values.map((value, i) =>
        sample(i, {
          value,
          quality: (['good', 'uncertain', 'bad'] as const)[i % 3],
          status: i % 3 === 0 ? null : `BadCommunicationError ${i} ✓`,
          equipmentId: i === 1 ? null : FILLER,
        }),
      );
      const evs: DomainEvent[] = [
        counted(FILLER, T0 + 1, 17),
        stateChanged(CAPPER, T0 + 2, 'JAM-7'),
      ];
      const units = [
        unit(CAPPER, 5, { status: { state: 'down', reasonCode: 'JAM-7', sinceMs: T0 + 2 } }),
        unit(FILLER, 17),
      ];
      const q = [quarantined(1), quarantined(2, { payload: Buffer.alloc(0), payloadBytes: 0 })];
      const before = Date.now();
      const committed = await store.commit(batch({ samples, events: evs, units, quarantine: q }));
      const after = Date.now();

      assert.equal(committed.length, 2);
      committed.forEach((e, i) => {
        assert.equal(typeof e.seq, 'number');
        assert.ok(e.recordedAt >= before && e.recordedAt <= after, 'recordedAt is the commit time');
        assert.deepEqual(e, { ...evs[i], seq: e.seq, recordedAt: e.recordedAt });
      });
      assert.deepEqual(await allEvents(store), committed);

      const stored = await store.listSamples({ limit: 100 });
      assert.equal(await store.countSamples(), samples.length);
      stored.forEach((s, i) => {
        assert.equal(typeof s.id, 'number');
        if (i > 0) assert.ok(s.id > stored[i - 1]!.id, 'sample ids ascend');
        assert.deepEqual(s, { ...samples[i], id: s.id, value: i === 2 ? 0 : samples[i]!.value });
      });

      assert.deepEqual(await store.loadUnits(), units, 'units come back sorted by id');

      const stq = await store.listQuarantine({ limit: 10 });
      assert.equal(await store.countQuarantine(), 2);
      assert.deepEqual(
        stq,
        [...q].reverse().map((e, i) => ({ ...e, id: stq[i]!.id, replayedAt: null })),
      );
      // Replayed once: marked with its audit row; a second mark changes nothing.
      const first = stq[0]!.id;
      assert.equal(await store.markQuarantineReplayed(first, T0 + 5, [auditEntry(1)]), true);
      assert.equal(await store.markQuarantineReplayed(first, T0 + 6, [auditEntry(2)]), false);
      assert.equal((await store.getQuarantine(first))?.replayedAt, T0 + 5);
      assert.equal(await store.countAudit(), 1, 'the refused second mark wrote no audit row');
      assert.equal(await store.getQuarantine(999_999), undefined);
    },
  );

  await t.test('fractional timestamps are stored as whole ms', async (t) => {
    const { store } = await fresh(t);
    await store.commit(
      batch({ samples: [sample(0, { sourceTs: T0 + 0.4, receivedTs: T0 + 0.6 })] }),
    );
    const [s] = await store.listSamples({ limit: 1 });
    assert.deepEqual([s?.sourceTs, s?.receivedTs], [T0, T0 + 1]);
  });

  await t.test('seq strictly increases within and across commits, in input order', async (t) => {
    const { store } = await fresh(t);
    const committed: JournalEvent[] = [];
    for (const n of [1, 300, 2, 0, 5])
      committed.push(
        ...(await store.commit(batch({ events: events(FILLER, n, committed.length) }))),
      );
    assert.equal(committed.length, 308);
    committed.forEach((e, i) => {
      if (i > 0)
        assert.ok(e.seq > committed[i - 1]!.seq, `seq ${e.seq} after ${committed[i - 1]!.seq}`);
    });
    assert.deepEqual(await allEvents(store), committed);
  });

  await t.test(
    'listEvents: an id matches itself and everything below it, nothing beside it',
    async (t) => {
      const { store } = await fresh(t);
      const ids = [
        'acme/plant1',
        'acme/plant1/line1/filler',
        'acme/plant1-old/line1/filler', // sorts between 'acme/plant1' and 'acme/plant1/'
        'acme/plant1.5/x',
        'acme/plant10/line1/filler',
        'acme/PLANT1/line1/filler', // ids are case-sensitive
        'acme/plant1/line2/capper',
        'acmeco/plant1/line1/filler',
      ];
      const committed = await store.commit(
        batch({ events: ids.map((id, i) => counted(id, T0 + i, i)) }),
      );
      const idsOf = async (equipmentId: string) =>
        (await store.listEvents({ equipmentId, limit: 100 })).map((e) => e.equipmentId);
      assert.deepEqual(await idsOf('acme/plant1'), [
        'acme/plant1',
        'acme/plant1/line1/filler',
        'acme/plant1/line2/capper',
      ]);
      assert.deepEqual(await idsOf('acme/plant1/line1/filler'), ['acme/plant1/line1/filler']);
      assert.deepEqual(
        await idsOf('acme/plant1/line'),
        [],
        'a partial path segment matches nothing',
      );
      assert.deepEqual(
        await idsOf('acme'),
        ids.filter((id) => id.startsWith('acme/')),
      );
      assert.deepEqual(await idsOf('acme/plant10'), ['acme/plant10/line1/filler']);
      const all = await store.listEvents({ equipmentId: 'acme', limit: 100 });
      assert.deepEqual(
        all,
        committed.filter((e) => e.equipmentId.startsWith('acme/')),
      );
    },
  );

  await t.test(
    'lastStateChangeBefore: the unit’s own last state change before a time',
    async (t) => {
      const { store } = await fresh(t);
      const unit = 'acme/plant1/line1/filler';
      const committed = await store.commit(
        batch({
          events: [
            stateChanged(unit, T0 + 10, 'A'),
            stateChanged(`${unit}/head`, T0 + 15, 'below'),
            counted(unit, T0 + 18, 1),
            stateChanged(unit, T0 + 20, 'B'),
            stateChanged('acme/plant1/line1/filler2', T0 + 25, 'beside'),
          ],
        }),
      );
      const before = async (ts: number) =>
        (await store.lastStateChangeBefore(unit, ts))?.data as { reasonCode: string } | undefined;
      assert.equal(await before(T0 + 10), undefined, 'strictly before');
      assert.equal((await before(T0 + 11))?.reasonCode, 'A');
      assert.equal((await before(T0 + 20))?.reasonCode, 'A');
      assert.equal((await before(T0 + 100))?.reasonCode, 'B');
      assert.deepEqual(await store.lastStateChangeBefore(unit, T0 + 100), committed[3]);
    },
  );

  await t.test('listEvents: only the type asked for, paged by seq', async (t) => {
    const { store } = await fresh(t);
    const unit = 'acme/plant1/line1/filler';
    const committed = await store.commit(batch({ events: events(unit, 6) }));
    const counted = await store.listEvents({ equipmentId: unit, type: 'counted', limit: 2 });
    assert.deepEqual(
      counted.map((e) => e.type),
      ['counted', 'counted'],
    );
    const rest = await store.listEvents({
      equipmentId: unit,
      type: 'counted',
      afterSeq: counted.at(-1)!.seq,
      limit: 10,
    });
    assert.deepEqual(
      [...counted, ...rest],
      committed.filter((e) => e.type === 'counted'),
    );
    assert.deepEqual(
      await store.listEvents({ equipmentId: unit, type: 'consumed', limit: 10 }),
      [],
    );
  });

  await t.test('listEvents: LIKE metacharacters in ids are literal', async (t) => {
    const { store } = await fresh(t);
    const ids = [
      'acme/plant_/a',
      'acme/plantX/b',
      'acme/plant%/c',
      'acme/plant%%/d',
      'acme/pl\\ant/e',
      'acme/plant/f',
    ];
    await store.commit(batch({ events: ids.map((id, i) => counted(id, T0 + i, i)) }));
    const idsOf = async (equipmentId: string) =>
      (await store.listEvents({ equipmentId, limit: 100 })).map((e) => e.equipmentId);
    assert.deepEqual(await idsOf('acme/plant_'), ['acme/plant_/a']);
    assert.deepEqual(await idsOf('acme/plant%'), ['acme/plant%/c']);
    assert.deepEqual(await idsOf('acme/pl\\ant'), ['acme/pl\\ant/e']);
    assert.deepEqual(await idsOf('acme/pl%'), []);
  });

  await t.test('listEvents: time range [fromTs, toTs) and paging by afterSeq', async (t) => {
    const { store } = await fresh(t);
    const committed = await store.commit(
      batch({ events: [...events(FILLER, 10), ...events(CAPPER, 10)] }),
    );
    const filler = committed.filter((e) => e.equipmentId === FILLER);
    const ranged = await store.listEvents({
      equipmentId: FILLER,
      fromTs: T0 + 2,
      toTs: T0 + 5,
      limit: 100,
    });
    assert.deepEqual(
      ranged.map((e) => e.ts),
      [T0 + 2, T0 + 3, T0 + 4],
    );
    const pages: JournalEvent[][] = [];
    let afterSeq: number | undefined;
    for (;;) {
      const page = await store.listEvents({ equipmentId: FILLER, afterSeq, limit: 3 });
      if (page.length === 0) break;
      assert.ok(page.length <= 3);
      pages.push(page);
      afterSeq = page.at(-1)!.seq;
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [3, 3, 3, 1],
    );
    assert.deepEqual(pages.flat(), filler);
    assert.deepEqual(await store.listEvents({ equipmentId: FILLER, limit: 0 }), []);
  });

  await t.test(
    'a commit failing part-way leaves nothing behind, and the store keeps working',
    async (t) => {
      const { store } = await fresh(t);
      await store.commit(fullBatch(0));
      const before = await snapshot(store);
      // Fails in the hub: event data that JSON cannot hold, after samples were written.
      const unserialisable = fullBatch(100);
      (unserialisable.events[2]!.data as { raw: unknown }).raw = 10n;
      await assert.rejects(store.commit(unserialisable), rejectsWith('MW_ERR_STORE_COMMIT'));
      assert.deepEqual(await snapshot(store), before);
      // Fails in the database, at the last row of the last insert (NaN is no integer ms).
      const last = fullBatch(200);
      const failing = {
        ...last,
        quarantine: [...last.quarantine, quarantined(9, { receivedTs: Number.NaN })],
      };
      await assert.rejects(store.commit(failing), (err: unknown) => {
        rejectsWith('MW_ERR_STORE_COMMIT')(err);
        assert.ok((err as Error).cause !== undefined, 'the driver error is the cause');
        assert.match((err as Error).message, /batch of 53 item/);
        return true;
      });
      assert.deepEqual(await snapshot(store), before);
      // Fails in the hub, in the audit trail: changes that JSON cannot hold, hashed inside the
      // transaction after the samples and events of the batch were written.
      const badAudit = fullBatch(250);
      const audit = [auditEntry(1), auditEntry(2, { changes: { n: { old: 1, new: 2n } } })];
      await assert.rejects(
        store.commit({ ...badAudit, audit }),
        rejectsWith('MW_ERR_STORE_COMMIT'),
      );
      assert.deepEqual(await snapshot(store), before);
      const next = await store.commit(fullBatch(300));
      assert.ok(next[0]!.seq > before.events.at(-1)!.seq);
      assert.equal(await store.countSamples(), 100);
      assert.deepEqual(
        (await allAudit(store)).map((r) => r.seq),
        [1, 2, 3, 4, 5, 6],
        'the audit trail continues where the last successful commit left it',
      );
      assert.deepEqual(await store.verifyAudit(), { ok: true, count: 6 });
    },
  );

  await t.test(
    'audit: rows committed with samples and events get seq 1..n and a chain that verifies',
    async (t) => {
      const { store } = await fresh(t);
      assert.deepEqual(await store.verifyAudit(), { ok: true, count: 0 }, 'an empty trail');
      assert.equal(await store.countAudit(), 0);
      const entries = auditEntries(5);
      const committed = await store.commit({ ...fullBatch(0), audit: entries });
      assert.equal(committed.length, 6, 'commit still resolves with the journal events');
      const rows = await allAudit(store);
      assert.deepEqual(
        rows.map((r) => r.seq),
        [1, 2, 3, 4, 5],
      );
      rows.forEach((r, i) => {
        assert.equal(r.prevHash, i === 0 ? GENESIS_HASH : rows[i - 1]!.hash);
        assert.match(r.hash, /^[0-9a-f]{64}$/);
        assert.deepEqual(r, { ...entries[i], seq: r.seq, prevHash: r.prevHash, hash: r.hash });
      });
      assert.equal(await store.countAudit(), 5);
      assert.deepEqual(await store.verifyAudit(), { ok: true, count: 5 });
      assert.equal(await store.countSamples(), 50, 'the rest of the batch is there too');
    },
  );

  await t.test(
    'audit: appending across commits and reopens continues one chain; paging by afterSeq',
    async (t) => {
      const target = await newTarget(t);
      const first = await target.open();
      await first.migrate();
      const written: AuditRecord[] = [];
      let i = 0;
      for (const n of [3, 0, 1, 7]) {
        await first.commit(batch({ audit: auditEntries(n, i), events: events(FILLER, 1, i) }));
        i += n;
      }
      await first.commit(batch({ samples: [sample(0)] })); // no audit key at all
      written.push(...(await allAudit(first)));
      await first.close();
      const second = await target.open();
      await second.migrate();
      await second.commit(batch({ audit: auditEntries(2, i) }));
      const rows = await allAudit(second);
      assert.deepEqual(rows.slice(0, written.length), written, 'earlier rows are unchanged');
      assert.deepEqual(
        rows.map((r) => r.seq),
        Array.from({ length: 13 }, (_, k) => k + 1),
      );
      assert.equal(rows[11]!.prevHash, rows[10]!.hash, 'the reopened store chains on');
      assert.deepEqual(await second.verifyAudit(), { ok: true, count: 13 });
      const pages: AuditRecord[][] = [];
      let afterSeq: number | undefined;
      for (;;) {
        const page = await second.listAudit({ afterSeq, limit: 5 });
        if (page.length === 0) break;
        pages.push(page);
        afterSeq = page.at(-1)!.seq;
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [5, 5, 3],
      );
      assert.deepEqual(pages.flat(), rows);
    },
  );

  await t.test('audit: two stores appending at once keep one chain', async (t) => {
    const target = await newTarget(t);
    const stores = await Promise.all([target.open(), target.open()]);
    for (const s of stores) await s.migrate();
    await Promise.all(
      stores.flatMap((s, k) =>
        Array.from({ length: 5 }, (_, j) =>
          s.commit(batch({ audit: auditEntries(4, 100 * k + 10 * j) })),
        ),
      ),
    );
    assert.deepEqual(await stores[0]!.verifyAudit(), { ok: true, count: 40 });
  });

  await t.test('unit projections are upserted', async (t) => {
    const { store } = await fresh(t);
    await store.commit(batch({ units: [unit(FILLER, 10)] }));
    const down = unit(FILLER, 12, {
      status: { state: 'down', reasonCode: 'E42', sinceMs: T0 + 50 },
      updatedAt: T0 + 60,
    });
    const down2 = {
      ...down,
      counters: { ...down.counters, scrap: { total: 3, lastRaw: 3, lastTs: T0 + 61 } },
    };
    await store.commit(batch({ units: [unit(CAPPER, 1), down, down2] }));
    assert.deepEqual(await store.loadUnits(), [unit(CAPPER, 1), down2]);
  });

  await t.test(
    'quarantine: trimmed to maxEntries keeping the newest, payload cut, size kept',
    async (t) => {
      const { store } = await fresh(t, { quarantineMaxEntries: 5, quarantinePayloadBytes: 8 });
      await store.commit(batch({ quarantine: [0, 1, 2].map((i) => quarantined(i)) }));
      await store.commit(batch({ quarantine: [3, 4, 5, 6].map((i) => quarantined(i)) }));
      assert.equal(await store.countQuarantine(), 5);
      const all = await store.listQuarantine({ limit: 100 });
      assert.deepEqual(
        all.map((e) => e.source),
        [6, 5, 4, 3, 2].map((i) => `plant1/unbound/${i}`),
      );
      for (const e of all) {
        const whole = quarantined(Number(e.source.split('/').at(-1)));
        assert.deepEqual(e.payload, whole.payload.subarray(0, 8));
        assert.equal(e.payloadBytes, whole.payload.length);
      }
      const page1 = await store.listQuarantine({ limit: 2 });
      const page2 = await store.listQuarantine({ limit: 2, beforeId: page1.at(-1)!.id });
      assert.deepEqual([...page1, ...page2], all.slice(0, 4));
      const line2 = await store.listQuarantine({ connectionId: 'line2-mqtt', limit: 100 });
      assert.deepEqual(
        line2.map((e) => e.source),
        ['plant1/unbound/5', 'plant1/unbound/3'],
      );
    },
  );

  await t.test('listSamples filters by connection and tag and pages by afterId', async (t) => {
    const { store } = await fresh(t);
    const samples = Array.from({ length: 20 }, (_, i) =>
      sample(i, { connectionId: i < 10 ? 'a' : 'b' }),
    );
    await store.commit(batch({ samples }));
    const b = await store.listSamples({ connectionId: 'b', limit: 100 });
    assert.deepEqual(
      b.map((s) => s.value),
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
    );
    const tag1 = await store.listSamples({ connectionId: 'b', tag: samples[13]!.tag, limit: 100 });
    assert.deepEqual(
      tag1.map((s) => s.value),
      [13, 17],
    );
    const page = await store.listSamples({ afterId: b[4]!.id, limit: 3 });
    assert.deepEqual(
      page.map((s) => s.value),
      [15, 16, 17],
    );
  });

  await t.test('data survives close and reopen', async (t) => {
    const target = await newTarget(t);
    const first = await target.open();
    await first.migrate();
    await first.commit(fullBatch(0));
    const before = await snapshot(first);
    await first.close();
    const second = await target.open();
    assert.ok((await second.migrate()).every((m) => m.state === 'already-applied'));
    assert.deepEqual(await snapshot(second), before);
    const [next] = await second.commit(batch({ events: [counted(FILLER, T0 + 99, 99)] }));
    assert.ok(next!.seq > before.events.at(-1)!.seq, 'seq keeps growing after a reopen');
  });

  await t.test('the journal is append-only', async (t) => {
    const { target, store } = await fresh(t);
    const committed = await store.commit(batch({ events: events(FILLER, 3) }));
    await assert.rejects(target.exec("UPDATE events SET type = 'tampered'"), /append-only/);
    await assert.rejects(target.exec('DELETE FROM events'), /append-only/);
    assert.deepEqual(await allEvents(store), committed);
  });

  // 21 CFR 11.10(e): the application cannot change or delete audit rows.
  await t.test('the audit trail is append-only', async (t) => {
    const { target, store } = await fresh(t);
    await store.commit(batch({ audit: auditEntries(3) }));
    const rows = await allAudit(store);
    await assert.rejects(target.exec("UPDATE audit_log SET actor = 'tampered'"), /append-only/);
    await assert.rejects(target.exec('UPDATE audit_log SET seq = seq + 10'), /append-only/);
    await assert.rejects(target.exec('DELETE FROM audit_log WHERE seq = 3'), /append-only/);
    await assert.rejects(target.exec('DELETE FROM audit_log'), /append-only/);
    assert.deepEqual(await allAudit(store), rows);
    assert.deepEqual(await store.verifyAudit(), { ok: true, count: 3 });
  });

  await t.test(
    'writeRecords: create, update, delete with versions, and their audit rows in the same transaction',
    async (t) => {
      const { store } = await fresh(t);
      const write = (expectedVersion: number, data: Record<string, unknown> | null) => ({
        entityType: 'session',
        entityId: 's1',
        expectedVersion,
        data,
        ref: 'user/alice',
      });
      const [created] = await store.writeRecords(
        [write(0, { n: 1, text: 'ünï "q"' })],
        [auditEntry(1)],
      );
      assert.equal(created?.version, 1);
      assert.deepEqual(created?.data, { n: 1, text: 'ünï "q"' });
      assert.equal(created?.ref, 'user/alice');
      const [updated] = await store.writeRecords([write(1, { n: 2 })], [auditEntry(2)]);
      assert.equal(updated?.version, 2);
      assert.deepEqual((await store.getRecord('session', 's1'))?.data, { n: 2 });
      // A writer that read version 1 lost the race: nothing of its write is kept, audit included.
      await assert.rejects(
        store.writeRecords([write(1, { n: 3 })], [auditEntry(3)]),
        rejectsWith('MW_ERR_STORE_CONFLICT'),
      );
      await assert.rejects(
        store.writeRecords([write(0, { n: 3 })], []),
        rejectsWith('MW_ERR_STORE_CONFLICT'),
      );
      assert.equal(await store.countAudit(), 2);
      assert.deepEqual(
        (await store.listRecords({ entityType: 'session', ref: 'user/alice', limit: 10 })).map(
          (r) => r.entityId,
        ),
        ['s1'],
      );
      assert.deepEqual(await store.writeRecords([write(2, null)], [auditEntry(3)]), [null]);
      assert.equal(await store.getRecord('session', 's1'), undefined);
      assert.deepEqual(await store.verifyAudit(), { ok: true, count: 3 });
    },
  );

  await t.test('users, tokens and signatures are never deleted, even with SQL', async (t) => {
    const { target, store } = await fresh(t);
    await store.writeRecords(
      [{ entityType: 'user', entityId: 'alice', expectedVersion: 0, data: { a: 1 } }],
      [],
    );
    await assert.rejects(
      store.writeRecords(
        [{ entityType: 'user', entityId: 'alice', expectedVersion: 1, data: null }],
        [],
      ),
    );
    await assert.rejects(
      target.exec("DELETE FROM records WHERE entity_type = 'user'"),
      /never deleted/,
    );
    assert.equal((await store.getRecord('user', 'alice'))?.version, 1);
  });

  await t.test('listRecords pages by id in byte order', async (t) => {
    const { store } = await fresh(t);
    const ids = ['b', 'a/x', 'A', 'a', 'ä'];
    await store.writeRecords(
      ids.map((entityId) => ({ entityType: 'user', entityId, expectedVersion: 0, data: {} })),
      [],
    );
    const first = await store.listRecords({ entityType: 'user', limit: 2 });
    const rest = await store.listRecords({
      entityType: 'user',
      afterId: first.at(-1)!.entityId,
      limit: 10,
    });
    assert.deepEqual(
      [...first, ...rest].map((r) => r.entityId),
      [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
    );
    assert.deepEqual(await store.listRecords({ entityType: 'token', limit: 10 }), []);
  });

  await t.test('listAudit filters by entity, id, actor and time range', async (t) => {
    const { store } = await fresh(t);
    const base = auditEntry(1);
    const entries = [
      { ...base, at: T0, actor: 'user:alice', entityType: 'user', entityId: 'bob' },
      { ...base, at: T0 + 1, actor: 'user:bob', entityType: 'user', entityId: 'alice' },
      { ...base, at: T0 + 2, actor: 'user:alice', entityType: 'api-token', entityId: 'bob' },
      { ...base, at: T0 + 3, actor: 'system', entityType: 'user', entityId: 'bob' },
    ];
    await store.commit(batch({ audit: entries }));
    const seqs = async (q: Parameters<Store['listAudit']>[0]) =>
      (await store.listAudit(q)).map((r) => r.seq);
    assert.deepEqual(await seqs({ entityType: 'user', limit: 10 }), [1, 2, 4]);
    assert.deepEqual(await seqs({ entityType: 'user', entityId: 'bob', limit: 10 }), [1, 4]);
    assert.deepEqual(await seqs({ actor: 'user:alice', limit: 10 }), [1, 3]);
    assert.deepEqual(await seqs({ fromAt: T0 + 1, toAt: T0 + 3, limit: 10 }), [2, 3]);
    assert.deepEqual(await seqs({ entityType: 'user', afterSeq: 1, limit: 1 }), [2]);
  });

  await t.test('ping answers; close is idempotent; a closed store is unavailable', async (t) => {
    const { store } = await fresh(t);
    assert.equal(await store.ping(), undefined);
    await store.close();
    await store.close();
    await assert.rejects(store.ping(), rejectsWith('MW_ERR_STORE_UNAVAILABLE'));
    await assert.rejects(store.loadUnits(), rejectsWith('MW_ERR_STORE_UNAVAILABLE'));
    await assert.rejects(store.commit(fullBatch(0)), rejectsWith('MW_ERR_STORE_COMMIT'));
  });
}
