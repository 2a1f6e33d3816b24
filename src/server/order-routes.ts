/**
 * Work orders and the ERP exchange over HTTP (issue #10): orders in (REST JSON, B2MML, CSV),
 * their lifecycle, and the outbox of messages to the enterprise targets with its dead letters.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ORDER_ACTIONS, ORDER_STATUSES, type OrderAction } from '../model/index.ts';
import { isMwError, MwError } from '../errors.ts';
import type { HubView } from '../hub-view.ts';
import { jsonOrderSchema, type InboundFormat } from '../enterprise/inbound.ts';
import { OUTBOX_STATUSES, type OutboxRow } from '../store/types.ts';
import { principalOf } from './auth.ts';
import { parseInput } from './input.ts';

const MAX_BODY_BYTES = 10 * 1024 * 1024;

const systemField = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: 'expected a mapping system id' })
  .optional()
  .describe(
    'Mapping system of the sender’s codes (tables <system>/material, /equipment, /uom). Default: config orders.system; without either the codes are the hub’s own.',
  );

export const importQuery = z.strictObject({ system: systemField });

export const ordersQuery = z.strictObject({
  status: z.enum(ORDER_STATUSES).optional().describe('Only orders in this status.'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional().describe('nextCursor of the page before.'),
});

export const actionBody = z.strictObject({
  operation: z
    .string()
    .min(1)
    .optional()
    .describe('start / complete: this operation (default: the next waiting one / all).'),
  reason: z.string().trim().min(1).max(2000).optional().describe('Why; kept in the audit row.'),
});

export const outboxQuery = z.strictObject({
  status: z.enum(OUTBOX_STATUSES).optional(),
  target: z.string().optional(),
  order: z.string().optional().describe('Only messages of this order.'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.coerce.number().int().positive().optional().describe('nextCursor of the page before.'),
});

export const outboxDecisionBody = z.strictObject({
  reason: z
    .string()
    .trim()
    .min(1, { error: 'a reason is required: say why' })
    .max(2000)
    .describe('Why; kept in the audit row.'),
});

const idParams = z.strictObject({ id: z.string().min(1) });
const actionParams = z.strictObject({ id: z.string().min(1), action: z.enum(ORDER_ACTIONS) });
const outboxParams = z.strictObject({
  id: z.coerce.number().int().positive(),
  decision: z.enum(['replay', 'discard']),
});

function outboxJson(r: OutboxRow, withPayload = false) {
  return {
    id: r.id,
    target: r.target,
    messageId: r.messageId,
    type: r.type,
    orderId: r.orderingKey,
    status: r.status,
    attempts: r.attempts,
    lastError: r.lastError,
    createdAt: r.createdAt,
    nextAttemptAt: r.status === 'pending' ? r.nextAttemptAt : null,
    deliveredAt: r.deliveredAt,
    ...(withPayload ? { payload: r.payload } : {}),
  };
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function registerOrderRoutes(root: FastifyInstance, hub: HubView): Promise<void> {
  // A scope of its own: its XML/CSV body parsers do not meet the mapping routes' CSV parser.
  await root.register(async (app) => orderRoutes(app, hub));
}

function orderRoutes(app: FastifyInstance, hub: HubView): void {
  const parseRaw = (_req: FastifyRequest, body: Buffer, done: (err: null, b: Buffer) => void) =>
    done(null, body);
  for (const type of ['application/xml', 'text/xml', 'text/csv', /^application\/.*\+xml$/])
    app.addContentTypeParser(type, { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES }, parseRaw);

  const importFrom = async (
    request: FastifyRequest,
    format: InboundFormat,
    sourceId: string,
  ): Promise<ReturnType<HubView['inbound']['importBody']>> => {
    const query = parseInput(importQuery, request.query, 'query');
    const raw = Buffer.isBuffer(request.body)
      ? request.body
      : Buffer.from(JSON.stringify(request.body ?? null));
    return hub.inbound.importBody(format, raw, {
      id: sourceId,
      system: query.system ?? hub.config.orders.system ?? null,
      actor: principalOf(request).actor,
      where: `${request.method} ${request.url.split('?')[0]}`,
    });
  };

  app.post(
    '/api/v1/orders',
    { config: { access: 'orders.import' }, bodyLimit: MAX_BODY_BYTES },
    async (request, reply) => {
      const type = String(request.headers['content-type'] ?? '');
      const format: InboundFormat = type.includes('xml')
        ? 'b2mml'
        : type.includes('csv')
          ? 'csv'
          : 'json';
      const result = await importFrom(request, format, 'rest');
      const created = result.orders.some((o) => o.outcome === 'created');
      return reply.status(created ? 201 : 200).send(result);
    },
  );

  app.post(
    '/api/v1/b2mml',
    { config: { access: 'orders.import' }, bodyLimit: MAX_BODY_BYTES },
    async (request, reply) => {
      if (!Buffer.isBuffer(request.body))
        throw new MwError(
          'MW_ERR_API_VALIDATION',
          { path: 'headers.content-type', rule: 'send the B2MML document as application/xml' },
          { path: 'headers.content-type' },
        );
      const result = await importFrom(request, 'b2mml', 'b2mml');
      const created = result.orders.some((o) => o.outcome === 'created');
      return reply.status(created ? 201 : 200).send(result);
    },
  );

  app.put(
    '/api/v1/orders/:id',
    { config: { access: 'orders.import' }, bodyLimit: MAX_BODY_BYTES },
    async (request, reply) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const body = parseInput(jsonOrderSchema.partial({ externalId: true }), request.body, 'body');
      if (body.externalId !== undefined && body.externalId !== id)
        throw new MwError(
          'MW_ERR_API_VALIDATION',
          { path: 'body.externalId', rule: `must be the order id of the URL (${id}) or left out` },
          { path: 'body.externalId' },
        );
      request.body = { ...body, externalId: id };
      const result = await importFrom(request, 'json', 'rest');
      return reply
        .status(result.orders[0]?.outcome === 'created' ? 201 : 200)
        .send(await hub.orders.get(id));
    },
  );

  app.get('/api/v1/orders', { config: { access: 'orders.read' } }, async (request) => {
    const q = parseInput(ordersQuery, request.query, 'query');
    return hub.orders.list({ status: q.status, limit: q.limit, cursor: q.cursor });
  });

  app.get('/api/v1/orders/:id', { config: { access: 'orders.read' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    return hub.orders.get(id);
  });

  app.get('/api/v1/orders/:id/messages', { config: { access: 'outbox.read' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const rows = await hub.store.listOutbox({ orderingKey: id, limit: 1000 });
    return { items: rows.reverse().map((r) => outboxJson(r, true)) };
  });

  app.post(
    '/api/v1/orders/:id/:action',
    { config: { access: 'orders.manage' } },
    async (request) => {
      const { id, action } = parseInput(actionParams, request.params, 'params');
      const body = parseInput(actionBody, request.body, 'body');
      return hub.orders.act(principalOf(request), id, action as OrderAction, body);
    },
  );

  app.get('/api/v1/outbox', { config: { access: 'outbox.read' } }, async (request) => {
    const q = parseInput(outboxQuery, request.query, 'query');
    const rows = await hub.store.listOutbox({
      status: q.status,
      target: q.target,
      orderingKey: q.order,
      beforeId: q.cursor,
      limit: q.limit,
    });
    return {
      items: rows.map((r) => outboxJson(r)),
      counts: await hub.store.countOutbox(),
      nextCursor: rows.length === q.limit ? rows.at(-1)!.id : null,
    };
  });

  app.get('/api/v1/outbox/:id', { config: { access: 'outbox.read' } }, async (request) => {
    const id = parseInput(
      z.strictObject({ id: z.coerce.number().int().positive() }),
      request.params,
      'params',
    ).id;
    const row = await hub.store.getOutbox(id);
    if (row === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'outbox message', id });
    return outboxJson(row, true);
  });

  app.post(
    '/api/v1/outbox/:id/:decision',
    { config: { access: 'outbox.manage' } },
    async (request) => {
      const { id, decision } = parseInput(outboxParams, request.params, 'params');
      const { reason } = parseInput(outboxDecisionBody, request.body, 'body');
      const by = principalOf(request);
      const row = await hub.store.getOutbox(id);
      if (row === undefined)
        throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'outbox message', id });
      if (row.status !== 'dead')
        throw new MwError('MW_ERR_OUTBOX_NOT_DEAD', { id, status: row.status });
      const at = Date.now();
      const audit = hub.identity.audit(
        by,
        `outbox.${decision}`,
        'outbox',
        String(id),
        { status: { old: 'dead', new: decision === 'replay' ? 'pending' : 'discarded' } },
        reason,
        `${row.type} of order ${row.orderingKey} to ${row.target}; last error: ${row.lastError ?? 'none'}`,
      );
      const settled = await hub.store.settleDeadOutbox(id, decision, at, [audit]);
      if (settled === undefined)
        throw new MwError('MW_ERR_OUTBOX_NOT_DEAD', { id, status: 'changed meanwhile' });
      if (decision === 'replay') hub.dispatcher.kick([row.target]);
      return outboxJson(settled);
    },
  );

  app.get('/api/v1/targets', { config: { access: 'outbox.read' } }, async () => {
    const counts = await hub.store.countOutbox();
    return {
      items: hub.dispatcher.snapshot().map((s) => {
        const sorted = [...s.latencies].sort((a, b) => a - b);
        return {
          id: s.id,
          type: s.type,
          mode: s.mode,
          delivered: s.delivered,
          failedAttempts: s.failedAttempts,
          dead: s.dead,
          lastError: s.lastError,
          lastErrorAt: s.lastErrorAt,
          lastDeliveredAt: s.lastDeliveredAt,
          nextRunAt: s.nextRunAt,
          latencyMs: {
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            samples: sorted.length,
          },
          outbox: counts[s.id] ?? { pending: 0, delivered: 0, dead: 0, discarded: 0 },
        };
      }),
      inbound: hub.inbound.snapshot(),
    };
  });

  app.post('/api/v1/targets/:id/test', { config: { access: 'outbox.manage' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    try {
      await hub.dispatcher.connectionTest(id);
      return { ok: true, error: null };
    } catch (err) {
      if (isMwError(err) && err.code === 'MW_ERR_TARGET_NOT_FOUND') throw err;
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  });
}
