/**
 * The local spool (DESIGN.md: nothing accepted is lost): while the store is unreachable,
 * accepted input is appended here, durably, and acknowledged to its source; when the store
 * returns, the pipeline replays it in order, then goes back to committing directly.
 *
 * The spool keeps the input as it arrived (a message or a decoded sample), not what the hub
 * derived from it: replay runs it through the equipment runtime again, on the state as the
 * store has it, so the journal gets every event exactly as if the store had never been away.
 */
import type { RawMessage, SampleInput } from './ingest-types.ts';

export type SpoolItem = (
  | { readonly kind: 'message'; readonly message: RawMessage }
  | { readonly kind: 'sample'; readonly sample: SampleInput }
) & {
  /** Already counted in the connection's figures (it was processed once before its batch failed). */
  readonly counted?: boolean;
};

export interface SpoolEntry {
  readonly id: number;
  readonly item: SpoolItem;
}

export interface SpoolStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  /** Where it lives, for health. */
  readonly location: string;
}

/** A bounded, durable, ordered queue on local disk (src/store/sqlite/spool.ts). */
export interface Spool {
  /** Append in order, durably (fsync) before returning. False when it would exceed maxBytes. */
  append(items: readonly SpoolItem[]): boolean;
  /** The oldest entries, up to `limit`. */
  peek(limit: number): SpoolEntry[];
  /** Remove every entry up to and including `id` (after they were committed). */
  removeThrough(id: number): void;
  stats(): SpoolStats;
  close(): void;
}

/** JSON with the payload as base64: what a spool row holds. */
export function encodeSpoolItem(item: SpoolItem): string {
  if (item.kind === 'sample') return JSON.stringify(item);
  const m = item.message;
  return JSON.stringify({
    kind: 'message',
    message: { ...m, payload: m.payload.toString('base64') },
    ...(item.counted === true ? { counted: true } : {}),
  });
}

export function decodeSpoolItem(text: string): SpoolItem {
  const raw = JSON.parse(text) as (
    | { kind: 'sample'; sample: SampleInput }
    | { kind: 'message'; message: Omit<RawMessage, 'payload'> & { payload: string } }
  ) & { counted?: boolean };
  if (raw.kind === 'sample') return raw;
  return {
    kind: 'message',
    message: { ...raw.message, payload: Buffer.from(raw.message.payload, 'base64') },
    ...(raw.counted === true ? { counted: true } : {}),
  };
}

/**
 * Whether a failed commit means the store is away (then input is spooled) rather than that the
 * batch itself is wrong (then it is refused and its sources deliver it again, as before).
 * Connection-level and resource errors of PostgreSQL and SQLite count as "away".
 */
export function storeIsAway(err: unknown): boolean {
  for (let e: unknown = err; e !== undefined && e !== null; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (AWAY_CODES.has(code)) return true;
      // PostgreSQL SQLSTATE classes: 08 connection exception, 53 insufficient resources,
      // 57 operator intervention (admin shutdown, cannot connect now).
      if (/^(08|53|57)[0-9A-Z]{3}$/.test(code)) return true;
    }
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && AWAY_MESSAGE.test(message)) return true;
  }
  return false;
}

const AWAY_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_BUSY',
  'SQLITE_CANTOPEN',
  'SQLITE_READONLY',
]);

const AWAY_MESSAGE =
  /Connection terminated|connection (is )?closed|timeout exceeded when trying to connect|Client has encountered a connection error/i;
