/** Giving a stop its reason afterwards (issue #5): POST …/downtimes/{seq}/reason, audited. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { downtimeSummary } from '../core/downtime-service.ts';
import { MwError } from '../errors.ts';
import type { HubView } from './app.ts';
import { parseInput } from './app.ts';
import { principalOf } from './auth.ts';
import { findEquipment, stopJson } from './routes.ts';
import { timeParam } from './schemas.ts';

export const reasonBody = z.strictObject({
  reason: z.string().min(1).describe('A reason code of the site’s reason tree.'),
  comment: z
    .string()
    .trim()
    .min(1, { error: 'a comment is required: say what happened' })
    .max(2000)
    .describe('What happened; recorded as the reason of the audit row.'),
});

export const summaryQuery = z.strictObject({
  from: timeParam.optional().describe('Stops that began at or after this time.'),
  to: timeParam
    .optional()
    .describe('Stops that began before this time; running stops count up to it.'),
});

export function registerDowntimeRoutes(app: FastifyInstance, hub: HubView): void {
  // Every site side by side in one vocabulary (the reason trees' categories).
  app.get('/api/v1/downtime/summary', { config: { access: 'equipment.read' } }, async (request) => {
    const q = parseInput(summaryQuery, request.query, 'query');
    const sites = hub.hierarchy
      .all()
      .filter((e) => e.level === 'site')
      .map((site) => ({
        id: site.id.split('/').at(-1) ?? site.id,
        timeZone: site.timeZone ?? 'UTC',
        unitIds: hub.hierarchy
          .workUnits()
          .filter((u) => u.id.startsWith(`${site.id}/`))
          .map((u) => u.id),
      }));
    return {
      from: q.from === undefined ? null : new Date(q.from).toISOString(),
      to: q.to === undefined ? null : new Date(q.to).toISOString(),
      sites: await downtimeSummary(hub.downtime, principalOf(request), sites, q),
    };
  });

  // POST /api/v1/equipment/{id…}/downtimes/{seq}/reason: equipment ids have slashes.
  app.post('/api/v1/equipment/*', { config: { access: 'production.record' } }, async (request) => {
    const rest = decodeURIComponent((request.params as { '*': string })['*']);
    const m = /^(.+)\/downtimes\/(\d+)\/reason$/.exec(rest);
    if (m === null) {
      throw new MwError('MW_ERR_API_NOT_FOUND', {
        method: 'POST',
        url: request.url.split('?')[0] ?? '',
      });
    }
    const [, id, seq] = m as unknown as [string, string, string];
    findEquipment(hub, id);
    const body = parseInput(reasonBody, request.body, 'body');
    const stop = await hub.downtime.assign(
      principalOf(request),
      id,
      Number(seq),
      body.reason,
      body.comment,
    );
    return stopJson(stop);
  });
}
