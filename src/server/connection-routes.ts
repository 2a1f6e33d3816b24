/**
 * Connections and tags: health of every connection, the latest value of each tag, and writes to
 * the devices (permission `tags.write`, each write or failed write an audit row).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { ConnectorInstance } from '../core/connector.ts';
import { MwError } from '../errors.ts';
import type { TagValue } from '../model/index.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import { principalOf } from './auth.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const tagWriteBody = z.strictObject({
  value: z
    .union([z.number(), z.string(), z.boolean()])
    .describe('The value to write; converted to the tag’s type by the connector.'),
  reason: z.string().max(2000).optional().describe('Why (recorded in the audit trail).'),
});

export function connectionJson(hub: HubView, c: ConnectorInstance) {
  const h = c.health();
  const s = hub.pipeline.snapshot().connections[c.id];
  return {
    id: c.id,
    type: c.type,
    status: h.status,
    detail: h.detail,
    lastDataAt: iso(h.lastDataTs),
    samplesPerSecond: Math.round(hub.rates.rate(c.id) * 10) / 10,
    reconnects: h.reconnects,
    errors: h.errors,
    received: s?.received ?? 0,
    accepted: s?.accepted ?? 0,
    quarantined: s?.quarantined ?? 0,
    filtered: s?.filtered ?? 0,
    unmappedReasons: s?.unmappedReasons ?? 0,
    unmappedReasonCodes: s?.unmappedReasonCodes ?? [],
    tags: hub.live.count(c.id),
    writable: c.write !== undefined,
  };
}

function findConnection(hub: HubView, id: string): ConnectorInstance {
  const c = hub.connectors.find((x) => x.id === id);
  if (c === undefined)
    throw new MwError('MW_ERR_CONNECTION_NOT_FOUND', { id }, { path: 'params.id' });
  return c;
}

export function registerConnectionRoutes(app: FastifyInstance, hub: HubView): void {
  app.get('/api/v1/connections', { config: { access: 'connections.read' } }, async () => ({
    items: hub.connectors.map((c) => connectionJson(hub, c)),
  }));

  app.get(
    '/api/v1/connections/:id',
    { config: { access: 'connections.read' } },
    async (request) => {
      const c = findConnection(hub, (request.params as { id: string }).id);
      return { ...connectionJson(hub, c), metrics: c.metrics?.() ?? [] };
    },
  );

  app.get(
    '/api/v1/connections/:id/tags',
    { config: { access: 'connections.read' } },
    async (request) => {
      const c = findConnection(hub, (request.params as { id: string }).id);
      return {
        items: hub.live.of(c.id).map(([tag, v]) => ({
          tag,
          value: v.value,
          quality: v.quality,
          status: v.status,
          sourceTs: iso(v.sourceTs),
          receivedTs: iso(v.receivedTs),
          equipmentId: v.equipmentId,
        })),
      };
    },
  );

  // POST /api/v1/tags/{connection}/{tag…}/write: tag names have slashes, so the rest of the URL.
  app.post('/api/v1/tags/*', { config: { access: 'tags.write' } }, async (request) => {
    const rest = decodeURIComponent((request.params as { '*': string })['*']);
    const m = /^([^/]+)\/(.+)\/write$/.exec(rest);
    if (m === null) {
      throw new MwError('MW_ERR_API_NOT_FOUND', {
        method: 'POST',
        url: request.url.split('?')[0] ?? '',
      });
    }
    const [, connectionId, tag] = m as unknown as [string, string, string];
    const body = parseInput(tagWriteBody, request.body, 'body');
    const connection = findConnection(hub, connectionId);
    if (connection.write === undefined) {
      throw new MwError('MW_ERR_TAG_WRITE_UNSUPPORTED', {
        connection: connection.id,
        type: connection.type,
      });
    }
    const principal = principalOf(request);
    const before: TagValue = hub.live.get(connection.id, tag)?.value ?? null;
    const entry = (action: string, reason: string | null) =>
      hub.identity.audit(
        principal,
        action,
        'tag',
        `${connection.id}/${tag}`,
        { value: { old: before, new: body.value } },
        reason,
      );
    try {
      await connection.write(tag, body.value);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      await hub.store.writeRecords(
        [],
        [entry('write.failed', [body.reason, why].filter(Boolean).join('; '))],
      );
      throw err instanceof MwError
        ? err
        : new MwError('MW_ERR_TAG_WRITE', {
            connection: connection.id,
            tag,
            value: JSON.stringify(body.value),
            reason: why,
          });
    }
    await hub.store.writeRecords([], [entry('write', body.reason ?? null)]);
    return {
      connection: connection.id,
      tag,
      value: body.value,
      writtenAt: new Date().toISOString(),
    };
  });
}
