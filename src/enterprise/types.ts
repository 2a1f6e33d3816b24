/**
 * The contracts between the hub and the enterprise side (DESIGN.md data flow, the ERP rows):
 *
 * - Inbound: every path (REST JSON, B2MML XML, drop folders, AMQP) turns what the ERP sent into
 *   an `InboundDocument` in the ERP's own codes; core/orders.ts maps the codes through the
 *   identity mapping tables and imports it, idempotent on each order's external id.
 * - Outbound: core/orders.ts writes an `ErpMessage` (the hub's codes) into the outbox in the
 *   same transaction as the fact that causes it; the dispatcher hands each to the target it was
 *   written for. A target renders it in its format (mapping codes to the ERP's through
 *   `RenderContext.toTheirs`) and sends it over its transport. The KPI exports to BI
 *   (core/kpi/export.ts, `KpiMessage`) ride the same outbox to the same targets.
 *
 * A target folder (`src/enterprise/<type>/index.ts`) exports a `TargetDefinition`, as a
 * connector folder exports a ConnectorDefinition (STYLE.md rule 1).
 */
import type { z } from 'zod';
import type { Logger } from 'pino';
import type { OutboundMessage } from '../model/erp.ts';

export * from '../model/erp.ts';

/** A message in a target's wire format. */
export interface RenderedMessage {
  readonly body: Buffer;
  readonly contentType: string;
  /** A file name for folder transports, e.g. `4711-goods.receipt-<id>.xml`. */
  readonly fileName: string;
}

export interface RenderContext {
  /**
   * The ERP's code for one of the hub's (mapping table `<system>/<kind>`); throws an MwError
   * (MW_ERR_MAPPING_UNKNOWN_CODE / MW_ERR_MAPPING_NO_TABLE) when there is none. Identity
   * when the target names no `system`.
   */
  toTheirs(kind: 'material' | 'equipment' | 'uom', ours: string): string;
}

/**
 * Why a delivery failed. `permanent`: retrying cannot help (the ERP refused the content: HTTP
 * 400/422, a SOAP fault, an unmapped code) — the message goes to the dead letters at once.
 * Otherwise it is retried with backoff until the target's attempt or age limit.
 * `retryAfterMs`: the receiver said how long to wait (HTTP `Retry-After`, RFC 9110 §10.2.3);
 * the next attempt should not come sooner.
 */
export class DeliveryError extends Error {
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    readonly permanent: boolean,
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryAfterMs = options?.retryAfterMs;
  }
}

export interface TargetContext {
  readonly logger: Logger;
  /** Folder relative paths in the target's config are resolved against. */
  readonly configDir: string;
  readonly dataDir: string;
  readonly render: RenderContext;
}

export interface TargetInstance {
  /**
   * Deliver one message (realtime) or the messages of one batch (batch mode: rendered as one
   * file/message where the format allows, else one by one). Resolves when the receiver has
   * accepted it; rejects with a DeliveryError (anything else counts as temporary).
   */
  deliver(messages: readonly OutboundMessage[]): Promise<void>;
  /** Reach the receiver without sending anything (check-config --connect, the UI). */
  connectionTest(): Promise<void>;
  close(): Promise<void>;
}

export interface TargetDefinition<C = unknown> {
  readonly type: string;
  readonly summary: string;
  readonly configSchema: z.ZodType<C>;
  create(config: C, ctx: TargetContext): TargetInstance;
}
