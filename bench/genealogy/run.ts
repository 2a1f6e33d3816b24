/**
 * Genealogy benchmark (issue #12): backward and forward traces through `--lots` (1,000,000)
 * material lots, on SQLite and on PostgreSQL. Target: a trace at depth 20 under 50 ms.
 *
 * Per store:
 *   1. build: the plant history of graph.ts (`--levels` 24 production levels, `--window` 16,
 *      seed `--seed`), written as the hub writes it: `Store.writeRecords` of the lot records
 *      with one audit row each and the links into them, `--batch` (1,000) lots a call, each
 *      call's links checked for cycles in its transaction. PostgreSQL's tables are then
 *      vacuumed and analysed, as autovacuum does for a hub's tables in a day, and both stores
 *      checkpointed (so the load's writes do not land in the middle of the timings).
 *   2. traces: `--traces` (200; 50 under 100,000 lots) backward traces from random finished
 *      lots and as many forward traces from random raw-material lots that went into something
 *      (a recall; of the first 90 % received, so their use has reached the top levels),
 *      `Store.traceLots` at `--max-depth` (20) and `--max-links` (100,000), then the node
 *      fetch: `Store.getRecords` of every lot in the trace. Ten of each first, not timed.
 *   3. ceiling (bare.ts): for each trace, the same statements bare on a connection of their
 *      own: one indexed lookup of all the links of each level's frontier (the frontiers the
 *      trace had), the EXISTS look past the last level where the trace made one, and the
 *      records in statements of 500 ids; no store code around them.
 *
 * Usage: npm run bench:genealogy [-- --lots 1000000 --store both|sqlite|postgres --batch 1000
 *        --levels 24 --window 16 --seed 12 --traces 200 --max-depth 20 --max-links 100000
 *        --pg-url postgres://… --max-seconds 7200 --no-links]
 * `--no-links` writes the same lots without their links and traces nothing: beside the normal
 * run, what the links and their cycle check add to the writes.
 * Quick: npm run bench:genealogy -- --lots 20000
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { TraceDirection } from '../../src/model/index.ts';
import {
  openPostgresStore,
  openSqliteStore,
  type LotTrace,
  type Store,
} from '../../src/store/index.ts';
import { prng } from '../kpi/plant.ts';
import {
  deadline,
  finish,
  flag,
  fmt,
  header,
  mb,
  note,
  numArg,
  pct,
  progress,
  rss,
  strArg,
  tempDir,
} from '../connectors/common.ts';
import { bareSqlite, barePostgres, type Bare } from './bare.ts';
import { LOT_ENTITY, LotGraph } from './graph.ts';

const LOTS = numArg('lots', 1_000_000);
const STORES = strArg('store', 'both');
const BATCH = numArg('batch', 1000);
const LEVELS = numArg('levels', 24);
const WINDOW = numArg('window', 16);
const SEED = numArg('seed', 12);
/** Fewer in a quick run (under 100,000 lots), which then takes about half a minute. */
const TRACES = numArg('traces', LOTS >= 100_000 ? 200 : 50);
const MAX_DEPTH = numArg('max-depth', 20);
const MAX_LINKS = numArg('max-links', 100_000);
/** The same lots without their links, and no traces: what the genealogy adds to the writes. */
const NO_LINKS = flag('no-links');
const PG_URL = strArg(
  'pg-url',
  process.env.MILLWRIGHT_TEST_PG_URL ??
    process.env.MILLWRIGHT_PG_URL ??
    'postgres://postgres@127.0.0.1:5432/test',
);
const WARMUP = 10;
const TARGET_MS = 50;
const STORE_OPTIONS = { quarantineMaxEntries: 10_000, quarantinePayloadBytes: 4096 };

deadline(7200);

// ---------------------------------------------------------------------------------------------
// Build and measure

interface Built {
  readonly graph: LotGraph;
  readonly seconds: number;
}

