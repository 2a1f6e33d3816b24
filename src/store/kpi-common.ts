/**
 * The KPI bucket tables both stores keep (issue #11; model/kpi-buckets.ts says what a bucket
 * is): `kpi_minute` and `kpi_hour` hold a unit's figures per minute and per hour, and
 * `kpi_reason_minute` / `kpi_reason_hour` the part of them stop intervals with a reason code
 * made. Both levels are written in the commit's transaction from the same deltas; a range is
 * read from hours where it covers whole hours and from minutes at its ragged ends.
 */
import type { KpiSum } from './types.ts';
import {
  addFigures,
  EQUIPMENT_STATES,
  HOUR_MS,
  MINUTE_MS,
  emptyFigures,
  type BucketDelta,
  type BucketFigures,
  type EquipmentState,
  type ReasonFigures,
} from '../model/index.ts';

const column = (s: EquipmentState): string => s.replace('-', '_');

/** The figure columns of kpi_minute / kpi_hour, after (equipment_id, bucket). */
export const FIGURE_COLUMNS: readonly string[] = [
  ...EQUIPMENT_STATES.map((s) => `${column(s)}_ms`),
  ...EQUIPMENT_STATES.map((s) => `${column(s)}_n`),
  'micro_ms',
  'micro_n',
  'good',
  'scrap',
  'total',
];

/** The figure columns of kpi_reason_minute / kpi_reason_hour, after (equipment_id, bucket, state, reason_code). */
export const REASON_COLUMNS: readonly string[] = ['ms', 'n', 'micro_ms', 'micro_n'];

export function figureValues(f: BucketFigures): number[] {
  return [
    ...EQUIPMENT_STATES.map((s) => f.ms[s]),
    ...EQUIPMENT_STATES.map((s) => f.n[s]),
    f.microMs,
    f.microStops,
    f.good,
    f.scrap,
    f.total,
  ];
}

/** Figures from a row of sums named as FIGURE_COLUMNS (numbers or numeric text from PG). */
export function figuresOfRow(row: Record<string, unknown>): BucketFigures {
  const v = (c: string): number => Number(row[c] ?? 0);
  const f = emptyFigures();
  const ms = { ...f.ms };
  const n = { ...f.n };
  for (const s of EQUIPMENT_STATES) {
    ms[s] = v(`${column(s)}_ms`);
    n[s] = v(`${column(s)}_n`);
  }
  return {
    ms,
    n,
    microMs: v('micro_ms'),
    microStops: v('micro_n'),
    good: v('good'),
    scrap: v('scrap'),
    total: v('total'),
  };
}

export interface KpiRow {
  readonly equipmentId: string;
  readonly bucket: number;
  readonly values: number[];
}

export interface KpiReasonRow {
  readonly equipmentId: string;
  readonly bucket: number;
  readonly state: string;
  readonly reasonCode: string;
  readonly values: number[];
}

/** The rows a batch of deltas adds at each level, one per key (an upsert touches each once). */
export function kpiRows(deltas: readonly BucketDelta[]): {
  minute: KpiRow[];
  hour: KpiRow[];
  reasonMinute: KpiReasonRow[];
  reasonHour: KpiReasonRow[];
} {
  const minute: KpiRow[] = [];
  const hour = new Map<string, KpiRow>();
  const reasonMinute: KpiReasonRow[] = [];
  const reasonHour = new Map<string, KpiReasonRow>();
  const add = (into: number[], values: readonly number[]): void => {
    values.forEach((x, i) => (into[i] = (into[i] ?? 0) + x));
  };
  for (const d of deltas) {
    const values = figureValues(d.figures);
    minute.push({ equipmentId: d.equipmentId, bucket: d.minute, values });
    const h = Math.floor(d.minute / HOUR_MS) * HOUR_MS;
    const hk = `${d.equipmentId}\u0000${h}`;
    const hr = hour.get(hk) ?? { equipmentId: d.equipmentId, bucket: h, values: [] };
    add(hr.values, values);
    hour.set(hk, hr);
    for (const r of d.reasons) {
      const rv = [r.ms, r.n, r.microMs, r.microStops];
      reasonMinute.push({
        equipmentId: d.equipmentId,
        bucket: d.minute,
        state: r.state,
        reasonCode: r.reasonCode,
        values: rv,
      });
      const rk = `${hk}\u0000${r.state}\u0000${r.reasonCode}`;
      const rh = reasonHour.get(rk) ?? {
        equipmentId: d.equipmentId,
        bucket: h,
        state: r.state,
        reasonCode: r.reasonCode,
        values: [],
      };
      add(rh.values, rv);
      reasonHour.set(rk, rh);
    }
  }
  return { minute, hour: [...hour.values()], reasonMinute, reasonHour: [...reasonHour.values()] };
}

