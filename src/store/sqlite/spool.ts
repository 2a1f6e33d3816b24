/**
 * The spool on local disk (../../core/spool.ts): its own small SQLite file in the data folder,
 * apart from the store, so it works while a PostgreSQL store is away. synchronous=FULL: an
 * acknowledged item survives a power loss.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  decodeSpoolItem,
  encodeSpoolItem,
  type Spool,
  type SpoolEntry,
  type SpoolItem,
  type SpoolStats,
} from '../../core/spool.ts';

export function openSpool(file: string, maxBytes: number): Spool {
  mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, bytes INTEGER NOT NULL, item TEXT NOT NULL)',
  );
  const insert = db.prepare<[number, string]>('INSERT INTO spool (bytes, item) VALUES (?, ?)');
  const head = db.prepare<[number], { id: number; item: string }>(
    'SELECT id, item FROM spool ORDER BY id LIMIT ?',
  );
  const remove = db.prepare<[number]>('DELETE FROM spool WHERE id <= ?');
  const totals = db.prepare<[], { n: number; bytes: number | null }>(
    'SELECT count(*) AS n, sum(bytes) AS bytes FROM spool',
  );
  const t = totals.get();
  let entries = t?.n ?? 0;
  let bytes = t?.bytes ?? 0;
  const appendAll = db.transaction((rows: string[]) => {
    for (const row of rows) insert.run(Buffer.byteLength(row), row);
  });
  return {
    append(items: readonly SpoolItem[]): boolean {
      const rows = items.map(encodeSpoolItem);
      const size = rows.reduce((sum, r) => sum + Buffer.byteLength(r), 0);
      if (bytes + size > maxBytes) return false;
      appendAll(rows);
      entries += rows.length;
      bytes += size;
      return true;
    },
    peek(limit: number): SpoolEntry[] {
      return head.all(limit).map((r) => ({ id: r.id, item: decodeSpoolItem(r.item) }));
    },
    removeThrough(id: number): void {
      remove.run(id);
      const now = totals.get();
      entries = now?.n ?? 0;
      bytes = now?.bytes ?? 0;
    },
    stats(): SpoolStats {
      return { entries, bytes, maxBytes, location: file };
    },
    close(): void {
      db.close();
    },
  };
}
