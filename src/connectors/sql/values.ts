/**
 * Database values → tag values, qualities, timestamps and watermarks. A value that does not
 * convert yields the reason, which becomes the status of a sample of quality bad.
 */
import type { Quality, TagValue } from '../../model/index.ts';
import { ExactNumber, exactDateText } from './driver.ts';
import type { Dialect } from './placeholders.ts';

export type ValueType = 'auto' | 'number' | 'string' | 'boolean';

export type Converted =
  { readonly ok: true; readonly value: TagValue } | { readonly ok: false; readonly reason: string };

const ok = (value: TagValue): Converted => ({ ok: true, value });
const bad = (reason: string): Converted => ({ ok: false, reason });

function show(cell: unknown): string {
  const text = cell instanceof Date ? cell.toISOString() : String(cell);
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** Exact numeric text → a number when that is exact (a safe integer), else the text. */
function exactToAuto(text: string): TagValue {
  const integer = /^-?\d+$/.exec(text) ?? /^(-?\d+)\.0+$/.exec(text);
  if (integer !== null) {
    const n = Number(integer[1] ?? integer[0]);
    if (Number.isSafeInteger(n)) return n;
  }
  return text;
}

/** The value of `cell` as a tag value of `type`, or why it cannot be one. */
export function convertCell(cell: unknown, type: ValueType, column: string): Converted {
  if (cell === null || cell === undefined) return bad(`column ${column} is NULL`);
  if (cell instanceof Date && Number.isNaN(cell.getTime()))
    return bad(`column ${column}: invalid date ${JSON.stringify(exactDateText(cell) ?? '')}`);
  switch (type) {
    case 'auto':
      if (typeof cell === 'number')
        return Number.isFinite(cell) ? ok(cell) : bad(`column ${column}: ${cell} is not finite`);
      if (cell instanceof ExactNumber) return ok(exactToAuto(cell.text));
      if (typeof cell === 'bigint') return ok(exactToAuto(cell.toString()));
      if (typeof cell === 'string' || typeof cell === 'boolean') return ok(cell);
      if (cell instanceof Date) return ok(cell.getTime());
      if (Buffer.isBuffer(cell))
        return bad(
          `column ${column}: binary value (${cell.length} bytes); map it with type: string`,
        );
      return ok(JSON.stringify(cell));
    case 'number': {
      if (typeof cell === 'number')
        return Number.isFinite(cell) ? ok(cell) : bad(`column ${column}: ${cell} is not finite`);
      if (typeof cell === 'boolean') return ok(cell ? 1 : 0);
      if (cell instanceof Date) return ok(cell.getTime());
      const text =
        cell instanceof ExactNumber || typeof cell === 'bigint'
          ? cell.toString()
          : typeof cell === 'string'
            ? cell.trim()
            : null;
      if (text === null || text === '' || !Number.isFinite(Number(text)))
        return bad(`column ${column}: ${show(cell)} is not a number`);
      const n = Number(text);
      if (/^-?\d+$/.test(text) && !Number.isSafeInteger(n))
        return bad(
          `column ${column}: ${text} is beyond 2^53 and not exact as a number; map it with type: string`,
        );
      return ok(n);
    }
    case 'string':
      if (cell instanceof Date) return ok(cell.toISOString());
      if (Buffer.isBuffer(cell)) return ok(cell.toString('utf8'));
      if (typeof cell === 'object' && !(cell instanceof ExactNumber))
        return ok(JSON.stringify(cell));
      return ok(String(cell as string | number | boolean | bigint | ExactNumber));
    case 'boolean': {
      if (typeof cell === 'boolean') return ok(cell);
      const text =
        typeof cell === 'number' || cell instanceof ExactNumber || typeof cell === 'bigint'
          ? cell.toString()
          : typeof cell === 'string'
            ? cell.trim().toLowerCase()
            : null;
      if (text === '1' || text === 'true' || text === 't') return ok(true);
      if (text === '0' || text === 'false' || text === 'f') return ok(false);
      return bad(`column ${column}: ${show(cell)} is not a boolean (true/false, 1/0)`);
    }
  }
}

/** The text of a cell for a tag name template, or null for NULL. */
export function cellText(cell: unknown): string | null {
  if (cell === null || cell === undefined) return null;
  if (cell instanceof Date)
    return Number.isNaN(cell.getTime()) ? 'invalid-date' : cell.toISOString();
  if (Buffer.isBuffer(cell)) return cell.toString('utf8');
  if (typeof cell === 'object' && !(cell instanceof ExactNumber)) return JSON.stringify(cell);
  return String(cell as string | number | boolean | bigint | ExactNumber);
}

/** The source time (epoch ms) of a timestamp cell, or the problem with it. */
export function timestampOf(
  cell: unknown,
  column: string,
): { readonly ts: number | null; readonly problem: string | null } {
  if (cell === null || cell === undefined)
    return { ts: null, problem: `timestamp column ${column} is NULL` };
  let ts = Number.NaN;
  if (cell instanceof Date) ts = cell.getTime();
  else if (typeof cell === 'number') ts = cell;
  else if (cell instanceof ExactNumber) ts = Number(cell.text);
  else if (typeof cell === 'string') ts = Date.parse(cell);
  if (!Number.isFinite(ts))
    return { ts: null, problem: `timestamp column ${column}: ${show(cell)} is not a time` };
  return { ts, problem: null };
}

const QUALITIES: readonly Quality[] = ['good', 'uncertain', 'bad'];

/** The quality of a row from its quality cell, with the raw value as status when not good. */
export function qualityOf(
  cell: unknown,
  column: string,
  map: Readonly<Record<string, Quality>> | undefined,
): { readonly quality: Quality; readonly status: string | null } {
  const raw = cellText(cell);
  let quality: Quality | undefined;
  if (map !== undefined) quality = raw === null ? undefined : map[raw];
  else if (typeof cell === 'boolean') quality = cell ? 'good' : 'bad';
  else if (raw !== null) quality = QUALITIES.find((q) => q === raw.trim().toLowerCase());
  if (quality === undefined)
    return {
      quality: 'bad',
      status: `quality column ${column}: unknown value ${raw === null ? 'NULL' : JSON.stringify(raw)}`,
    };
  return { quality, status: quality === 'good' ? null : `${column}=${raw ?? 'NULL'}` };
}

/** A watermark as persisted in the hub's store (JSON). */
export type Watermark =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'date'; readonly value: string; readonly ms: number }
  | { readonly kind: 'text'; readonly value: string };

