/**
 * KPI benchmark (issue #11): OEE by shift for `--units` units (200) over `--days` days (30) of
 * one-minute buckets, answered from the store, on SQLite and on PostgreSQL. Target: under 200 ms.
 *
 * Per store:
 *   1. load: every unit's history (plant.ts: a seeded state timeline and counts per minute) as
 *      bucket deltas through `Store.addKpiDeltas`, `--batch-hours` (24) of all units per call;
 *      the deltas are made by the hub's own `bucketDeltas` from the events the history has. The
 *      last three state changes of each unit (and the counts of the minute that holds `now`, or
 *      everything after `now − --journal-hours`) are committed through `Store.commit` instead,
 *      so the journal has them and every unit a current status; some of those stops are given a
 *      reason by a person (`DowntimeService.assign`).
 *   2. `KpiService.oee` as the admin, `now` fixed 20 s before the end of the range (a live
 *      report's `now` is inside a minute, so its last minute is read from the journal): the site
 *      by shift, the site by day and one line by shift; the first call of a fresh service (cold)
 *      and the median and p95 of `--runs` (10) more. The site's figures are checked against the
 *      history: running time, planned operation time and counts in planned time and in breaks.
 *   3. ceiling: a bare `SELECT sum(running_ms) FROM kpi_hour` over the same units and range on
 *      the same database, and the same with every figure column summed per unit, timed the same
 *      way.
 *   4. where the time of one warm site-by-shift call goes: each store method's calls and time,
 *      the bucket statements run bare, and (unless `--no-profile`) a CPU profile of `--runs`
 *      calls by function.
 *
 * Usage: npm run bench:kpi [-- --units 200 --days 30 --store both|sqlite|postgres
 *        --start 2026-10-12 --batch-hours 24 --runs 10 --seed 11 --assigned <units>
 *        --journal-hours 0 --counts-per-minute 1 --pg-url postgres://… --save-profile
 *        --max-seconds 7200 --keep <folder>]
 *
 * `--keep` keeps the SQLite database in that folder; a later run with the same flags finds it
 * and skips the load (the history is made again for the check, not written).
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { permissionsOf, type Principal } from '../../src/compliance/roles.ts';
import { IdentityService } from '../../src/compliance/identity.ts';
import { hierarchyOf } from '../../src/config/hierarchy.ts';
import { parseConfig } from '../../src/config/load.ts';
import { DowntimeService } from '../../src/core/downtime-service.ts';
import { siteCalendars } from '../../src/core/kpi/groups.ts';
import { KpiService, type OeeReport } from '../../src/core/kpi/service.ts';
import {
  bucketDeltas,
  dayStart,
  HOUR_MS,
  ReasonTree,
  STOP_STATES,
  type DomainEvent,
  type JournalEvent,
} from '../../src/model/index.ts';
import { FIGURE_COLUMNS, KPI_LEVELS, kpiSegments, sums } from '../../src/store/kpi-common.ts';
import {
  openPostgresStore,
  openSqliteStore,
  type KpiSumQuery,
  type Store,
} from '../../src/store/index.ts';
import { kpiStatements } from '../../src/store/postgres/kpi.ts';
import { prepareKpi, sumKpi as sqliteSumKpi } from '../../src/store/sqlite/kpi.ts';
import type { UnitProjection } from '../../src/store/types.ts';
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
  rss,
  strArg,
  tempDir,
} from '../connectors/common.ts';
import {
  breakWindows,
  changeAt,
  chunkCounts,
  counted,
  idealCycleMs,
  lineId,
  MINUTE_MS,
  noChunkFigures,
  plannedMinutes,
  plantYaml,
  prng,
  SITE,
  TIME_ZONE,
  unitId,
  unitTimeline,
  type ChunkFigures,
  type StateInterval,
} from './plant.ts';

const UNITS = numArg('units', 200);
const DAYS = numArg('days', 30);
const START_DAY = strArg('start', '2026-10-12'); // 30 days from here hold the DST change of 25 Oct
const BATCH_HOURS = numArg('batch-hours', 24);
const RUNS = numArg('runs', 10);
const SEED = numArg('seed', 11);
const ASSIGNED = numArg('assigned', UNITS);
const JOURNAL_HOURS = numArg('journal-hours', 0);
const COUNTS_PER_MINUTE = numArg('counts-per-minute', 1);
const STORES = strArg('store', 'both');
const PROFILE = !flag('no-profile');
const SAVE_PROFILE = flag('save-profile');
/** A folder to keep the SQLite database in; a later run with the same flags reuses it (no load). */
const KEEP = strArg('keep', '');
const PG_URL = strArg(
  'pg-url',
  process.env.MILLWRIGHT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
);
/** State changes of each unit committed through Store.commit (the last ones): its current status. */
const TAIL_CHANGES = 3;
/** `now` sits this far before the end of the range: inside its last minute, as a live report's. */
const NOW_BEFORE_END_MS = 20_000;
/** Events a journal commit holds (the tail and `--journal-hours`). */
const JOURNAL_BATCH = 20_000;
const TARGET_MS = 200;
/** Calls slower than this are not repeated (the median is then the one call). */
const REPEAT_UNDER_MS = numArg('repeat-under-ms', 15_000);