async function build(store: Store): Promise<Built> {
  rss.reset();
  const graph = new LotGraph(LEVELS, WINDOW, SEED);
  const t0 = performance.now();
  const rate = () => fmt(graph.made / ((performance.now() - t0) / 1000));
  const links = () => (NO_LINKS ? 'no links' : `${fmt(graph.linked)} links`);
  const stop = progress(
    'build',
    () => `${fmt(graph.made)} / ${fmt(LOTS)} lots, ${links()}, ${rate()} lots/s`,
  );
  try {
    for (const b of graph.batches(LOTS, BATCH)) {
      await store.writeRecords(b.writes, b.audit, [], NO_LINKS ? [] : b.links);
      // SQLite answers at once: let timers (progress) and the WAL checkpointer's worker run, as
      // between a hub's requests.
      await nextTurn();
    }
  } finally {
    stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  note('build', `${fmt(graph.made)} lots, ${links()} in ${seconds.toFixed(1)} s`);
  note('build rate', `${rate()} lots/s`);
  return { graph, seconds };
}

/** The frontier of each level a trace from `start` expanded (as traceWalk made them). */
function frontiersOf(trace: LotTrace, start: string, direction: TraceDirection) {
  const seen = new Set([start]);
  const frontiers: string[][] = [];
  let frontier = [start];
  for (let level = 1; level <= MAX_DEPTH && frontier.length > 0; level++) {
    frontiers.push(frontier);
    frontier = [];
    for (const l of trace.links) {
      const lot = direction === 'backward' ? l.from : l.to;
      if (l.depth === level && !seen.has(lot)) {
        seen.add(lot);
        frontier.push(lot);
      }
    }
  }
  return { frontiers, exists: frontier.length > 0, lots: [...seen] };
}

interface Timing {
  readonly trace: number[];
  readonly fetch: number[];
  readonly total: number[];
  readonly bare: number[];
  readonly bareFetch: number[];
  readonly links: number[];
  readonly lots: number[];
  readonly statements: number[];
  truncated: number;
}

async function traces(
  store: Store,
  bare: Bare,
  pool: readonly string[],
  direction: TraceDirection,
): Promise<Timing> {
  const rand = prng(SEED * 31 + (direction === 'backward' ? 1 : 2));
  const t: Timing = {
    ...{ trace: [], fetch: [], total: [], bare: [], bareFetch: [] },
    ...{ links: [], lots: [], statements: [], truncated: 0 },
  };
  const stop = progress(`${direction} traces`, () => `${t.trace.length} / ${TRACES}`);
  try {
    for (let i = 0; i < WARMUP + TRACES; i++) {
      const start = pool[Math.floor(rand() * pool.length)]!;
      const t0 = performance.now();
      const trace = await store.traceLots({
        lots: [start],
        direction,
        maxDepth: MAX_DEPTH,
        maxLinks: MAX_LINKS,
      });
      const t1 = performance.now();
      const { frontiers, exists, lots } = frontiersOf(trace, start, direction);
      const records = await store.getRecords(LOT_ENTITY, lots);
      const t2 = performance.now();
      const missing = records.findIndex((r) => r === undefined);
      if (missing >= 0) throw new Error(`lot ${lots[missing]} of the trace has no record`);
      const bareMs = await bare.levels(frontiers, direction, exists);
      const bareFetchMs = await bare.records(lots);
      await nextTurn();
      if (i < WARMUP) continue;
      t.trace.push(t1 - t0);
      t.fetch.push(t2 - t1);
      t.total.push(t2 - t0);
      t.bare.push(bareMs);
      t.bareFetch.push(bareFetchMs);
      t.links.push(trace.links.length);
      t.lots.push(lots.length);
      t.statements.push(frontiers.length + (exists ? 1 : 0));
      if (trace.truncated) t.truncated++;
    }
  } finally {
    stop();
  }
  return t;
}

const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);
const ms = (n: number): string => (n < 10 ? n.toFixed(1) : fmt(n));
const spread = (xs: readonly number[]): string => {
  const s = sorted(xs);
  return `${ms(pct(s, 50))} / ${ms(pct(s, 95))} / ${ms(s.at(-1) ?? NaN)}`;
};
const sizes = (xs: readonly number[]): string => {
  const s = sorted(xs);
  return `${fmt(pct(s, 50))} / ${fmt(s.at(-1) ?? NaN)}`;
};

interface StoreResult {
  readonly name: string;
  readonly built: Built;
  readonly dbBytes: number;
  readonly linkBytes: number;
  /** Null with --no-links. */
  readonly traced: { readonly backward: Timing; readonly forward: Timing } | null;
  /** This process, from the build to the last trace. */
  readonly peakRss: number;
}

async function runStore(
  name: string,
  store: Store,
  afterBuild: () => Promise<{ dbBytes: number; linkBytes: number }>,
  openBare: () => Promise<Bare>,
): Promise<StoreResult> {
  console.log(`\n${name}`);
  await store.migrate();
  const built = await build(store);
  const { dbBytes, linkBytes } = await afterBuild();
  note('database size', `${mb(dbBytes)} (links and their indexes ${mb(linkBytes)})`);
  if (NO_LINKS) return { name, built, dbBytes, linkBytes, traced: null, peakRss: rss.peak };
  const bare = await openBare();
  try {
    const { raw, usedRaw, finished } = built.graph;
    const used = raw.slice(0, Math.ceil(raw.length * 0.9)).filter((l) => usedRaw.has(l));
    const backward = await traces(store, bare, finished, 'backward');
    const forward = await traces(store, bare, used, 'forward');
    for (const [label, t] of [
      ['backward', backward],
      ['forward', forward],
    ] as const) {
      note(`${label}: trace p50/p95/max`, `${spread(t.trace)} ms`);
      note(`${label}: ceiling (bare levels)`, `${spread(t.bare)} ms`);
      note(`${label}: node fetch`, `${spread(t.fetch)} ms (bare ${spread(t.bareFetch)})`);
      note(`${label}: trace + fetch`, `${spread(t.total)} ms`);
      note(`${label}: links, lots (p50/max)`, `${sizes(t.links)}, ${sizes(t.lots)}`);
      note(
        `${label}: statements, truncated`,
        `${sizes(t.statements)}, ${t.truncated} of ${TRACES}`,
      );
    }
    const peakRss = rss.peak;
    note('peak RSS', mb(peakRss));
    return { name, built, dbBytes, linkBytes, traced: { backward, forward }, peakRss };
  } finally {
    await bare.close();
  }
}

