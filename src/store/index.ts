/**
 * Opening the configured Store. The rest of the hub sees only the Store interface (types.ts);
 * which engine sits behind it is decided here, from the `store` section of the configuration.
 */
import path from 'node:path';
import type { StoreConfig } from '../config/schema.ts';
import { openPostgresStore } from './postgres/index.ts';
import { openSqliteStore } from './sqlite/index.ts';
import type { Store, StoreOptions } from './types.ts';

export type * from './types.ts';
export { openPostgresStore, redactUrl, type PostgresStoreOptions } from './postgres/index.ts';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite/index.ts';

export const SQLITE_DEFAULT_FILE = 'millwright.db';

/**
 * Open the store the configuration names. A relative SQLite `path` is taken relative to
 * `dataDir` (itself resolved against the config file), so the hub finds the same file whatever
 * folder it was started from. Call `migrate()` on the result before using it.
 */
export async function openStore(
  config: StoreConfig,
  opts: { dataDir: string } & StoreOptions,
): Promise<Store> {
  const storeOptions: StoreOptions = {
    quarantineMaxEntries: opts.quarantineMaxEntries,
    quarantinePayloadBytes: opts.quarantinePayloadBytes,
  };
  switch (config.type) {
    case 'sqlite':
      return openSqliteStore({
        ...storeOptions,
        path: path.resolve(opts.dataDir, config.path ?? SQLITE_DEFAULT_FILE),
        synchronous: config.synchronous,
      });
    case 'postgres':
      return openPostgresStore({
        ...storeOptions,
        url: config.url,
        schema: config.schema,
        poolSize: config.poolSize,
      });
  }
}
