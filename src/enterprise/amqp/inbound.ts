/**
 * AMQP 0-9-1 inbound queue: the ERP sends orders, material masters and lots to a queue; each
 * message is imported and acknowledged only once it is committed (DESIGN.md: nothing accepted
 * is lost).
 *
 * - Manual acknowledgement with `prefetch` messages in flight. A message is acked after
 *   `importDocument` resolved (the store commit).
 * - Refused for its content (an MwError with a 4xx status: bad XML, an unknown code): acked, so
 *   it is not redelivered for ever. `importDocument` rejects so only once it has kept the
 *   refused document in the quarantine (enterprise/inbound.ts; it answers 503 otherwise).
 * - Any other failure (the store away, a bug): after a backoff delay the message is handed back
 *   (nack with requeue) and the broker delivers it again. If the channel is gone by then, the
 *   broker has requeued it already.
 * - The broker going away is a state (`health()`), never an exception: the consumer reconnects
 *   with the `reconnect` backoff. Redelivered messages are imported again; import is
 *   idempotent on each order's external id.
 */
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { backoffOf } from '../../config/common.ts';
import type { ConnectionStatus, ConnectorHealth } from '../../core/connector.ts';
import { backoffDelay } from '../../core/backoff.ts';
import { isMwError, MwError } from '../../errors.ts';
import { redactAmqpUrl, resolveAmqpUrl, type AmqpInboundConfig } from './config.ts';

export const AMQP_INBOUND_DEFAULTS = {
  connectTimeoutMs: 10_000,
  /** At stop, how long to wait for imports in flight, so their messages are acked. */
  stopWaitMs: 5000,
} as const;

export interface AmqpInboundDeps {
  readonly logger: Logger;
  /**
   * Parse and import one message; resolves once committed. `contentType` is the effective one:
   * from `format`, else the message's, else sniffed from the body (see inboundContentType).
   * A rejection with a 4xx MwError means the message was refused for its content and kept for
   * inspection (quarantined): it is acked.
   */
  readonly importDocument: (body: Buffer, contentType: string | undefined) => Promise<void>;
}

export interface AmqpInbound {
  stop(): Promise<void>;
  health(): ConnectorHealth;
}

const CONTENT_TYPES = {
  json: 'application/json',
  b2mml: 'application/xml',
  csv: 'text/csv',
} as const;

/**
 * The content type a message is read as. A `format` other than `auto` decides; else the
 * message's own content type when it names JSON, XML or CSV; else the first character of the
 * body (after a BOM and white space): `<` XML, `{` or `[` JSON; else the message's, as it is.
 */
export function inboundContentType(
  format: AmqpInboundConfig['format'],
  contentType: string | undefined,
  body: Buffer,
): string | undefined {
  if (format !== 'auto') return CONTENT_TYPES[format];
  const declared = contentType?.split(';')[0]?.trim().toLowerCase();
  if (declared !== undefined && /(^|[/+])(json|xml|csv)$/.test(declared)) return contentType;
  const text = body
    .subarray(0, 64)
    .toString('utf8')
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text.startsWith('<')) return CONTENT_TYPES.b2mml;
  if (text.startsWith('{') || text.startsWith('[')) return CONTENT_TYPES.json;
  return contentType;
}

/** A failure that is the message's fault: retrying the same bytes cannot succeed. */
function refusedForContent(err: unknown): boolean {
  return isMwError(err) && err.status >= 400 && err.status < 500;
}