async function sqliteRun(): Promise<StoreResult> {
  const file = path.join(tempDir('mw-bench-genealogy-'), 'millwright.db');
  const store = await openSqliteStore({ ...STORE_OPTIONS, path: file, synchronous: 'FULL' });
  try {
    const size = async () => {
      const db = new Database(file);
      try {
        // The load's WAL into the database now, not by the checkpointer during the traces.
        db.pragma('wal_checkpoint(TRUNCATE)');
        const links = db
          .prepare<[], { n: number }>(
            "SELECT sum(pgsize) AS n FROM dbstat WHERE name IN ('lot_links', 'lot_links_from', 'lot_links_to')",
          )
          .get();
        const wal = `${file}-wal`;
        const walBytes = statSync(wal, { throwIfNoEntry: false })?.size ?? 0;
        return { dbBytes: statSync(file).size + walBytes, linkBytes: links?.n ?? 0 };
      } finally {
        db.close();
      }
    };
    return await runStore('SQLite, synchronous FULL', store, size, async () => bareSqlite(file));
  } finally {
    await store.close();
  }
}

async function postgresRun(): Promise<StoreResult | null> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    const where = PG_URL.replace(/\/\/[^@/]*@/, '//');
    console.log(`\nPostgreSQL: skipped, ${where} is unreachable (${(err as Error).message})`);
    return null;
  }
  const schema = `mwbench_genealogy_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const s = pg.escapeIdentifier(schema);
  const store = await openPostgresStore({ ...STORE_OPTIONS, url: PG_URL, schema, poolSize: 5 });
  try {
    const version = (
      await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    ).rows[0]!.v;
    const afterBuild = async () => {
      const t0 = performance.now();
      for (const t of ['lot_links', 'records', 'audit_log'])
        await admin.query(`VACUUM (ANALYZE) ${s}.${t}`);
      // The load's dirty pages to disk now, not by the checkpointer during the traces.
      await admin.query('CHECKPOINT').catch((err: Error) => note('CHECKPOINT', err.message));
      note('VACUUM (ANALYZE), CHECKPOINT', `${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const size = await admin.query<{ db: string; links: string }>(
        `SELECT sum(pg_total_relation_size(c.oid)) AS db,
                sum(pg_total_relation_size(c.oid)) FILTER (WHERE c.relname = 'lot_links') AS links
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [schema],
      );
      return { dbBytes: Number(size.rows[0]!.db), linkBytes: Number(size.rows[0]!.links) };
    };
    return await runStore(`PostgreSQL ${version}`, store, afterBuild, () =>
      barePostgres(PG_URL, schema),
    );
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------

header(
  'bench:genealogy',
  `${fmt(LOTS)} lots over ${LEVELS} levels (window ${WINDOW}, seed ${SEED}), ${TRACES} traces each way at depth ${MAX_DEPTH}`,
);
try {
  const results: StoreResult[] = [];
  if (STORES === 'both' || STORES === 'sqlite') results.push(await sqliteRun());
  if (STORES === 'both' || STORES === 'postgres') {
    const r = await postgresRun();
    if (r !== null) results.push(r);
  }
  console.log(
    `\nsummary (ms p50 / p95 / max; target: trace < ${TARGET_MS} ms at depth ${MAX_DEPTH})`,
  );
  const line = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  line(['figure', ...results.map((r) => r.name)]);
  line(['---', ...results.map(() => '---')]);
  const row = (label: string, f: (r: StoreResult) => string) => line([label, ...results.map(f)]);
  row('build (writeRecords)', (r) => `${fmt(r.built.graph.made / r.built.seconds)} lots/s`);
  row('database size', (r) => `${mb(r.dbBytes)} (links ${mb(r.linkBytes)})`);
  const figures: [string, (t: Timing) => string][] = [
    ['links, lots (p50 / max)', (t) => `${sizes(t.links)}, ${sizes(t.lots)}`],
    ['traceLots', (t) => spread(t.trace)],
    ['ceiling, bare levels', (t) => spread(t.bare)],
    ['getRecords (bare)', (t) => `${spread(t.fetch)} (${spread(t.bareFetch)})`],
    ['trace + getRecords', (t) => spread(t.total)],
  ];
  if (!NO_LINKS)
    for (const d of ['backward', 'forward'] as const)
      for (const [label, f] of figures) row(`${d}: ${label}`, (r) => f(r.traced![d]));
  row('peak RSS (build and traces)', (r) => mb(r.peakRss));
  const p95 = (t: Timing) => pct(sorted(t.trace), 95);
  if (!NO_LINKS)
    row(`target: p95 trace < ${TARGET_MS} ms`, (r) =>
      Math.max(p95(r.traced!.backward), p95(r.traced!.forward)) < TARGET_MS ? 'met' : 'not met',
    );
  await finish();
} catch (err) {
  await finish(err);
}
