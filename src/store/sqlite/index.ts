/**
 * Opening the embedded SQLite store (DESIGN.md: embedded by default). Same files as
 * `../postgres/`: index.ts opens, migrations.ts holds the schema, store.ts implements Store.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MwError } from '../../errors.ts';
import { checkStoreOptions, reasonOf } from '../common.ts';
import type { Store, StoreOptions } from '../types.ts';
import { Checkpointer, CHECKPOINT_DEFAULTS } from './checkpointer.ts';
import { SqliteStore } from './store.ts';

export interface SqliteStoreOptions extends StoreOptions {
  /** The database file; its folder is created when missing. */
  readonly path: string;
  /** FULL survives power loss; NORMAL (in WAL mode) survives a process crash only. */
  readonly synchronous: 'FULL' | 'NORMAL';
  /** How long a statement waits for another process's write lock before failing. */
  readonly busyTimeoutMs?: number;
}

export const SQLITE_DEFAULTS = {
  busyTimeoutMs: 5000,
} as const;

/** Open (and create) the database file. Call `migrate()` before anything else. */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<Store> {
  const file = path.resolve(opts.path);
  checkStoreOptions(`sqlite ${file}`, opts);
  let db: Database.Database | undefined;
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    db = new Database(file, { timeout: opts.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs });
    // WAL: readers never block the writer and a commit is one append to the log (one fsync
    // under FULL), which is what keeps the ingest hot path fast.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${opts.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    db.pragma(`wal_autocheckpoint = ${CHECKPOINT_DEFAULTS.safetyAutoCheckpointPages}`);
    const checkpointer = new Checkpointer(
      file,
      opts.busyTimeoutMs ?? SQLITE_DEFAULTS.busyTimeoutMs,
    );
    return new SqliteStore(db, file, opts, checkpointer);
  } catch (err) {
    db?.close();
    throw new MwError(
      'MW_ERR_STORE_UNAVAILABLE',
      { store: `sqlite ${file}`, reason: reasonOf(err) },
      { cause: err },
    );
  }
}
