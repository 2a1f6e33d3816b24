/**
 * Lots, genealogy, holds and inspections over HTTP (issue #12, docs/quality.md). Bodies are
 * checked here (zod); the services check permissions and the rules of the genealogy.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { MwError } from '../errors.ts';
import type { HubView } from '../hub-view.ts';
import { parseLotsCsv, parseResultsCsv } from '../enterprise/files/quality-csv.ts';
import { LOT_STATUSES } from '../model/index.ts';
import { principalOf } from './auth.ts';
import { parseInput } from './input.ts';

const MAX_BODY_BYTES = 10 * 1024 * 1024;

const reason = z
  .string()
  .trim()
  .min(1)
  .max(2000)
  .optional()
  .describe('Why; kept in the audit row.');
const requiredReason = z
  .string()
  .trim()
  .min(1, { error: 'a reason is required: say why' })
  .max(2000)
  .describe('Why; kept in the audit row.');
const quantity = z
  .union([z.number(), z.string()])
  .describe('A positive decimal number (decimal text keeps it exact).');
const code = z.string().min(1).max(128);
const properties = z.record(z.string().max(128), z.string().max(2000)).optional();

export const lotsQuery = z.strictObject({
  material: code.optional().describe('Only lots of this material.'),
  status: z.enum(LOT_STATUSES).optional().describe('Only lots in this status.'),
  after: z.string().optional().describe('`next` of the page before.'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const traceQuery = z.strictObject({
  direction: z.enum(['backward', 'forward', 'both']).default('both'),
  depth: z.coerce.number().int().min(1).max(1000).default(20).describe('Levels followed.'),
  shape: z.enum(['graph', 'tree']).default('graph'),
});

export const receiveBody = z.strictObject({
  id: code.optional().describe('The lot number; drawn from the numbering scheme when left out.'),
  material: code,
  quantity,
  uom: code.optional().describe('Default: the material’s unit (config materials).'),
  location: z.string().optional().describe('Equipment id where the lot is.'),
  properties,
  reason,
});

const inputLot = z.strictObject({ lot: code, quantity, uom: code.optional() });

export const produceBody = receiveBody.extend({
  order: z.string().optional().describe('The order that produced it.'),
  operation: z.string().optional(),
  equipment: z.string().optional(),
  inputs: z.array(inputLot).max(1000).describe('The lots consumed, with the quantity of each.'),
});

export const consumeBody = z.strictObject({
  into: code
    .optional()
    .describe('The lot the material goes into; default: the output lot of `order`.'),
  quantity,
  uom: code.optional(),
  order: z.string().optional(),
  operation: z.string().optional(),
  equipment: z.string().optional(),
  reason,
});

export const splitBody = z.strictObject({
  parts: z
    .array(z.strictObject({ id: code.optional(), quantity }))
    .min(1)
    .max(1000),
  reason,
});

export const mergeBody = z.strictObject({
  id: code.optional(),
  lots: z.array(code).min(2).max(1000),
  reason,
});

export const holdBody = z.strictObject({
  reason: requiredReason,
  propagate: z.boolean().optional().describe('Hold every lot made from this one too.'),
});

export const releaseBody = z.strictObject({
  reason: requiredReason,
  username: z.string().min(1).describe('The signer: the logged-in user.'),
  password: z.string().min(1).describe('The signer’s password (21 CFR 11.200).'),
});

export const inspectionBody = z.strictObject({
  lot: code,
  plan: z.string().min(1),
  operation: z.string().optional(),
  sampleSize: z.number().int().min(1).optional(),
  results: z
    .array(
      z.strictObject({
        characteristic: z.string().min(1),
        value: z.union([z.number(), z.string(), z.boolean()]),
        uom: code.optional(),
      }),
    )
    .min(1)
    .max(500),
  reason,
});

export const importQuery = z.strictObject({
  system: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: 'expected a mapping system id' })
    .optional()
    .describe('Mapping system of the sender’s codes (LIMS, ERP): material, equipment, uom.'),
});

export const closeBody = z.strictObject({
  reason: requiredReason.describe('The disposition decided (rework, scrap, use as is …) and why.'),
});

export const nonconformanceQuery = z.strictObject({
  status: z.enum(['open', 'closed']).optional(),
});

export const recallQuery = z.strictObject({
  format: z
    .enum(['json', 'csv'])
    .optional()
    .describe('csv: the finished lots as CSV (or send Accept: text/csv).'),
});

/** The columns of a recall as CSV: one row per finished lot. */
export const RECALL_CSV_COLUMNS = [
  'lot',
  'material',
  'quantity',
  'uom',
  'status',
  'order',
  'holds',
];

