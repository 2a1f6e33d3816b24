/**
 * The PostgreSQL KPI buckets (../kpi-common.ts) and cache (../kpi-cache.ts): upserts from
 * unnest() arrays inside the commit's transaction, sums with one statement per level.
 * `sqlite/kpi.ts` is its twin.
 */
import pg from 'pg';
import {
  FIGURE_COLUMNS,
  KPI_LEVELS,
  KPI_TABLES,
  REASON_COLUMNS,
  addExcluded,
  collectKpiSums,
  kpiRows,
  kpiSegments,
  sums,
  type KpiLevel,
} from '../kpi-common.ts';
import { decodeKpiRow, encodeKpiRow, touchedRanges } from '../kpi-cache.ts';
import type { BucketDelta } from '../../model/index.ts';
import type { KpiCacheRead, KpiCacheRow, KpiSum, KpiSumQuery } from '../types.ts';

type Query = { name: string; text: string };

export function kpiStatements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const numeric = (c: string): string =>
    ['good', 'scrap', 'total'].includes(c) ? 'float8' : 'bigint';
  const upsert = (table: string): Query => ({
    name: `mw_upsert_${table}`,
    text: `INSERT INTO ${s}.${table} AS t (equipment_id, bucket, ${FIGURE_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::text[], $2::bigint[], ${FIGURE_COLUMNS.map(
         (c, i) => `$${i + 3}::${numeric(c)}[]`,
       ).join(', ')})
       ON CONFLICT (equipment_id, bucket) DO UPDATE SET ${addExcluded('t', FIGURE_COLUMNS)}`,
  });
  const upsertReason = (table: string): Query => ({
    name: `mw_upsert_${table}`,
    text: `INSERT INTO ${s}.${table} AS t (equipment_id, bucket, state, reason_code, ${REASON_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], ${REASON_COLUMNS.map(
         (_, i) => `$${i + 5}::bigint[]`,
       ).join(', ')})
       ON CONFLICT (equipment_id, bucket, state, reason_code)
       DO UPDATE SET ${addExcluded('t', REASON_COLUMNS)}`,
  });
  // One primary-key range scan per (segment, unit) through LATERAL: joined plainly, the
  // planner scans the whole bucket table against every segment (measured in bench/kpi). The
  // segments of one key are added by the outer GROUP BY.
  const outer = (columns: readonly string[]): string =>
    columns.map((c) => `SUM(x.${c})::float8 AS ${c}`).join(', ');
  const sum = (table: string, reasons: boolean, columns: readonly string[]): Query => ({
    name: `mw_sum_${table}`,
    text: `SELECT u.i - 1 AS i, seg.k AS k${reasons ? ', x.state, x.reason_code' : ''}, ${outer(columns)}
       FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS seg (k, lo, hi)
       CROSS JOIN unnest($4::text[]) WITH ORDINALITY AS u (id, i)
       CROSS JOIN LATERAL (
         SELECT ${reasons ? 'b.state, b.reason_code, ' : ''}${sums(columns)} FROM ${s}.${table} b
         WHERE b.equipment_id = u.id AND b.bucket >= seg.lo AND b.bucket < seg.hi
         ${
           reasons
             ? `AND ($5::boolean OR (b.state, b.reason_code) IN
                  (SELECT * FROM unnest($6::text[], $7::text[])))
                GROUP BY b.state, b.reason_code`
             : 'HAVING count(*) > 0'
         }) x
       GROUP BY u.i, seg.k${reasons ? ', x.state, x.reason_code' : ''}`,
  });
  const level = <T>(make: (l: KpiLevel) => T) =>
    Object.fromEntries(KPI_LEVELS.map((l) => [l.name, make(l.name)])) as Record<KpiLevel, T>;
  return {
    upsert: level((l) => upsert(`kpi_${l}`)),
    upsertReason: level((l) => upsertReason(`kpi_reason_${l}`)),
    sum: level((l) => sum(`kpi_${l}`, false, FIGURE_COLUMNS)),
    sumReason: level((l) => sum(`kpi_reason_${l}`, true, REASON_COLUMNS)),
    clear: `TRUNCATE ${KPI_TABLES.map((t) => `${s}.${t}`).join(', ')}`,
    addReasonCodes: {
      name: 'mw_add_kpi_reason_codes',
      text: `INSERT INTO ${s}.kpi_reason_codes (state, reason_code, equipment_id)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT DO NOTHING`,
    },
    // Every commit runs it (the rows may be another hub's): one index probe per minute row.
    invalidateCache: {
      name: 'mw_invalidate_kpi_cache',
      text: `DELETE FROM ${s}.kpi_cache_units c
         USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS d (e, first, last)
         WHERE c.equipment_id = d.e AND c.hi > d.first AND c.lo <= d.last`,
    },
    readCache: {
      name: 'mw_read_kpi_cache',
      text: `SELECT k.k - 1, c.lo::float8, c.hi::float8, c.units, c.fps, c.n, c.body,
           (SELECT string_agg(x.equipment_id, E'\\n') FROM ${s}.kpi_cache_units x
            WHERE x.key = c.key)
         FROM unnest($1::text[]) WITH ORDINALITY AS k (key, k)
         JOIN ${s}.kpi_cache c ON c.key = k.key`,
    },
    writeCache: {
      name: 'mw_write_kpi_cache',
      text: `INSERT INTO ${s}.kpi_cache (key, lo, hi, units, fps, n, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (key) DO UPDATE SET lo = excluded.lo, hi = excluded.hi,
           units = excluded.units, fps = excluded.fps, n = excluded.n, body = excluded.body`,
    },
    clearCacheUnits: {
      name: 'mw_clear_kpi_cache_units',
      text: `DELETE FROM ${s}.kpi_cache_units WHERE key = $1`,
    },
    addCacheUnits: {
      name: 'mw_add_kpi_cache_units',
      text: `INSERT INTO ${s}.kpi_cache_units (key, equipment_id, lo, hi)
         SELECT $1, e, $2, $3 FROM unnest($4::text[]) AS e`,
    },
    // The wanted pairs some unit of the query had.
    presentReasons: {
      name: 'mw_present_kpi_reasons',
      text: `SELECT DISTINCT c.state, c.reason_code FROM ${s}.kpi_reason_codes c
         WHERE (c.state, c.reason_code) IN (SELECT * FROM unnest($1::text[], $2::text[]))
           AND c.equipment_id = ANY($3::text[])`,
    },
  };
}