deadline(7200);
const runStarted = performance.now();

// ---------------------------------------------------------------------------------------------
// The plant and its history

const config = parseConfig(plantYaml(UNITS), '<bench>');
const hierarchy = hierarchyOf(config);
const calendars = siteCalendars(config);
const trees = new Map(config.sites.map((site) => [site.id, new ReasonTree(site.reasons)]));
const ADMIN: Principal = {
  kind: 'user',
  actor: 'user:admin',
  username: 'admin',
  permissions: permissionsOf(['admin']),
};

const START = dayStart(START_DAY, TIME_ZONE);
const END = START + DAYS * 86_400_000;
const NOW = END - NOW_BEFORE_END_MS;
const NOW_MINUTE = Math.floor(NOW / MINUTE_MS) * MINUTE_MS;
const JOURNAL_FROM = Math.max(START, NOW_MINUTE - Math.round(JOURNAL_HOURS * HOUR_MS));
const MINUTES = DAYS * 1440;
const UNIT_IDS = Array.from({ length: UNITS }, (_, i) => unitId(i));
const LINE = lineId(0);
const LINE_UNITS = UNIT_IDS.filter((u) => u.startsWith(`${LINE}/`));

const tPlan = performance.now();
const PLANNED = plannedMinutes(START, MINUTES);
const BREAKS = breakWindows(START, PLANNED);
const TIMELINES: StateInterval[][] = UNIT_IDS.map((_, i) =>
  unitTimeline(prng(SEED * 1_000_003 + i), START, NOW, BREAKS),
);
/** Planned operation time of one unit in [START, NOW). */
let POT_MS = 0;
for (let m = 0; m < MINUTES; m++) {
  const t = START + m * MINUTE_MS;
  if (t < NOW && PLANNED[m] === 1) POT_MS += Math.min(MINUTE_MS, NOW - t);
}
const timelineMs = performance.now() - tPlan;
const intervals = TIMELINES.reduce((s, iv) => s + iv.length, 0);

