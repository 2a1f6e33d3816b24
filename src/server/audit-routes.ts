/**
 * Reading the audit trail over HTTP (21 CFR 11.10(e)): a paged query and a complete copy for
 * inspection (21 CFR 11.10(b), see compliance/audit-export.ts). Read only: the API offers no way
 * to change the trail.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import {
  actorFilter,
  auditExportFileName,
  auditExportLines,
  auditRowJson,
  type AuditFilter,
} from '../compliance/audit-export.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import { decodeCursor, encodeCursor } from './routes.ts';
import { auditExportQuery, auditQuery, type auditPage } from './schemas.ts';

function filterOf(q: z.infer<typeof auditQuery> | z.infer<typeof auditExportQuery>): AuditFilter {
  return {
    entityType: q.entity,
    entityId: q.id,
    actor: q.user === undefined ? undefined : actorFilter(q.user),
    fromAt: q.from,
    toAt: q.to,
  };
}

const CONTENT_TYPES = {
  csv: 'text/csv; charset=utf-8; header=present',
  json: 'application/json; charset=utf-8',
} as const;

export function registerAuditRoutes(app: FastifyInstance, hub: HubView): void {
  app.get('/api/v1/audit', { config: { access: 'audit.read' } }, async (request) => {
    const q = parseInput(auditQuery, request.query, 'query');
    const rows = await hub.store.listAudit({
      ...filterOf(q),
      afterSeq: decodeCursor(q.cursor, 'query.cursor'),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const body: z.infer<typeof auditPage> = {
      items: page.map(auditRowJson),
      nextCursor: rows.length > q.limit && last !== undefined ? encodeCursor(last.seq) : null,
    };
    return body;
  });

  // Streamed page by page: the copy of a trail of any length holds one page in memory.
  app.get('/api/v1/audit/export', { config: { access: 'audit.read' } }, async (request, reply) => {
    const q = parseInput(auditExportQuery, request.query, 'query');
    const lines = auditExportLines((query) => hub.store.listAudit(query), {
      format: q.format,
      filter: filterOf(q),
    });
    // Read the first page before answering, so a store fault is an error response, not a
    // truncated 200.
    const first = await lines.next();
    async function* all(): AsyncGenerator<string> {
      if (first.done !== true) yield first.value;
      yield* lines;
    }
    return reply
      .type(CONTENT_TYPES[q.format])
      .header('content-disposition', `attachment; filename="${auditExportFileName(q.format)}"`)
      .header('cache-control', 'no-store')
      .send(Readable.from(all(), { objectMode: false }));
  });
}