export type KpiSql = ReturnType<typeof kpiStatements>;

/** Columns of rows, transposed for unnest(). */
function transpose(rows: readonly (readonly (string | number)[])[], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const r of rows) r.forEach((v, i) => out[i]!.push(v));
  return out;
}

/**
 * Add deltas to the buckets on `client`, inside its transaction, and delete the cache rows
 * they make stale; resolves with the minutes touched (for the cache guard, after the commit).
 */
export async function addKpiDeltas(
  client: pg.PoolClient,
  sql: KpiSql,
  deltas: readonly BucketDelta[],
): Promise<{ equipmentId: string; bucket: number }[]> {
  if (deltas.length === 0) return [];
  const rows = kpiRows(deltas);
  const width = 2 + FIGURE_COLUMNS.length;
  const reasonWidth = 4 + REASON_COLUMNS.length;
  for (const [level, list, reasons] of [
    ['minute', rows.minute, rows.reasonMinute],
    ['quarter', rows.quarter, rows.reasonQuarter],
    ['hour', rows.hour, rows.reasonHour],
  ] as const) {
    if (list.length > 0)
      await client.query({
        ...sql.upsert[level],
        values: transpose(
          list.map((r) => [r.equipmentId, r.bucket, ...r.values]),
          width,
        ),
      });
    if (reasons.length > 0)
      await client.query({
        ...sql.upsertReason[level],
        values: transpose(
          reasons.map((r) => [r.equipmentId, r.bucket, r.state, r.reasonCode, ...r.values]),
          reasonWidth,
        ),
      });
  }
  if (rows.reasonCodes.length > 0)
    await client.query({
      ...sql.addReasonCodes,
      values: [
        rows.reasonCodes.map((c) => c.state),
        rows.reasonCodes.map((c) => c.reasonCode),
        rows.reasonCodes.map((c) => c.equipmentId),
      ],
    });
  const touched = touchedRanges(rows.minute);
  if (touched.length > 0)
    await client.query({
      ...sql.invalidateCache,
      values: [
        touched.map((t) => t.equipmentId),
        touched.map((t) => t.first),
        touched.map((t) => t.last),
      ],
    });
  return rows.minute;
}

