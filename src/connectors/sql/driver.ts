/**
 * One database session behind a small interface, for PostgreSQL (pg) and MariaDB/MySQL
 * (mysql2), with the values of both drivers normalised:
 * - BIGINT and DECIMAL/NUMERIC arrive as `ExactNumber` (their exact text), never as a rounded
 *   double;
 * - DATE/DATETIME/TIMESTAMP arrive as `Date` (a type without time zone is read as UTC), with the
 *   database's own text kept (`exactDateText`), so a timestamp watermark is passed back with its
 *   full precision (microseconds) and rows are not read again for a rounding.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Dialect } from './placeholders.ts';

/** An exact numeric value (BIGINT, DECIMAL, NUMERIC) as the database wrote it. */
export class ExactNumber {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const dateText = new WeakMap<Date, string>();

/** The database's own text of a date read from it, if known. */
export function exactDateText(date: Date): string | undefined {
  return dateText.get(date);
}

/**
 * PostgreSQL's text of a time to ISO 8601 that Date reads: a space becomes "T", and a zone
 * written as "+00" or "-03" (PostgreSQL's output) gets its minutes ("+00:00").
 */
export function pgTimeToIso(text: string): string {
  const iso = text.includes(' ') ? text.replace(' ', 'T') : text;
  return iso.replace(/([+-]\d{2})$/, '$1:00');
}

function dateOf(text: string, utc: boolean): Date {
  // "2026-01-01 08:00:00.123456" (no zone) is read as UTC; a DATE as UTC midnight.
  const iso = pgTimeToIso(text);
  const date = new Date(utc ? (iso.length === 10 ? `${iso}T00:00:00Z` : `${iso}Z`) : iso);
  dateText.set(date, text);
  return date;
}

export interface SqlResult {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** Column names of the result (empty for a statement without result set). */
  readonly columns: readonly string[];
  /** Rows changed by an INSERT/UPDATE/DELETE (rows matched, on MariaDB/MySQL). */
  readonly affected: number;
}

export interface SqlSession {
  /** A statement with driver parameters ($n or ?) and their values. */
  query(text: string, params: readonly unknown[], timeoutMs: number): Promise<SqlResult>;
  /** A statement without parameters (BEGIN, COMMIT, ROLLBACK). */
  run(text: string): Promise<void>;
  /** Called once when the session is lost (not after close()). */
  onLost(listener: (err: Error) => void): void;
  close(): Promise<void>;
}

/** A statement's outcome the connector refuses (no row changed, a result without a column). */
export class StatementProblem extends Error {}

/** True when `err` means the session is gone (the peer, the network), not a bad statement. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof StatementProblem) return false;
  if (err instanceof pg.DatabaseError) {
    // SQLSTATE class 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now.
    return err.code?.startsWith('08') === true || /^57P0[123]$/.test(err.code ?? '');
  }
  const e = err as { fatal?: unknown; sqlState?: unknown };
  if (e.fatal === true) return true;
  return typeof e.sqlState !== 'string';
}

/** The one-line message of a driver error. */
export function errorText(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; errors?: unknown };
  // AggregateError of a refused connection to several addresses (localhost: ::1 and 127.0.0.1).
  if (
    Array.isArray(e.errors) &&
    e.errors.length > 0 &&
    (e.message === '' || e.message === undefined)
  )
    return errorText(e.errors[0]);
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  return message.split('\n')[0] as string;
}

export async function openSession(
  url: string,
  dialect: Dialect,
  timeoutMs: number,
): Promise<SqlSession> {
  return dialect === 'postgres' ? openPostgres(url, timeoutMs) : openMysql(url, timeoutMs);
}

// PostgreSQL type OIDs (pg_type.oid), stable across versions.
const PG_INT8 = 20;
const PG_NUMERIC = 1700;
const PG_DATE = 1082;
const PG_TIMESTAMP = 1114;
const PG_TIMESTAMPTZ = 1184;

