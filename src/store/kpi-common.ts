/**
 * The KPI bucket tables both stores keep (issue #11; model/kpi-buckets.ts says what a bucket
 * is): `kpi_minute`, `kpi_quarter` and `kpi_hour` hold a unit's figures per minute, quarter hour
 * and hour, and `kpi_reason_*` the part of them stop intervals with a reason code made. Every
 * level is written in the commit's transaction from the same deltas; a range is read from hours
 * where it covers whole hours, from quarters where it covers whole quarters (breaks at :15, :30,
 * :45; zones at +5:30 or +5:45) and from minutes at its ragged ends.
 */
import type { KpiCacheRead, KpiCacheRow, KpiSum, KpiSumQuery } from './types.ts';
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

/**
 * The KPI cache (migration 010; Store.readKpiCache): numbers a report computed from the buckets
 * over a closed range, one row per key (a shift of a site, say) holding every unit's, so that
 * the next report over that range reads a row instead of summing minutes again (and a row, not
 * a probe per unit: bench/kpi). Which units of a row are still good is in kpi_cache_units: a
 * bucket delta of a unit within a row's range ([lo, hi)) deletes the unit's line there
 * (`invalidate…`, in the commit's transaction), so a unit's numbers are never older than its
 * buckets.
 */
export function kpiCacheSql(
  table: (name: string) => string,
  types: { text: string; int: string; withoutRowid: string },
): string {
  return `
    CREATE TABLE ${table('kpi_cache')} (
      key ${types.text} NOT NULL PRIMARY KEY,
      lo ${types.int} NOT NULL,
      hi ${types.int} NOT NULL,
      units ${types.text} NOT NULL,
      fps ${types.text} NOT NULL,
      n ${types.int} NOT NULL,
      body ${types.text} NOT NULL
    );
    CREATE TABLE ${table('kpi_cache_units')} (
      key ${types.text} NOT NULL,
      equipment_id ${types.text} NOT NULL,
      lo ${types.int} NOT NULL,
      hi ${types.int} NOT NULL,
      PRIMARY KEY (key, equipment_id)
    )${types.withoutRowid};
    CREATE INDEX kpi_cache_units_hi ON ${table('kpi_cache_units')} (equipment_id, hi);`;
}

/**
 * Numbers packed small and exact: a whole number 0 ≤ v < 2^52 as the LEB128 varint of 2v
 * (zero: one byte; a shift's milliseconds: four), anything else as the varint 1 and its eight
 * bytes of float64. Written by hand because a report reads hundreds of thousands of them per
 * call and this decodes in one tight loop into a Float64Array (no object per value, as a
 * general-purpose format such as MessagePack would build); a KPI cache row is then a third of
 * its float64 size, and the size is what reading it costs (bench/kpi: PostgreSQL sends it as
 * text).
 */
export function packNumbers(values: Float64Array): Buffer {
  const out = Buffer.allocUnsafe(values.length * 9);
  let p = 0;
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i]!;
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 52 && !Object.is(v, -0)) {
      let x = v * 2;
      while (x >= 128) {
        out[p++] = (x % 128) | 128;
        x = Math.floor(x / 128);
      }
      out[p++] = x;
    } else {
      out[p++] = 1;
      out.writeDoubleLE(v, p);
      p += 8;
    }
  }
  return out.subarray(0, p);
}

/** `count` numbers of packNumbers. */
export function unpackNumbers(bytes: Uint8Array, count: number): Float64Array {
  const out = new Float64Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  for (let i = 0; i < count; i += 1) {
    let b = bytes[p++]!;
    if (b < 128) {
      if (b === 1) {
        out[i] = view.getFloat64(p, true);
        p += 8;
      } else out[i] = b / 2;
      continue;
    }
    let x = b & 127;
    let mul = 128;
    do {
      b = bytes[p++]!;
      x += (b & 127) * mul;
      mul *= 128;
    } while (b >= 128);
    out[i] = x / 2;
  }
  if (p !== bytes.length) throw new Error(`packed numbers: ${bytes.length - p} bytes left over`);
  return out;
}

