/**
 * SQL polling connector against the machine's PostgreSQL and MariaDB: rows reach a real hub as
 * samples, counts and states; each row is read once across a restart; a value that does not
 * convert is a bad sample; a lost database marks the tags stale and reading goes on after it is
 * back; a write runs its statement in a transaction; bad config is rejected naming the path.
 *
 * The database outage is a TCP proxy (started here) that is closed and reopened: the shared
 * servers are never stopped.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { parseConfig } from '../../src/config/load.ts';
import type { ConnectorInstance } from '../../src/core/connector.ts';
import { isMwError } from '../../src/errors.ts';
import type { StoredSample } from '../../src/store/types.ts';
import { PLANT_YAML, startTestHub, tempDir, testConfig, type TestHub } from '../helpers/hub.ts';
import { MARIADB_URL, PG_URL, serviceSkip, waitFor } from '../helpers/services.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const CAPPER = 'acme/plant1/packaging/line1/capper';
const T0 = Date.parse('2026-11-25T08:00:00Z');
const RUN = `mw_sql_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

/** A plain client of the test's own, to set up tables and check what the connector wrote. */
interface Admin {
  exec(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

interface Db {
  readonly name: string;
  readonly url: string;
  readonly skip: string | false;
  /** Qualified name of a table of this test run. */
  table(name: string): string;
  /** Parameter marker n (1-based). */
  p(n: number): string;
  admin(): Promise<Admin>;
  setup(a: Admin): Promise<void>;
  teardown(a: Admin): Promise<void>;
}

const pgDb: Db = {
  name: 'PostgreSQL',
  url: PG_URL,
  skip: await serviceSkip('PostgreSQL', PG_URL),
  table: (name) => `${RUN}.${name}`,
  p: (n) => `$${n}`,
  async admin() {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    return {
      exec: async (sql, params = []) => (await client.query(sql, params)).rows,
      close: () => client.end(),
    };
  },
  async setup(a) {
    await a.exec(`CREATE SCHEMA ${RUN}`);
    await a.exec(
      `CREATE TABLE ${RUN}.production (id bigint PRIMARY KEY, machine text NOT NULL, good bigint NOT NULL, state text NOT NULL, ts timestamp(3) NOT NULL)`,
    );
    await a.exec(
      `CREATE TABLE ${RUN}.readings (id bigint PRIMARY KEY, machine text NOT NULL, good_text text, ts timestamp(3) NOT NULL)`,
    );
    await a.exec(`CREATE TABLE ${RUN}.setpoints (name text PRIMARY KEY, value double precision)`);
  },
  async teardown(a) {
    await a.exec(`DROP SCHEMA IF EXISTS ${RUN} CASCADE`);
  },
};

const mariaDb: Db = {
  name: 'MariaDB',
  url: MARIADB_URL,
  skip: await serviceSkip('MariaDB', MARIADB_URL),
  table: (name) => `${RUN}_${name}`,
  p: () => '?',
  async admin() {
    const connection = await mysql.createConnection({ uri: MARIADB_URL });
    return {
      exec: async (sql, params = []) => {
        const [rows] = await connection.query(sql, params);
        return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [];
      },
      close: () => connection.end(),
    };
  },
  async setup(a) {
    await a.exec(
      `CREATE TABLE ${RUN}_production (id BIGINT PRIMARY KEY, machine VARCHAR(40) NOT NULL, good BIGINT NOT NULL, state VARCHAR(20) NOT NULL, ts DATETIME(3) NOT NULL)`,
    );
    await a.exec(
      `CREATE TABLE ${RUN}_readings (id BIGINT PRIMARY KEY, machine VARCHAR(40) NOT NULL, good_text VARCHAR(40), ts DATETIME(3) NOT NULL)`,
    );
    await a.exec(`CREATE TABLE ${RUN}_setpoints (name VARCHAR(40) PRIMARY KEY, value DOUBLE)`);
  },
  async teardown(a) {
    for (const t of ['production', 'readings', 'setpoints'])
      await a.exec(`DROP TABLE IF EXISTS ${RUN}_${t}`);
  },
};

/** A TCP proxy in front of the database, closed and reopened on the same port for an outage. */
class TcpProxy {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise((resolve) => server.close(resolve));
  }

  /** The database URL through the proxy. */
  url(): string {
    const u = new URL(this.target.href);
    u.port = String(this.port);
    return u.href;
  }
}

function sqlTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '');
}

