/**
 * The ceiling of bench/genealogy/run.ts: the statements a trace and its node fetch run, bare on
 * a connection of their own (no store code around them): one indexed lookup of all the links
 * of each frontier, the EXISTS look past the last level, the records in statements of
 * RECORD_CHUNK ids. Rows come back as arrays and are not decoded further.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { TraceDirection } from '../../src/model/index.ts';
import { RECORD_CHUNK } from '../../src/store/genealogy-common.ts';
import { LOT_ENTITY } from './graph.ts';

export interface Bare {
  /** Run one statement per frontier (and the EXISTS look when `exists`); resolves with ms. */
  levels(
    frontiers: readonly string[][],
    direction: TraceDirection,
    exists: boolean,
  ): Promise<number>;
  /** Fetch the records of `ids` in statements of RECORD_CHUNK ids; resolves with ms. */
  records(ids: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

const NEAR = { forward: 'from_lot', backward: 'to_lot' } as const;
const chunked = (ids: readonly string[]): string[][] =>
  Array.from({ length: Math.ceil(ids.length / RECORD_CHUNK) }, (_, i) =>
    ids.slice(i * RECORD_CHUNK, (i + 1) * RECORD_CHUNK),
  );

export function bareSqlite(file: string): Bare {
  const db = new Database(file, { readonly: true });
  const among = (near: string) => `${near} IN (SELECT value FROM json_each(?))`;
  const level = {
    forward: db.prepare(`SELECT * FROM lot_links WHERE ${among(NEAR.forward)}`).raw(),
    backward: db.prepare(`SELECT * FROM lot_links WHERE ${among(NEAR.backward)}`).raw(),
  };
  const any = {
    forward: db.prepare(`SELECT EXISTS (SELECT 1 FROM lot_links WHERE ${among(NEAR.forward)})`),
    backward: db.prepare(`SELECT EXISTS (SELECT 1 FROM lot_links WHERE ${among(NEAR.backward)})`),
  };
  const records = db
    .prepare(`SELECT * FROM records WHERE entity_type = ? AND ${among('entity_id')}`)
    .raw();
  return {
    async levels(frontiers, direction, exists) {
      const t0 = performance.now();
      for (const f of frontiers) level[direction].all(JSON.stringify(f));
      if (exists) any[direction].get(JSON.stringify(frontiers.at(-1)));
      return performance.now() - t0;
    },
    async records(ids) {
      const t0 = performance.now();
      for (const c of chunked(ids)) records.all(LOT_ENTITY, JSON.stringify(c));
      return performance.now() - t0;
    },
    async close() {
      db.close();
    },
  };
}

export async function barePostgres(url: string, schema: string): Promise<Bare> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const s = pg.escapeIdentifier(schema);
  const q = (name: string, text: string, values: unknown[]) =>
    client.query({ name: `bare_${name}`, text, values, rowMode: 'array' });
  const level = (d: TraceDirection, f: readonly string[]) =>
    q(`level_${d}`, `SELECT * FROM ${s}.lot_links WHERE ${NEAR[d]} = ANY($1::text[])`, [f]);
  const any = (d: TraceDirection, f: readonly string[]) =>
    q(
      `any_${d}`,
      `SELECT EXISTS (SELECT 1 FROM ${s}.lot_links WHERE ${NEAR[d]} = ANY($1::text[]))`,
      [f],
    );
  return {
    async levels(frontiers, direction, exists) {
      const t0 = performance.now();
      for (const f of frontiers) await level(direction, f);
      if (exists) await any(direction, frontiers.at(-1)!);
      return performance.now() - t0;
    },
    async records(ids) {
      const t0 = performance.now();
      for (const c of chunked(ids))
        await q(
          'records',
          `SELECT * FROM ${s}.records WHERE entity_type = $1 AND entity_id = ANY($2::text[])`,
          [LOT_ENTITY, c],
        );
      return performance.now() - t0;
    },
    close: () => client.end(),
  };
}
