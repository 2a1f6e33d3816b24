/**
 * The PostgreSQL outbox (OutboxRow in ../types.ts), twin of `sqlite/outbox.ts`. Leases take
 * rows `FOR UPDATE SKIP LOCKED`, so several hubs sharing the database drain one outbox without
 * delivering a row twice (DESIGN.md, "Beyond one machine").
 */
import pg from 'pg';
import {
  OUTBOX_INSERT_COLUMNS,
  settlementValues,
  toOutboxRow,
  zeroCounts,
  type OutboxDbRow,
} from '../outbox-common.ts';
import { dueOutboxParams, dueOutboxSql } from '../outbox-sql.ts';
import { MAX_KEY } from '../common.ts';
import type {
  OutboxCounts,
  OutboxInsert,
  OutboxLease,
  OutboxQuery,
  OutboxRow,
  OutboxSettlement,
  OutboxStatus,
} from '../types.ts';

/** `?` placeholders numbered from $offset+1. */
function numbered(sql: string, offset = 0): string {
  let n = offset;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export function outboxStatements(schema: string) {
  const t = `${pg.escapeIdentifier(schema)}.outbox`;
  const lease = (headOfLine: boolean) => {
    const params = dueOutboxParams('', 0, 0, headOfLine).length;
    return `WITH due AS (${numbered(dueOutboxSql(t, headOfLine))} FOR UPDATE OF o SKIP LOCKED)
      UPDATE ${t} AS x SET lease_until = $${params + 1}, lease_owner = $${params + 2}
      FROM due WHERE x.id = due.id RETURNING x.*`;
  };
  return {
    insert: `INSERT INTO ${t} (${OUTBOX_INSERT_COLUMNS.join(', ')})
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
        $7::int[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])`,
    leaseHead: lease(true),
    leaseBatch: lease(false),
    get: `SELECT * FROM ${t} WHERE id = $1`,
    settle: `UPDATE ${t} SET status = $1, attempts = attempts + 1,
        next_attempt_at = coalesce($2, next_attempt_at), last_error = $3, delivered_at = $4,
        lease_until = 0, lease_owner = NULL, updated_at = $5
      WHERE id = $6 AND status = 'pending' AND lease_owner = $7`,
    release: `UPDATE ${t} SET lease_until = 0, lease_owner = NULL, updated_at = $3
      WHERE status = 'pending' AND lease_owner IS NOT NULL
        AND substr(lease_owner, 1, length($1::text)) = $1::text AND lease_owner <> $2`,
    replay: `UPDATE ${t} SET status = 'pending', attempts = 0, next_attempt_at = $1, age_from = $1,
        lease_until = 0, lease_owner = NULL, updated_at = $1
      WHERE id = $2 AND status = 'dead' RETURNING *`,
    discard: `UPDATE ${t} SET status = 'discarded', updated_at = $1
      WHERE id = $2 AND status = 'dead' RETURNING *`,
    list: `SELECT * FROM ${t}
      WHERE id < $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR target = $3)
        AND ($4::text IS NULL OR ordering_key = $4)
      ORDER BY id DESC LIMIT $5`,
    counts: `SELECT target, status, count(*)::int AS n FROM ${t} GROUP BY target, status`,
  };
}

export type OutboxSql = ReturnType<typeof outboxStatements>;

type Queryable = Pick<pg.PoolClient, 'query'>;

/** Insert rows; call inside the transaction that writes the fact they report. */
export async function insertOutbox(
  client: Queryable,
  sql: OutboxSql,
  rows: readonly OutboxInsert[],
): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: OutboxInsert) => T): T[] => rows.map(f);
  await client.query(sql.insert, [
    col((r) => r.target),
    col((r) => r.messageId),
    col((r) => r.orderingKey),
    col((r) => r.type),
    col((r) => JSON.stringify(r.payload)),
    col(() => 'pending'),
    col(() => 0),
    col((r) => r.createdAt),
    col(() => 0),
    col((r) => r.createdAt),
    col((r) => r.createdAt),
    col((r) => r.createdAt),
  ]);
}

export async function leaseOutbox(
  client: Queryable,
  sql: OutboxSql,
  lease: OutboxLease,
): Promise<OutboxRow[]> {
  const params = dueOutboxParams(lease.target, lease.now, lease.limit, lease.headOfLine);
  const r = await client.query<OutboxDbRow>(lease.headOfLine ? sql.leaseHead : sql.leaseBatch, [
    ...params,
    lease.now + lease.leaseMs,
    lease.owner,
  ]);
  return r.rows.map(toOutboxRow).sort((a, b) => a.id - b.id);
}

export async function settleOutbox(
  client: Queryable,
  sql: OutboxSql,
  id: number,
  owner: string,
  settlement: OutboxSettlement,
): Promise<boolean> {
  const [status, next, error, deliveredAt] = settlementValues(settlement);
  const r = await client.query(sql.settle, [
    status,
    next,
    error,
    deliveredAt,
    settlement.at,
    id,
    owner,
  ]);
  return r.rowCount === 1;
}

/** Void the leases of earlier runs of one owner (Store.releaseOutboxLeases); how many. */
export async function releaseOutboxLeases(
  client: Queryable,
  sql: OutboxSql,
  ownerPrefix: string,
  keep: string,
  at: number,
): Promise<number> {
  const r = await client.query(sql.release, [ownerPrefix, keep, at]);
  return r.rowCount ?? 0;
}

export async function settleDeadOutbox(
  client: Queryable,
  sql: OutboxSql,
  id: number,
  decision: 'replay' | 'discard',
  at: number,
): Promise<OutboxRow | undefined> {
  const r = await client.query<OutboxDbRow>(decision === 'replay' ? sql.replay : sql.discard, [
    at,
    id,
  ]);
  return r.rows[0] === undefined ? undefined : toOutboxRow(r.rows[0]);
}

export async function listOutbox(
  client: Queryable,
  sql: OutboxSql,
  q: OutboxQuery,
): Promise<OutboxRow[]> {
  const r = await client.query<OutboxDbRow>(sql.list, [
    q.beforeId ?? MAX_KEY,
    q.status ?? null,
    q.target ?? null,
    q.orderingKey ?? null,
    q.limit,
  ]);
  return r.rows.map(toOutboxRow);
}

export async function getOutbox(
  client: Queryable,
  sql: OutboxSql,
  id: number,
): Promise<OutboxRow | undefined> {
  const r = await client.query<OutboxDbRow>(sql.get, [id]);
  return r.rows[0] === undefined ? undefined : toOutboxRow(r.rows[0]);
}

export async function countOutbox(client: Queryable, sql: OutboxSql): Promise<OutboxCounts> {
  const r = await client.query<{ target: string; status: OutboxStatus; n: number }>(sql.counts);
  const out: OutboxCounts = {};
  for (const row of r.rows) (out[row.target] ??= zeroCounts())[row.status] = row.n;
  return out;
}
