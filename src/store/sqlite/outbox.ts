/**
 * The SQLite outbox (OutboxRow in ../types.ts): statements prepared once, run inside the
 * store's IMMEDIATE transactions. `postgres/outbox.ts` is its twin.
 */
import type Database from 'better-sqlite3';
import {
  OUTBOX_INSERT_COLUMNS,
  settlementValues,
  toOutboxRow,
  zeroCounts,
  type OutboxDbRow,
} from '../outbox-common.ts';
import { dueOutboxParams, dueOutboxSql } from '../outbox-sql.ts';
import type {
  OutboxCounts,
  OutboxInsert,
  OutboxLease,
  OutboxQuery,
  OutboxRow,
  OutboxSettlement,
  OutboxStatus,
} from '../types.ts';
import { MAX_KEY } from '../common.ts';

type Row = Record<string, unknown>;

export function prepareOutbox(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO outbox (${OUTBOX_INSERT_COLUMNS.join(', ')})
       VALUES (${OUTBOX_INSERT_COLUMNS.map(() => '?').join(', ')})`,
    ),
    dueHead: db.prepare<unknown[], { id: number }>(dueOutboxSql('outbox', true)),
    dueBatch: db.prepare<unknown[], { id: number }>(dueOutboxSql('outbox', false)),
    lease: db.prepare<[number, string, number]>(
      'UPDATE outbox SET lease_until = ?, lease_owner = ? WHERE id = ?',
    ),
    get: db.prepare<[number], OutboxDbRow>('SELECT * FROM outbox WHERE id = ?'),
    settle: db.prepare(
      `UPDATE outbox SET status = ?, attempts = attempts + 1,
         next_attempt_at = coalesce(?, next_attempt_at), last_error = ?, delivered_at = ?,
         lease_until = 0, lease_owner = NULL, updated_at = ?
       WHERE id = ? AND status = 'pending' AND lease_owner = ?`,
    ),
    release: db.prepare<{ prefix: string; keep: string; at: number }>(
      `UPDATE outbox SET lease_until = 0, lease_owner = NULL, updated_at = @at
       WHERE status = 'pending' AND lease_owner IS NOT NULL
         AND substr(lease_owner, 1, length(@prefix)) = @prefix AND lease_owner <> @keep`,
    ),
    replay: db.prepare<[number, number, number, number]>(
      `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, age_from = ?,
         lease_until = 0, lease_owner = NULL, updated_at = ?
       WHERE id = ? AND status = 'dead'`,
    ),
    discard: db.prepare<[number, number]>(
      "UPDATE outbox SET status = 'discarded', updated_at = ? WHERE id = ? AND status = 'dead'",
    ),
    list: db.prepare<Row, OutboxDbRow>(
      `SELECT * FROM outbox
       WHERE id < @beforeId AND (@status IS NULL OR status = @status)
         AND (@target IS NULL OR target = @target) AND (@key IS NULL OR ordering_key = @key)
       ORDER BY id DESC LIMIT @limit`,
    ),
    counts: db.prepare<[], { target: string; status: OutboxStatus; n: number }>(
      'SELECT target, status, count(*) AS n FROM outbox GROUP BY target, status',
    ),
  };
}

export type OutboxStatements = ReturnType<typeof prepareOutbox>;

/** Insert rows; call inside the transaction that writes the fact they report. */
export function insertOutbox(s: OutboxStatements, rows: readonly OutboxInsert[]): void {
  for (const r of rows)
    s.insert.run(
      r.target,
      r.messageId,
      r.orderingKey,
      r.type,
      JSON.stringify(r.payload),
      'pending',
      0,
      r.createdAt,
      0,
      r.createdAt,
      r.createdAt,
      r.createdAt,
    );
}

/** Lease due rows; call inside an IMMEDIATE transaction. */
export function leaseOutbox(s: OutboxStatements, lease: OutboxLease): OutboxRow[] {
  const stmt = lease.headOfLine ? s.dueHead : s.dueBatch;
  const ids = stmt.all(...dueOutboxParams(lease.target, lease.now, lease.limit, lease.headOfLine));
  return ids.map(({ id }) => {
    s.lease.run(lease.now + lease.leaseMs, lease.owner, id);
    return toOutboxRow(s.get.get(id)!);
  });
}

export function settleOutbox(
  s: OutboxStatements,
  id: number,
  owner: string,
  settlement: OutboxSettlement,
): boolean {
  const [status, next, error, deliveredAt] = settlementValues(settlement);
  return s.settle.run(status, next, error, deliveredAt, settlement.at, id, owner).changes === 1;
}

/** Void the leases of earlier runs of one owner (Store.releaseOutboxLeases); how many. */
export function releaseOutboxLeases(
  s: OutboxStatements,
  ownerPrefix: string,
  keep: string,
  at: number,
): number {
  return s.release.run({ prefix: ownerPrefix, keep, at }).changes;
}

/** Replay or discard a dead row; undefined when it is not dead. Call inside a transaction. */
export function settleDeadOutbox(
  s: OutboxStatements,
  id: number,
  decision: 'replay' | 'discard',
  at: number,
): OutboxRow | undefined {
  const changed =
    decision === 'replay' ? s.replay.run(at, at, at, id).changes : s.discard.run(at, id).changes;
  return changed === 0 ? undefined : toOutboxRow(s.get.get(id)!);
}

export function listOutbox(s: OutboxStatements, q: OutboxQuery): OutboxRow[] {
  return s.list
    .all({
      beforeId: q.beforeId ?? MAX_KEY,
      status: q.status ?? null,
      target: q.target ?? null,
      key: q.orderingKey ?? null,
      limit: q.limit,
    })
    .map(toOutboxRow);
}

export function getOutbox(s: OutboxStatements, id: number): OutboxRow | undefined {
  const row = s.get.get(id);
  return row === undefined ? undefined : toOutboxRow(row);
}

export function countOutbox(s: OutboxStatements): OutboxCounts {
  const out: OutboxCounts = {};
  for (const r of s.counts.all()) (out[r.target] ??= zeroCounts())[r.status] = r.n;
  return out;
}
