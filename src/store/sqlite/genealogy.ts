/**
 * The SQLite genealogy (../genealogy-common.ts has the rules): statements prepared once, run
 * synchronously inside the store's transactions. A frontier is one JSON array parameter
 * (`IN (SELECT value FROM json_each(?))`): one statement a level, whatever its size, each lot
 * one probe of the index on its side. `postgres/genealogy.ts` is its twin.
 */
import type Database from 'better-sqlite3';
import type { LotLink, TraceDirection } from '../../model/index.ts';
import { toStoredRecord, type RecordRow } from '../common.ts';
import {
  inIdOrder,
  LINK_COLUMNS,
  LINK_SELECT,
  linkValues,
  recordChunks,
  refuseCycles,
  traceWalk,
  walkSync,
  type LinkReads,
  type LinkRow,
} from '../genealogy-common.ts';
import type { LotTrace, LotTraceQuery, StoredRecord } from '../types.ts';

/** The column a direction looks the frontier's lots up by. */
const NEAR = { forward: 'from_lot', backward: 'to_lot' } as const;

export function prepareGenealogy(db: Database.Database) {
  const frontier = (near: string) => `${near} IN (SELECT value FROM json_each(?))`;
  const perDirection = <T>(make: (near: string) => T) => ({
    forward: make(NEAR.forward),
    backward: make(NEAR.backward),
  });
  return {
    insert: db.prepare(
      `INSERT INTO lot_links (${LINK_COLUMNS.join(', ')})
       VALUES (${LINK_COLUMNS.map(() => '?').join(', ')})`,
    ),
    // Both lots are in the index on (from_lot, to_lot): this reads it alone.
    edges: db
      .prepare<[string]>(`SELECT from_lot, to_lot FROM lot_links WHERE ${frontier(NEAR.forward)}`)
      .raw(),
    links: perDirection((near) =>
      db
        .prepare<[string, number]>(
          `SELECT ${LINK_SELECT} FROM lot_links WHERE ${frontier(near)} LIMIT ?`,
        )
        .raw(),
    ),
    anyLink: perDirection((near) =>
      db
        .prepare<[string]>(`SELECT EXISTS (SELECT 1 FROM lot_links WHERE ${frontier(near)})`)
        .pluck(),
    ),
    records: db.prepare<[string, string], RecordRow>(
      `SELECT * FROM records
       WHERE entity_type = ? AND entity_id IN (SELECT value FROM json_each(?))`,
    ),
  };
}

export type GenealogyStatements = ReturnType<typeof prepareGenealogy>;

function reads(g: GenealogyStatements): LinkReads {
  return {
    edges: (lots: readonly string[]) => g.edges.all(JSON.stringify(lots)) as [string, string][],
    links: (lots: readonly string[], direction: TraceDirection, limit: number) =>
      g.links[direction].all(JSON.stringify(lots), limit) as LinkRow[],
    anyLink: (lots: readonly string[], direction: TraceDirection) =>
      g.anyLink[direction].get(JSON.stringify(lots)) === 1,
  };
}

/**
 * Append a write's links and refuse it (MW_ERR_LOT_CYCLE) when one closes a cycle. Call inside
 * the write's IMMEDIATE transaction: a throw rolls back everything the write did.
 */
export function writeLinks(g: GenealogyStatements, links: readonly LotLink[]): void {
  if (links.length === 0) return;
  for (const l of links) g.insert.run(...linkValues(l));
  walkSync(refuseCycles(links), reads(g));
}

/** A trace; call inside a read transaction, so every level sees the same links. */
export function traceLots(g: GenealogyStatements, query: LotTraceQuery): LotTrace {
  return walkSync(traceWalk(query), reads(g));
}

export function getRecords(
  g: GenealogyStatements,
  entityType: string,
  ids: readonly string[],
): (StoredRecord | undefined)[] {
  const found = recordChunks(ids).flatMap((chunk) =>
    g.records.all(entityType, JSON.stringify(chunk)).map(toStoredRecord),
  );
  return inIdOrder(ids, found);
}
