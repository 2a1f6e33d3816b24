/**
 * The genealogy part of the Store contract (issue #12; STYLE.md rule 14): run unchanged on
 * SQLite and PostgreSQL by sqlite.test.ts and postgres.test.ts. Expected traces are written out
 * by hand from the small graphs below, as (from, to, depth) triples.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { isMwError } from '../../src/errors.ts';
import type { LotData, LotLink } from '../../src/model/index.ts';
import type { AuditEntry, LotTrace, RecordWrite, Store } from '../../src/store/index.ts';
import type { NewStoreTarget, StoreTarget } from './contract.ts';

const T0 = 1_767_200_000_000;
const LOT = 'material-lot';

function link(from: string, to: string, over: Partial<LotLink> = {}): LotLink {
  return {
    from,
    to,
    quantity: '12.500',
    uom: 'KGM',
    kind: 'consume',
    order: 'ORD-4711',
    operation: '0020',
    equipment: 'acme/plant1/mixing/line1/mixer',
    at: T0,
    actor: 'user:operator1',
    ...over,
  };
}

function lotData(id: string): LotData {
  return {
    material: id.split('-')[0]!,
    quantity: '100',
    initialQuantity: '100',
    uom: 'KGM',
    status: 'available',
    holds: [],
    location: null,
    order: null,
    operation: null,
    parent: null,
    origin: 'produced',
    properties: { batch: `B ${id}` },
    source: 'user:operator1',
    at: T0,
  };
}

const lotWrite = (id: string): RecordWrite => ({
  entityType: LOT,
  entityId: id,
  expectedVersion: 0,
  data: { ...lotData(id) },
});

const lotAudit = (id: string): AuditEntry => ({
  at: T0,
  actor: 'user:operator1',
  action: 'create',
  entityType: LOT,
  entityId: id,
  changes: { quantity: { old: null, new: '100' } },
  reason: null,
});

/** Lots made (a record and an audit row each) together with the links into them. */
function make(store: Store, lots: readonly string[], links: readonly LotLink[]) {
  return store.writeRecords(lots.map(lotWrite), lots.map(lotAudit), [], links);
}

/** "a>b" strings: links, each from > to. */
const links = (...pairs: string[]): LotLink[] =>
  pairs.map((p) => {
    const [from, to] = p.split('>');
    return link(from!, to!);
  });

/** A trace as sorted "from>to@depth" strings. */
const shape = (trace: LotTrace): string[] =>
  trace.links.map((l) => `${l.from}>${l.to}@${l.depth}`).sort();

const everything = { maxDepth: 100, maxLinks: 100_000 };

/** Every stored link, seen from every lot: a forward trace from all the lots named. */
async function allLinks(store: Store, lots: readonly string[]): Promise<string[]> {
  const trace = await store.traceLots({ lots, direction: 'forward', maxDepth: 1, maxLinks: 1e6 });
  return trace.links.map((l) => `${l.from}>${l.to}`).sort();
}

function isCycle(from: string, to: string) {
  return (err: unknown): boolean => {
    assert.ok(isMwError(err), `expected an MwError, got ${String(err)}`);
    assert.equal(err.code, 'MW_ERR_LOT_CYCLE');
    assert.deepEqual(err.params, { from, to });
    return true;
  };
}

