/**
 * One entry for everything an ERP sends (REST JSON, B2MML, CSV; by HTTP, drop folder or AMQP):
 * parse by format, import through the order service, and keep what was refused.
 *
 * A refusal for the content (an MwError with a 4xx status: schema-invalid, unmapped code, order
 * locked …) is counted and quarantined with the payload (GET /api/v1/quarantine, connection
 * = the inbound path's id), then rethrown so the sender learns why; nothing of the document
 * was imported. Any other failure (the store away) is rethrown without a quarantine entry: the
 * sender keeps the message and sends it again (HTTP 503, AMQP requeue, the file stays).
 */
import { z } from 'zod';
import type { OrderService } from '../core/orders/service.ts';
import { isMwError, MwError } from '../errors.ts';
import type { ImportResult, InboundDocument, InboundOrder } from '../model/index.ts';
import type { Store } from '../store/types.ts';
import { parseB2mml } from './b2mml/parse.ts';
import { parseOrdersCsv } from './files/csv.ts';

export interface InboundSource {
  /** The path's id: `rest`, `b2mml`, or a configured inbound's id. */
  readonly id: string;
  /** The sender's mapping system (null: the hub's own codes). */
  readonly system: string | null;
  /** Who, for the audit trail: `user:…`, `token:…`, `connection:<inbound id>`. */
  readonly actor: string;
  /** Where inside the path: a URL, a file name, a queue. */
  readonly where: string;
}

export interface InboundStats {
  received: number;
  imported: number;
  refused: number;
  /** Refused documents the store could not keep (it was away): answered 503, to be resent. */
  notQuarantined: number;
  lastError: string | null;
}

const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

const timeText = z.iso
  .datetime({ offset: true, error: 'expected an ISO 8601 time with Z or an offset' })
  .transform((t) => Date.parse(t));

const quantityText = z.union([
  z.string().max(60),
  z
    .number()
    .refine(Number.isFinite)
    .transform((n) => String(n)),
]);

/** The REST JSON form of one order (docs/erp.md). */
export const jsonOrderSchema = z.strictObject({
  externalId: z.string().min(1).max(80).describe('The ERP’s order number.'),
  material: z.string().min(1).max(80).describe('Material of the product (the sender’s code).'),
  quantity: quantityText.describe('Quantity to make, as decimal text (or a JSON number).'),
  uom: z.string().min(1).max(20).describe('Unit of the quantity (the sender’s code).'),
  operations: z
    .array(
      z.strictObject({
        id: z.string().min(1).max(40).describe('Operation number, e.g. "0010".'),
        equipment: z.string().min(1).max(200).describe('Work center or unit (the sender’s code).'),
        description: z.string().max(400).optional(),
      }),
    )
    .min(1, { error: 'an order needs at least one operation' }),
  plannedStart: timeText.optional(),
  plannedEnd: timeText.optional(),
  priority: z.number().int().default(0),
  lot: z.string().min(1).max(80).optional().describe('Lot the output is received into.'),
  description: z.string().max(400).optional(),
});

/** POST /api/v1/orders takes one order, or `{ orders: [...] }`. */
export const jsonDocumentSchema = z.union([
  jsonOrderSchema,
  z.strictObject({ orders: z.array(jsonOrderSchema).min(1).max(10_000) }),
]);

export function jsonOrder(o: z.infer<typeof jsonOrderSchema>): InboundOrder {
  return {
    externalId: o.externalId,
    material: o.material,
    quantity: o.quantity,
    uom: o.uom,
    operations: o.operations.map((op) => ({
      id: op.id,
      equipment: op.equipment,
      description: op.description ?? null,
    })),
    plannedStart: o.plannedStart ?? null,
    plannedEnd: o.plannedEnd ?? null,
    priority: o.priority,
    lot: o.lot ?? null,
    description: o.description ?? null,
  };
}

export function jsonDocument(body: z.infer<typeof jsonDocumentSchema>): InboundDocument {
  const orders = 'orders' in body ? body.orders : [body];
  return { format: 'json', root: null, orders: orders.map(jsonOrder), materials: [], lots: [] };
}

export type InboundFormat = 'json' | 'b2mml' | 'csv';