class AmqpConsumer implements AmqpInbound {
  private readonly url: string;
  private readonly where: string;
  private model: ChannelModel | null = null;
  /** The consuming channel and its consumer tag, to cancel at stop. */
  private consumer: { channel: Channel; tag: string } | null = null;
  private status: ConnectionStatus = 'connecting';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private connectFailures = 0;
  /** Imports failed in a row for reasons other than content (drives the nack delay). */
  private importFailures = 0;
  private everConnected = false;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  /** The connect in progress, which stop() lets finish so it leaves no connection behind. */
  private connecting: Promise<void> | null = null;
  private readonly nackTimers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: AmqpInboundConfig,
    private readonly deps: AmqpInboundDeps,
  ) {
    this.url = resolveAmqpUrl(config.url);
    this.where = `inbound ${config.id}`;
  }

  start(): void {
    this.connectNow();
  }

  private connectNow(): void {
    this.reconnectTimer = null;
    if (this.stopped) return;
    const connecting = this.connect().finally(() => {
      if (this.connecting === connecting) this.connecting = null;
    });
    this.connecting = connecting;
  }

  private async connect(): Promise<void> {
    const { logger } = this.deps;
    const url = redactAmqpUrl(this.url);
    this.status = 'connecting';
    let model: ChannelModel | null = null;
    try {
      model = await amqp.connect(this.url, {
        timeout: AMQP_INBOUND_DEFAULTS.connectTimeoutMs,
        clientProperties: { connection_name: `millwright ${this.where}` },
      });
      model.on('error', (err: Error) => {
        this.detail = err.message;
        logger.warn({ err: err.message }, 'AMQP connection error');
      });
      model.on('close', (err?: Error) => this.lost(model as ChannelModel, err));
      this.model = model;
      const channel = await model.createChannel();
      channel.on('error', (err: Error) => {
        this.detail = err.message;
        logger.warn({ err: err.message }, 'AMQP channel closed by the broker');
      });
      // A channel closed by the broker (queue deleted, access refused): start over.
      channel.on('close', () => {
        if (!this.stopped && this.model === model) void model?.close().catch(() => undefined);
      });
      await channel.prefetch(this.config.prefetch);
      const { queue } = this.config;
      if (this.config.declare) await channel.assertQueue(queue, { durable: true });
      else
        await channel.checkQueue(queue).catch((err: unknown) => {
          throw new MwError('MW_ERR_AMQP_NOT_FOUND', {
            where: this.where,
            what: `queue "${queue}"`,
            url,
            reason: (err as Error).message,
          });
        });
      const { consumerTag } = await channel.consume(queue, (msg) => this.onMessage(channel, msg), {
        noAck: false,
      });
      this.consumer = { channel, tag: consumerTag };
      if (this.stopped) {
        await model.close().catch(() => undefined);
        return;
      }
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
      this.status = 'connected';
      this.detail = null;
      this.connectFailures = 0;
      logger.info({ url, queue }, 'AMQP inbound consuming');
    } catch (err) {
      const reason = (err as Error).message;
      this.errors++;
      if (model !== null) {
        this.model = null;
        await model.close().catch(() => undefined);
      }
      this.scheduleReconnect(reason);
    }
  }

  private lost(model: ChannelModel, err: Error | undefined): void {
    if (this.model !== model) return;
    this.model = null;
    this.consumer = null;
    if (this.stopped) return;
    const reason = `connection lost${err === undefined ? '' : `: ${err.message}`}`;
    this.deps.logger.warn({ url: redactAmqpUrl(this.url) }, `AMQP inbound ${reason}`);
    this.scheduleReconnect(reason);
  }

  private scheduleReconnect(reason: string): void {
    if (this.stopped || this.reconnectTimer !== null) return;
    const delayMs = backoffDelay(backoffOf(this.config.reconnect), this.connectFailures++);
    this.status = 'disconnected';
    this.detail = `${reason}; reconnecting in ${delayMs} ms (attempt ${this.connectFailures})`;
    const log = { url: redactAmqpUrl(this.url), err: reason, delayMs };
    if (this.connectFailures === 1) this.deps.logger.warn(log, 'AMQP inbound not connected');
    else this.deps.logger.debug(log, 'AMQP inbound still not connected');
    this.reconnectTimer = setTimeout(() => this.connectNow(), delayMs);
  }

  private onMessage(channel: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // basic.cancel from the broker (the queue was deleted): reconnect, which declares it.
      this.deps.logger.warn({ queue: this.config.queue }, 'AMQP consumer cancelled by the broker');
      void this.model?.close().catch(() => undefined);
      return;
    }
    this.lastDataTs = Date.now();
    const handled = this.handle(channel, msg).catch((err: unknown) => {
      this.errors++;
      this.deps.logger.error({ err }, 'AMQP inbound message handling failed');
    });
    this.inFlight.add(handled);
    void handled.finally(() => this.inFlight.delete(handled));
  }

  private async handle(channel: Channel, msg: ConsumeMessage): Promise<void> {
    const { logger, importDocument } = this.deps;
    const { content, properties, fields } = msg;
    const contentType = inboundContentType(
      this.config.format,
      properties.contentType as string | undefined,
      content,
    );
    const log = { messageId: properties.messageId as unknown, redelivered: fields.redelivered };
    try {
      await importDocument(content, contentType);
      this.importFailures = 0;
      this.settle(channel, () => channel.ack(msg));
      return;
    } catch (err) {
      if (refusedForContent(err)) {
        this.errors++;
        logger.warn({ ...log, err: (err as Error).message }, 'AMQP message refused; quarantined');
        this.settle(channel, () => channel.ack(msg));
        return;
      }
      logger.warn({ ...log, err: (err as Error).message }, 'AMQP message not imported');
    }
    // Not the message's fault: hand it back after a backoff delay, so the broker redelivers it.
    this.errors++;
    const delayMs = backoffDelay(backoffOf(this.config.reconnect), this.importFailures++);
    this.detail = `import failed ${this.importFailures} time(s) in a row; redelivering in ${delayMs} ms`;
    const timer = setTimeout(() => {
      this.nackTimers.delete(timer);
      this.settle(channel, () => channel.nack(msg, false, true));
    }, delayMs);
    this.nackTimers.add(timer);
  }

  /** Ack or nack on the channel the message came on; a closed one has requeued it already. */
  private settle(channel: Channel, op: () => void): void {
    try {
      op();
    } catch (err) {
      this.deps.logger.debug({ err: (err as Error).message }, 'AMQP channel gone; broker requeued');
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    await this.connecting;
    // Messages waiting for their nack go back to the queue when the channel closes.
    for (const timer of this.nackTimers) clearTimeout(timer);
    this.nackTimers.clear();
    // No new deliveries; those in flight finish and are acked on the open channel.
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.channel.cancel(consumer.tag).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => (timer = setTimeout(resolve, AMQP_INBOUND_DEFAULTS.stopWaitMs))),
    ]);
    clearTimeout(timer);
    const model = this.model;
    this.model = null;
    await model?.close().catch(() => undefined);
    this.status = 'stopped';
  }

  health(): ConnectorHealth {
    return {
      status: this.status,
      detail: this.detail,
      lastDataTs: this.lastDataTs,
      reconnects: this.reconnects,
      errors: this.errors,
    };
  }
}

/**
 * Consume the inbound queue of `config` until `stop()`. Returns at once: connecting, and
 * reconnecting after the broker went away, happen in the background (see `health()`).
 */
export function startAmqpInbound(config: AmqpInboundConfig, deps: AmqpInboundDeps): AmqpInbound {
  const consumer = new AmqpConsumer(config, deps);
  consumer.start();
  return consumer;
}