export async function genealogyContract(t: TestContext, newTarget: NewStoreTarget): Promise<void> {
  async function fresh(t: TestContext): Promise<{ target: StoreTarget; store: Store }> {
    const target = await newTarget(t);
    const store = await target.open();
    await store.migrate();
    return { target, store };
  }

  await t.test('links are written with their records and audit rows, or not at all', async (t) => {
    const { store } = await fresh(t);
    await make(store, ['RM-1', 'RM-2'], []);
    const moved = link('RM-1', 'MX-1', { quantity: '0.125', order: null, operation: null });
    await make(store, ['MX-1'], [moved, link('RM-2', 'MX-1', { kind: 'merge', equipment: null })]);
    const trace = await store.traceLots({ lots: ['MX-1'], direction: 'backward', ...everything });
    assert.deepEqual(shape(trace), ['RM-1>MX-1@1', 'RM-2>MX-1@1']);
    const [first, second] = trace.links;
    assert.deepEqual({ ...first, id: 0 }, { ...moved, id: 0, depth: 1 });
    assert.equal(second!.kind, 'merge');
    assert.equal(second!.equipment, null);
    assert.ok(Number.isInteger(first!.id) && second!.id > first!.id);
    assert.equal((await store.getRecord(LOT, 'MX-1'))?.version, 1);
    assert.equal(await store.countAudit(), 3);
    // A record conflict (MX-1 exists) takes the write's links and audit rows down with it.
    await assert.rejects(make(store, ['MX-1'], links('MX-1>FG-1')));
    assert.deepEqual(await allLinks(store, ['RM-1', 'RM-2', 'MX-1']), ['RM-1>MX-1', 'RM-2>MX-1']);
    assert.equal(await store.countAudit(), 3);
  });

  await t.test(
    'a link that would close a cycle is refused; nothing of its write stays',
    async (t) => {
      const { store } = await fresh(t);
      await make(store, ['A', 'B', 'C'], links('A>B', 'B>C'));
      const before = await allLinks(store, ['A', 'B', 'C', 'D', 'E']);
      const audit = await store.countAudit();
      const cases: [string, LotLink[], string, string][] = [
        ['direct (B>A against A>B)', links('B>A'), 'B', 'A'],
        ['longer (C>A against A>B>C)', links('D>C', 'C>A'), 'C', 'A'],
        ['within one write', links('D>E', 'E>D'), 'D', 'E'],
        ['a self link', links('D>E', 'E>E'), 'E', 'E'],
      ];
      for (const [name, write, from, to] of cases) {
        await assert.rejects(make(store, ['D', 'E'], write), isCycle(from, to), name);
        assert.equal(await store.getRecord(LOT, 'D'), undefined, name);
        assert.equal(await store.countAudit(), audit, name);
        assert.deepEqual(await allLinks(store, ['A', 'B', 'C', 'D', 'E']), before, name);
      }
    },
  );

  await t.test('writes that only look like cycles are accepted', async (t) => {
    const { store } = await fresh(t);
    // A chain in one write: B and C are reached from the write's own lots, so each is checked.
    await make(store, ['B', 'C', 'D'], links('A>B', 'B>C', 'C>D'));
    // A second path to a lot that is there already, and one from an ancestor of it.
    await make(store, ['E'], links('A>E', 'E>D', 'B>D'));
    const trace = await store.traceLots({ lots: ['A'], direction: 'forward', ...everything });
    assert.deepEqual(shape(trace), ['A>B@1', 'A>E@1', 'B>C@2', 'B>D@2', 'C>D@3', 'E>D@2']);
  });

  await t.test('two writes that each add half of a cycle: one of them is refused', async (t) => {
    const target = await newTarget(t);
    const [one, two] = [await target.open(), await target.open()];
    await one.migrate();
    await Promise.all([one.ping(), two.ping()]); // both connected, so the writes overlap
    // Five races (a lost race shows only sometimes), without audit rows, so no other lock
    // orders the two writes (on PostgreSQL, the journal lock).
    for (let i = 0; i < 5; i++) {
      const [x, y] = [`X${i}`, `Y${i}`];
      const results = await Promise.allSettled([
        one.writeRecords([lotWrite(y)], [], [], links(`${x}>${y}`)),
        two.writeRecords([lotWrite(x)], [], [], links(`${y}>${x}`)),
      ]);
      assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'], x);
      const refused = results.find((r) => r.status === 'rejected')!;
      assert.equal((refused.reason as { code?: string }).code, 'MW_ERR_LOT_CYCLE', x);
      assert.equal((await allLinks(one, [x, y])).length, 1, x);
    }
  });

  await t.test('a diamond: each lot once, at the level first reached', async (t) => {
    const { store } = await fresh(t);
    // R1 feeds M1 and M2, R2 feeds M2; both mixes go into F, F into G; and R1 straight into F.
    await make(store, ['M1', 'M2', 'F', 'G'], links('R1>M1', 'R1>M2', 'R2>M2', 'M1>F', 'M2>F'));
    await make(store, [], links('F>G', 'R1>F'));
    const back = await store.traceLots({ lots: ['G'], direction: 'backward', ...everything });
    // R1 is reached at level 2 (through R1>F): its links into M1 and M2 are found at level 3
    // from the mixes, and R1 is not expanded again.
    assert.deepEqual(shape(back), [
      'F>G@1',
      'M1>F@2',
      'M2>F@2',
      'R1>F@2',
      'R1>M1@3',
      'R1>M2@3',
      'R2>M2@3',
    ]);
    assert.equal(back.depth, 3);
    assert.equal(back.truncated, false);
    assert.equal(new Set(back.links.map((l) => l.id)).size, back.links.length);
    const forward = await store.traceLots({ lots: ['R1'], direction: 'forward', ...everything });
    // F is reached at level 1; M1>F and M2>F are found at level 2, F>G once, from F.
    assert.deepEqual(shape(forward), ['F>G@2', 'M1>F@2', 'M2>F@2', 'R1>F@1', 'R1>M1@1', 'R1>M2@1']);
    assert.equal(forward.depth, 2);
    // Links come level by level.
    const depths = forward.links.map((l) => l.depth);
    assert.deepEqual(
      depths,
      [...depths].sort((a, b) => a - b),
    );
    // Several starting lots, one of them reached from the other: each lot still once.
    const both = await store.traceLots({
      lots: ['F', 'M2'],
      direction: 'backward',
      ...everything,
    });
    assert.deepEqual(shape(both), ['M1>F@1', 'M2>F@1', 'R1>F@1', 'R1>M1@2', 'R1>M2@1', 'R2>M2@1']);
  });

  await t.test('maxDepth and maxLinks cut a trace, and it says so', async (t) => {
    const { store } = await fresh(t);
    await make(store, ['B', 'C', 'D', 'E'], links('A>B', 'B>C', 'C>D', 'D>E'));
    const back = (maxDepth: number, maxLinks = 100) =>
      store.traceLots({ lots: ['E'], direction: 'backward', maxDepth, maxLinks });
    const two = await back(2);
    assert.deepEqual([shape(two), two.depth, two.truncated], [['C>D@2', 'D>E@1'], 2, true]);
    const three = await back(3);
    assert.deepEqual([three.links.length, three.depth, three.truncated], [3, 3, true]);
    // Level 4 reaches A, which has no inputs: nothing was left out.
    const four = await back(4);
    assert.deepEqual([four.links.length, four.depth, four.truncated], [4, 4, false]);
    assert.deepEqual([(await back(0)).links, (await back(0)).truncated], [[], true]);
    assert.deepEqual([(await back(9, 4)).links.length, (await back(9, 4)).truncated], [4, false]);
    const cut = await back(9, 3);
    assert.deepEqual([shape(cut), cut.truncated], [['B>C@3', 'C>D@2', 'D>E@1'], true]);
    // A cut within one level: X feeds five lots.
    await make(
      store,
      ['P1', 'P2', 'P3', 'P4', 'P5'],
      links('X>P1', 'X>P2', 'X>P3', 'X>P4', 'X>P5'),
    );
    const fan = (maxLinks: number) =>
      store.traceLots({ lots: ['X'], direction: 'forward', maxDepth: 5, maxLinks });
    assert.deepEqual([(await fan(3)).links.length, (await fan(3)).truncated], [3, true]);
    assert.deepEqual([(await fan(5)).links.length, (await fan(5)).truncated], [5, false]);
  });

  await t.test('a trace of no lots, or of lots without links, is empty', async (t) => {
    const { store } = await fresh(t);
    await make(store, ['B'], links('A>B'));
    const empty = { links: [], depth: 0, truncated: false };
    for (const lots of [[], ['NONE'], ['A']])
      assert.deepEqual(
        await store.traceLots({ lots, direction: 'backward', ...everything }),
        empty,
      );
    assert.deepEqual(
      await store.traceLots({ lots: ['B'], direction: 'forward', ...everything }),
      empty,
    );
  });

  await t.test('getRecords gives records in the order asked, undefined where none', async (t) => {
    const { store } = await fresh(t);
    // More than one statement's worth (chunks of 500), and another type under the same ids.
    const ids = Array.from({ length: 1_100 }, (_, i) => `RM-${String(i).padStart(4, '0')}`);
    await store.writeRecords(ids.map(lotWrite), []);
    await store.writeRecords(
      [{ entityType: 'order', entityId: 'RM-0001', expectedVersion: 0, data: {} }],
      [],
    );
    await store.writeRecords([{ ...lotWrite('RM-0003'), expectedVersion: 1, data: { v: 2 } }], []);
    const asked = ['NONE', ...[...ids].reverse(), 'RM-0003', 'ALSO-NONE'];
    const got = await store.getRecords(LOT, asked);
    assert.equal(got.length, asked.length);
    assert.deepEqual(
      got.map((r) => r?.entityId),
      [undefined, ...[...ids].reverse(), 'RM-0003', undefined],
    );
    assert.deepEqual(got[1]!.data, lotData('RM-1099'));
    assert.deepEqual([got.at(-2)!.version, got.at(-2)!.data], [2, { v: 2 }]);
    assert.equal(got.find((r) => r?.entityId === 'RM-0001')!.entityType, LOT);
    assert.deepEqual(await store.getRecords(LOT, []), []);
    assert.deepEqual(await store.getRecords('order', ['RM-0002', 'RM-0001']), [
      undefined,
      await store.getRecord('order', 'RM-0001'),
    ]);
  });

  await t.test('links cannot be changed or removed', async (t) => {
    const { target, store } = await fresh(t);
    await make(store, ['B'], links('A>B'));
    await assert.rejects(target.exec("UPDATE lot_links SET quantity = '99'"), /append-only/);
    await assert.rejects(target.exec('DELETE FROM lot_links'), /append-only/);
    const [kept] = (await store.traceLots({ lots: ['A'], direction: 'forward', ...everything }))
      .links;
    assert.equal(kept?.quantity, '12.500');
  });
}
