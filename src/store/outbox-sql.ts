/**
 * The outbox statements' SQL, one text for both databases (positional `?` here; the PostgreSQL
 * store numbers them). `o` is the candidate row, `p` an earlier row of the same ordering key.
 */

/** Rows that may be delivered now, oldest first (parameters: target, now, now, [now, now,] limit). */
export function dueOutboxSql(table: string, headOfLine: boolean): string {
  // Head of line: no earlier row of the key is still undelivered (pending, in flight or dead).
  // Batch: earlier rows may come along in the same batch, unless dead, not yet due or leased.
  const blocked = headOfLine
    ? "p.status IN ('pending', 'dead')"
    : "(p.status = 'dead' OR (p.status = 'pending' AND (p.next_attempt_at > ? OR p.lease_until > ?)))";
  return `SELECT o.id FROM ${table} o
    WHERE o.target = ? AND o.status = 'pending' AND o.next_attempt_at <= ? AND o.lease_until <= ?
      AND NOT EXISTS (
        SELECT 1 FROM ${table} p
        WHERE p.target = o.target AND p.ordering_key = o.ordering_key AND p.id < o.id AND ${blocked}
      )
    ORDER BY o.id LIMIT ?`;
}

/** The parameters of dueOutboxSql in order. */
export function dueOutboxParams(
  target: string,
  now: number,
  limit: number,
  headOfLine: boolean,
): unknown[] {
  return headOfLine ? [target, now, now, limit] : [target, now, now, now, now, limit];
}
