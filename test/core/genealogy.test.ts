/**
 * Quality and genealogy through the HTTP API of a real hub (issue #12), on both stores: the
 * recall scenario (one raw lot feeds three intermediates which feed ten finished lots, among
 * other lots), a propagated hold that stops an intermediate from being consumed, its signed
 * release, and the refusals (more than a lot holds, an unknown lot, a cycle, a release by a
 * user without the quality role) that leave everything as it was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  adminHeaders,
  call,
  createTestUser,
  login,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';
import { PG_URL, serviceSkip } from '../helpers/services.ts';

const YAML = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: kitchen
        lines:
          - id: line1
            units: [{ id: mixer }, { id: filler }]
materials:
  - { id: FLOUR, uom: KGM }
  - { id: SUGAR, uom: KGM }
  - { id: DOUGH, uom: KGM }
  - { id: CAKE, uom: H87, finished: true, conversions: ['1 H87 = 0.5 KGM'] }
genealogy:
  lotNumbers: [{ material: CAKE, pattern: 'C{date:yyMMdd}-{seq:3}' }]
`;

const PG_SCHEMA = `mw_genealogy_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const stores = [
  { name: 'SQLite', store: '', skip: false as string | false },
  {
    name: 'PostgreSQL',
    store: `store: { type: postgres, url: '${PG_URL}', schema: ${PG_SCHEMA} }\n`,
    skip: await serviceSkip('PostgreSQL', PG_URL),
  },
];

for (const { name, store, skip } of stores)
  describe(`lots, genealogy and holds, ${name} store`, { skip }, () => {
    let hub: TestHub;
    let admin: { authorization: string };
    let quality: { authorization: string };
    let operator: { authorization: string };
    const QUALITY_PASSWORD = 'quality pass phrase 42';
    const post = (path: string, body: unknown, headers = admin) =>
      call(hub, 'POST', path, { headers, body });
    const get = (path: string, headers = admin) => call(hub, 'GET', path, { headers });
    const lot = async (id: string) => (await get(`/api/v1/lots/${encodeURIComponent(id)}`)).body;
    /** Everything the refusals must leave as it was. */
    const snapshot = async () => ({
      lots: (await get('/api/v1/lots?limit=1000')).body,
      audit: await hub.store.countAudit(),
      links: (
        await hub.store.traceLots({
          lots: ['FLOUR-1'],
          direction: 'forward',
          maxDepth: 50,
          maxLinks: 10_000,
        })
      ).links.length,
    });

    before(async () => {
      hub = await startTestHub(testConfig(YAML + store));
      admin = await adminHeaders(hub);
      await createTestUser(hub, 'quinn', ['quality'], QUALITY_PASSWORD);
      await createTestUser(hub, 'olga', ['operator', 'supervisor']);
      quality = await login(hub.url!, 'quinn', QUALITY_PASSWORD);
      operator = await login(hub.url!, 'olga', 'plant floor pass phrase 42');
    });
    after(async () => {
      await hub?.dispose();
      if (name === 'PostgreSQL') {
        const client = new pg.Client({ connectionString: PG_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
        await client.end();
      }
    });

    it('builds the genealogy: receipts, intermediates, finished lots', async () => {
      for (const [id, material, quantity] of [
        ['FLOUR-1', 'FLOUR', '300'],
        ['FLOUR-2', 'FLOUR', '300'],
        ['SUGAR-1', 'SUGAR', '100'],
      ] as const) {
        const r = await post('/api/v1/lots', { id, material, quantity });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.body.uom, 'KGM');
        assert.equal(r.body.origin, 'received');
      }
      // Three doughs from FLOUR-1 (with sugar), one from FLOUR-2 only: not affected by FLOUR-1.
      for (const [i, flour] of [
        ['1', 'FLOUR-1'],
        ['2', 'FLOUR-1'],
        ['3', 'FLOUR-1'],
        ['4', 'FLOUR-2'],
      ] as const) {
        const r = await post('/api/v1/lots/produce', {
          id: `DOUGH-${i}`,
          material: 'DOUGH',
          quantity: '110',
          inputs: [
            { lot: flour, quantity: '90' },
            { lot: 'SUGAR-1', quantity: '20000', uom: 'GRM' },
          ],
          equipment: 'acme/plant1/kitchen/line1/mixer',
        });
        assert.equal(r.status, 201, r.text);
      }
      assert.equal((await lot('FLOUR-1')).quantity, '30');
      assert.equal((await lot('SUGAR-1')).quantity, '20', 'grams converted to kilograms exactly');
      // Ten cakes from the FLOUR-1 doughs (a number drawn from the scheme), two from DOUGH-4.
      const cakes: string[] = [];
      for (let i = 0; i < 12; i++) {
        const dough = i < 10 ? `DOUGH-${(i % 3) + 1}` : 'DOUGH-4';
        const r = await post('/api/v1/lots/produce', {
          material: 'CAKE',
          quantity: 40,
          inputs: [{ lot: dough, quantity: '10' }],
        });
        assert.equal(r.status, 201, r.text);
        assert.match(r.body.id, /^C\d{6}-\d{3}$/);
        cakes.push(r.body.id);
      }
      assert.equal(new Set(cakes).size, 12, 'every drawn lot number is new');
      // Listed by material, in pages: a next cursor only while more follow.
      const seen: string[] = [];
      let after = '';
      for (const expected of [5, 5, 2]) {
        const page = (await get(`/api/v1/lots?material=CAKE&limit=5${after}`)).body;
        assert.equal(page.lots.length, expected);
        seen.push(...page.lots.map((l: { id: string }) => l.id));
        assert.equal(page.next === null, expected < 5);
        after = `&after=${encodeURIComponent(page.next ?? '')}`;
      }
      assert.deepEqual(seen, [...cakes].sort());
    });

    it('recalls exactly the finished lots made from the raw lot, and their orders', async () => {
      const r = await get('/api/v1/lots/FLOUR-1/recall');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.finished.length, 10);
      const fromDough4 = (await get('/api/v1/lots/DOUGH-4/trace?direction=forward&shape=graph'))
        .body;
      const excluded = new Set(fromDough4.nodes.map((n: { id: string }) => n.id));
      for (const f of r.body.finished) {
        assert.equal(f.material, 'CAKE');
        assert.ok(!excluded.has(f.id), `${f.id} is made of DOUGH-4, not FLOUR-1`);
      }
      assert.equal(r.body.lots, 13, 'three doughs and ten cakes');
      const csv = await get('/api/v1/lots/FLOUR-1/recall?format=csv');
      const lines = csv.text.trim().split('\r\n');
      assert.equal(lines[0], 'lot,material,quantity,uom,status,order,holds');
      assert.deepEqual(
        lines.slice(1).map((l: string) => l.split(',')[0]),
        r.body.finished.map((f: { id: string }) => f.id),
      );
      assert.equal(r.body.truncated, false);
    });

    it('traces backward and forward as a graph and as a tree', async () => {
      const cake = (await get('/api/v1/lots/FLOUR-1/recall')).body.finished[0].id;
      const back = (await get(`/api/v1/lots/${cake}/trace?direction=backward`)).body;
      const ids = back.nodes.map((n: { id: string }) => n.id).sort();
      assert.equal(ids.length, 4);
      assert.ok(ids.includes('FLOUR-1') && ids.includes('SUGAR-1'));
      assert.deepEqual(
        back.nodes.find((n: { id: string }) => n.id === 'FLOUR-1').level,
        -2,
        'the raw lot is two levels back',
      );
      const tree = (await get('/api/v1/lots/SUGAR-1/trace?direction=forward&shape=tree')).body;
      assert.equal(tree.tree.id, 'SUGAR-1');
      assert.equal(tree.tree.children.length, 4, 'four doughs used the sugar');
      assert.equal(tree.tree.children[0].link.kind, 'consume');
      const both = (await get('/api/v1/lots/DOUGH-1/trace?direction=both')).body;
      assert.ok(both.nodes.some((n: { level: number }) => n.level < 0));
      assert.ok(both.nodes.some((n: { level: number }) => n.level > 0));
    });

    it('refuses bad input with a clear error and changes nothing', async () => {
      const before = await snapshot();
      const cases: [string, unknown, string, RegExp][] = [
        [
          '/api/v1/lots/DOUGH-4/consume',
          { into: 'DOUGH-1', quantity: '1000' },
          'MW_ERR_LOT_QUANTITY',
          /DOUGH-4 holds \d+ KGM: cannot take 1000 KGM/,
        ],
        [
          '/api/v1/lots/NOPE-9/consume',
          { into: 'DOUGH-1', quantity: '1' },
          'MW_ERR_LOT_NOT_FOUND',
          /no material lot NOPE-9/,
        ],
        [
          '/api/v1/lots/produce',
          {
            id: 'DOUGH-9',
            material: 'DOUGH',
            quantity: 1,
            inputs: [
              { lot: 'FLOUR-2', quantity: 1 },
              { lot: 'GHOST', quantity: 1 },
            ],
          },
          'MW_ERR_LOT_NOT_FOUND',
          /no material lot GHOST \(inputs\[1\]\)/,
        ],
        // DOUGH-1 is made of FLOUR-1: FLOUR-1 cannot be made of DOUGH-1.
        [
          '/api/v1/lots/DOUGH-1/consume',
          { into: 'FLOUR-1', quantity: '1' },
          'MW_ERR_LOT_CYCLE',
          /would close a cycle/,
        ],
        [
          '/api/v1/lots/FLOUR-2/consume',
          { into: 'FLOUR-2', quantity: '1' },
          'MW_ERR_LOT_INVALID',
          /into itself/,
        ],
        [
          '/api/v1/lots',
          { id: 'FLOUR-1', material: 'FLOUR', quantity: 1 },
          'MW_ERR_LOT_EXISTS',
          /exists already/,
        ],
        [
          '/api/v1/lots',
          { material: 'FLOUR', quantity: -3 },
          'MW_ERR_LOT_INVALID',
          /body.quantity: expected a positive decimal/,
        ],
      ];
      for (const [path, body, code, message] of cases) {
        const r = await post(path, body);
        assert.equal(r.body?.error?.code, code, `${path}: ${r.text}`);
        assert.match(r.body.error.message, message);
      }
      assert.deepEqual(await snapshot(), before);
    });

    it('books consumption into the output lot of an order, which its completion receives', async () => {
      const order = await post('/api/v1/orders', {
        externalId: 'PO-77',
        material: 'DOUGH',
        quantity: '100',
        uom: 'KGM',
        operations: [{ id: '0010', equipment: 'acme/plant1/kitchen/line1' }],
        lot: 'DOUGH-PO77',
      });
      assert.equal(order.status, 201, order.text);
      for (const action of ['dispatch', 'start'])
        assert.equal((await post(`/api/v1/orders/PO-77/${action}`, {})).status, 200);
      const used = await post('/api/v1/lots/FLOUR-2/consume', { order: 'PO-77', quantity: '50' });
      assert.equal(used.status, 200, used.text);
      assert.equal(used.body.into.id, 'DOUGH-PO77');
      assert.equal(used.body.into.order, 'PO-77');
      const done = await post('/api/v1/orders/PO-77/complete', {});
      assert.equal(done.status, 200, done.text);
      const out = await lot('DOUGH-PO77');
      assert.equal(out.origin, 'produced');
      assert.equal(
        out.location,
        'acme/plant1/kitchen/line1',
        'where the order’s last operation ran',
      );
      const back = (await get('/api/v1/lots/DOUGH-PO77/trace?direction=backward')).body;
      assert.deepEqual(
        back.edges.map((e: { from: string; order: string }) => [e.from, e.order]),
        [['FLOUR-2', 'PO-77']],
      );
      const recall = (await get('/api/v1/lots/FLOUR-2/recall')).body;
      assert.ok(recall.orders.includes('PO-77'));
    });

    it('refuses to complete an order whose lot number another lot has, changing nothing', async () => {
      const order = await post('/api/v1/orders', {
        externalId: 'PO-78',
        material: 'DOUGH',
        quantity: '10',
        uom: 'KGM',
        operations: [{ id: '0010', equipment: 'acme/plant1/kitchen/line1' }],
        lot: 'FLOUR-2',
      });
      assert.equal(order.status, 201, order.text);
      for (const action of ['dispatch', 'start'])
        assert.equal((await post(`/api/v1/orders/PO-78/${action}`, {})).status, 200);
      const done = await post('/api/v1/orders/PO-78/complete', {});
      assert.equal(done.body.error?.code, 'MW_ERR_LOT_EXISTS', done.text);
      assert.equal((await get('/api/v1/orders/PO-78')).body.status, 'running');
      assert.equal((await lot('FLOUR-2')).material, 'FLOUR');
    });

    it('a propagated hold blocks consuming an intermediate, until a signed release', async () => {
      const held = await post(
        '/api/v1/lots/FLOUR-1/holds',
        { reason: 'supplier recall 2026-118', propagate: true },
        quality,
      );
      assert.equal(held.status, 201, held.text);
      assert.equal(held.body.holds.length, 14, 'the raw lot, three doughs, ten cakes');
      assert.equal((await lot('DOUGH-2')).status, 'on-hold');
      assert.equal((await lot('DOUGH-4')).status, 'available', 'not made from FLOUR-1');
      const refused = await post(
        '/api/v1/lots/DOUGH-2/consume',
        { into: 'DOUGH-4', quantity: '1' },
        operator,
      );
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.code, 'MW_ERR_LOT_ON_HOLD');
      const hold = (await lot('DOUGH-2')).holds[0];
      assert.equal(hold.origin, 'propagated');
      assert.equal(hold.rootLot, 'FLOUR-1');
      assert.match(
        refused.body.error.message,
        new RegExp(`hold ${hold.id} \\(supplier recall 2026-118\\)`),
      );

      const before = await snapshot();
      const path = `/api/v1/lots/DOUGH-2/holds/${hold.id}/release`;
      const byOperator = await post(
        path,
        { reason: 'ok', username: 'olga', password: 'plant floor pass phrase 42' },
        operator,
      );
      assert.equal(byOperator.status, 403);
      assert.equal(byOperator.body.error.code, 'MW_ERR_AUTH_FORBIDDEN');
      const wrongPassword = await post(
        path,
        { reason: 'lab ok', username: 'quinn', password: 'wrong' },
        quality,
      );
      assert.equal(wrongPassword.status, 401, wrongPassword.text);
      assert.deepEqual((await snapshot()).lots, before.lots, 'refused releases change no lot');

      const released = await post(
        path,
        { reason: 'lab retest passed', username: 'quinn', password: QUALITY_PASSWORD },
        quality,
      );
      assert.equal(released.status, 200, released.text);
      const after = await lot('DOUGH-2');
      assert.equal(after.status, 'available');
      assert.equal(after.holds[0].status, 'released');
      assert.equal(after.holds[0].releasedBy, 'user:quinn');
      const sigs = await get(
        '/api/v1/signatures?entityType=material-lot&entityId=DOUGH-2',
        quality,
      );
      assert.equal(sigs.status, 200, sigs.text);
      const sig = sigs.body.items[0];
      assert.equal(sig.meaning, 'released');
      assert.equal(sig.valid, true);
      assert.equal(sig.id, released.body.signature);
      const audit = await hub.store.listAudit({
        entityType: 'quality-hold',
        entityId: hold.id,
        limit: 10,
      });
      assert.deepEqual(
        audit.map((a) => a.action),
        ['hold', 'release'],
      );
      // Released, the dough moves again; the other doughs are still held.
      const ok = await post(
        '/api/v1/lots/DOUGH-2/consume',
        { into: 'DOUGH-4', quantity: '1' },
        operator,
      );
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await lot('DOUGH-3')).status, 'on-hold');
      const cake = (await get('/api/v1/lots/FLOUR-1/recall')).body.finished[0].id;
      const ship = await post(`/api/v1/lots/${cake}/ship`, {}, operator);
      assert.equal(ship.body.error?.code, 'MW_ERR_LOT_ON_HOLD', 'a held lot is not shipped');
      const split = await post(
        '/api/v1/lots/DOUGH-3/split',
        { parts: [{ quantity: 1 }] },
        operator,
      );
      assert.equal(split.body.error?.code, 'MW_ERR_LOT_ON_HOLD', 'nor split');
    });

    it('splits a lot into sublots and merges them again, quantities exact', async () => {
      const split = await post('/api/v1/lots/SUGAR-1/split', {
        parts: [{ id: 'SUGAR-1-A', quantity: '5.5' }, { quantity: '4.25' }],
      });
      assert.equal(split.status, 201, split.text);
      assert.equal(split.body.lot.quantity, '10.25');
      const [a, b] = split.body.parts;
      assert.equal(a.parent, 'SUGAR-1');
      assert.equal(b.quantity, '4.25');
      const merged = await post('/api/v1/lots/merge', { id: 'SUGAR-M', lots: [a.id, b.id] });
      assert.equal(merged.status, 201, merged.text);
      assert.equal(merged.body.quantity, '9.75');
      assert.equal((await lot(a.id)).status, 'consumed');
      const back = (await get('/api/v1/lots/SUGAR-M/trace?direction=backward')).body;
      assert.deepEqual(
        back.edges
          .map((e: { from: string; to: string; kind: string }) => `${e.from}>${e.to}:${e.kind}`)
          .sort(),
        [
          `${a.id}>SUGAR-M:merge`,
          `${b.id}>SUGAR-M:merge`,
          `SUGAR-1>${a.id}:split`,
          `SUGAR-1>${b.id}:split`,
        ].sort(),
      );
      const mixed = await post('/api/v1/lots/merge', { lots: ['SUGAR-M', 'FLOUR-2'] });
      assert.equal(mixed.body.error?.code, 'MW_ERR_LOT_INVALID');
      assert.match(
        mixed.body.error.message,
        /lots\[1\]: lot FLOUR-2 is of material FLOUR, not SUGAR/,
      );
    });
  });