const idParams = z.strictObject({ id: z.string().min(1) });
const holdParams = z.strictObject({ id: z.string().min(1), hold: z.string().min(1) });

export async function registerLotRoutes(root: FastifyInstance, hub: HubView): Promise<void> {
  // A scope of its own: its CSV body parser does not meet the other routes'.
  await root.register(async (app) => lotRoutes(app, hub));
}

function lotRoutes(app: FastifyInstance, hub: HubView): void {
  app.addContentTypeParser(
    'text/csv',
    { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES },
    (_r, body, done) => done(null, body),
  );
  const { lots, holds, traces, inspections } = hub.quality;
  const ours = (
    system: string | undefined,
    kind: 'material' | 'uom' | 'equipment',
    theirs: string,
  ) => (system === undefined ? theirs : hub.mappings.toOurs(system, kind, theirs));

  app.get('/api/v1/lots', { config: { access: 'orders.read' } }, async (request) => {
    const q = parseInput(lotsQuery, request.query, 'query');
    return lots.list(principalOf(request), q);
  });

  app.post(
    '/api/v1/lots',
    { config: { access: 'orders.import' }, bodyLimit: MAX_BODY_BYTES },
    async (request, reply) => {
      const by = principalOf(request);
      if (Buffer.isBuffer(request.body)) {
        const { system } = parseInput(importQuery, request.query, 'query');
        const rows = parseLotsCsv(request.body);
        const made = await lots.receive(
          by,
          rows.map((r) => ({
            id: r.lot,
            material: ours(system, 'material', r.material),
            quantity: r.quantity,
            uom: r.uom === undefined ? undefined : ours(system, 'uom', r.uom),
            location: r.location === undefined ? undefined : ours(system, 'equipment', r.location),
          })),
          `goods receipt (CSV${system === undefined ? '' : ` from ${system}`})`,
        );
        return reply.status(201).send({ lots: made });
      }
      const body = parseInput(receiveBody, request.body, 'body');
      const [made] = await lots.receive(by, [body], body.reason);
      return reply.status(201).send(made);
    },
  );

  app.post(
    '/api/v1/lots/produce',
    { config: { access: 'orders.manage' } },
    async (request, reply) => {
      const body = parseInput(produceBody, request.body, 'body');
      return reply.status(201).send(await lots.produce(principalOf(request), body));
    },
  );

  app.post(
    '/api/v1/lots/merge',
    { config: { access: 'orders.manage' } },
    async (request, reply) => {
      const body = parseInput(mergeBody, request.body, 'body');
      return reply.status(201).send(await lots.merge(principalOf(request), body));
    },
  );

  app.get('/api/v1/lots/:id', { config: { access: 'orders.read' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    return lots.get(principalOf(request), id);
  });

  app.get('/api/v1/lots/:id/trace', { config: { access: 'orders.read' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const q = parseInput(traceQuery, request.query, 'query');
    const by = principalOf(request);
    if (q.shape === 'graph') return traces.graph(by, id, q.direction, q.depth);
    if (q.direction === 'both')
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        { path: 'query.direction', rule: 'a tree goes one way: backward or forward' },
        { path: 'query.direction' },
      );
    return traces.tree(by, id, q.direction, q.depth);
  });

  app.get(
    '/api/v1/lots/:id/recall',
    { config: { access: 'orders.read' } },
    async (request, reply) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const { format } = parseInput(recallQuery, request.query, 'query');
      const recall = await traces.recall(principalOf(request), id);
      if (format !== 'csv' && !(request.headers.accept ?? '').includes('text/csv')) return recall;
      // Lot numbers and codes start with a letter or digit (no spreadsheet formula).
      const rows = recall.finished.map((n) => [
        n.id,
        n.material,
        n.quantity,
        n.uom,
        n.status,
        n.order ?? '',
        n.holds,
      ]);
      return reply
        .type('text/csv; charset=utf-8; header=present')
        .header(
          'content-disposition',
          `attachment; filename="recall-${id.replace(/[^A-Za-z0-9_.-]/g, '_')}.csv"`,
        )
        .send(stringify([RECALL_CSV_COLUMNS, ...rows], { record_delimiter: 'windows' }));
    },
  );

  app.post('/api/v1/lots/:id/consume', { config: { access: 'orders.manage' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(consumeBody, request.body, 'body');
    return lots.consume(principalOf(request), id, body);
  });

  app.post(
    '/api/v1/lots/:id/split',
    { config: { access: 'orders.manage' } },
    async (request, reply) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const body = parseInput(splitBody, request.body, 'body');
      return reply
        .status(201)
        .send(await lots.split(principalOf(request), id, body.parts, body.reason));
    },
  );

  app.post('/api/v1/lots/:id/ship', { config: { access: 'orders.manage' } }, async (request) => {
    const { id } = parseInput(idParams, request.params, 'params');
    const body = parseInput(z.strictObject({ reason }), request.body ?? {}, 'body');
    return lots.ship(principalOf(request), id, body.reason);
  });

  app.post(
    '/api/v1/lots/:id/holds',
    { config: { access: 'quality.inspect' } },
    async (request, reply) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const body = parseInput(holdBody, request.body, 'body');
      return reply.status(201).send(await holds.place(principalOf(request), id, body));
    },
  );

  app.post(
    '/api/v1/lots/:id/holds/:hold/release',
    { config: { access: 'quality.release' } },
    async (request: FastifyRequest) => {
      const { id, hold } = parseInput(holdParams, request.params, 'params');
      const body = parseInput(releaseBody, request.body, 'body');
      return holds.release(principalOf(request), id, hold, body, request.ip);
    },
  );

  app.get(
    '/api/v1/lots/:id/inspections',
    { config: { access: 'orders.read' } },
    async (request) => {
      const { id } = parseInput(idParams, request.params, 'params');
      return { inspections: await inspections.list(principalOf(request), id) };
    },
  );

  app.post(
    '/api/v1/inspections',
    { config: { access: 'quality.inspect' } },
    async (request, reply) => {
      const body = parseInput(inspectionBody, request.body, 'body');
      const [made] = await inspections.record(principalOf(request), [{ input: body, path: '' }]);
      return reply.status(201).send(made);
    },
  );

  app.post(
    '/api/v1/inspections/import',
    { config: { access: 'quality.inspect' }, bodyLimit: MAX_BODY_BYTES },
    async (request, reply) => {
      const { system } = parseInput(importQuery, request.query, 'query');
      if (!Buffer.isBuffer(request.body))
        throw new MwError(
          'MW_ERR_API_VALIDATION',
          { path: 'headers.content-type', rule: 'send the LIMS results as text/csv' },
          { path: 'headers.content-type' },
        );
      // Rows of one lot, plan and operation are one inspection, in file order.
      const groups = new Map<string, { line: number; rows: ReturnType<typeof parseResultsCsv> }>();
      for (const r of parseResultsCsv(request.body)) {
        const key = JSON.stringify([r.lot, r.plan, r.operation ?? null]);
        const g = groups.get(key) ?? { line: r.line, rows: [] };
        g.rows.push(r);
        groups.set(key, g);
      }
      const made = await inspections.record(
        principalOf(request),
        [...groups.values()].map(({ line, rows }) => ({
          path: `line ${line}: `,
          input: {
            lot: rows[0]!.lot,
            plan: rows[0]!.plan,
            operation: rows[0]!.operation,
            sampleSize: rows[0]!.sampleSize,
            results: rows.map((r) => ({
              characteristic: r.characteristic,
              value: r.value,
              uom: r.uom === undefined ? undefined : ours(system, 'uom', r.uom),
            })),
            reason: `LIMS import${system === undefined ? '' : ` from ${system}`}`,
          },
        })),
      );
      return reply.status(201).send({ inspections: made.length, items: made });
    },
  );

  app.post(
    '/api/v1/nonconformances/:id/close',
    { config: { access: 'quality.release' } },
    async (request) => {
      const { id } = parseInput(idParams, request.params, 'params');
      const body = parseInput(closeBody, request.body, 'body');
      return inspections.close(principalOf(request), id, body.reason);
    },
  );

  app.get('/api/v1/nonconformances', { config: { access: 'orders.read' } }, async (request) => {
    const q = parseInput(nonconformanceQuery, request.query, 'query');
    return { nonconformances: await inspections.nonconformances(principalOf(request), q.status) };
  });
}
