/**
 * The KPI bucket tables both stores keep (issue #11; model/kpi-buckets.ts says what a bucket
 * is): `kpi_minute`, `kpi_quarter` and `kpi_hour` hold a unit's figures per minute, quarter hour
 * and hour, and `kpi_reason_*` the part of them stop intervals with a reason code made. Every
 * level is written in the commit's transaction from the same deltas; a range is read from hours
 * where it covers whole hours, from quarters where it covers whole quarters (breaks at :15, :30,
 * :45; zones at +5:30 or +5:45) and from minutes at its ragged ends.
 */
import type { KpiSum, KpiSumQuery } from './types.ts';
import {
  EQUIPMENT_STATES,
  HOUR_MS,
  MINUTE_MS,
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

const STATES = EQUIPMENT_STATES.length;

/** Figures from sums in FIGURE_COLUMNS order. */
export function figuresOfValues(v: ArrayLike<number>): BucketFigures {
  const ms = {} as Record<EquipmentState, number>;
  const n = {} as Record<EquipmentState, number>;
  EQUIPMENT_STATES.forEach((s, i) => {
    ms[s] = v[i]!;
    n[s] = v[STATES + i]!;
  });
  const k = 2 * STATES;
  return {
    ms,
    n,
    microMs: v[k]!,
    microStops: v[k + 1]!,
    good: v[k + 2]!,
    scrap: v[k + 3]!,
    total: v[k + 4]!,
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
  quarter: KpiRow[];
  hour: KpiRow[];
  reasonMinute: KpiReasonRow[];
  reasonQuarter: KpiReasonRow[];
  reasonHour: KpiReasonRow[];
  /** Distinct (unit, state, reason code) of the reasons. */
  reasonCodes: { equipmentId: string; state: string; reasonCode: string }[];
} {
  const minute: KpiRow[] = [];
  const reasonMinute: KpiReasonRow[] = [];
  const coarse = COARSE.map(() => ({
    rows: new Map<string, KpiRow>(),
    reasons: new Map<string, KpiReasonRow>(),
  }));
  const add = (into: number[], values: readonly number[]): void => {
    values.forEach((x, i) => (into[i] = (into[i] ?? 0) + x));
  };
  for (const d of deltas) {
    const values = figureValues(d.figures);
    minute.push({ equipmentId: d.equipmentId, bucket: d.minute, values });
    const reasonValues = d.reasons.map((r) => [r.ms, r.n, r.microMs, r.microStops]);
    d.reasons.forEach((r, i) =>
      reasonMinute.push({
        equipmentId: d.equipmentId,
        bucket: d.minute,
        state: r.state,
        reasonCode: r.reasonCode,
        values: reasonValues[i]!,
      }),
    );
    COARSE.forEach(({ size }, level) => {
      const into = coarse[level]!;
      const bucket = Math.floor(d.minute / size) * size;
      const key = `${d.equipmentId}\u0000${bucket}`;
      const row = into.rows.get(key) ?? { equipmentId: d.equipmentId, bucket, values: [] };
      add(row.values, values);
      into.rows.set(key, row);
      d.reasons.forEach((r, i) => {
        const rk = `${key}\u0000${r.state}\u0000${r.reasonCode}`;
        const rr = into.reasons.get(rk) ?? {
          equipmentId: d.equipmentId,
          bucket,
          state: r.state,
          reasonCode: r.reasonCode,
          values: [],
        };
        add(rr.values, reasonValues[i]!);
        into.reasons.set(rk, rr);
      });
    });
  }
  const [q, h] = coarse as [(typeof coarse)[number], (typeof coarse)[number]];
  const codes = new Map<string, { equipmentId: string; state: string; reasonCode: string }>();
  for (const r of h.reasons.values())
    codes.set(`${r.equipmentId}\u0000${r.state}\u0000${r.reasonCode}`, {
      equipmentId: r.equipmentId,
      state: r.state,
      reasonCode: r.reasonCode,
    });
  return {
    reasonCodes: [...codes.values()],
    minute,
    quarter: [...q.rows.values()],
    hour: [...h.rows.values()],
    reasonMinute,
    reasonQuarter: [...q.reasons.values()],
    reasonHour: [...h.reasons.values()],
  };
}

export const QUARTER_MS = 900_000;

/** The bucket levels, finest first: their tables and bucket sizes. */
export const KPI_LEVELS = [
  { name: 'minute', size: MINUTE_MS },
  { name: 'quarter', size: QUARTER_MS },
  { name: 'hour', size: HOUR_MS },
] as const;

export type KpiLevel = (typeof KPI_LEVELS)[number]['name'];

/** The levels made by adding minutes: quarter and hour. */
const COARSE = KPI_LEVELS.slice(1);

/** A piece of a range read from one level: [lo, hi) and the key of the range it belongs to. */
export interface KpiSegment {
  readonly key: number;
  readonly lo: number;
  readonly hi: number;
}

/**
 * The ranges (whole minutes) cut into the parts read from each level: whole hours from hours,
 * whole quarters left of them from quarters, the ragged ends from minutes. A range's key is its
 * `key`, else its index. A range not on whole minutes is a programming error (callers floor).
 */
export function kpiSegments(ranges: KpiSumQuery['ranges']): Record<KpiLevel, KpiSegment[]> {
  const out: Record<KpiLevel, KpiSegment[]> = { minute: [], quarter: [], hour: [] };
  const cut = (key: number, lo: number, hi: number, level: number): void => {
    if (hi <= lo) return;
    const { name, size } = KPI_LEVELS[level]!;
    if (level === 0) {
      out[name].push({ key, lo, hi });
      return;
    }
    const a = Math.ceil(lo / size) * size;
    const b = Math.floor(hi / size) * size;
    if (b <= a) {
      cut(key, lo, hi, level - 1);
      return;
    }
    cut(key, lo, a, level - 1);
    out[name].push({ key, lo: a, hi: b });
    cut(key, b, hi, level - 1);
  };
  ranges.forEach(({ from, to, key }, index) => {
    if (from % MINUTE_MS !== 0 || to % MINUTE_MS !== 0)
      throw new RangeError(`KPI range ${from}..${to} is not on whole minutes`);
    cut(key ?? index, from, to, KPI_LEVELS.length - 1);
  });
  return out;
}

/** The CREATE TABLE statements, with the types of the store's dialect. */
export function kpiTablesSql(
  table: (name: string) => string,
  types: { text: string; int: string; num: string; withoutRowid: string },
  levels: readonly KpiLevel[],
): string {
  const figures = FIGURE_COLUMNS.map(
    (c) =>
      `${c} ${['good', 'scrap', 'total'].includes(c) ? types.num : types.int} NOT NULL DEFAULT 0`,
  ).join(',\n        ');
  const reasons = REASON_COLUMNS.map((c) => `${c} ${types.int} NOT NULL DEFAULT 0`).join(
    ',\n        ',
  );
  return levels
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

export const KPI_TABLES = [
  ...KPI_LEVELS.flatMap((l) => [`kpi_${l.name}`, `kpi_reason_${l.name}`]),
  'kpi_reason_codes',
  'kpi_cache',
  'kpi_cache_units',
];

/**
 * The (state, reason code) pairs each unit ever had: a report asks for a few pairs, and most
 * never occur, so it reads the reason buckets only for pairs found here (migration 009).
 */
export function kpiReasonCodesSql(
  table: (name: string) => string,
  types: { text: string; withoutRowid: string },
): string {
  return `
    CREATE TABLE ${table('kpi_reason_codes')} (
      state ${types.text} NOT NULL,
      reason_code ${types.text} NOT NULL,
      equipment_id ${types.text} NOT NULL,
      PRIMARY KEY (state, reason_code, equipment_id)
    )${types.withoutRowid};
    INSERT INTO ${table('kpi_reason_codes')} (state, reason_code, equipment_id)
      SELECT DISTINCT state, reason_code, equipment_id FROM ${table('kpi_reason_hour')};`;
}

/** A quarter's rows made from its minutes (migration 009 fills kpi_quarter from kpi_minute). */
export function kpiQuarterFillSql(table: (name: string) => string): string {
  const q = `(b.bucket - b.bucket % ${QUARTER_MS})`;
  return `
    INSERT INTO ${table('kpi_quarter')} (equipment_id, bucket, ${FIGURE_COLUMNS.join(', ')})
      SELECT b.equipment_id, ${q}, ${FIGURE_COLUMNS.map((c) => `SUM(b.${c})`).join(', ')}
      FROM ${table('kpi_minute')} b GROUP BY b.equipment_id, ${q};
    INSERT INTO ${table('kpi_reason_quarter')}
        (equipment_id, bucket, state, reason_code, ${REASON_COLUMNS.join(', ')})
      SELECT b.equipment_id, ${q}, b.state, b.reason_code,
             ${REASON_COLUMNS.map((c) => `SUM(b.${c})`).join(', ')}
      FROM ${table('kpi_reason_minute')} b GROUP BY b.equipment_id, ${q}, b.state, b.reason_code;`;
}

/**
 * Sums per (unit, key) from the levels' rows: figure rows `[unit index, key, ...FIGURE_COLUMNS]`
 * and reason rows `[unit index, key, state, reason code, ...REASON_COLUMNS]` (numbers or
 * numeric text), added across levels into one flat array each.
 */
export function collectKpiSums(
  equipmentIds: readonly string[],
  figureRows: readonly (readonly unknown[])[],
  reasonRows: readonly (readonly unknown[])[],
): KpiSum[] {
  const width = FIGURE_COLUMNS.length;
  const out = new Map<
    string,
    { unit: number; key: number; sums: Float64Array; reasons: Map<string, ReasonFigures> }
  >();
  const entry = (row: readonly unknown[]) => {
    const unit = Number(row[0]);
    const key = Number(row[1]);
    const id = `${unit}#${key}`;
    let e = out.get(id);
    if (e === undefined) {
      e = { unit, key, sums: new Float64Array(width), reasons: new Map() };
      out.set(id, e);
    }
    return e;
  };
  for (const row of figureRows) {
    const e = entry(row);
    for (let i = 0; i < width; i++) e.sums[i]! += Number(row[i + 2]);
  }
  for (const row of reasonRows) {
    const e = entry(row);
    const state = row[2] as EquipmentState;
    const reasonCode = String(row[3]);
    const id = `${state}\u0000${reasonCode}`;
    const b = e.reasons.get(id);
    const [ms, n, microMs, microStops] = [4, 5, 6, 7].map((i) => Number(row[i]));
    e.reasons.set(id, {
      state,
      reasonCode,
      ms: (b?.ms ?? 0) + ms!,
      n: (b?.n ?? 0) + n!,
      microMs: (b?.microMs ?? 0) + microMs!,
      microStops: (b?.microStops ?? 0) + microStops!,
    });
  }
  return [...out.values()].map((e) => ({
    equipmentId: equipmentIds[e.unit]!,
    range: e.key,
    figures: figuresOfValues(e.sums),
    reasons: [...e.reasons.values()],
  }));
}

/**
 * PostgreSQL views for BI tools (docs/kpi.md): the buckets with readable times, and every state
 * interval (stops and runs) from the journal's state changes. Columns are part of the API: add,
 * never rename.
 */
export const kpiFigureViewSql = (s: string, t: string): string =>
  `CREATE VIEW ${s}.${t}_v AS
     SELECT equipment_id, to_timestamp(bucket / 1000.0) AS bucket_start, ${FIGURE_COLUMNS.join(', ')}
     FROM ${s}.${t};`;

export function kpiViewsSql(s: string): string {
  const figures = (t: string): string => kpiFigureViewSql(s, t);
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