/** The cache row of each key; `read` runs a statement and gives its rows as arrays. */
export async function readKpiCache(
  read: (q: Query, values: unknown[]) => Promise<unknown[][]>,
  sql: KpiSql,
  keys: readonly string[],
): Promise<(KpiCacheRead | undefined)[]> {
  const out: (KpiCacheRead | undefined)[] = keys.map(() => undefined);
  if (keys.length === 0) return out;
  for (const r of await read(sql.readCache, [keys])) {
    const [k, lo, hi, units, fps, n, body, valid] = r as [
      number,
      number,
      number,
      string,
      string,
      number,
      string,
      string | null,
    ];
    out[k] = decodeKpiRow(keys[k]!, lo, hi, units, fps, n, body, valid) ?? undefined;
  }
  return out;
}

/** Write cache rows (each unit `allowed` of them) on `client`, inside its transaction. */
export async function writeKpiCache(
  client: pg.PoolClient,
  sql: KpiSql,
  rows: readonly KpiCacheRow[],
  allowed: (equipmentId: string, hi: number) => boolean,
): Promise<number> {
  let written = 0;
  for (const row of rows) {
    const units = row.units.filter((u) => allowed(u.equipmentId, row.hi));
    await client.query({ ...sql.clearCacheUnits, values: [row.key] });
    if (units.length === 0) continue;
    const e = encodeKpiRow({ ...row, units });
    await client.query({
      ...sql.writeCache,
      values: [row.key, row.lo, row.hi, e.units, e.fps, e.n, e.body],
    });
    await client.query({
      ...sql.addCacheUnits,
      values: [row.key, row.lo, row.hi, units.map((u) => u.equipmentId)],
    });
    written += units.length;
  }
  return written;
}

/** Sums of a query; `read` runs a statement and gives its rows as arrays. */
export async function sumKpi(
  read: (q: Query, values: unknown[]) => Promise<unknown[][]>,
  sql: KpiSql,
  query: KpiSumQuery,
): Promise<KpiSum[]> {
  const segments = kpiSegments(query.ranges);
  const all = query.reasons === undefined;
  const wanted =
    all || query.reasons.length === 0
      ? []
      : (
          await read(sql.presentReasons, [
            query.reasons.map((w) => w.state),
            query.reasons.map((w) => w.reasonCode),
            query.equipmentIds,
          ])
        ).map(([state, reasonCode]) => ({ state: String(state), reasonCode: String(reasonCode) }));
  const figures: unknown[][] = [];
  const reasons: unknown[][] = [];
  await Promise.all(
    KPI_LEVELS.map(async ({ name }) => {
      const segs = segments[name];
      if (segs.length === 0) return;
      const values = [
        segs.map((g) => g.key),
        segs.map((g) => g.lo),
        segs.map((g) => g.hi),
        query.equipmentIds,
      ];
      const [f, r] = await Promise.all([
        read(sql.sum[name], values),
        all || wanted.length > 0
          ? read(sql.sumReason[name], [
              ...values,
              all,
              wanted.map((w) => w.state),
              wanted.map((w) => w.reasonCode),
            ])
          : Promise.resolve([]),
      ]);
      figures.push(...f);
      reasons.push(...r);
    }),
  );
  return collectKpiSums(query.equipmentIds, figures, reasons);
}
