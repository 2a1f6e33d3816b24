/**
 * Changes this benchmark proposes, measured beside the store's own code (not in src/): the
 * bucket sums with the join order fixed, on SQLite and on PostgreSQL.
 *
 * The store's statement (src/store/sqlite/kpi.ts) joins `seg` (a CTE over json_each) to the
 * bucket table; SQLite has no statistics for either and puts the bucket table outside: for
 * each unit it walks ALL the unit's buckets by the primary key prefix and tests every segment
 * against every bucket (EXPLAIN QUERY PLAN: `SEARCH b USING PRIMARY KEY (equipment_id=?)`, then
 * `SCAN json_each`). The work is units × buckets of the unit × segments, whatever the range.
 * Here `seg` and the units are MATERIALIZED and CROSS JOIN fixes them as the outer loops, so
 * each (segment, unit) is one primary-key range: `SEARCH b USING PRIMARY KEY (equipment_id=?
 * AND bucket>? AND bucket<?)`. Same result rows, so the store's collectKpiSums takes them as
 * they are.
 *
 * PostgreSQL makes the same choice (a parallel seq scan of the bucket table, nested-loop joined
 * to the unnest() with a join filter: units × buckets × segments again) and also JIT-compiles
 * the statement because its estimated cost is huge (0.2–1.7 s of compilation a statement on a
 * 2-core machine). Here a LATERAL subquery per (segment, unit) makes each an index range scan
 * of the primary key, and the pool's sessions run with `jit = off`.
 */
import type Database from 'better-sqlite3';
import pg from 'pg';
import {
  collectKpiSums,
  FIGURE_COLUMNS,
  kpiSegments,
  REASON_COLUMNS,
  sums,
  type KpiSegment,
} from '../../src/store/kpi-common.ts';
import type { KpiSum, KpiSumQuery, Store } from '../../src/store/types.ts';

type Row = Record<string, unknown>;

export function proposedSqliteSum(db: Database.Database): (q: KpiSumQuery) => KpiSum[] {
  const statement = (table: string, extra: string, columns: readonly string[]) =>
    db.prepare<[string, string], Row>(
      `WITH seg AS MATERIALIZED (
         SELECT json_extract(value, '$[0]') AS r, json_extract(value, '$[1]') AS lo,
                json_extract(value, '$[2]') AS hi
         FROM json_each(?)),
       u AS MATERIALIZED (SELECT value AS id FROM json_each(?))
       SELECT b.equipment_id, seg.r AS r${extra}, ${sums(columns)}
       FROM seg CROSS JOIN u CROSS JOIN ${table} b
       WHERE b.equipment_id = u.id AND b.bucket >= seg.lo AND b.bucket < seg.hi
       GROUP BY b.equipment_id, seg.r${extra}`,
    );
  const s = {
    hour: statement('kpi_hour', '', FIGURE_COLUMNS),
    minute: statement('kpi_minute', '', FIGURE_COLUMNS),
    reasonHour: statement('kpi_reason_hour', ', b.state, b.reason_code', REASON_COLUMNS),
    reasonMinute: statement('kpi_reason_minute', ', b.state, b.reason_code', REASON_COLUMNS),
  };
  const segJson = (segs: readonly KpiSegment[]): string =>
    JSON.stringify(segs.map((g) => [g.range, g.lo, g.hi]));
  return (query) => {
    const { minute, hour } = kpiSegments(query.ranges);
    const units = JSON.stringify(query.equipmentIds);
    const figures: Row[] = [];
    const reasons: Row[] = [];
    for (const [segs, f, r] of [
      [hour, s.hour, s.reasonHour],
      [minute, s.minute, s.reasonMinute],
    ] as const) {
      if (segs.length === 0) continue;
      const json = segJson(segs);
      figures.push(...f.all(json, units));
      reasons.push(...r.all(json, units));
    }
    return collectKpiSums(figures, reasons);
  };
}

export function proposedPostgresSum(
  url: string,
  schema: string,
): { sum: (q: KpiSumQuery) => Promise<KpiSum[]>; close: () => Promise<void> } {
  const s = pg.escapeIdentifier(schema);
  const pool = new pg.Pool({ connectionString: url, max: 2, options: '-c jit=off' });
  const statement = (table: string, columns: readonly string[], reasons: boolean): string =>
    `SELECT u.id AS equipment_id, seg.r AS r${reasons ? ', x.state, x.reason_code' : ''}, ${columns.map((c) => `x.${c}`).join(', ')}
     FROM unnest($1::int[], $2::bigint[], $3::bigint[]) AS seg (r, lo, hi)
     CROSS JOIN unnest($4::text[]) AS u (id)
     CROSS JOIN LATERAL (
       SELECT ${reasons ? 'b.state, b.reason_code, ' : ''}${sums(columns)} FROM ${s}.${table} b
       WHERE b.equipment_id = u.id AND b.bucket >= seg.lo AND b.bucket < seg.hi
       ${reasons ? 'GROUP BY b.state, b.reason_code' : 'HAVING count(*) > 0'}) x`;
  const q = {
    hour: statement('kpi_hour', FIGURE_COLUMNS, false),
    minute: statement('kpi_minute', FIGURE_COLUMNS, false),
    reasonHour: statement('kpi_reason_hour', REASON_COLUMNS, true),
    reasonMinute: statement('kpi_reason_minute', REASON_COLUMNS, true),
  };
  return {
    sum: async (query) => {
      const { minute, hour } = kpiSegments(query.ranges);
      const values = (segs: readonly KpiSegment[]): unknown[] => [
        segs.map((g) => g.range),
        segs.map((g) => g.lo),
        segs.map((g) => g.hi),
        query.equipmentIds,
      ];
      const figures: Row[] = [];
      const reasons: Row[] = [];
      for (const [segs, f, r] of [
        [hour, q.hour, q.reasonHour],
        [minute, q.minute, q.reasonMinute],
      ] as const) {
        if (segs.length === 0) continue;
        const [a, b] = await Promise.all([
          pool.query(f, values(segs)),
          pool.query(r, values(segs)),
        ]);
        figures.push(...a.rows);
        reasons.push(...b.rows);
      }
      return collectKpiSums(figures, reasons);
    },
    close: () => pool.end(),
  };
}

/** The store with its sumKpi replaced; everything else as it is. */
export function withSumKpi(
  store: Store,
  sumKpi: (q: KpiSumQuery) => KpiSum[] | Promise<KpiSum[]>,
): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'sumKpi') return async (q: KpiSumQuery) => sumKpi(q);
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
