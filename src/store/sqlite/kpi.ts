/**
 * The SQLite KPI buckets (../kpi-common.ts): upserts run inside the commit's transaction, sums
 * read with one statement per level. `postgres/kpi.ts` is its twin.
 */
import type Database from 'better-sqlite3';
import {
  FIGURE_COLUMNS,
  REASON_COLUMNS,
  KPI_TABLES,
  addExcluded,
  collectKpiSums,
  kpiRows,
  kpiSegments,
  sums,
  type KpiSegment,
} from '../kpi-common.ts';
import { bucketDeltas, type BucketDelta } from '../../model/index.ts';
import { toJournalEvent, type EventRow } from '../common.ts';
import type { KpiSum, KpiSumQuery } from '../types.ts';

type Row = Record<string, unknown>;

export function prepareKpi(db: Database.Database) {
  const upsert = (table: string) =>
    db.prepare(
      `INSERT INTO ${table} (equipment_id, bucket, ${FIGURE_COLUMNS.join(', ')})
       VALUES (?, ?, ${FIGURE_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (equipment_id, bucket) DO UPDATE SET ${addExcluded(table, FIGURE_COLUMNS)}`,
    );
  const upsertReason = (table: string) =>
    db.prepare(
      `INSERT INTO ${table} (equipment_id, bucket, state, reason_code, ${REASON_COLUMNS.join(', ')})
       VALUES (?, ?, ?, ?, ${REASON_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (equipment_id, bucket, state, reason_code)
       DO UPDATE SET ${addExcluded(table, REASON_COLUMNS)}`,
    );
  // Segments and units as JSON arrays: one statement whatever their number. SQLite has no
  // statistics for json_each and would put the bucket table outside, walking every bucket of a
  // unit for every segment; MATERIALIZED and CROSS JOIN fix segments and units as the outer
  // loops, so each (segment, unit) is one primary-key range (measured in bench/kpi).
  const query = (table: string, extra: string, columns: readonly string[]) =>
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
  const sum = (table: string) => query(table, '', FIGURE_COLUMNS);
  const sumReason = (table: string) => query(table, ', b.state, b.reason_code', REASON_COLUMNS);
  return {
    minute: upsert('kpi_minute'),
    hour: upsert('kpi_hour'),
    reasonMinute: upsertReason('kpi_reason_minute'),
    reasonHour: upsertReason('kpi_reason_hour'),
    sumMinute: sum('kpi_minute'),
    sumHour: sum('kpi_hour'),
    sumReasonMinute: sumReason('kpi_reason_minute'),
    sumReasonHour: sumReason('kpi_reason_hour'),
    clear: KPI_TABLES.map((t) => db.prepare(`DELETE FROM ${t}`)),
    eventsAfter: db.prepare<[number, number], EventRow>(
      'SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
  };
}

export type KpiStatements = ReturnType<typeof prepareKpi>;

/** Add deltas to the buckets; call inside a transaction. */
export function addKpiDeltas(s: KpiStatements, deltas: readonly BucketDelta[]): void {
  if (deltas.length === 0) return;
  const rows = kpiRows(deltas);
  for (const r of rows.minute) s.minute.run(r.equipmentId, r.bucket, ...r.values);
  for (const r of rows.hour) s.hour.run(r.equipmentId, r.bucket, ...r.values);
  for (const r of rows.reasonMinute)
    s.reasonMinute.run(r.equipmentId, r.bucket, r.state, r.reasonCode, ...r.values);
  for (const r of rows.reasonHour)
    s.reasonHour.run(r.equipmentId, r.bucket, r.state, r.reasonCode, ...r.values);
}

const segJson = (segs: readonly KpiSegment[]): string =>
  JSON.stringify(segs.map((g) => [g.range, g.lo, g.hi]));

export function sumKpi(s: KpiStatements, query: KpiSumQuery): KpiSum[] {
  const { minute, hour } = kpiSegments(query.ranges);
  const units = JSON.stringify(query.equipmentIds);
  const figures: Row[] = [];
  const reasons: Row[] = [];
  for (const [segs, stmt, reasonStmt] of [
    [hour, s.sumHour, s.sumReasonHour],
    [minute, s.sumMinute, s.sumReasonMinute],
  ] as const) {
    if (segs.length === 0) continue;
    const json = segJson(segs);
    figures.push(...stmt.all(json, units));
    reasons.push(...reasonStmt.all(json, units));
  }
  return collectKpiSums(figures, reasons);
}

/** Clear the buckets and add every journal event again; call inside a transaction. */
export function rebuildKpi(s: KpiStatements, progress?: (eventsRead: number) => void): number {
  for (const c of s.clear) c.run();
  let read = 0;
  for (let after = 0; ;) {
    const page = s.eventsAfter.all(after, 10_000).map(toJournalEvent);
    if (page.length === 0) break;
    addKpiDeltas(s, bucketDeltas(page));
    read += page.length;
    after = page.at(-1)!.seq;
    progress?.(read);
  }
  return read;
}