const ms = (x: number): string => (x >= 100 ? fmt(x) : x.toFixed(1));
const sec = (x: number): string => `${(x / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------
// Load

interface Loaded {
  readonly deltas: number;
  readonly events: number;
  readonly generateMs: number;
  readonly storeMs: number;
  readonly commitMs: number;
  readonly journalEvents: number;
  readonly assigned: number;
  readonly peakRss: number;
  /** Per unit: what the history ran and made, from START to NOW. */
  readonly expected: ChunkFigures[];
}

/** A count spread over `k` events within its minute (the journal's grain; buckets do not care). */
function spread(e: DomainEvent, k: number): DomainEvent[] {
  if (k <= 1 || e.type !== 'counted') return [e];
  const minute = Math.floor(e.ts / MINUTE_MS) * MINUTE_MS;
  const parts = Math.min(k, e.data.delta);
  const out: DomainEvent[] = [];
  for (let j = 0; j < parts; j++) {
    const ts = Math.min(minute + Math.floor(((j + 0.5) * MINUTE_MS) / parts), NOW - 1);
    const delta =
      Math.floor((e.data.delta * (j + 1)) / parts) - Math.floor((e.data.delta * j) / parts);
    out.push(counted(e.equipmentId, ts, e.data.counter as 'good' | 'scrap', delta));
  }
  return out;
}

async function load(store: Store, downtime: DowntimeService, write: boolean): Promise<Loaded> {
  const chunkMs = BATCH_HOURS * HOUR_MS;
  const chunks = Math.ceil((END - START) / chunkMs);
  const expected = UNIT_IDS.map(noChunkFigures);
  const next = UNIT_IDS.map(() => 1); // next state change (interval index) of each unit
  const journal: DomainEvent[] = [];
  let deltas = 0;
  let events = 0;
  let generateMs = 0;
  let storeMs = 0;
  const everyChunks = Math.max(1, Math.round((5 * 24) / BATCH_HOURS));
  rss.reset();
  for (let c = 0; c < chunks; c++) {
    const c0 = START + c * chunkMs;
    const c1 = Math.min(END, c0 + chunkMs);
    const t0 = performance.now();
    const batch: DomainEvent[] = [];
    UNIT_IDS.forEach((id, u) => {
      const iv = TIMELINES[u]!;
      const tail = Math.max(1, iv.length - TAIL_CHANGES);
      for (; next[u]! < iv.length && iv[next[u]!]!.from < c1; next[u]!++) {
        const k = next[u]!;
        const e = changeAt(id, iv, k);
        (k >= tail || e.ts >= JOURNAL_FROM ? journal : batch).push(e);
      }
      const counts = chunkCounts(
        prng(SEED * 7919 + u * 104_729 + c),
        id,
        idealCycleMs(u),
        iv,
        c0,
        c1,
        NOW,
        START,
        PLANNED,
        expected[u]!,
      );
      for (const e of counts)
        if (e.ts >= JOURNAL_FROM) journal.push(...spread(e, COUNTS_PER_MINUTE));
        else batch.push(e);
    });
    const d = bucketDeltas(batch);
    const t1 = performance.now();
    if (write) await store.addKpiDeltas(d);
    const t2 = performance.now();
    generateMs += t1 - t0;
    storeMs += t2 - t1;
    deltas += d.length;
    events += batch.length;
    if ((c + 1) % everyChunks === 0 || c === chunks - 1)
      console.log(
        `  … ${(((c1 - START) / 86_400_000) | 0).toString().padStart(3)} of ${DAYS} days ${write ? 'loaded' : 'made (kept database)'}: ${fmt(deltas)} minute deltas${write ? ` in ${sec(storeMs)} (${fmt(deltas / (storeMs / 1000))} /s)` : ''}, generating ${sec(generateMs)}`,
      );
  }
  // The journal: the last state changes of every unit (and counts near now), in time order.
  journal.sort((a, b) => a.ts - b.ts);
  const t3 = performance.now();
  const committed: JournalEvent[] = [];
  for (let i = 0; write && i < journal.length; i += JOURNAL_BATCH) {
    const last = i + JOURNAL_BATCH >= journal.length;
    committed.push(
      ...(await store.commit({
        samples: [],
        events: journal.slice(i, i + JOURNAL_BATCH),
        units: last ? UNIT_IDS.map((id, u) => projection(id, TIMELINES[u]!, expected[u]!)) : [],
        quarantine: [],
      })),
    );
  }
  // People give a reason to one stop a unit (of those in the journal), until --assigned.
  const reasons = ['OPERATOR', 'TRIAL', 'JAM'];
  const done = new Set<string>();
  let assigned = 0;
  for (const e of committed) {
    if (assigned >= ASSIGNED || !write) break;
    if (e.type !== 'state.changed' || !STOP_STATES.includes(e.data.state)) continue;
    if (done.has(e.equipmentId)) continue;
    done.add(e.equipmentId);
    await downtime.assign(ADMIN, e.equipmentId, e.seq, reasons[assigned % 3]!, 'bench');
    assigned++;
  }
  const commitMs = performance.now() - t3;
  return {
    deltas,
    events,
    generateMs,
    storeMs,
    commitMs,
    journalEvents: committed.length,
    assigned,
    peakRss: rss.peak,
    expected,
  };
}

function projection(id: string, iv: readonly StateInterval[], f: ChunkFigures): UnitProjection {
  const cur = iv.at(-1)!;
  const counter = (total: number) => ({ total, lastRaw: null, lastTs: NOW - 1 });
  return {
    equipmentId: id,
    status: { state: cur.state, reasonCode: cur.reason, sinceMs: cur.from },
    lastStateTs: cur.from,
    counters: {
      good: counter(f.goodPlanned + f.goodOutside),
      scrap: counter(f.scrapPlanned + f.scrapOutside),
      total: counter(0),
    },
    materials: {},
    updatedAt: NOW,
  };
}

// ---------------------------------------------------------------------------------------------
// Timing, the check, the ceiling

interface Timing {
  readonly cold: number;
  readonly median: number;
  readonly p95: number;
}

async function timed<T>(
  fn: () => Promise<T>,
  afterFirst?: () => void,
): Promise<{ timing: Timing; first: T }> {
  let t0 = performance.now();
  const first = await fn();
  const cold = performance.now() - t0;
  afterFirst?.();
  const times: number[] = [];
  // A call of minutes is reported once: ten more would say nothing new.
  for (let i = 0; i < (cold > REPEAT_UNDER_MS ? 0 : RUNS); i++) {
    t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { timing: { cold, median: pct(times, 50), p95: pct(times, 95) }, first };
}

/** The median, or the one call when it was not repeated. */
const typical = (t: Timing): number => (Number.isNaN(t.median) ? t.cold : t.median);

const timingText = (t: Timing): string =>
  Number.isNaN(t.median)
    ? `${ms(t.cold)} ms (cold; not repeated)`
    : `${ms(t.cold)} / ${ms(t.median)} / ${ms(t.p95)} ms`;

/** The report's summary against the history; throws with every difference. */
function check(
  what: string,
  r: OeeReport,
  units: readonly string[],
  expected: ChunkFigures[],
): string {
  const idx = units.map((u) => UNIT_IDS.indexOf(u));
  const sum = (k: keyof ChunkFigures): number => idx.reduce((s, i) => s + expected[i]![k], 0);
  const t = r.summary.totals;
  const pairs: [string, number, number][] = [
    ['running ms in planned time', t.runningMs, sum('runPlannedMs')],
    ['planned operation time ms', t.plannedOperationTimeMs, POT_MS * units.length],
    ['good in planned time', t.goodQuantity, sum('goodPlanned')],
    ['scrap in planned time', t.scrapQuantity, sum('scrapPlanned')],
    ['running ms in breaks', t.outsidePlannedTime.runningMs, sum('runOutsideMs')],
    ['good in breaks', t.outsidePlannedTime.goodQuantity, sum('goodOutside')],
  ];
  const wrong = pairs.filter(([, got, want]) => got !== want);
  if (wrong.length > 0)
    throw new Error(
      `check failed for ${what}:\n${wrong.map(([k, got, want]) => `    ${k}: report ${fmt(got)}, history ${fmt(want)} (${fmt(got - want)})`).join('\n')}`,
    );
  return `ok (${what}: running ${fmt(t.runningMs / HOUR_MS, 1)} h of ${fmt(t.plannedOperationTimeMs / HOUR_MS, 1)} h planned, ${fmt(t.goodQuantity)} good, OEE ${((r.summary.kpis.oee ?? 0) * 100).toFixed(1)} %)`;
}

/** Calls and time of each Store method while `on`; the last sumKpi query. */
class StoreMeter {
  on = false;
  readonly calls = new Map<string, { n: number; ms: number }>();
  lastSum: KpiSumQuery | null = null;

  wrap(store: Store): Store {
    return new Proxy(store, {
      get: (target, prop) => {
        const v = Reflect.get(target, prop, target) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          if (!this.on) return (v as (...a: unknown[]) => unknown).apply(target, args);
          if (prop === 'sumKpi') this.lastSum = args[0] as KpiSumQuery;
          // Before the call: SQLite's methods do their work before they return the promise.
          const t0 = performance.now();
          const call = (v as (...a: unknown[]) => unknown).apply(target, args);
          const count = (): void => {
            const c = this.calls.get(String(prop)) ?? { n: 0, ms: 0 };
            c.n++;
            c.ms += performance.now() - t0;
            this.calls.set(String(prop), c);
          };
          // A method that returns no promise (kpiCacheToken) is given its value as it is.
          if (!(call instanceof Promise)) {
            count();
            return call;
          }
          return call.finally(count);
        };
      },
    });
  }
}

/** Bare SQL on the store's database, beside the store. */
interface Bare {
  /** `SELECT sum(running_ms)` over kpi_hour for the units in [from, to). */
  sumRunning(units: readonly string[], from: number, to: number): Promise<number>;
  /** Every figure column summed per unit over kpi_hour. */
  sumAll(units: readonly string[], from: number, to: number): Promise<number>;
  counts(): Promise<Record<string, number>>;
  /** Empty the KPI cache (a kept database has the rows of the last run). */
  clearCache(): Promise<void>;
  size(): Promise<string>;
  /** The store's own four bucket statements for a query, each timed; rows → sums timed. */
  statements(
    q: KpiSumQuery,
  ): Promise<
    { name: string; ms: number; rows: number; server?: number; jit?: number; noJit?: number }[]
  >;
  close(): Promise<void>;
}

const TABLES = [
  'kpi_minute',
  'kpi_hour',
  'kpi_reason_minute',
  'kpi_reason_hour',
  'events',
  'records',
];

function bareSqlite(file: string): Bare {
  const db = new Database(file, { fileMustExist: true });
  const s = prepareKpi(db);
  const running = db.prepare<[string, number, number], { s: number }>(
    `SELECT sum(running_ms) AS s FROM kpi_hour
     WHERE equipment_id IN (SELECT value FROM json_each(?)) AND bucket >= ? AND bucket < ?`,
  );
  const all = db.prepare<[string, number, number], Record<string, unknown>>(
    `SELECT b.equipment_id, ${sums(FIGURE_COLUMNS)} FROM kpi_hour b
     WHERE b.equipment_id IN (SELECT value FROM json_each(?)) AND b.bucket >= ? AND b.bucket < ?
     GROUP BY b.equipment_id`,
  );
  return {
    sumRunning: async (units, from, to) => running.get(JSON.stringify(units), from, to)?.s ?? 0,
    sumAll: async (units, from, to) => all.all(JSON.stringify(units), from, to).length,
    clearCache: async () => {
      db.prepare('DELETE FROM kpi_cache').run();
    },
    counts: async () =>
      Object.fromEntries(
        TABLES.map((t) => [
          t,
          (db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
        ]),
      ),
    size: async () => {
      const bytes =
        statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
      return `${mb(bytes)} file`;
    },
    statements: async (q) => {
      // The store's own sumKpi on a connection of its own, whole (temp tables, three levels).
      const times: number[] = [];
      let n = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        n = db.transaction(() => sqliteSumKpi(s, q))().length;
        times.push(performance.now() - t0);
      }
      return [
        {
          name: 'sumKpi (all levels)',
          ms: pct(
            times.sort((x, y) => x - y),
            50,
          ),
          rows: n,
        },
      ];
    },
    close: async () => {
      db.close();
    },
  };
}

interface ExplainJson {
  'Execution Time': number;
  JIT?: { Timing: { Total: number } };
}

async function barePostgres(schema: string): Promise<Bare> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const s = pg.escapeIdentifier(schema);
  const sql = kpiStatements(schema);
  return {
    sumRunning: async (units, from, to) => {
      const r = await client.query<{ s: string }>(
        `SELECT sum(running_ms) AS s FROM ${s}.kpi_hour
         WHERE equipment_id = ANY($1::text[]) AND bucket >= $2 AND bucket < $3`,
        [units, from, to],
      );
      return Number(r.rows[0]?.s ?? 0);
    },
    sumAll: async (units, from, to) =>
      (
        await client.query(
          `SELECT b.equipment_id, ${sums(FIGURE_COLUMNS)} FROM ${s}.kpi_hour b
           WHERE b.equipment_id = ANY($1::text[]) AND b.bucket >= $2 AND b.bucket < $3
           GROUP BY b.equipment_id`,
          [units, from, to],
        )
      ).rows.length,
    clearCache: async () => {
      await client.query(`DELETE FROM ${s}.kpi_cache`);
    },
    counts: async () => {
      const out: Record<string, number> = {};
      for (const t of TABLES)
        out[t] = Number((await client.query(`SELECT count(*) AS n FROM ${s}.${t}`)).rows[0].n);
      return out;
    },
    size: async () => {
      const r = await client.query<{ b: string }>(
        `SELECT sum(pg_total_relation_size(c.oid)) AS b FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
        [schema],
      );
      return `${mb(Number(r.rows[0]?.b ?? 0))} tables and indexes`;
    },
    statements: async (q) => {
      const segments = kpiSegments(q.ranges);
      const out: {
        name: string;
        ms: number;
        rows: number;
        server?: number;
        jit?: number;
        noJit?: number;
      }[] = [];
      for (const { name } of KPI_LEVELS) {
        const segs = segments[name];
        if (segs.length === 0) continue;
        const values = [
          segs.map((g) => g.key),
          segs.map((g) => g.lo),
          segs.map((g) => g.hi),
          q.equipmentIds,
        ];
        const stmt = sql.sum[name];
        const times: number[] = [];
        let rows = 0;
        for (let i = 0; i < 5 && !(times[0]! > 2000); i++) {
          const t0 = performance.now();
          rows = (await client.query({ text: stmt.text, values, rowMode: 'array' })).rows.length;
          times.push(performance.now() - t0);
        }
        const plan = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${stmt.text}`, values);
        const top = (plan.rows[0] as { 'QUERY PLAN': [ExplainJson] })['QUERY PLAN'][0];
        // The same statement with the session's JIT off: PostgreSQL compiles a statement whose
        // estimated cost passes jit_above_cost, and these estimates are large.
        await client.query('SET jit = off');
        const noJit: number[] = [];
        for (let i = 0; i < 3 && !(noJit[0]! > 2000); i++) {
          const t0 = performance.now();
          await client.query({ text: stmt.text, values, rowMode: 'array' });
          noJit.push(performance.now() - t0);
        }
        await client.query('RESET jit');
        out.push({
          name: `kpi_${name}`,
          ms: pct(
            times.sort((x, y) => x - y),
            50,
          ),
          rows,
          server: top['Execution Time'],
          jit: top.JIT?.Timing.Total ?? 0,
          noJit: pct(
            noJit.sort((x, y) => x - y),
            50,
          ),
        });
      }
      return out;
    },
    close: async () => {
      await client.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// CPU profile of the warm calls, by function

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

async function profileCalls(
  fn: () => Promise<unknown>,
  label: string,
): Promise<{ wallMs: number; top: [string, number][]; areas: [string, number][]; file?: string }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const t0 = performance.now();
  for (let i = 0; i < RUNS; i++) await fn();
  const wallMs = performance.now() - t0;
  const { profile } = (await session.post('Profiler.stop')) as {
    profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  };
  session.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  // Sample 0's delta runs from the profiler's start time: not time of the calls.
  profile.samples.forEach((id, i) => {
    if (i > 0) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  if (process.env.MW_BENCH_DEBUG_PROFILE) {
    const big = profile.samples
      .map((id, i) => [i, id, profile.timeDeltas[i] ?? 0] as const)
      .sort((a, b) => b[2] - a[2])
      .slice(0, 5);
    for (const [i, id, d] of big)
      console.log(
        '   sample',
        i,
        'of',
        profile.samples.length,
        byId.get(id)?.callFrame.functionName,
        d,
        'µs',
      );
  }
  const root = process.cwd();
  const fnName = (n: ProfileNode): string => {
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\//, '').replace(`${root}/`, '');
    return file === ''
      ? f.functionName || '(native)'
      : `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
  };
  const area = (n: ProfileNode): string => {
    const u = n.callFrame.url;
    if (u === '') {
      const f = n.callFrame.functionName;
      return f.startsWith('(') ? f : `native (${f || '?'})`;
    }
    if (u.includes('/node_modules/pg')) return 'pg driver (node_modules/pg*)';
    if (u.includes('/node_modules/')) return 'other node_modules';
    if (u.startsWith('node:')) return 'node internals';
    const m = /\/(src\/[^/]+(?:\/[^/]+)?)\//.exec(u);
    return m === null ? 'other' : m[1]!;
  };
  const top = new Map<string, number>();
  const areas = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    top.set(fnName(n), (top.get(fnName(n)) ?? 0) + t);
    areas.set(area(n), (areas.get(area(n)) ?? 0) + t);
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  let file: string | undefined;
  if (SAVE_PROFILE) {
    file = path.join(os.tmpdir(), `mw-bench-kpi-${label}-${process.pid}.cpuprofile`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, JSON.stringify(profile));
  }
  return { wallMs, top: sorted(top).slice(0, 14), areas: sorted(areas), ...(file ? { file } : {}) };
}