function hubYaml(db: Db, url: string): string {
  return `${PLANT_YAML}
connections:
  - id: line-db
    type: sql
    url: '${url}'
    timeout: 2s
    reconnect: { initial: 100ms, max: 400ms }
    queries:
      - id: counts
        every: 100ms
        limit: 3
        sql: >-
          SELECT id, machine, good, state, ts FROM ${db.table('production')}
          WHERE id > :watermark ORDER BY id LIMIT :limit
        watermark: { column: id }
        timestamp: ts
        tags:
          - { column: good, tag: 'line1/{machine}/good', type: number }
          - { column: state, tag: 'line1/{machine}/state' }
      - id: readings
        every: 100ms
        sql: >-
          SELECT id, machine, good_text, ts FROM ${db.table('readings')}
          WHERE ts > :watermark ORDER BY ts LIMIT :limit
        watermark: { column: ts, initial: '2000-01-01 00:00:00' }
        timestamp: ts
        tags:
          - { column: good_text, tag: 'line1/{machine}/good', type: number }
    writes:
      - tag: 'line1/{machine}/setpoint'
        sql: UPDATE ${db.table('setpoints')} SET value = :value WHERE name = :machine
bindings:
  - connection: line-db
    topic: '{line}/{unit}/good'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: counter.good
  - connection: line-db
    topic: '{line}/{unit}/state'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
`;
}

