/**
 * The wire formats a target can send: every one renders the same OutboundMessage (types.ts). The
 * codes are first translated into the receiver's (`toReceiverCodes`), so a format only lays out.
 * A `kpi.shift` message goes in `json` and `csv` only (config/cross-references.ts refuses it
 * for `b2mml`, which has no document for it). The quality messages (`lot.held`, `lot.released`,
 * `inspection.recorded`) go in every format; in `b2mml` as material lot documents, which is
 * why one B2MML batch cannot mix them with order messages (b2mml/render.ts).
 */
import { isMwError } from '../errors.ts';
import { renderB2mml } from './b2mml/render.ts';
import { renderCsv } from './files/csv.ts';
import { messageFileStem } from './file-names.ts';
import type { MessageFormat } from './target-config.ts';

import {
  DeliveryError,
  type B2mmlVersion,
  type ErpMessage,
  type OperationReport,
  type OutboundMessage,
  type QualityMessage,
  type RenderContext,
  type RenderedMessage,
} from './types.ts';

export interface FormatOptions {
  readonly format: MessageFormat;
  readonly b2mmlVersion: B2mmlVersion;
}

function mapOperation(op: OperationReport, ctx: RenderContext): OperationReport {
  return {
    ...op,
    equipment: ctx.toTheirs('equipment', op.equipment),
    workUnit: ctx.toTheirs('equipment', op.workUnit),
    uom: ctx.toTheirs('uom', op.uom),
  };
}

/** Data with its material and unit codes replaced by the receiver's. */
function theirCodes<T extends { readonly material: string; readonly uom: string }>(
  d: T,
  ctx: RenderContext,
): T {
  return { ...d, material: ctx.toTheirs('material', d.material), uom: ctx.toTheirs('uom', d.uom) };
}

/**
 * The message with the hub's material, equipment and unit codes replaced by the receiver's.
 * Throws the mapping's MwError when a code has no entry. A `kpi.shift` message keeps the hub's
 * codes: its rows are the hub's equipment hierarchy (ids, levels, names), which a BI model
 * joins on as it is, and a mapping system maps an ERP's work centers, not every unit and area.
 * A quality message maps its lot's material and unit, and the unit of each inspection result
 * (a UN/CEFACT code like any other, `<system>/uom`); lot numbers, hold and inspection ids,
 * plans and characteristics are the hub's own (there is no mapping table for them, as for the
 * lot of a goods receipt).
 */
export function toReceiverCodes(m: OutboundMessage, ctx: RenderContext): OutboundMessage {
  switch (m.type) {
    case 'order.started':
      return {
        ...m,
        data: {
          ...m.data,
          equipment: m.data.equipment === null ? null : ctx.toTheirs('equipment', m.data.equipment),
        },
      };
    case 'operation.confirmed':
      return { ...m, data: { ...mapOperation(m.data, ctx), final: m.data.final } };
    case 'goods.receipt':
    case 'goods.issue':
      return {
        ...m,
        data: {
          ...theirCodes(m.data, ctx),
          equipment: ctx.toTheirs('equipment', m.data.equipment),
        },
      } as ErpMessage;
    case 'order.completed':
      return {
        ...m,
        data: {
          ...theirCodes(m.data, ctx),
          operations: m.data.operations.map((op) => mapOperation(op, ctx)),
          consumed: m.data.consumed.map((c) => theirCodes(c, ctx)),
        },
      };
    case 'lot.held':
    case 'lot.released':
      return { ...m, data: theirCodes(m.data, ctx) } as QualityMessage;
    case 'inspection.recorded':
      return {
        ...m,
        data: {
          ...theirCodes(m.data, ctx),
          results: m.data.results.map((r) => ({
            ...r,
            uom: r.uom === null ? null : ctx.toTheirs('uom', r.uom),
          })),
        },
      };
    case 'order.closed':
    case 'order.cancelled':
    case 'kpi.shift':
      return m;
  }
}

/**
 * The JSON body of one message (docs/erp.md): times as ISO 8601 UTC. A `kpi.shift` message's
 * data already holds its times as ISO text and none of the keys converted here, so it goes as
 * it is; a quality message's only time is `at`.
 */
export function jsonMessage(m: OutboundMessage): Record<string, unknown> {
  const iso = (ms: number | null): string | null =>
    ms === null ? null : new Date(ms).toISOString();
  const data: Record<string, unknown> = { ...m.data };
  for (const key of ['startedAt', 'endedAt'])
    if (key in data) data[key] = iso(data[key] as number | null);
  if ('operations' in data)
    data.operations = (data.operations as OperationReport[]).map((op) => ({
      ...op,
      startedAt: iso(op.startedAt),
      endedAt: iso(op.endedAt),
    }));
  return { id: m.id, type: m.type, orderId: m.orderId, seq: m.seq, at: iso(m.at), data };
}

function renderJson(messages: readonly OutboundMessage[]): RenderedMessage {
  const first = messages[0]!;
  const body =
    messages.length === 1 ? jsonMessage(first) : { messages: messages.map((m) => jsonMessage(m)) };
  return {
    body: Buffer.from(JSON.stringify(body)),
    contentType: 'application/json',
    fileName: messages.length === 1 ? `${messageFileStem(first)}.json` : `batch-${first.id}.json`,
  };
}

/**
 * Render messages in a format: one RenderedMessage for one message, or for a batch (realtime
 * targets pass one message). An unmapped code is a permanent DeliveryError (retrying cannot
 * help until the mapping is fixed; replay the dead letter then).
 */
export function renderMessages(
  messages: readonly OutboundMessage[],
  options: FormatOptions,
  ctx: RenderContext,
): RenderedMessage {
  if (messages.length === 0) throw new Error('renderMessages: no messages');
  let mapped: OutboundMessage[];
  try {
    mapped = messages.map((m) => toReceiverCodes(m, ctx));
  } catch (err) {
    if (isMwError(err)) throw new DeliveryError(err.message, true, { cause: err });
    throw err;
  }
  switch (options.format) {
    case 'json':
      return renderJson(mapped);
    case 'b2mml':
      return renderB2mml(mapped, options.b2mmlVersion);
    case 'csv':
      return renderCsv(mapped);
  }
}
