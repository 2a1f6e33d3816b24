/**
 * Copies of the audit trail (21 CFR 11.10(b): "accurate and complete copies of records in both
 * human readable and electronic form suitable for inspection, review, and copying"), shared by
 * `GET /api/v1/audit/export` and `millwright audit export`.
 *
 * A copy is the stored rows as they are, oldest first, with nothing added or left out: CSV for
 * people (RFC 4180, changes written out as `field: old → new`) and JSON for programs (the same
 * objects `GET /api/v1/audit` returns). The trail is read page by page and handed out line by
 * line, so a copy of any length needs the memory of one page. Whether the trail is intact is a
 * separate check (`audit verify`); the copy carries each row's hash and previous hash, so the
 * chain can be checked on the copy too.
 *
 * Pure apart from the `listAudit` function it is given.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { stringify } from 'csv-stringify/sync';
import type { AuditQuery } from '../store/types.ts';
import type { AuditRecord } from './audit.ts';

export const AUDIT_EXPORT_DEFAULTS = {
  /** Rows per `listAudit` call: the most an export holds in memory at once. */
  pageRows: 1000,
} as const;

export const AUDIT_EXPORT_FORMATS = ['csv', 'json'] as const;
export type AuditExportFormat = (typeof AUDIT_EXPORT_FORMATS)[number];

/** Which rows: every given field must match (unset: any). */
export interface AuditFilter {
  readonly entityType?: string | undefined;
  readonly entityId?: string | undefined;
  /** A full actor (`user:alice`, `token:…`, `system`); see `actorFilter`. */
  readonly actor?: string | undefined;
  /** `at` from (inclusive) and to (exclusive), UTC epoch ms. */
  readonly fromAt?: number | undefined;
  readonly toAt?: number | undefined;
}

export type ListAudit = (query: AuditQuery) => Promise<AuditRecord[]>;

/**
 * The actor a `user` filter means: a bare user name `alice` is `user:alice`; anything with a
 * kind prefix (`token:abc`, `connection:line1`, `cli:root`, `address:1.2.3.4`, `user:alice`)
 * is taken as it is, and so is `system`, the hub's own actor. User names cannot contain `:`
 * (USERNAME_RE), so a user named "system" is still reachable as `user:system`.
 */
export function actorFilter(user: string): string {
  return user.includes(':') || user === 'system' ? user : `user:${user}`;
}

/** An audit row as the API and the JSON export show it. */
export interface AuditRowJson {
  readonly seq: number;
  /** ISO 8601 UTC. */
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly entityType: string;
  readonly entityId: string;
  readonly changes: Record<string, { readonly old: unknown; readonly new: unknown }>;
  readonly reason: string | null;
  readonly hash: string;
  readonly prevHash: string;
}

export function auditRowJson(r: AuditRecord): AuditRowJson {
  return {
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    action: r.action,
    entityType: r.entityType,
    entityId: r.entityId,
    changes: { ...r.changes },
    reason: r.reason,
    hash: r.hash,
    prevHash: r.prevHash,
  };
}

/**
 * `field: old → new; field2: old → new`, each value as JSON (so "1", 1 and null differ), fields
 * in the order stored (the canonical JSON that was hashed: sorted, the same on every backend).
 */
export function formatChanges(changes: AuditRecord['changes']): string {
  const json = (v: unknown): string => JSON.stringify(v ?? null);
  return Object.entries(changes)
    .map(([field, c]) => `${field}: ${json(c.old)} → ${json(c.new)}`)
    .join('; ');
}

export const AUDIT_CSV_COLUMNS = [
  'seq',
  'at',
  'actor',
  'action',
  'entity_type',
  'entity_id',
  'changes',
  'reason',
  'hash',
  'prev_hash',
] as const;

// RFC 4180: CRLF between records; a field holding a comma, a quote or a line break is quoted.
// csv-stringify stops quoting bare \n and \r once record_delimiter is set, unless told to.
const csvLine = (fields: readonly (string | number | null)[]): string =>
  stringify([fields], { record_delimiter: 'windows', quote_record_delimiter: true });

export function auditCsvLine(r: AuditRecord): string {
  return csvLine([
    r.seq,
    new Date(r.at).toISOString(),
    r.actor,
    r.action,
    r.entityType,
    r.entityId,
    formatChanges(r.changes),
    r.reason,
    r.hash,
    r.prevHash,
  ]);
}

/** The rows matching `filter`, oldest first, one `listAudit` page at a time. */
export async function* auditPages(
  listAudit: ListAudit,
  filter: AuditFilter,
  pageRows: number = AUDIT_EXPORT_DEFAULTS.pageRows,
): AsyncGenerator<AuditRecord[]> {
  let afterSeq = 0;
  for (;;) {
    const page = await listAudit({ ...filter, afterSeq, limit: pageRows });
    if (page.length > 0) yield page;
    if (page.length < pageRows) return;
    afterSeq = page.at(-1)!.seq;
    // better-sqlite3 answers synchronously: let other work run between pages.
    await nextTurn();
  }
}

export interface AuditExportOptions {
  readonly format: AuditExportFormat;
  readonly filter: AuditFilter;
  readonly pageRows?: number | undefined;
  /** Called after each row with the number of rows written so far (for progress). */
  readonly onRow?: ((rows: number) => void) | undefined;
}

/**
 * The export as text, line by line: for CSV the header row then one line per row; for JSON an
 * array with one row object per line. The first page is read before the first line is
 * yielded, so a store that cannot be read fails the first `next()`, before anything is sent.
 */
export async function* auditExportLines(
  listAudit: ListAudit,
  options: AuditExportOptions,
): AsyncGenerator<string> {
  const csv = options.format === 'csv';
  const pages = auditPages(listAudit, options.filter, options.pageRows);
  let next = await pages.next();
  yield csv ? csvLine(AUDIT_CSV_COLUMNS) : '[\n';
  let rows = 0;
  while (next.done !== true) {
    for (const row of next.value) {
      if (csv) yield auditCsvLine(row);
      else yield `${rows === 0 ? '' : ',\n'}${JSON.stringify(auditRowJson(row))}`;
      rows += 1;
      options.onRow?.(rows);
    }
    next = await pages.next();
  }
  if (!csv) yield rows === 0 ? ']\n' : '\n]\n';
}

/** `millwright-audit-20261125T080000Z.csv`: the UTC time of the export, safe in any file system. */
export function auditExportFileName(format: AuditExportFormat, now: number = Date.now()): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `millwright-audit-${stamp}.${format}`;
}