async function printProfile(call: () => Promise<unknown>, label: string): Promise<void> {
  const p = await profileCalls(call, label.split(/[ ,]/)[0]!.toLowerCase());
  const total = p.areas.reduce((s, [, t]) => s + t, 0);
  console.log(
    `  CPU profile of ${RUNS} warm calls (${ms(p.wallMs / RUNS)} ms each under the profiler), self time by area:`,
  );
  for (const [a, t] of p.areas.slice(0, 10))
    console.log(
      `    ${a.padEnd(40)} ${ms(t / RUNS).padStart(8)} ms/call  ${((t / total) * 100).toFixed(1).padStart(5)} %`,
    );
  console.log('  … by function:');
  for (const [f, t] of p.top)
    console.log(
      `    ${((t / total) * 100).toFixed(1).padStart(5)} %  ${ms(t / RUNS).padStart(7)} ms/call  ${f}`,
    );
  if (p.file !== undefined) console.log(`  profile written to ${p.file}`);
}

// ---------------------------------------------------------------------------------------------
// One store

interface StoreResult {
  readonly name: string;
  readonly loaded: Loaded;
  readonly rows: Record<string, number>;
  readonly size: string;
  readonly shift: Timing;
  readonly everyUnit: Timing;
  readonly day: Timing;
  readonly line: Timing;
  readonly ceiling: Timing;
  readonly ceilingAll: Timing;
  readonly rssMb: number;
  readonly heapMb: number;
  /** The database was loaded by an earlier run (`--keep`). */
  readonly kept: boolean;
}

