/** Giving a stop its reason afterwards (issue #5): POST …/downtimes/{seq}/reason, audited. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { downtimeSummary } from '../core/downtime-service.ts';
import { productionSummary, sitesOf } from '../core/production-summary.ts';
import { MwError } from '../errors.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import { principalOf } from './auth.ts';
import { findEquipment, outputUnitOf, stopJson } from './routes.ts';
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
  from: timeParam
    .optional()
    .describe('Stop time from this time on (a stop that began earlier counts from here).'),
  to: timeParam.optional().describe('Stop time before this time; running stops count up to it.'),
});

export const productionQuery = z
  .strictObject({
    day: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a day as YYYY-MM-DD' })
      .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), { error: 'not a calendar day' })
      .optional()
      .describe(
        'A calendar day, taken in each site’s own time zone (midnight to midnight, 23 or 25 hours on a DST change). Default: today at each site.',
      ),
    from: timeParam.optional().describe('Instead of a day: events at or after this time.'),
    to: timeParam.optional().describe('Instead of a day: events before this time.'),
  })
  .refine((q) => q.day === undefined || (q.from === undefined && q.to === undefined), {
    error: 'give a day, or from and to, not both',
  })
  .refine((q) => (q.from === undefined) === (q.to === undefined), {
    error: 'give both from and to',
    path: ['to'],
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    error: 'from must be before to',
    path: ['to'],
  });

export function registerDowntimeRoutes(app: FastifyInstance, hub: HubView): void {
  // What every site made and used, side by side: each site's day in its own time zone.
  app.get(
    '/api/v1/production/summary',
    { config: { access: 'equipment.read' } },
    async (request) => {
      const q = parseInput(productionQuery, request.query, 'query');
      const sites = sitesOf(hub.hierarchy, (lineId) => {
        const line = hub.hierarchy.get(lineId);
        return line === undefined ? null : outputUnitOf(hub, line);
      });
      const range =
        q.from !== undefined && q.to !== undefined
          ? { kind: 'range' as const, from: q.from, to: q.to }
          : { kind: 'day' as const, day: q.day };
      const summary = await productionSummary(hub.store, principalOf(request), sites, range);
      return {
        sites: summary.map((s) => ({
          ...s,
          from: new Date(s.from).toISOString(),
          to: new Date(s.to).toISOString(),
        })),
      };
    },
  );

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
