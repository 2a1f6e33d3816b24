/**
 * The KPI cache of both stores (migration 010; Store.readKpiCache): its tables, how a row holds
 * its numbers, what a commit makes stale, and the guard of a write against commits made while
 * a report computed. `sqlite/kpi.ts` and `postgres/kpi.ts` run the statements.
 */
import type { KpiCacheRead, KpiCacheRow } from './types.ts';

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
  /** The tokens out (each a generation of its own). */
  private readonly open = new Set<number>();
  private log: { gen: number; unit: string; lowest: number }[] = [];
  /** The highest `hi` of a row written; deltas at or above it touch no row. */
  highest = Number.NEGATIVE_INFINITY;

  token(): number {
    this.generation += 1;
    this.open.add(this.generation);
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
    this.open.delete(token);
    if (this.open.size === 0) this.log = [];
    else {
      const oldest = Math.min(...this.open);
      this.log = this.log.filter((l) => l.gen >= oldest);
    }
  }
}