export function initialWatermark(initial: number | string): Watermark {
  return typeof initial === 'number'
    ? { kind: 'number', value: initial }
    : { kind: 'text', value: initial };
}

export function isWatermark(v: unknown): v is Watermark {
  const w = v as { kind?: unknown; value?: unknown } | null;
  if (typeof w !== 'object' || w === null) return false;
  if (w.kind === 'number') return typeof w.value === 'number';
  return (
    (w.kind === 'exact' || w.kind === 'date' || w.kind === 'text') && typeof w.value === 'string'
  );
}

/** The watermark a cell of the watermark column gives, or null (NULL, binary …). */
export function watermarkOf(cell: unknown): Watermark | null {
  if (typeof cell === 'number' && Number.isFinite(cell)) return { kind: 'number', value: cell };
  if (cell instanceof ExactNumber || typeof cell === 'bigint')
    return { kind: 'exact', value: cell.toString() };
  if (cell instanceof Date && !Number.isNaN(cell.getTime()))
    return { kind: 'date', value: exactDateText(cell) ?? cell.toISOString(), ms: cell.getTime() };
  if (typeof cell === 'string') return { kind: 'text', value: cell };
  return null;
}

/** Compare two watermarks (negative: a before b). */
export function compareWatermarks(a: Watermark, b: Watermark): number {
  const numeric = (w: Watermark): number | bigint | null => {
    if (w.kind === 'number') return w.value;
    if (w.kind === 'exact') return /^-?\d+$/.test(w.value) ? BigInt(w.value) : Number(w.value);
    return null;
  };
  const na = numeric(a);
  const nb = numeric(b);
  if (na !== null && nb !== null) return na < nb ? -1 : na > nb ? 1 : 0;
  if (a.kind === 'date' && b.kind === 'date')
    return a.ms - b.ms || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0);
  return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
}

/** The parameter value of a watermark for the driver. */
export function watermarkParam(w: Watermark, dialect: Dialect): unknown {
  if (w.kind === 'exact' && dialect === 'mysql' && /^-?\d+$/.test(w.value)) return BigInt(w.value);
  return w.value;
}

/** A written tag value as a statement parameter. */
export function writeParam(value: TagValue, dialect: Dialect): unknown {
  if (typeof value === 'boolean' && dialect === 'mysql') return value ? 1 : 0;
  return value;
}