for (const db of [pgDb, mariaDb])
  describe(`SQL polling connector, ${db.name}`, { skip: db.skip }, () => {
    let admin: Admin;
    let proxy: TcpProxy;
    const data = tempDir('mw-sql-');
    let hub: TestHub | null = null;
    let nextId = 1;

    const production = db.table('production');
    const insertRow = async (machine: string, good: number, state: string): Promise<number> => {
      const id = nextId++;
      await admin.exec(
        `INSERT INTO ${production} (id, machine, good, state, ts) VALUES (${db.p(1)}, ${db.p(2)}, ${db.p(3)}, ${db.p(4)}, ${db.p(5)})`,
        [id, machine, good, state, sqlTime(T0 + id * 1000)],
      );
      return id;
    };
    const running = (): TestHub => {
      assert.ok(hub !== null, 'the hub is running');
      return hub;
    };
    const samples = async (): Promise<StoredSample[]> =>
      running().store.listSamples({ connectionId: 'line-db', limit: 10_000 });
    const connector = (): ConnectorInstance =>
      running().connectors.find((c) => c.id === 'line-db') as ConnectorInstance;
    const startHub = async (): Promise<TestHub> => {
      hub = await startTestHub(testConfig(hubYaml(db, proxy.url())), {
        dataDir: data.dir,
        http: false,
      });
      return hub;
    };

    before(async () => {
      admin = await db.admin();
      await db.setup(admin);
      proxy = new TcpProxy(new URL(db.url));
      await proxy.open();
    });
    after(async () => {
      await hub?.stop();
      await proxy.close();
      try {
        await db.teardown(admin);
      } finally {
        await admin.close();
        data.remove();
      }
    });

    it('reads rows into the hub, each once across a restart', async () => {
      // 5 rows: two pages of 3 and 2 (limit 3), two tags per row.
      await insertRow('filler', 10, 'running');
      await insertRow('capper', 5, 'running');
      await insertRow('filler', 20, 'running');
      await insertRow('filler', 30, 'down');
      await insertRow('capper', 7, 'idle');
      await startHub();
      await waitFor(async () => (await samples()).length === 10, { what: '10 samples' });
      const h = running();
      // First reading is the baseline (10), then +10, +10.
      assert.equal(h.runtime.get(FILLER)?.counters.good.total, 20);
      assert.equal(h.runtime.get(CAPPER)?.counters.good.total, 2);
      assert.equal(h.runtime.get(FILLER)?.status.state, 'down');
      assert.equal(h.runtime.get(CAPPER)?.status.state, 'idle');
      const first = (await samples()).find((s) => s.tag === 'line1/filler/good');
      assert.equal(first?.value, 10);
      assert.equal(first?.quality, 'good');
      assert.equal(first?.sourceTs, T0 + 1000, 'the ts column is the source time (as UTC)');
      assert.equal(first?.equipmentId, FILLER);
      assert.equal(connector().health().status, 'connected');

      // Restart on the same data dir: the watermark continues after the last row read.
      await h.stop();
      hub = null;
      await insertRow('filler', 40, 'running');
      await insertRow('capper', 9, 'running');
      await insertRow('filler', 45, 'running');
      await startHub();
      await waitFor(async () => (await samples()).length === 16, { what: '16 samples' });
      // A last row after a few more polls: when it is in, nothing else came twice.
      await insertRow('capper', 11, 'running');
      await waitFor(async () => (await samples()).length >= 18, { what: '18 samples' });
      const all = await samples();
      assert.equal(all.length, 18);
      const goods = all.filter((s) => s.tag.endsWith('/good')).map((s) => `${s.tag}=${s.value}`);
      assert.deepEqual(goods, [
        'line1/filler/good=10',
        'line1/capper/good=5',
        'line1/filler/good=20',
        'line1/filler/good=30',
        'line1/capper/good=7',
        'line1/filler/good=40',
        'line1/capper/good=9',
        'line1/filler/good=45',
        'line1/capper/good=11',
      ]);
      assert.equal(running().runtime.get(FILLER)?.counters.good.total, 35);
      assert.equal(running().runtime.get(CAPPER)?.counters.good.total, 6);
      const rowsRead = connector()
        .metrics?.()
        .find((m) => m.name === 'sql_rows_read_total' && m.labels?.query === 'counts');
      assert.equal(rowsRead?.value, 4, 'the restarted hub read only the 4 new rows');
    });

    it('turns a value that does not convert into a bad sample with the reason', async () => {
      const readings = db.table('readings');
      const insert = `INSERT INTO ${readings} (id, machine, good_text, ts) VALUES (${db.p(1)}, ${db.p(2)}, ${db.p(3)}, ${db.p(4)})`;
      await admin.exec(insert, [1, 'labeller', '12', sqlTime(T0 + 100_000)]);
      await admin.exec(insert, [2, 'labeller', 'twelve', sqlTime(T0 + 100_500)]);
      await admin.exec(insert, [3, 'labeller', '15', sqlTime(T0 + 101_000)]);
      const tagged = async (): Promise<StoredSample[]> =>
        (await samples()).filter((s) => s.tag === 'line1/labeller/good');
      await waitFor(async () => (await tagged()).length === 3, { what: 'labeller samples' });
      const [a, b, c] = await tagged();
      assert.deepEqual([a?.value, a?.quality], [12, 'good']);
      assert.deepEqual([b?.value, b?.quality], [null, 'bad']);
      assert.equal(b?.status, 'column good_text: "twelve" is not a number');
      assert.equal(b?.sourceTs, T0 + 100_500);
      assert.deepEqual([c?.value, c?.quality], [15, 'good']);
      // The bad reading neither counts nor breaks the counter: 12 → 15.
      assert.equal(
        running().runtime.get('acme/plant1/packaging/line1/labeller')?.counters.good.total,
        3,
      );
    });

    it('writes a tag through its statement, confirmed by a SELECT', async () => {
      const setpoints = db.table('setpoints');
      await admin.exec(`INSERT INTO ${setpoints} (name, value) VALUES (${db.p(1)}, ${db.p(2)})`, [
        'filler',
        1,
      ]);
      await connector().write?.('line1/filler/setpoint', 42.5);
      const rows = await admin.exec(`SELECT value FROM ${setpoints} WHERE name = ${db.p(1)}`, [
        'filler',
      ]);
      assert.equal(Number(rows[0]?.value), 42.5);
      // No row for the capper: the statement changes nothing, the write is refused.
      await assert.rejects(
        connector().write?.('line1/capper/setpoint', 1) as Promise<void>,
        (err) => {
          assert.ok(isMwError(err));
          assert.equal(err.code, 'MW_ERR_TAG_WRITE');
          assert.match(err.message, /line1\/capper\/setpoint.*the statement changed no row/);
          return true;
        },
      );
      // The database's own reason: a text where a number belongs.
      await assert.rejects(
        connector().write?.('line1/filler/setpoint', 'high') as Promise<void>,
        (err) => {
          assert.ok(isMwError(err));
          assert.equal(err.code, 'MW_ERR_TAG_WRITE');
          assert.match(err.message, /writing "high" to line1\/filler\/setpoint failed: \S/);
          return true;
        },
      );
      const after = await admin.exec(`SELECT value FROM ${setpoints} WHERE name = ${db.p(1)}`, [
        'filler',
      ]);
      assert.equal(Number(after[0]?.value), 42.5, 'the failed write was rolled back');
      await assert.rejects(
        connector().write?.('line1/filler/speed', 1) as Promise<void>,
        /no `writes` entry/,
      );
    });

    it('marks the tags stale when the database is lost and reads on after it is back', async () => {
      const before = (await samples()).length;
      const reconnectsBefore = connector().health().reconnects;
      await proxy.close();
      await waitFor(() => connector().health().status === 'disconnected', {
        what: 'status disconnected',
      });
      // Every tag the connection produced, once, bad and stale.
      const tags = [
        'line1/filler/good',
        'line1/filler/state',
        'line1/capper/good',
        'line1/capper/state',
        'line1/labeller/good',
      ];
      await waitFor(async () => (await samples()).length === before + tags.length, {
        what: 'stale samples',
      });
      const stale = (await samples()).slice(before);
      assert.deepEqual(stale.map((s) => s.tag).sort(), [...tags].sort());
      for (const s of stale) {
        assert.equal(s.quality, 'bad');
        assert.equal(s.status, 'stale: connection lost');
        assert.equal(s.value, null);
      }
      await waitFor(() => connector().health().reconnects >= reconnectsBefore + 2, {
        what: 'reconnect attempts',
      });
      assert.match(connector().health().detail ?? '', /connect|lost|ECONN/i);
      // Rows written during the outage are read after it.
      await insertRow('filler', 50, 'running');
      await proxy.open();
      await waitFor(() => connector().health().status === 'connected', { what: 'reconnected' });
      await waitFor(async () => (await samples()).length === before + tags.length + 2, {
        what: 'the row written during the outage',
      });
      assert.equal((await samples()).length, before + tags.length + 2, 'stale marked once');
      assert.equal(running().runtime.get(FILLER)?.counters.good.total, 40);
    });

    it('reports a failing query in health with the database message, and goes on', async () => {
      const yaml = hubYaml(db, proxy.url())
        .replace('id: line-db', 'id: broken-db')
        .replaceAll('connection: line-db', 'connection: broken-db')
        .replace('SELECT id, machine, good, state, ts', 'SELECT id, machine, nope, state, ts');
      const other = await startTestHub(testConfig(yaml), { http: false });
      try {
        const broken = other.connectors[0] as ConnectorInstance;
        await waitFor(() => broken.health().errors >= 2, { what: 'counted query errors' });
        const health = broken.health();
        assert.equal(health.status, 'connected');
        assert.match(health.detail ?? '', /^query counts: .*nope/);
        // The other query of the connection still reads.
        await waitFor(
          async () =>
            (await other.store.listSamples({ connectionId: 'broken-db', limit: 100 })).length === 3,
          { what: 'samples of the working query' },
        );
      } finally {
        await other.dispose();
      }
    });
  });

