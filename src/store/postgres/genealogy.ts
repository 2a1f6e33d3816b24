/**
 * The PostgreSQL genealogy (../genealogy-common.ts has the rules), twin of `sqlite/genealogy.ts`.
 * A frontier is one `text[]` parameter (`= ANY($1::text[])`): one statement a level, whatever
 * its size. The statements are named, so each pooled connection plans them once.
 */
import pg from 'pg';
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
  walkAsync,
  type AsyncLinkReads,
  type LinkRow,
} from '../genealogy-common.ts';
import type { LotTrace, LotTraceQuery, StoredRecord } from '../types.ts';
import { LOCK_CLASS } from './migrations.ts';

/** The column a direction looks the frontier's lots up by. */
const NEAR = { forward: 'from_lot', backward: 'to_lot' } as const;

/** The SQL types of LINK_COLUMNS, for the unnest() insert. */
const LINK_TYPES = LINK_COLUMNS.map((c) => (c === 'at' ? 'bigint' : 'text'));

type Query = { readonly name: string; readonly text: string };

export function genealogyStatements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const named = (name: string, text: string): Query => ({ name: `mw_${name}`, text });
  const perDirection = (make: (near: string, direction: TraceDirection) => Query) => ({
    forward: make(NEAR.forward, 'forward'),
    backward: make(NEAR.backward, 'backward'),
  });
  return {
    /**
     * Taken first by every write with links: under READ COMMITTED each statement after it sees
     * the links other hubs committed, and none of them adds any until this one commits, so two
     * writes cannot each add half of a cycle. Keyed by schema, like the journal lock.
     */
    lock: `SELECT pg_advisory_xact_lock(${LOCK_CLASS.genealogy}, hashtext(${pg.escapeLiteral(schema)}))`,
    insert: named(
      'insert_lot_links',
      `INSERT INTO ${s}.lot_links (${LINK_COLUMNS.join(', ')})
       SELECT * FROM unnest(${LINK_TYPES.map((t, i) => `$${i + 1}::${t}[]`).join(', ')})`,
    ),
    // Both lots are in the index on (from_lot, to_lot): an index-only scan once autovacuum
    // has set the visibility map.
    edges: named(
      'lot_edges',
      `SELECT from_lot, to_lot FROM ${s}.lot_links WHERE from_lot = ANY($1::text[])`,
    ),
    links: perDirection((near, d) =>
      named(
        `lot_links_${d}`,
        `SELECT ${LINK_SELECT} FROM ${s}.lot_links WHERE ${near} = ANY($1::text[]) LIMIT $2`,
      ),
    ),
    anyLink: perDirection((near, d) =>
      named(
        `lot_any_${d}`,
        `SELECT EXISTS (SELECT 1 FROM ${s}.lot_links WHERE ${near} = ANY($1::text[])) AS found`,
      ),
    ),
    records: `SELECT * FROM ${s}.records WHERE entity_type = $1 AND entity_id = ANY($2::text[])`,
  };
}

export type GenealogySql = ReturnType<typeof genealogyStatements>;

function reads(client: pg.ClientBase, sql: GenealogySql): AsyncLinkReads {
  return {
    edges: async (lots: readonly string[]) =>
      (await client.query<[string, string]>({ ...sql.edges, values: [lots], rowMode: 'array' }))
        .rows,
    links: async (lots: readonly string[], direction: TraceDirection, limit: number) =>
      (
        await client.query<LinkRow>({
          ...sql.links[direction],
          values: [lots, limit],
          rowMode: 'array',
        })
      ).rows,
    anyLink: async (lots: readonly string[], direction: TraceDirection) =>
      (await client.query<{ found: boolean }>({ ...sql.anyLink[direction], values: [lots] }))
        .rows[0]?.found === true,
  };
}

/** Take the genealogy lock: the first statement of a write that has links. */
export async function lockGenealogy(client: pg.ClientBase, sql: GenealogySql): Promise<void> {
  await client.query(sql.lock);
}

/**
 * Append a write's links and refuse it (MW_ERR_LOT_CYCLE) when one closes a cycle. Call inside
 * the write's transaction, after lockGenealogy: a throw rolls back everything the write did.
 */
export async function writeLinks(
  client: pg.ClientBase,
  sql: GenealogySql,
  links: readonly LotLink[],
): Promise<void> {
  if (links.length === 0) return;
  const rows = links.map(linkValues);
  await client.query({ ...sql.insert, values: LINK_COLUMNS.map((_c, i) => rows.map((r) => r[i])) });
  await walkAsync(refuseCycles(links), reads(client, sql));
}

/**
 * A trace in one REPEATABLE READ, READ ONLY transaction (the caller's BEGIN): every level reads
 * the same snapshot, whatever other hubs commit meanwhile.
 */
export async function traceLots(
  client: pg.ClientBase,
  sql: GenealogySql,
  query: LotTraceQuery,
): Promise<LotTrace> {
  await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  return walkAsync(traceWalk(query), reads(client, sql));
}

/**
 * getRecords, each chunk one statement through `read` (the store's read on its pool), at once:
 * the server reads the next chunks while this process parses the first.
 */
export async function getRecords(
  read: (text: string, values: unknown[]) => Promise<RecordRow[]>,
  sql: GenealogySql,
  entityType: string,
  ids: readonly string[],
): Promise<(StoredRecord | undefined)[]> {
  const chunks = await Promise.all(
    recordChunks(ids).map((chunk) => read(sql.records, [entityType, chunk])),
  );
  return inIdOrder(ids, chunks.flat().map(toStoredRecord));
}
