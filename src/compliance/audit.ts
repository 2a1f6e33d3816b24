/**
 * The audit trail's hash chain (21 CFR 11.10(e): secure, computer-generated, time-stamped audit
 * trails that record the date and time of entries and actions that create, modify or delete
 * records, without obscuring previous information).
 *
 * Each row stores the SHA-256 of its own content and of the previous row's hash, so an edit,
 * a deletion, an insertion or a reordering made behind the hub's back breaks the chain at that
 * row and `verifyAuditChain` names it. Pure: no I/O; the stores compute hashes with it inside
 * the transaction that writes the rows.
 */
import { createHash } from 'node:crypto';

/** One audited action, as the core hands it to the store. */
export interface AuditEntry {
  /** When (UTC epoch ms, the hub's clock). */
  readonly at: number;
  /** Who: `user:<name>`, `token:<id>`, `connection:<id>` (a device through a connection) or `system`. */
  readonly actor: string;
  /** What: create, update, delete, or a named action (login, sign …). */
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  /** The changed fields, old → new (old is null on create, new is null on delete). */
  readonly changes: Readonly<Record<string, { readonly old: unknown; readonly new: unknown }>>;
  /** Why, where the action requires a reason. */
  readonly reason: string | null;
}

/** Makes an audit entry at the hub's clock (IdentityService.audit): what services are given. */
export type AuditOf = (
  by: { readonly actor: string },
  action: string,
  entityType: string,
  entityId: string,
  changes: Record<string, { old: unknown; new: unknown }>,
  reason: string | null,
) => AuditEntry;

/** An audit row as stored. */
export interface AuditRecord extends AuditEntry {
  /** Position in the trail: 1, 2, 3 … without gaps. */
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** The `prevHash` of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

/** JSON with object keys sorted at every level, so equal content always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash of a row: SHA-256 over the previous hash and the row's canonical content. */
export function auditHash(prevHash: string, seq: number, entry: AuditEntry): string {
  const content = canonicalJson({
    seq,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    changes: entry.changes,
    reason: entry.reason,
  });
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/** Chain new entries onto the last stored row (`null` when the trail is empty). */
export function chainEntries(
  last: { readonly seq: number; readonly hash: string } | null,
  entries: readonly AuditEntry[],
): AuditRecord[] {
  let seq = last?.seq ?? 0;
  let prevHash = last?.hash ?? GENESIS_HASH;
  return entries.map((entry) => {
    seq += 1;
    const hash = auditHash(prevHash, seq, entry);
    const record: AuditRecord = { ...entry, seq, prevHash, hash };
    prevHash = hash;
    return record;
  });
}

export type AuditVerification =
  | { readonly ok: true; readonly count: number }
  | { readonly ok: false; readonly count: number; readonly seq: number; readonly reason: string };

/**
 * Walk the trail in seq order (pages as the store returns them) and report the first row that
 * breaks the chain, or ok with the number of rows.
 */
export async function verifyAuditChain(
  pages: AsyncIterable<readonly AuditRecord[]>,
): Promise<AuditVerification> {
  let count = 0;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for await (const page of pages) {
    for (const row of page) {
      const broken = (reason: string): AuditVerification => ({
        ok: false,
        count,
        seq: row.seq,
        reason,
      });
      if (row.seq !== expectedSeq) {
        return broken(
          row.seq > expectedSeq
            ? `row ${expectedSeq}${row.seq - expectedSeq > 1 ? `–${row.seq - 1}` : ''} is missing (deleted)`
            : `row ${row.seq} is out of order (expected ${expectedSeq})`,
        );
      }
      if (row.prevHash !== prevHash) {
        return broken(
          'its link to the previous row does not match (a row before it was changed, removed or inserted)',
        );
      }
      if (auditHash(row.prevHash, row.seq, row) !== row.hash) {
        return broken('its content does not match its hash (the row was changed)');
      }
      prevHash = row.hash;
      expectedSeq += 1;
      count += 1;
    }
  }
  return { ok: true, count };
}
