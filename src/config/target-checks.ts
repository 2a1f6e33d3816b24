/**
 * Checks of the enterprise targets that their schema cannot make (crossReferenceIssues runs
 * them): a batch target's schedule, and the message types a target's format or transport
 * cannot carry (kpi.shift, the quality messages).
 */
import { QUALITY_MESSAGE_TYPES } from '../model/erp.ts';

type Loose = Record<string, unknown>;

/**
 * Why a target cannot carry `kpi.shift` (a site's KPIs per shift, docs/kpi.md), or null: only
 * a transport that takes any format (folder, webhook, amqp, amqp10) in `json` or `csv` can.
 * OData and SOAP are an ERP's transaction interfaces with no entity or operation for it, and
 * B2MML's performance documents report orders, not shifts.
 */
function kpiTargetProblem(t: Loose): string | null {
  const use = 'use a folder, webhook, amqp or amqp10 target with format json or csv';
  if (t.type === 'odata' || t.type === 'soap')
    return `kpi.shift cannot be sent to a ${t.type} target (an ERP interface has no entity or operation for shift KPIs): ${use}`;
  if (t.format === 'b2mml')
    return `kpi.shift cannot be sent in format b2mml (B2MML has no document for shift KPIs): ${use}`;
  return null;
}

const QUALITY_TYPES: readonly unknown[] = QUALITY_MESSAGE_TYPES;

/**
 * Why a target cannot carry the quality messages it lists (docs/erp.md), as the index in
 * `messages` of the first one concerned and the rule; or null. Every format and transport
 * carries them, but:
 * - OData / SOAP: a type without an entity set / operation is skipped as delivered. The order
 *   messages have defaults (or are skipped by design, the status changes); a quality message
 *   goes only to a target that lists it, so one listed without a place would be a hold the QMS
 *   never hears of.
 * - b2mml in batch mode: a batch is one document, and a document one noun: quality messages
 *   are a SyncMaterialLot, order messages a production performance (b2mml/render.ts).
 */
function qualityTargetProblem(t: Loose): { index: number; message: string } | null {
  const messages: unknown[] = Array.isArray(t.messages) ? t.messages : [];
  const isQuality = (m: unknown): boolean => QUALITY_TYPES.includes(m);
  const first = messages.findIndex(isQuality);
  if (first < 0) return null;
  if (t.type === 'odata' || t.type === 'soap') {
    const [field, what] =
      t.type === 'odata' ? ['entitySet', 'entity set'] : ['operation', 'operation'];
    const map = (t[field] ?? {}) as Loose;
    const index = messages.findIndex((m) => isQuality(m) && map[String(m)] === undefined);
    if (index < 0) return null;
    const type = String(messages[index]);
    return {
      index,
      message: `${type} has no ${what} in \`${field}\`: a ${t.type} target sends a message type only with one (without, it counts as delivered and is never sent); add \`${field}: { ${type}: … }\``,
    };
  }
  const orders = messages.filter((m) => !isQuality(m) && m !== 'kpi.shift').map(String);
  if (t.format !== 'b2mml' || t.mode !== 'batch' || orders.length === 0) return null;
  return {
    index: first,
    message: `${String(messages[first])} cannot share a b2mml batch with order messages (${orders.join(', ')}): a batch is one B2MML document, quality messages a SyncMaterialLot and order messages a production performance; send the quality messages through a target of their own, or use mode realtime`,
  };
}

/** The problems of the configured targets (raw input), with their paths. */
export function targetIssues(
  targets: readonly Loose[],
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  targets.forEach((t, i) => {
    if (t.mode === 'batch' && typeof t.schedule !== 'string')
      issues.push({
        path: ['targets', i, 'schedule'],
        message:
          'a batch target needs a schedule (a cron expression, e.g. the shift ends "0 6,14,22 * * *")',
      });
    const messages: unknown[] = Array.isArray(t.messages) ? t.messages : [];
    const j = messages.indexOf('kpi.shift');
    const problem = j < 0 ? null : kpiTargetProblem(t);
    if (problem !== null) issues.push({ path: ['targets', i, 'messages', j], message: problem });
    const quality = qualityTargetProblem(t);
    if (quality !== null)
      issues.push({ path: ['targets', i, 'messages', quality.index], message: quality.message });
  });
  return issues;
}