/** A row's units, fingerprints and bodies as the tables hold them (ids never hold a newline). */
export function encodeKpiRow(row: KpiCacheRow): {
  units: string;
  fps: string;
  n: number;
  body: string;
} {
  const n = row.units[0]?.body.length ?? 0;
  const all = new Float64Array(n * row.units.length);
  row.units.forEach((u, i) => {
    if (u.body.length !== n) throw new Error(`KPI cache row ${row.key}: bodies of unequal length`);
    all.set(u.body, i * n);
  });
  return {
    units: row.units.map((u) => u.equipmentId).join('\n'),
    fps: row.units.map((u) => u.fp).join('\n'),
    n,
    body: packNumbers(all).toString('base64'),
  };
}

/** A row read back: only its units `valid` still lists; null when it does not decode (it is
 * then computed and written again). */
export function decodeKpiRow(
  key: string,
  lo: number,
  hi: number,
  units: string,
  fps: string,
  n: number,
  body: string,
  valid: string | null,
): KpiCacheRead | null {
  const good = new Set(valid === null ? [] : valid.split('\n'));
  const ids = units.split('\n');
  const prints = fps.split('\n');
  let all: Float64Array;
  try {
    all = unpackNumbers(Buffer.from(body, 'base64'), n * ids.length);
  } catch {
    return null;
  }
  const out = { units: [] as string[], fps: [] as string[], offsets: [] as number[] };
  ids.forEach((id, i) => {
    if (!good.has(id)) return;
    out.units.push(id);
    out.fps.push(prints[i]!);
    out.offsets.push(i * n);
  });
  return { key, lo, hi, ...out, width: n, body: all };
}

/**
 * Per unit, the first and last minute bucket deltas reached: what a commit makes stale in the
 * KPI cache (rows between two reached minutes are dropped too; a unit's deltas in one commit
 * are near each other, and a dropped row is only computed again).
 */
export function touchedRanges(
  rows: readonly { equipmentId: string; bucket: number }[],
): { equipmentId: string; first: number; last: number }[] {
  const out = new Map<string, { equipmentId: string; first: number; last: number }>();
  for (const r of rows) {
    const t = out.get(r.equipmentId);
    if (t === undefined)
      out.set(r.equipmentId, { equipmentId: r.equipmentId, first: r.bucket, last: r.bucket });
    else {
      if (r.bucket < t.first) t.first = r.bucket;
      if (r.bucket > t.last) t.last = r.bucket;
    }
  }
  return [...out.values()];
}

/**
 * A cache write must not put back what a commit made stale while the report was computed: a
 * report takes a token before it reads the buckets, and its write keeps only the rows of units
 * no bucket delta below the row's `hi` has touched since. The deltas are logged (per unit, the
 * lowest minute) only while some token is out, and the log is dropped when none is. In memory:
 * one hub process per store.
 */
export class KpiCacheGuard {
  private generation = 0;
  private readonly open = new Map<number, number>();
  private log: { gen: number; unit: string; lowest: number }[] = [];
  /** The highest `hi` of a row written; deltas at or above it touch no row. */
  highest = Number.NEGATIVE_INFINITY;

  token(): number {
    this.generation += 1;
    this.open.set(this.generation, (this.open.get(this.generation) ?? 0) + 1);
    return this.generation;
  }

  /** The lowest minute each unit got deltas at, for the log. */
  touched(rows: readonly { equipmentId: string; bucket: number }[]): void {
    if (this.open.size === 0) return;
    const lowest = new Map<string, number>();
    for (const r of rows)
      lowest.set(r.equipmentId, Math.min(lowest.get(r.equipmentId) ?? Infinity, r.bucket));
    for (const [unit, low] of lowest) this.log.push({ gen: this.generation, unit, lowest: low });
  }

  /**
   * Whether a unit's numbers over a range ending at `hi` may be written for this token (no
   * delta below `hi` since it was taken); the token is given back.
   */
  allowed(token: number): (equipmentId: string, hi: number) => boolean {
    const lowest = new Map<string, number>();
    for (const l of this.log)
      if (l.gen >= token) lowest.set(l.unit, Math.min(lowest.get(l.unit) ?? Infinity, l.lowest));
    this.release(token);
    return (unit, hi) => (lowest.get(unit) ?? Infinity) >= hi;
  }

  /** Give a token back without writing (a report that failed). */
  release(token: number): void {
    const left = (this.open.get(token) ?? 0) - 1;
    if (left > 0) this.open.set(token, left);
    else this.open.delete(token);
    if (this.open.size === 0) this.log = [];
    else {
      const oldest = Math.min(...this.open.keys());
      this.log = this.log.filter((l) => l.gen >= oldest);
    }
  }
}