async function runStore(
  name: string,
  store: Store,
  bare: () => Promise<Bare>,
  afterLoad: () => Promise<void>,
  write = true,
): Promise<StoreResult> {
  console.log(`\n${name} (${store.location})`);
  await store.migrate();
  const meter = new StoreMeter();
  const metered = meter.wrap(store);
  const identity = new IdentityService(metered, { security: config.security });
  const downtime = new DowntimeService(metered, identity, trees);
  if (!write) console.log(`  … reusing the kept database: the history is made again, not written`);
  const loaded = await load(metered, downtime, write);
  console.log(
    `  … journal: ${fmt(loaded.journalEvents)} events committed, ${loaded.assigned} stops given a reason (${sec(loaded.commitMs)})`,
  );
  const b = await bare();
  try {
    await afterLoad();
    // Cold means an empty KPI cache: the first report over these shifts ever (it fills it).
    await b.clearCache();
    const rows = await b.counts();
    const size = await b.size();
    const service = (): KpiService =>
      new KpiService({
        store: metered,
        hierarchy,
        downtime,
        calendars,
        materialIdealMs: new Map(),
        now: () => NOW,
      });
    const query = (
      equipment: string,
      groupBy: 'shift' | 'day',
      members: 'children' | 'units' = 'children',
    ) => {
      const svc = service(); // a fresh one per query: its first call is cold
      return () => svc.oee(ADMIN, { equipment, from: START, to: END, groupBy, members });
    };
    // The store's part of the cold call: where the time goes when a call is too slow to repeat.
    meter.calls.clear();
    meter.on = true;
    let coldCalls = new Map<string, { n: number; ms: number }>();
    const shift = await timed(query(SITE, 'shift'), () => {
      meter.on = false;
      coldCalls = new Map(meter.calls);
    });
    const checked = check('site by shift', shift.first, UNIT_IDS, loaded.expected);
    // The same with every unit listed in every shift (GET /api/v1/kpi/oee?members=units).
    const everyUnit = await timed(query(SITE, 'shift', 'units'));
    check('site by shift, every unit listed', everyUnit.first, UNIT_IDS, loaded.expected);
    for (const g of everyUnit.first.groups) {
      const listed = g.members.reduce((n, m) => n + m.totals.goodQuantity, 0);
      if (g.members.length !== UNITS || listed !== g.totals.goodQuantity)
        throw new Error(
          `${g.key}: ${g.members.length} members, good ${listed} of ${g.totals.goodQuantity}`,
        );
    }
    const day = await timed(query(SITE, 'day'));
    check('site by day', day.first, UNIT_IDS, loaded.expected);
    const line = await timed(query(LINE, 'shift'));
    check('line by shift', line.first, LINE_UNITS, loaded.expected);
    const hourFrom = Math.ceil(START / HOUR_MS) * HOUR_MS;
    const hourTo = Math.floor(NOW / HOUR_MS) * HOUR_MS;
    const ceiling = await timed(() => b.sumRunning(UNIT_IDS, hourFrom, hourTo));
    const ceilingAll = await timed(() => b.sumAll(UNIT_IDS, hourFrom, hourTo));
    const mem = process.memoryUsage();

    const groups = shift.first.groups.length;
    const members = shift.first.groups.reduce((n, g) => n + g.members.length, 0);
    const reportBytes = JSON.stringify(shift.first).length;
    const unitMembers = everyUnit.first.groups.reduce((n, g) => n + g.members.length, 0);
    const unitBytes = JSON.stringify(everyUnit.first).length;
    note(
      'rows',
      `${fmt(rows['kpi_minute']!)} minute, ${fmt(rows['kpi_hour']!)} hour, ${fmt(rows['kpi_reason_minute']!)} + ${fmt(rows['kpi_reason_hour']!)} reason rows; ${fmt(rows['events']!)} events, ${fmt(rows['records']!)} records; ${size}`,
    );
    note(
      'load (addKpiDeltas)',
      `${sec(loaded.storeMs)} for ${fmt(loaded.deltas)} minute deltas (${fmt(loaded.deltas / (loaded.storeMs / 1000))} /s), made from ${fmt(loaded.events)} events in ${sec(loaded.generateMs)} apart; peak RSS ${mb(loaded.peakRss)}`,
    );
    note(
      `OEE by shift, site (${UNITS} units, ${groups} shifts), cold / median / p95`,
      timingText(shift.timing),
    );
    note(
      '  its report',
      `${fmt(groups)} groups, ${fmt(members)} members (the site's areas), ${mb(reportBytes)} as JSON`,
    );
    note('  every unit listed (members=units)', timingText(everyUnit.timing));
    note('  its report', `${fmt(unitMembers)} unit members, ${mb(unitBytes)} as JSON`);
    note(`OEE by day, site (${day.first.groups.length} days)`, timingText(day.timing));
    note(`OEE by shift, one line (${LINE_UNITS.length} units)`, timingText(line.timing));
    note(
      'ceiling: bare SELECT sum(running_ms) FROM kpi_hour',
      `${timingText(ceiling.timing)}  (${fmt(UNITS * ((hourTo - hourFrom) / HOUR_MS))} hour rows)`,
    );
    note(`ceiling: every figure column per unit, kpi_hour`, timingText(ceilingAll.timing));
    note('check', checked);
    note(
      'memory after the queries',
      `RSS ${mb(mem.rss)}, heap used ${mb(mem.heapUsed)} of ${mb(mem.heapTotal)}`,
    );
    note(
      `target < ${TARGET_MS} ms (median, site by shift)`,
      typical(shift.timing) < TARGET_MS ? 'met' : `not met (${ms(typical(shift.timing))} ms)`,
    );

    // Where the time of one warm call goes (of the cold one, when calls are too slow to repeat).
    const warm = query(SITE, 'shift');
    let wall = shift.timing.cold;
    let calls = coldCalls;
    const slow = shift.timing.cold > REPEAT_UNDER_MS;
    if (!slow) {
      await warm();
      meter.calls.clear();
      meter.on = true;
      const t0 = performance.now();
      await warm();
      wall = performance.now() - t0;
      meter.on = false;
      calls = meter.calls;
    }
    console.log(
      `  where the time goes, one ${slow ? 'cold' : 'warm'} call of the site by shift (${ms(wall)} ms):`,
    );
    let inStore = 0;
    for (const [method, c] of [...calls.entries()].sort((x, y) => y[1].ms - x[1].ms)) {
      inStore += method === 'listEvents' ? 0 : c.ms;
      console.log(
        `    Store.${method.padEnd(22)} ${String(c.n).padStart(5)} call(s) ${ms(c.ms).padStart(8)} ms${method === 'listEvents' ? ' (8 at a time: time summed over the calls)' : ''}`,
      );
    }
    const q = meter.lastSum!;
    const seg = kpiSegments(q.ranges);
    const keys = new Set(q.ranges.map((r, i) => r.key ?? i)).size;
    const levels = KPI_LEVELS.map(({ name, size }) => {
      const rows = seg[name].reduce((s, g) => s + (g.hi - g.lo) / size, 0) * q.equipmentIds.length;
      return `${fmt(seg[name].length)} ${name} segments (${fmt(rows)} rows)`;
    }).join(', ');
    console.log(
      `    sumKpi query: ${fmt(q.ranges.length)} ranges in ${fmt(keys)} keys, ${q.reasons === undefined ? 'all' : q.reasons.length} reason pairs → ${levels}; the store's statements bare (median of 5):`,
    );
    for (const st of await b.statements(q))
      console.log(
        `      ${st.name.padEnd(30)} ${ms(st.ms).padStart(8)} ms  ${fmt(st.rows).padStart(7)} rows${st.server === undefined ? '' : `  (server execution ${ms(st.server)} ms of which JIT ${ms(st.jit ?? 0)} ms; with jit off ${ms(st.noJit ?? NaN)} ms)`}`,
      );
    console.log(
      `    outside the store (KpiService, figures.ts, model): about ${ms(wall - inStore - (calls.get('listEvents')?.ms ?? 0) / 8)} ms`,
    );
    if (PROFILE && shift.timing.cold > REPEAT_UNDER_MS)
      console.log(
        `  CPU profile skipped: one call takes ${sec(shift.timing.cold)} (the statements above say where)`,
      );
    else if (PROFILE) await printProfile(warm, name);
    return {
      name,
      loaded,
      rows,
      size,
      shift: shift.timing,
      everyUnit: everyUnit.timing,
      day: day.timing,
      line: line.timing,
      ceiling: ceiling.timing,
      ceilingAll: ceilingAll.timing,
      rssMb: mem.rss / 1048576,
      heapMb: mem.heapUsed / 1048576,
      kept: !write,
    };
  } finally {
    await b.close();
  }
}