describe('SQL connection config', () => {
  const config = (query: string, extra = ''): string => `${PLANT_YAML}
connections:
  - id: db
    type: sql
    url: postgres://mes@127.0.0.1:5432/line
    queries:
      - id: q
${query}
        tags: [{ column: good, tag: 'line1/{machine}/good' }]
${extra}`;
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml, '<test>');
    } catch (err) {
      assert.ok(isMwError(err));
      assert.equal(err.code, 'MW_ERR_CONFIG_INVALID');
      return [...err.details];
    }
    assert.fail('the configuration was accepted');
  };

  it('accepts a query with :watermark and :limit, skipping casts, quotes and comments', () => {
    const parsed = parseConfig(
      config(`        sql: "SELECT id::bigint, ':x' AS t FROM p -- :y\\n WHERE id > :watermark LIMIT :limit"
        watermark: { column: id }`),
    );
    assert.equal(parsed.connections[0]?.type, 'sql');
  });

  it('rejects an unknown placeholder, naming the path', () => {
    const found = problems(
      config(`        sql: SELECT * FROM p WHERE id > :watermark AND line = :line
        watermark: { column: id }`),
    );
    assert.equal(found.length, 1);
    assert.match(
      found[0] ?? '',
      /^connections\[0\]\.queries\[0\]\.sql .*unknown placeholder :line/,
    );
  });

  it('rejects a query without watermark, naming the path', () => {
    const found = problems(config(`        sql: SELECT * FROM p WHERE id > :watermark`));
    assert.match(found.join('\n'), /connections\[0\]\.queries\[0\]\.watermark/);
    const noPlaceholder = problems(
      config(`        sql: SELECT * FROM p
        watermark: { column: id }`),
    );
    assert.match(
      noPlaceholder.join('\n'),
      /connections\[0\]\.queries\[0\]\.sql .*missing placeholder :watermark/,
    );
  });

  it('rejects a positional parameter, an unknown write placeholder and a bad URL', () => {
    const found = problems(
      config(
        `        sql: SELECT * FROM p WHERE id > $1
        watermark: { column: id }`,
        `    writes:
      - { tag: 'line1/{machine}/setpoint', sql: 'UPDATE s SET v = :value WHERE m = :unit' }`,
      ).replace('postgres://mes@127.0.0.1:5432/line', 'postgres://mes@127.0.0.1:5432/line'),
    );
    assert.match(found.join('\n'), /queries\[0\]\.sql .*positional parameter \$1/);
    assert.match(found.join('\n'), /writes\[0\]\.sql .*unknown placeholder :unit/);
    const badUrl = problems(
      config(`        sql: SELECT * FROM p WHERE id > :watermark
        watermark: { column: id }`).replace('postgres://', 'oracle://'),
    );
    assert.match(badUrl.join('\n'), /connections\[0\]\.url .*expected a database URL/);
  });
});
