/**
 * What the SQLite and PostgreSQL outbox code share (the rows as both databases return them,
 * and the rules of a settlement). See OutboxRow in types.ts.
 */
import type { OutboxRow, OutboxSettlement, OutboxStatus } from './types.ts';

export interface OutboxDbRow {
  id: number | string;
  target: string;
  message_id: string;
  ordering_key: string;
  type: string;
  payload: string;
  status: string;
  attempts: number | string;
  next_attempt_at: number | string;
  last_error: string | null;
  created_at: number | string;
  age_from: number | string;
  delivered_at: number | string | null;
  updated_at: number | string;
}

export const OUTBOX_INSERT_COLUMNS = [
  'target',
  'message_id',
  'ordering_key',
  'type',
  'payload',
  'status',
  'attempts',
  'next_attempt_at',
  'lease_until',
  'created_at',
  'age_from',
  'updated_at',
] as const;

export function toOutboxRow(r: OutboxDbRow): OutboxRow {
  return {
    id: Number(r.id),
    target: r.target,
    messageId: r.message_id,
    orderingKey: r.ordering_key,
    type: r.type,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status as OutboxStatus,
    attempts: Number(r.attempts),
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    ageFrom: Number(r.age_from),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
    updatedAt: Number(r.updated_at),
  };
}

/** The column values a settlement writes: status, next_attempt_at, last_error, delivered_at. */
export function settlementValues(
  s: OutboxSettlement,
): [
  status: OutboxStatus,
  nextAttemptAt: number | null,
  error: string | null,
  deliveredAt: number | null,
] {
  switch (s.outcome) {
    case 'delivered':
      return ['delivered', null, null, s.at];
    case 'retry':
      return ['pending', s.nextAttemptAt, s.error.slice(0, 2000), null];
    case 'dead':
      return ['dead', null, s.error.slice(0, 2000), null];
  }
}

/** An empty count row for a target. */
export function zeroCounts(): Record<OutboxStatus, number> {
  return { pending: 0, delivered: 0, dead: 0, discarded: 0 };
}