async function sqliteRun(): Promise<StoreResult> {
  const dir = KEEP === '' ? tempDir('mw-bench-kpi-') : path.resolve(KEEP);
  const file = path.join(dir, 'millwright.db');
  const reuse = KEEP !== '' && existsSync(file);
  mkdirSync(dir, { recursive: true });
  const store = await openSqliteStore({
    path: file,
    synchronous: 'FULL',
    quarantineMaxEntries: config.quarantine.maxEntries,
    quarantinePayloadBytes: config.quarantine.payloadBytes,
  });
  try {
    return await runStore(
      'SQLite, synchronous FULL',
      store,
      async () => bareSqlite(file),
      async () => undefined,
      !reuse,
    );
  } finally {
    await store.close();
    if (KEEP === '') rmSync(dir, { recursive: true, force: true }); // now: the next store wants the disk
  }
}

async function postgresRun(): Promise<StoreResult | null> {
  const admin = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (err) {
    console.log(
      `\nPostgreSQL: skipped, ${PG_URL.replace(/\/\/[^@/]*@/, '//')} is unreachable (${(err as Error).message})`,
    );
    return null;
  }
  const schema = `mwbench_kpi_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const s = pg.escapeIdentifier(schema);
  const store = await openPostgresStore({
    url: PG_URL,
    schema,
    poolSize: 5, // the configuration's default
    quarantineMaxEntries: config.quarantine.maxEntries,
    quarantinePayloadBytes: config.quarantine.payloadBytes,
  });
  // A hub's tables a month old have been vacuumed and analysed by autovacuum; a fresh bulk load
  // has not, and autovacuum would start in the middle of the timed calls.
  const afterLoad = async (): Promise<void> => {
    const t0 = performance.now();
    for (const t of [
      'kpi_minute',
      'kpi_hour',
      'kpi_reason_minute',
      'kpi_reason_hour',
      'events',
      'records',
    ])
      await admin.query(`VACUUM (ANALYZE) ${s}.${t}`);
    console.log(`  … VACUUM (ANALYZE) of the tables: ${sec(performance.now() - t0)}`);
  };
  try {
    const version = (
      await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    ).rows[0]!.v;
    return await runStore(`PostgreSQL ${version}`, store, () => barePostgres(schema), afterLoad);
  } finally {
    await store.close();
    await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
}

// ---------------------------------------------------------------------------------------------

header(
  'bench:kpi',
  `OEE from the KPI buckets: ${UNITS} units × ${DAYS} days of one-minute buckets (${fmt(UNITS * MINUTES)} unit-minutes), site ${SITE} in ${TIME_ZONE}, 3 shifts with breaks`,
);
console.log(
  `  range ${new Date(START).toISOString()} → ${new Date(END).toISOString()}, now ${new Date(NOW).toISOString()}; history: ${fmt(intervals)} state intervals (${sec(timelineMs)} to make), seed ${SEED}`,
);
try {
  const results: StoreResult[] = [];
  if (STORES === 'both' || STORES === 'sqlite') results.push(await sqliteRun());
  if (STORES === 'both' || STORES === 'postgres') {
    const r = await postgresRun();
    if (r !== null) results.push(r);
  }
  const e0 = results[0]?.loaded.expected;
  for (const r of results.slice(1))
    if (JSON.stringify(r.loaded.expected) !== JSON.stringify(e0))
      throw new Error(`${r.name} was loaded with another history than ${results[0]!.name}`);
  console.log(`\nsummary (cold / median / p95 ms; target: site by shift < ${TARGET_MS} ms)`);
  const cols = ['figure', ...results.map((r) => r.name)];
  const line = (cells: string[]) => console.log(`| ${cells.join(' | ')} |`);
  line(cols);
  line(cols.map(() => '---'));
  const row = (label: string, f: (r: StoreResult) => string) => line([label, ...results.map(f)]);
  row('minute / hour rows', (r) => `${fmt(r.rows['kpi_minute']!)} / ${fmt(r.rows['kpi_hour']!)}`);
  row('load (addKpiDeltas)', (r) =>
    r.kept
      ? 'kept from an earlier run'
      : `${sec(r.loaded.storeMs)}, ${fmt(r.loaded.deltas / (r.loaded.storeMs / 1000))} minute rows/s`,
  );
  row(`OEE by shift, site (${UNITS} units)`, (r) => timingText(r.shift));
  row('… every unit listed (members=units)', (r) => timingText(r.everyUnit));
  row('OEE by day, site', (r) => timingText(r.day));
  row(`OEE by shift, one line (${LINE_UNITS.length} units)`, (r) => timingText(r.line));
  row('ceiling: bare sum(running_ms), kpi_hour', (r) => timingText(r.ceiling));
  row('ceiling: all figures per unit, kpi_hour', (r) => timingText(r.ceilingAll));
  row('RSS / heap after the queries', (r) => `${fmt(r.rssMb)} / ${fmt(r.heapMb)} MB`);
  row(`target < ${TARGET_MS} ms`, (r) => (typical(r.shift) < TARGET_MS ? 'met' : 'not met'));
  console.log(`\nwhole run: ${sec(performance.now() - runStarted)}`);
  await finish();
} catch (err) {
  await finish(err);
}
