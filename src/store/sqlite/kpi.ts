/**
 * The SQLite KPI buckets (../kpi-common.ts) and cache (../kpi-cache.ts): upserts run inside
 * the commit's transaction, sums read with one statement per level. `postgres/kpi.ts` is its
 * twin.
 */
import type Database from 'better-sqlite3';
import {
  FIGURE_COLUMNS,
  REASON_COLUMNS,
  KPI_LEVELS,
  KPI_TABLES,
  addExcluded,
  collectKpiSums,
  kpiRows,
  kpiSegments,
  sums,
  type KpiLevel,
} from '../kpi-common.ts';
import { decodeKpiRow, encodeKpiRow, KpiCacheGuard, touchedRanges } from '../kpi-cache.ts';
import { bucketDeltas, type BucketDelta } from '../../model/index.ts';
import { toJournalEvent, type EventRow } from '../common.ts';
import type { KpiCacheRead, KpiCacheRow, KpiSum, KpiSumQuery } from '../types.ts';

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
  // A query's units, segments and wanted reasons go into temporary tables of this connection
  // (in memory), keyed so that scanning them gives units, then keys, in order: the planner then
  // runs one primary-key range per (unit, segment) and groups without sorting, and the sums come
  // back as one JSON text (measured in bench/kpi: JSON.parse of one text is several times
  // cheaper than better-sqlite3 building a row per (unit, key)).
  db.exec(`
    CREATE TEMP TABLE IF NOT EXISTS mw_kpi_units (i INTEGER PRIMARY KEY, id TEXT NOT NULL);
    CREATE TEMP TABLE IF NOT EXISTS mw_kpi_segs (
      level TEXT NOT NULL, k INTEGER NOT NULL, n INTEGER NOT NULL,
      lo INTEGER NOT NULL, hi INTEGER NOT NULL,
      PRIMARY KEY (level, k, n)) WITHOUT ROWID;
    CREATE TEMP TABLE IF NOT EXISTS mw_kpi_keys (k INTEGER PRIMARY KEY, key TEXT NOT NULL);
    CREATE TEMP TABLE IF NOT EXISTS mw_kpi_reasons (
      state TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY (state, code)) WITHOUT ROWID;
  `);
  const sum = (level: KpiLevel) =>
    db
      .prepare<[string]>(
        `SELECT json_group_array(json_array(i, k, ${FIGURE_COLUMNS.join(', ')})) FROM (
           SELECT u.i AS i, s.k AS k, ${sums(FIGURE_COLUMNS)}
           FROM mw_kpi_units u CROSS JOIN mw_kpi_segs s CROSS JOIN kpi_${level} b
           WHERE s.level = ? AND b.equipment_id = u.id AND b.bucket >= s.lo AND b.bucket < s.hi
           GROUP BY u.i, s.k)`,
      )
      .pluck();
  const sumReason = (level: KpiLevel) =>
    db
      .prepare<[string, number]>(
        `SELECT json_group_array(json_array(i, k, state, reason_code, ${REASON_COLUMNS.join(', ')}))
         FROM (
           SELECT u.i AS i, s.k AS k, b.state AS state, b.reason_code AS reason_code,
                  ${sums(REASON_COLUMNS)}
           FROM mw_kpi_units u CROSS JOIN mw_kpi_segs s CROSS JOIN kpi_reason_${level} b
           WHERE s.level = ? AND b.equipment_id = u.id AND b.bucket >= s.lo AND b.bucket < s.hi
             AND (? OR EXISTS (SELECT 1 FROM mw_kpi_reasons r
                               WHERE r.state = b.state AND r.code = b.reason_code))
           GROUP BY u.i, s.k, b.state, b.reason_code)`,
      )
      .pluck();
  const cacheGuard = new KpiCacheGuard();
  const highest = db.prepare('SELECT max(hi) FROM kpi_cache_units').pluck().get() as number | null;
  if (highest !== null) cacheGuard.highest = highest;
  const level = <T>(make: (l: KpiLevel) => T) =>
    Object.fromEntries(KPI_LEVELS.map((l) => [l.name, make(l.name)])) as Record<KpiLevel, T>;
  return {
    upsert: level((l) => upsert(`kpi_${l}`)),
    upsertReason: level((l) => upsertReason(`kpi_reason_${l}`)),
    sum: level(sum),
    sumReason: level(sumReason),
    clearQuery: db.prepare('DELETE FROM mw_kpi_units'),
    clearSegs: db.prepare('DELETE FROM mw_kpi_segs'),
    clearReasons: db.prepare('DELETE FROM mw_kpi_reasons'),
    addUnit: db.prepare('INSERT INTO mw_kpi_units (i, id) VALUES (?, ?)'),
    addSeg: db.prepare('INSERT INTO mw_kpi_segs (level, k, n, lo, hi) VALUES (?, ?, ?, ?, ?)'),
    addReason: db.prepare('INSERT OR IGNORE INTO mw_kpi_reasons (state, code) VALUES (?, ?)'),
    // Keep only the wanted pairs some unit of the query had; their number.
    keepPresentReasons: db.prepare(
      `DELETE FROM mw_kpi_reasons WHERE NOT EXISTS (
         SELECT 1 FROM kpi_reason_codes c CROSS JOIN mw_kpi_units u
         WHERE c.state = mw_kpi_reasons.state AND c.reason_code = mw_kpi_reasons.code
           AND c.equipment_id = u.id)`,
    ),
    countReasons: db.prepare('SELECT count(*) FROM mw_kpi_reasons').pluck(),
    addReasonCode: db.prepare(
      'INSERT OR IGNORE INTO kpi_reason_codes (state, reason_code, equipment_id) VALUES (?, ?, ?)',
    ),
    clear: KPI_TABLES.map((t) => db.prepare(`DELETE FROM ${t}`)),
    clearKeys: db.prepare('DELETE FROM mw_kpi_keys'),
    addKey: db.prepare('INSERT INTO mw_kpi_keys (k, key) VALUES (?, ?)'),
    readCache: db
      .prepare<[], [number, number, number, string, string, number, string, string | null]>(
        `SELECT k.k, c.lo, c.hi, c.units, c.fps, c.n, c.body,
           (SELECT group_concat(x.equipment_id, char(10)) FROM kpi_cache_units x
            WHERE x.key = c.key)
         FROM mw_kpi_keys k CROSS JOIN kpi_cache c WHERE c.key = k.key`,
      )
      .raw(),
    writeCache: db.prepare(
      `INSERT OR REPLACE INTO kpi_cache (key, lo, hi, units, fps, n, body)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    clearCacheUnits: db.prepare('DELETE FROM kpi_cache_units WHERE key = ?'),
    addCacheUnit: db.prepare(
      'INSERT INTO kpi_cache_units (key, equipment_id, lo, hi) VALUES (?, ?, ?, ?)',
    ),
    invalidateCache: db.prepare<[string, number, number]>(
      'DELETE FROM kpi_cache_units WHERE equipment_id = ? AND hi > ? AND lo <= ?',
    ),
    cacheGuard,
    eventsAfter: db.prepare<[number, number], EventRow>(
      'SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?',
    ),
  };
}

export type KpiStatements = ReturnType<typeof prepareKpi>;

/** The cache row of each key; call inside a transaction (a temporary table is written). */
export function readKpiCache(
  s: KpiStatements,
  keys: readonly string[],
): (KpiCacheRead | undefined)[] {
  const out: (KpiCacheRead | undefined)[] = keys.map(() => undefined);
  if (keys.length === 0) return out;
  s.clearKeys.run();
  keys.forEach((key, k) => s.addKey.run(k, key));
  for (const [k, lo, hi, units, fps, n, body, valid] of s.readCache.all())
    out[k] = decodeKpiRow(keys[k]!, lo, hi, units, fps, n, body, valid) ?? undefined;
  return out;
}

/** Write cache rows (each unit `allowed` of them); call inside a transaction. */
export function writeKpiCache(
  s: KpiStatements,
  rows: readonly KpiCacheRow[],
  allowed: (equipmentId: string, hi: number) => boolean,
): number {
  let written = 0;
  for (const row of rows) {
    const units = row.units.filter((u) => allowed(u.equipmentId, row.hi));
    s.clearCacheUnits.run(row.key);
    if (units.length === 0) continue;
    const e = encodeKpiRow({ ...row, units });
    s.writeCache.run(row.key, row.lo, row.hi, e.units, e.fps, e.n, e.body);
    for (const u of units) s.addCacheUnit.run(row.key, u.equipmentId, row.lo, row.hi);
    if (row.hi > s.cacheGuard.highest) s.cacheGuard.highest = row.hi;
    written += units.length;
  }
  return written;
}

/** Add deltas to the buckets; call inside a transaction. */
export function addKpiDeltas(s: KpiStatements, deltas: readonly BucketDelta[]): void {
  if (deltas.length === 0) return;
  const rows = kpiRows(deltas);
  for (const [level, list, reasons] of [
    ['minute', rows.minute, rows.reasonMinute],
    ['quarter', rows.quarter, rows.reasonQuarter],
    ['hour', rows.hour, rows.reasonHour],
  ] as const) {
    for (const r of list) s.upsert[level].run(r.equipmentId, r.bucket, ...r.values);
    for (const r of reasons)
      s.upsertReason[level].run(r.equipmentId, r.bucket, r.state, r.reasonCode, ...r.values);
  }
  for (const c of rows.reasonCodes) s.addReasonCode.run(c.state, c.reasonCode, c.equipmentId);
  // Cache rows over these minutes are stale now (no row reaches `highest`: most commits skip).
  for (const t of touchedRanges(rows.minute))
    if (t.first < s.cacheGuard.highest) s.invalidateCache.run(t.equipmentId, t.first, t.last);
  s.cacheGuard.touched(rows.minute);
}

/** Sums of a query; call inside a transaction (the temporary tables are written). */
export function sumKpi(s: KpiStatements, query: KpiSumQuery): KpiSum[] {
  const segments = kpiSegments(query.ranges);
  s.clearQuery.run();
  s.clearSegs.run();
  s.clearReasons.run();
  query.equipmentIds.forEach((id, i) => s.addUnit.run(i, id));
  for (const l of KPI_LEVELS)
    segments[l.name].forEach((g, n) => s.addSeg.run(l.name, g.key, n, g.lo, g.hi));
  for (const r of query.reasons ?? []) s.addReason.run(r.state, r.reasonCode);
  const all = query.reasons === undefined ? 1 : 0;
  if (all === 0) s.keepPresentReasons.run();
  const someReasons = all === 1 || (s.countReasons.get() as number) > 0;
  const figures: unknown[][] = [];
  const reasons: unknown[][] = [];
  for (const l of KPI_LEVELS) {
    if (segments[l.name].length === 0) continue;
    figures.push(...(JSON.parse(s.sum[l.name].get(l.name) as string) as unknown[][]));
    if (someReasons)
      reasons.push(...(JSON.parse(s.sumReason[l.name].get(l.name, all) as string) as unknown[][]));
  }
  return collectKpiSums(query.equipmentIds, figures, reasons);
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