async function openPostgres(url: string, timeoutMs: number): Promise<SqlSession> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    keepAlive: true,
    application_name: 'millwright',
  });
  client.setTypeParser(PG_INT8, 'text', (text) => new ExactNumber(text));
  client.setTypeParser(PG_NUMERIC, 'text', (text) => new ExactNumber(text));
  client.setTypeParser(PG_DATE, 'text', (text) => dateOf(text, true));
  client.setTypeParser(PG_TIMESTAMP, 'text', (text) => dateOf(text, true));
  client.setTypeParser(PG_TIMESTAMPTZ, 'text', (text) => dateOf(text, false));
  let closing = false;
  let lost: ((err: Error) => void) | null = null;
  let lostOnce = false;
  const fire = (err: Error): void => {
    if (closing || lostOnce) return;
    lostOnce = true;
    lost?.(err);
  };
  client.on('error', (err) => fire(err));
  client.on('end', () => fire(new Error('connection closed by the server')));
  try {
    await client.connect();
  } catch (err) {
    closing = true;
    await client.end().catch(() => undefined);
    throw err;
  }
  return {
    async query(text, params, timeout) {
      const result = await client.query({
        text,
        values: [...params],
        query_timeout: timeout,
      } as pg.QueryConfig & { query_timeout: number });
      return {
        rows: result.rows as Record<string, unknown>[],
        columns: (result.fields ?? []).map((f) => f.name),
        affected: result.rowCount ?? 0,
      };
    },
    async run(text) {
      await client.query(text);
    },
    onLost(listener) {
      lost = listener;
    },
    async close() {
      closing = true;
      await client.end().catch(() => undefined);
    },
  };
}

// MySQL protocol column types (include/mysql_com.h, enum_field_types).
const MY_DECIMAL = 0;
const MY_LONGLONG = 8;
const MY_NEWDECIMAL = 246;
const MY_DATE_TYPES = new Set([
  7 /* TIMESTAMP */, 10 /* DATE */, 12 /* DATETIME */, 14 /* NEWDATE */,
]);

async function openMysql(url: string, timeoutMs: number): Promise<SqlSession> {
  const connection = await mysql.createConnection({
    uri: url.replace(/^mariadb:/i, 'mysql:'),
    connectTimeout: timeoutMs,
    supportBigNumbers: true,
    bigNumberStrings: true,
    // Dates as the server's text, turned into Date here (UTC), keeping the text for watermarks.
    dateStrings: true,
    enableKeepAlive: true,
    multipleStatements: false,
  });
  let closing = false;
  let lost: ((err: Error) => void) | null = null;
  let lostOnce = false;
  const fire = (err: Error): void => {
    if (closing || lostOnce) return;
    lostOnce = true;
    lost?.(err);
  };
  connection.on('error', (err: Error) => fire(err));
  connection.on('end', () => fire(new Error('connection closed by the server')));
  try {
    // TIMESTAMP columns in UTC, as DATETIME values are read.
    await connection.query("SET time_zone = '+00:00'");
  } catch (err) {
    closing = true;
    connection.destroy();
    throw err;
  }
  return {
    async query(text, params, timeout) {
      const values = [...params] as Parameters<typeof connection.execute>[1];
      const [result, fields] = await connection.execute({ sql: text, timeout }, values);
      if (!Array.isArray(result)) {
        return { rows: [], columns: [], affected: result.affectedRows };
      }
      const exact: string[] = [];
      const dates: string[] = [];
      for (const f of fields ?? []) {
        const type = f.columnType ?? f.type;
        if (type === MY_DECIMAL || type === MY_LONGLONG || type === MY_NEWDECIMAL)
          exact.push(f.name);
        else if (type !== undefined && MY_DATE_TYPES.has(type)) dates.push(f.name);
      }
      const rows = (result as Record<string, unknown>[]).map((row) => {
        if (exact.length === 0 && dates.length === 0) return row;
        const copy: Record<string, unknown> = { ...row };
        for (const name of exact) {
          const v = copy[name];
          if (typeof v === 'string' || typeof v === 'number')
            copy[name] = new ExactNumber(String(v));
        }
        for (const name of dates) {
          const v = copy[name];
          if (typeof v === 'string') copy[name] = dateOf(v, true);
        }
        return copy;
      });
      return { rows, columns: (fields ?? []).map((f) => f.name), affected: 0 };
    },
    async run(text) {
      await connection.query(text);
    },
    onLost(listener) {
      lost = listener;
    },
    async close() {
      closing = true;
      try {
        await connection.end();
      } catch {
        connection.destroy();
      }
    },
  };
}
