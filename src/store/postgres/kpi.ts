/**
 * The PostgreSQL KPI buckets (../kpi-common.ts): upserts from unnest() arrays inside the
 * commit's transaction, sums with one statement per level. `sqlite/kpi.ts` is its twin.
 */
import pg from 'pg';
import {
  FIGURE_COLUMNS,
  REASON_COLUMNS,
  addExcluded,
  collectKpiSums,
  kpiRows,
  kpiSegments,
  sums,
  type KpiSegment,
} from '../kpi-common.ts';
import type { BucketDelta } from '../../model/index.ts';
import type { KpiSum, KpiSumQuery } from '../types.ts';

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
  // planner scans the whole bucket table against every segment (measured in bench/kpi).
  const sum = (table: string, reasons: boolean, columns: readonly string[]): Query => ({
    name: `mw_sum_${table}`,
    text: `SELECT u.id AS equipment_id, seg.r AS r${reasons ? ', x.state, x.reason_code' : ''}, ${columns.map((c) => `x.${c}`).join(', ')}
       FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS seg (r, lo, hi)
       CROSS JOIN unnest($4::text[]) AS u (id)
       CROSS JOIN LATERAL (
         SELECT ${reasons ? 'b.state, b.reason_code, ' : ''}${sums(columns)} FROM ${s}.${table} b
         WHERE b.equipment_id = u.id AND b.bucket >= seg.lo AND b.bucket < seg.hi
         ${reasons ? 'GROUP BY b.state, b.reason_code' : 'HAVING count(*) > 0'}) x`,
  });
  return {
    minute: upsert('kpi_minute'),
    hour: upsert('kpi_hour'),
    reasonMinute: upsertReason('kpi_reason_minute'),
    reasonHour: upsertReason('kpi_reason_hour'),
    sumMinute: sum('kpi_minute', false, FIGURE_COLUMNS),
    sumHour: sum('kpi_hour', false, FIGURE_COLUMNS),
    sumReasonMinute: sum('kpi_reason_minute', true, REASON_COLUMNS),
    sumReasonHour: sum('kpi_reason_hour', true, REASON_COLUMNS),
    clear: `TRUNCATE ${['kpi_minute', 'kpi_hour', 'kpi_reason_minute', 'kpi_reason_hour']
      .map((t) => `${s}.${t}`)
      .join(', ')}`,
  };
}

export type KpiSql = ReturnType<typeof kpiStatements>;

/** Columns of rows, transposed for unnest(). */
function transpose(rows: readonly (readonly (string | number)[])[], width: number): unknown[][] {
  const out: unknown[][] = Array.from({ length: width }, () => []);
  for (const r of rows) r.forEach((v, i) => out[i]!.push(v));
  return out;
}

/** Add deltas to the buckets on `client`, inside its transaction. */
export async function addKpiDeltas(
  client: pg.PoolClient,
  sql: KpiSql,
  deltas: readonly BucketDelta[],
): Promise<void> {
  if (deltas.length === 0) return;
  const rows = kpiRows(deltas);
  const width = 2 + FIGURE_COLUMNS.length;
  const reasonWidth = 4 + REASON_COLUMNS.length;
  for (const [q, list] of [
    [sql.minute, rows.minute],
    [sql.hour, rows.hour],
  ] as const) {
    if (list.length === 0) continue;
    await client.query({
      ...q,
      values: transpose(
        list.map((r) => [r.equipmentId, r.bucket, ...r.values]),
        width,
      ),
    });
  }
  for (const [q, list] of [
    [sql.reasonMinute, rows.reasonMinute],
    [sql.reasonHour, rows.reasonHour],
  ] as const) {
    if (list.length === 0) continue;
    await client.query({
      ...q,
      values: transpose(
        list.map((r) => [r.equipmentId, r.bucket, r.state, r.reasonCode, ...r.values]),
        reasonWidth,
      ),
    });
  }
}

export async function sumKpi(
  read: (q: Query, values: unknown[]) => Promise<Record<string, unknown>[]>,
  sql: KpiSql,
  query: KpiSumQuery,
): Promise<KpiSum[]> {
  const { minute, hour } = kpiSegments(query.ranges);
  const values = (segs: readonly KpiSegment[]): unknown[] => [
    segs.map((g) => g.range),
    segs.map((g) => g.lo),
    segs.map((g) => g.hi),
    query.equipmentIds,
  ];
  const figures: Record<string, unknown>[] = [];
  const reasons: Record<string, unknown>[] = [];
  for (const [segs, q, rq] of [
    [hour, sql.sumHour, sql.sumReasonHour],
    [minute, sql.sumMinute, sql.sumReasonMinute],
  ] as const) {
    if (segs.length === 0) continue;
    const [f, r] = await Promise.all([read(q, values(segs)), read(rq, values(segs))]);
    figures.push(...f);
    reasons.push(...r);
  }
  return collectKpiSums(figures, reasons);
}
