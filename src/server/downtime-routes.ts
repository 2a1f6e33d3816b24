/** Giving a stop its reason afterwards (issue #5): POST …/downtimes/{seq}/reason, audited. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { MwError } from '../errors.ts';
import type { HubView } from './app.ts';
import { parseInput } from './app.ts';
import { principalOf } from './auth.ts';
import { findEquipment, stopJson } from './routes.ts';

export const reasonBody = z.strictObject({
  reason: z.string().min(1).describe('A reason code of the site’s reason tree.'),
  comment: z
    .string()
    .trim()
    .min(1, { error: 'a comment is required: say what happened' })
    .max(2000)
    .describe('What happened; recorded as the reason of the audit row.'),
});

export function registerDowntimeRoutes(app: FastifyInstance, hub: HubView): void {
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