/** The format of a content type, or of a body's first character when the type says nothing. */
export function formatOf(contentType: string | undefined, body: Buffer): InboundFormat {
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('xml')) return 'b2mml';
  if (type.includes('json')) return 'json';
  if (type.includes('csv')) return 'csv';
  const first = body.toString('utf8', 0, Math.min(body.length, 64)).replace(/^\uFEFF?\s*/, '')[0];
  return first === '<' ? 'b2mml' : first === '{' || first === '[' ? 'json' : 'csv';
}

export class ErpInbound {
  private readonly stats = new Map<string, InboundStats>();

  constructor(
    private readonly orders: OrderService,
    private readonly store: Store,
  ) {}

  snapshot(): Record<string, InboundStats> {
    return Object.fromEntries([...this.stats].map(([id, s]) => [id, { ...s }]));
  }

  private stat(id: string): InboundStats {
    let s = this.stats.get(id);
    if (s === undefined) {
      s = { received: 0, imported: 0, refused: 0, notQuarantined: 0, lastError: null };
      this.stats.set(id, s);
    }
    return s;
  }

  /** Parse `body` as `format` and import it; see the module comment for failures. */
  async importBody(
    format: InboundFormat,
    body: Buffer,
    source: InboundSource,
  ): Promise<ImportResult> {
    const s = this.stat(source.id);
    s.received++;
    try {
      if (body.length > MAX_DOCUMENT_BYTES)
        throw new MwError('MW_ERR_ORDER_INVALID', {
          path: 'body',
          rule: `a document may have at most ${MAX_DOCUMENT_BYTES} bytes (got ${body.length})`,
        });
      const doc = await this.parse(format, body);
      const result = await this.orders.importDocument(doc, source);
      s.imported++;
      return result;
    } catch (err) {
      if (isMwError(err) && err.status >= 400 && err.status < 500) {
        s.refused++;
        s.lastError = err.message;
        // A refusal is acknowledged only once its copy is kept: when the store cannot take the
        // copy, the sender is told to try again (503), so an AMQP message is requeued and a
        // file stays, never acked and lost. The refusal is in the message.
        try {
          await this.quarantine(source, body, err);
        } catch (kept) {
          s.notQuarantined++;
          throw new MwError(
            'MW_ERR_STORE_UNAVAILABLE',
            {
              store: this.store.location,
              reason: `the refused document could not be kept (${err.code}: ${err.message}): ${kept instanceof Error ? kept.message : String(kept)}`,
            },
            { cause: kept },
          );
        }
      }
      throw err;
    }
  }

  /** A file from a drop folder: `.xml` is B2MML, `.csv` CSV, `.json` JSON; else by content. */
  importFile(name: string, content: Buffer, source: InboundSource): Promise<ImportResult> {
    const ext = name.toLowerCase().split('.').at(-1);
    const format: InboundFormat =
      ext === 'xml'
        ? 'b2mml'
        : ext === 'csv'
          ? 'csv'
          : ext === 'json'
            ? 'json'
            : formatOf(undefined, content);
    return this.importBody(format, content, { ...source, where: name });
  }

  private async parse(format: InboundFormat, body: Buffer): Promise<InboundDocument> {
    switch (format) {
      case 'b2mml':
        return parseB2mml(body);
      case 'csv':
        return parseOrdersCsv(body);
      case 'json': {
        let raw: unknown;
        try {
          raw = JSON.parse(body.toString('utf8').replace(/^\uFEFF/, ''));
        } catch (err) {
          throw new MwError('MW_ERR_ORDER_INVALID', {
            path: 'body',
            rule: `not JSON: ${(err as Error).message}`,
          });
        }
        // Checked against the form it has (one order, or `{ orders }`), so that a refusal names
        // the field and its rule rather than "body: Invalid input" for the union.
        const [single, many] = jsonDocumentSchema.options;
        const form = typeof raw === 'object' && raw !== null && 'orders' in raw ? many : single;
        const parsed = form.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          const path = ['body', ...issue.path.map(String)].join('.');
          throw new MwError('MW_ERR_ORDER_INVALID', { path, rule: issue.message }, { path });
        }
        return jsonDocument(parsed.data);
      }
    }
  }

  /** Keep a refused document for inspection; a store that cannot take it is logged by the caller. */
  async quarantine(source: InboundSource, body: Buffer, err: MwError): Promise<void> {
    await this.store.commit({
      samples: [],
      events: [],
      units: [],
      quarantine: [
        {
          connectionId: source.id,
          source: source.where,
          receivedTs: Date.now(),
          code: err.code,
          message: err.message,
          payload: body,
          payloadBytes: body.length,
        },
      ],
    });
  }
}