/** A piece of a range read from one level: [lo, hi) and the range it belongs to. */
export interface KpiSegment {
  readonly range: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The ranges (whole minutes) cut into the parts read from hours and the ragged ends read from
 * minutes. A range not on whole minutes is a programming error (the callers floor them).
 */
export function kpiSegments(ranges: readonly { from: number; to: number }[]): {
  minute: KpiSegment[];
  hour: KpiSegment[];
} {
  const minute: KpiSegment[] = [];
  const hour: KpiSegment[] = [];
  ranges.forEach(({ from, to }, range) => {
    if (from % MINUTE_MS !== 0 || to % MINUTE_MS !== 0)
      throw new RangeError(`KPI range ${from}..${to} is not on whole minutes`);
    if (to <= from) return;
    const h0 = Math.ceil(from / HOUR_MS) * HOUR_MS;
    const h1 = Math.floor(to / HOUR_MS) * HOUR_MS;
    if (h1 <= h0) {
      minute.push({ range, lo: from, hi: to });
      return;
    }
    if (from < h0) minute.push({ range, lo: from, hi: h0 });
    hour.push({ range, lo: h0, hi: h1 });
    if (h1 < to) minute.push({ range, lo: h1, hi: to });
  });
  return { minute, hour };
}

export function reasonOfRow(row: Record<string, unknown>): ReasonFigures {
  return {
    state: row['state'] as EquipmentState,
    reasonCode: String(row['reason_code']),
    ms: Number(row['ms']),
    n: Number(row['n']),
    microMs: Number(row['micro_ms']),
    microStops: Number(row['micro_n']),
  };
}

/** The CREATE TABLE statements, with the types of the store's dialect. */
export function kpiTablesSql(
  table: (name: string) => string,
  types: { text: string; int: string; num: string; withoutRowid: string },
): string {
  const figures = FIGURE_COLUMNS.map(
    (c) =>
      `${c} ${['good', 'scrap', 'total'].includes(c) ? types.num : types.int} NOT NULL DEFAULT 0`,
  ).join(',\n        ');
  const reasons = REASON_COLUMNS.map((c) => `${c} ${types.int} NOT NULL DEFAULT 0`).join(
    ',\n        ',
  );
  return ['minute', 'hour']
    .map(
      (level) => `
      CREATE TABLE ${table(`kpi_${level}`)} (
        equipment_id ${types.text} NOT NULL,
        bucket ${types.int} NOT NULL,
        ${figures},
        PRIMARY KEY (equipment_id, bucket)
      )${types.withoutRowid};
      CREATE TABLE ${table(`kpi_reason_${level}`)} (
        equipment_id ${types.text} NOT NULL,
        bucket ${types.int} NOT NULL,
        state ${types.text} NOT NULL,
        reason_code ${types.text} NOT NULL,
        ${reasons},
        PRIMARY KEY (equipment_id, bucket, state, reason_code)
      )${types.withoutRowid};`,
    )
    .join('\n');
}

/** `col = t.col + excluded.col, …` for an upsert into table `t`. */
export function addExcluded(t: string, columns: readonly string[]): string {
  return columns.map((c) => `${c} = ${t}.${c} + excluded.${c}`).join(', ');
}

/** `SUM(b.col) AS col, …`. */
export function sums(columns: readonly string[]): string {
  return columns.map((c) => `SUM(b.${c}) AS ${c}`).join(', ');
}

export const KPI_TABLES = ['kpi_minute', 'kpi_hour', 'kpi_reason_minute', 'kpi_reason_hour'];

/**
 * Rows of sums (columns `equipment_id`, `r` and the figure or reason columns), from the hour and
 * minute levels, merged per unit and range.
 */
export function collectKpiSums(
  figureRows: readonly Record<string, unknown>[],
  reasonRows: readonly Record<string, unknown>[],
): KpiSum[] {
  const out = new Map<
    string,
    {
      equipmentId: string;
      range: number;
      figures: BucketFigures;
      reasons: Map<string, ReasonFigures>;
    }
  >();
  const entry = (row: Record<string, unknown>) => {
    const equipmentId = String(row['equipment_id']);
    const range = Number(row['r']);
    const key = `${equipmentId}\u0000${range}`;
    let e = out.get(key);
    if (e === undefined) {
      e = { equipmentId, range, figures: emptyFigures(), reasons: new Map() };
      out.set(key, e);
    }
    return e;
  };
  for (const row of figureRows) {
    const e = entry(row);
    e.figures = addFigures(e.figures, figuresOfRow(row));
  }
  for (const row of reasonRows) {
    const e = entry(row);
    const r = reasonOfRow(row);
    const key = `${r.state}\u0000${r.reasonCode}`;
    const b = e.reasons.get(key);
    e.reasons.set(
      key,
      b === undefined
        ? r
        : {
            ...r,
            ms: b.ms + r.ms,
            n: b.n + r.n,
            microMs: b.microMs + r.microMs,
            microStops: b.microStops + r.microStops,
          },
    );
  }
  return [...out.values()].map((e) => ({
    equipmentId: e.equipmentId,
    range: e.range,
    figures: e.figures,
    reasons: [...e.reasons.values()],
  }));
}

/**
 * PostgreSQL views for BI tools (docs/kpi.md): the buckets with readable times, and every state
 * interval (stops and runs) from the journal's state changes. Columns are part of the API: add,
 * never rename.
 */
export function kpiViewsSql(s: string): string {
  const figures = (t: string): string =>
    `CREATE VIEW ${s}.${t}_v AS
       SELECT equipment_id, to_timestamp(bucket / 1000.0) AS bucket_start, ${FIGURE_COLUMNS.join(', ')}
       FROM ${s}.${t};`;
  return `
    ${figures('kpi_minute')}
    ${figures('kpi_hour')}
    CREATE VIEW ${s}.kpi_state_intervals_v AS
      SELECT seq AS ended_by_seq, equipment_id,
             to_timestamp((ts - (data->>'previousDurationMs')::bigint) / 1000.0) AS started_at,
             to_timestamp(ts / 1000.0) AS ended_at,
             data->>'previousState' AS state,
             data->>'previousReasonCode' AS reason_code,
             (data->>'previousDurationMs')::bigint AS duration_ms,
             (data->>'previousMicroStop')::boolean AS micro_stop
      FROM ${s}.events
      WHERE type = 'state.changed' AND (data->>'previousDurationMs')::bigint > 0;
  `;
}
