/**
 * SQL polling connector benchmark on the machine's PostgreSQL (MILLWRIGHT_PG_URL, default
 * postgres://postgres@127.0.0.1:5432/test). A table of `--rows` rows in a schema of this run
 * (dropped at the end), each row a reading of one work unit: good counter and state code. Two
 * runs over the same rows:
 *
 *   1. ceiling: a bare pg client paging through them with the connector's statement
 *      (`WHERE id > $1 ORDER BY id LIMIT $2`, `--page` rows a page);
 *   2. hub: an in-process hub (SQLite, synchronous FULL) with an sql connection reading them by
 *      watermark in pages of `--page`: every row becomes two samples (good, state), committed
 *      before the watermark is saved. Rows committed per second, first commit to last.
 *
 * Usage: npm run bench:sql [-- --rows 200000 --page 1000]
 */
import pg from 'pg';
import {
  CommitMeter,
  deadline,
  detail,
  finish,
  fmt,
  header,
  mb,
  note,
  numArg,
  onCleanup,
  progress,
  result,
  rss,
  startBenchHub,
  strArg,
  waitUntil,
} from './common.ts';

const ROWS = numArg('rows', 200_000);
const PAGE = numArg('page', 1000);
const UNITS = numArg('units', 200);
const PG_URL = strArg(
  'url',
  process.env.MILLWRIGHT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
);
const SCHEMA = `mwbench_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const TABLE = `${SCHEMA}.readings`;
/** Samples per row: the good counter and the state. */
const TAGS_PER_ROW = 2;

async function setup(): Promise<pg.Client> {
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  onCleanup(async () => {
    await admin.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    await admin.end();
  });
  await admin.query(`CREATE SCHEMA ${SCHEMA}`);
  await admin.query(
    `CREATE TABLE ${TABLE} (id bigint PRIMARY KEY, line text NOT NULL, unit text NOT NULL, good integer NOT NULL, state integer NOT NULL, ts timestamp(3) NOT NULL)`,
  );
  // Row i: unit i mod UNITS, its (i div UNITS)-th reading; one in 50 readings idle.
  await admin.query(
    `INSERT INTO ${TABLE}
     SELECT i, 'line' || ((i % $2) / 10), 'unit' || (i % 10), i / $2,
            CASE WHEN (i / $2) % 50 = 49 THEN 2 ELSE 1 END,
            timestamp '2026-11-26 06:00:00' + i * interval '1 millisecond'
     FROM generate_series(1, $1::bigint) AS i`,
    [ROWS, UNITS],
  );
  await admin.query(`ANALYZE ${TABLE}`);
  return admin;
}

async function ceiling(): Promise<number> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  let open = true;
  onCleanup(() => (open ? client.end() : undefined));
  let rows = 0;
  let watermark = '0';
  const stopProgress = progress('bare pg', () => `${fmt(rows)} of ${fmt(ROWS)} rows`);
  const t0 = performance.now();
  for (;;) {
    const r = await client.query<{ id: string }>(
      `SELECT id, line, unit, good, state, ts FROM ${TABLE} WHERE id > $1 ORDER BY id LIMIT $2`,
      [watermark, PAGE],
    );
    if (r.rows.length === 0) break;
    rows += r.rows.length;
    watermark = (r.rows.at(-1) as { id: string }).id;
    if (r.rows.length < PAGE) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  stopProgress();
  open = false;
  await client.end();
  if (rows !== ROWS) throw new Error(`the bare client read ${rows} of ${ROWS} rows`);
  return rows / seconds;
}

async function hubRun(): Promise<{ rowsPerS: number; samples: number; peakRss: number }> {
  rss.reset();
  const connection = `  - id: historian
    type: sql
    url: ${PG_URL}
    queries:
      - id: readings
        sql: SELECT id, line, unit, good, state, ts FROM ${TABLE} WHERE id > :watermark ORDER BY id LIMIT :limit
        every: 1s
        limit: ${PAGE}
        watermark: { column: id }
        timestamp: ts
        tags:
          - { column: good, tag: '{line}/{unit}/good' }
          - { column: state, tag: '{line}/{unit}/state' }`;
  const { hub, stop } = await startBenchHub(UNITS, 'historian', connection, '');
  const meter = new CommitMeter(hub, null);
  const want = ROWS * TAGS_PER_ROW;
  const stopProgress = progress(
    'hub',
    () => `${fmt(meter.samples / TAGS_PER_ROW)} of ${fmt(ROWS)} rows committed${detail(hub)}`,
  );
  await waitUntil(hub, () => meter.samples >= want, `${fmt(ROWS)} rows`, 600_000);
  stopProgress();
  meter.freeze();
  const peakRss = rss.peak;
  const samples = await hub.store.countSamples();
  await stop();
  // From the first commit (the first page is read before it) to the last.
  return { rowsPerS: meter.rate / TAGS_PER_ROW, samples, peakRss };
}

deadline(300);
try {
  header(
    'bench/connectors/sql',
    `${fmt(ROWS)} rows of ${UNITS} units in PostgreSQL (${PG_URL.replace(/\/\/[^@/]*@/, '//')}), pages of ${fmt(PAGE)}`,
  );
  const t0 = Date.now();
  await setup();
  console.log(`  table ${TABLE} filled in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const bare = await ceiling();
  note('ceiling: bare pg paging', `${fmt(bare)} rows/s`);
  const hub = await hubRun();
  console.log('');
  result(
    'rows committed/s',
    `${fmt(hub.rowsPerS)} rows/s`,
    `bare pg ${fmt(bare)} rows/s`,
    hub.rowsPerS / bare,
  );
  note('samples committed/s (2 per row)', `${fmt(hub.rowsPerS * TAGS_PER_ROW)} samples/s`);
  note(
    'samples in the store',
    `${fmt(hub.samples)} of ${fmt(ROWS * TAGS_PER_ROW)}${hub.samples === ROWS * TAGS_PER_ROW ? '' : ' — MISMATCH'}`,
  );
  note('peak RSS (hub process)', mb(hub.peakRss));
  console.log(
    `RESULT ceiling_rows_s=${Math.round(bare)} hub_rows_s=${Math.round(hub.rowsPerS)} ratio=${(hub.rowsPerS / bare).toFixed(2)} stored=${hub.samples} peak_rss_mb=${Math.round(hub.peakRss / 1048576)}`,
  );
  await finish();
} catch (err) {
  await finish(err);
}
