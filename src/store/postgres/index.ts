/**
 * Opening a PostgreSQL store (DESIGN.md: real engines to scale; several hubs share one
 * database). Same files as `../sqlite/`: index.ts opens, migrations.ts holds the schema,
 * store.ts implements Store.
 */
import pg from 'pg';
import { MwError } from '../../errors.ts';
import { checkStoreOptions, reasonOf } from '../common.ts';
import type { Store, StoreOptions } from '../types.ts';
import { PostgresStore } from './store.ts';

export interface PostgresStoreOptions extends StoreOptions {
  /** `postgres://user[:password]@host[:port]/database`. */
  readonly url: string;
  /** Schema that holds every table; created by `migrate()` when missing. */
  readonly schema: string;
  /** Connections in the pool. */
  readonly poolSize: number;
  /** How long opening a connection may take before the store counts as unavailable. */
  readonly connectTimeoutMs?: number;
}

export const POSTGRES_DEFAULTS = {
  connectTimeoutMs: 5000,
} as const;

/**
 * BIGINT (int8) columns and count(*) as JS numbers. Ids, seqs and epoch ms stay far below 2^53.
 * Set on this pool only: the process-wide `pg.types` is left alone for other users of `pg`.
 */
const INT8_OID = 20;
const int8AsNumber: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (text: string) => Number(text)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** The URL for logs and health: password removed, from the userinfo and from the query. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    u.searchParams.delete('password');
    return u.toString();
  } catch {
    return '<unparsable postgres URL>';
  }
}

/** Open a pool and check that the database answers. Call `migrate()` before anything else. */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const location = redactUrl(opts.url);
  const label = `postgres ${location} schema ${opts.schema}`;
  checkStoreOptions(label, opts);
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolSize,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    application_name: 'millwright',
    types: int8AsNumber,
  });
  // An idle pooled connection that drops (server restart, network) emits 'error' on the pool;
  // unhandled, that would end the process. The pool discards the connection, and the next
  // query reports the outage as MW_ERR_STORE_UNAVAILABLE (STYLE.md rule 13: failures stay local).
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new MwError(
      'MW_ERR_STORE_UNAVAILABLE',
      { store: label, reason: reasonOf(err) },
      { cause: err },
    );
  }
  return new PostgresStore(pool, location, opts.schema, opts);
}
