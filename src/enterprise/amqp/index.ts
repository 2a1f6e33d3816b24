/**
 * AMQP 0-9-1 target (RabbitMQ): publishes each ERP message to an exchange.
 *
 * - Each message is published on a confirm channel, persistent (delivery mode 2), with the
 *   message id as `messageId` and `idempotency-key` header: a message published twice (a retry
 *   after a lost confirm) carries the same key, so the receiver drops the copy. `deliver`
 *   resolves only once the broker confirmed every message of the call (basic.ack).
 * - Also in batch mode each message is published on its own: routing key and idempotency key
 *   belong to one message. When a call fails part way, the dispatcher retries all of it; the
 *   messages already confirmed go again under their keys.
 * - Failures are temporary (retried with backoff, then dead letters): a nack, a message that
 *   came back unroutable (`mandatory`: no binding for its routing key — an operator adds the
 *   binding, so it is not the message's fault), a missing exchange, a lost connection, no
 *   confirm within `timeout`. Permanent is only what retrying cannot change: an unmapped code.
 * - One connection and one confirm channel are kept open. After a failure they are reopened
 *   lazily, by the next delivery; a failed connect holds further attempts back for the backoff
 *   delay of `reconnect` (STYLE.md rule 2), shown in `health()`.
 */
import amqp, { type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { backoffOf } from '../../config/common.ts';
import type { ConnectionStatus, ConnectorHealth } from '../../core/connector.ts';
import { backoffDelay } from '../../core/backoff.ts';
import { MwError } from '../../errors.ts';
import { renderMessages } from '../formats.ts';
import {
  DeliveryError,
  type OutboundMessage,
  type RenderedMessage,
  type TargetContext,
  type TargetDefinition,
  type TargetInstance,
} from '../types.ts';
import {
  amqpTargetSchema,
  redactAmqpUrl,
  resolveAmqpUrl,
  type AmqpTargetConfig,
} from './config.ts';

export const AMQP_DEFAULTS = {
  /** TCP connect and AMQP handshake. */
  connectTimeoutMs: 10_000,
} as const;

/** The routing key of a message: `{type}` and `{orderId}` filled in. */
export function routingKeyOf(template: string, message: OutboundMessage): string {
  return template.replace(/\{(type|orderId)\}/g, (_, name: string) =>
    name === 'type' ? message.type : message.orderId,
  );
}

/** An AMQP server error (channel or connection close) as one line. */
function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class AmqpPublisher implements AmqpTargetInstance {
  private readonly url: string;
  private readonly where: string;
  private model: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private opening: Promise<ConfirmChannel> | null = null;
  private status: ConnectionStatus = 'disconnected';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  /** Failed connects in a row, and when the next one may start (the reconnect backoff). */
  private failures = 0;
  private retryAt = 0;
  private everConnected = false;
  /** The reason the channel was closed by the broker, given to the publishes it failed. */
  private channelError: string | null = null;
  /** Message ids the broker returned as unroutable, until their confirm arrives. */
  private readonly returned = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly config: AmqpTargetConfig,
    private readonly ctx: TargetContext,
  ) {
    this.url = resolveAmqpUrl(config.url);
    this.where = `target ${config.id}`;
  }

  async deliver(messages: readonly OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const format = { format: this.config.format, b2mmlVersion: this.config.b2mmlVersion };
    // Rendered first: an unmapped code is permanent whether or not the broker is there.
    const rendered = messages.map((m) => ({ m, r: renderMessages([m], format, this.ctx.render) }));
    const channel = await this.channelFor();
    const confirms: Promise<void>[] = [];
    for (const { m, r } of rendered) {
      const { confirmed, flushed } = this.publish(channel, m, r);
      confirms.push(confirmed);
      if (!flushed) await waitForDrain(channel);
    }
    const outcomes = await Promise.allSettled(confirms);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    this.lastDataTs = Date.now();
  }

  /** Publish one message; `confirmed` settles with the broker's confirm. */
  private publish(
    channel: ConfirmChannel,
    m: OutboundMessage,
    r: RenderedMessage,
  ): { confirmed: Promise<void>; flushed: boolean } {
    const { exchange, mandatory, timeout } = this.config;
    const routingKey = routingKeyOf(this.config.routingKey, m);
    const to = `exchange "${exchange}" with routing key "${routingKey}"`;
    let flushed = true;
    const confirmed = new Promise<void>((resolve, reject) => {
      const fail = (why: string, cause?: unknown): void => {
        clearTimeout(timer);
        this.returned.delete(m.id);
        this.errors++;
        reject(
          new DeliveryError(`${this.where}: message ${m.id} to ${to}: ${why}`, false, { cause }),
        );
      };
      const timer = setTimeout(
        () => fail(`the broker did not confirm it within ${timeout} ms`),
        timeout,
      );
      try {
        flushed = channel.publish(
          exchange,
          routingKey,
          r.body,
          {
            deliveryMode: 2,
            mandatory,
            messageId: m.id,
            type: m.type,
            contentType: r.contentType,
            timestamp: Math.floor(m.at / 1000),
            appId: 'millwright',
            headers: { 'idempotency-key': m.id, 'x-order-id': m.orderId },
          },
          (err: unknown) => {
            if (err !== null && err !== undefined) {
              // A nack, or the channel closed before the confirm came.
              fail(`not confirmed: ${this.channelError ?? reasonOf(err)}`);
              return;
            }
            const unroutable = this.returned.get(m.id);
            if (unroutable !== undefined) {
              fail(`unroutable, returned by the broker (${unroutable}); bind a queue for it`);
              return;
            }
            clearTimeout(timer);
            resolve();
          },
        );
      } catch (err) {
        fail(`cannot publish: ${reasonOf(err)}`, err);
      }
    });
    return { confirmed, flushed };
  }

  /** The open confirm channel, opening connection and channel when there is none. */
  private channelFor(): Promise<ConfirmChannel> {
    if (this.closed)
      return Promise.reject(new DeliveryError(`${this.where}: the target is closed`, false));
    if (this.channel !== null) return Promise.resolve(this.channel);
    if (this.opening !== null) return this.opening;
    const waitMs = this.retryAt - Date.now();
    if (waitMs > 0) {
      return Promise.reject(
        new DeliveryError(
          `${this.where}: not connected to ${redactAmqpUrl(this.url)} (${this.detail ?? 'connection lost'}); next attempt in ${waitMs} ms`,
          false,
        ),
      );
    }
    this.opening = this.open().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async open(): Promise<ConfirmChannel> {
    const { logger } = this.ctx;
    this.status = 'connecting';
    try {
      const model = this.model ?? (await this.connect());
      const channel = await model.createConfirmChannel();
      channel.on('error', (err: Error) => {
        this.channelError = err.message;
        this.detail = err.message;
        logger.warn({ err: err.message }, 'AMQP channel closed by the broker');
      });
      channel.on('return', (msg: Message) => {
        // basic.return carries reply-code and reply-text, which amqplib's types leave out.
        const fields = msg.fields as Message['fields'] & { replyCode?: number; replyText?: string };
        const id = msg.properties.messageId as string | undefined;
        if (id !== undefined) this.returned.set(id, `${fields.replyCode} ${fields.replyText}`);
      });
      channel.on('close', () => {
        if (this.channel === channel) this.channel = null;
      });
      this.channelError = null;
      const { declare, exchange } = this.config;
      if (declare !== undefined && exchange !== '')
        await channel.assertExchange(exchange, declare.type, { durable: declare.durable });
      if (this.closed) {
        await model.close().catch(() => undefined);
        throw new DeliveryError(`${this.where}: the target is closed`, false);
      }
      this.channel = channel;
      this.status = 'connected';
      this.detail = null;
      this.failures = 0;
      this.retryAt = 0;
      return channel;
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      const reason = this.channelError ?? reasonOf(err);
      this.status = 'disconnected';
      this.errors++;
      const delayMs = backoffDelay(backoffOf(this.config.reconnect), this.failures++);
      this.retryAt = Date.now() + delayMs;
      this.detail = `${reason}; next attempt in ${delayMs} ms (failure ${this.failures})`;
      const log = { url: redactAmqpUrl(this.url), err: reason, attempt: this.failures, delayMs };
      if (this.failures === 1) logger.warn(log, 'AMQP broker unreachable');
      else logger.debug(log, 'AMQP broker still unreachable');
      throw new DeliveryError(`${this.where}: ${this.detail}`, false, { cause: err });
    }
  }

  private async connect(): Promise<ChannelModel> {
    const { logger } = this.ctx;
    const model = await amqp.connect(this.url, {
      timeout: AMQP_DEFAULTS.connectTimeoutMs,
      clientProperties: { connection_name: `millwright ${this.where}` },
    });
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    logger.info({ url: redactAmqpUrl(this.url) }, 'AMQP connected');
    // Never thrown out of an event handler: a lost broker is a state, seen on the next deliver.
    model.on('error', (err: Error) => {
      this.detail = err.message;
      logger.warn({ err: err.message }, 'AMQP connection error');
    });
    model.on('blocked', (reason: string) => {
      this.detail = `the broker blocks publishing: ${reason}`;
      logger.warn({ reason }, 'AMQP connection blocked by the broker');
    });
    model.on('unblocked', () => {
      this.detail = null;
      logger.info('AMQP connection unblocked');
    });
    model.on('close', (err?: Error) => {
      if (this.model !== model) return;
      this.model = null;
      this.channel = null;
      if (this.closed) return;
      this.status = 'disconnected';
      this.detail = `connection lost${err === undefined ? '' : `: ${err.message}`}`;
      logger.warn({ url: redactAmqpUrl(this.url), err: err?.message }, 'AMQP connection lost');
    });
    this.model = model;
    return model;
  }

  async connectionTest(): Promise<void> {
    const url = redactAmqpUrl(this.url);
    let model: ChannelModel;
    try {
      model = await amqp.connect(this.url, { timeout: AMQP_DEFAULTS.connectTimeoutMs });
    } catch (err) {
      throw new MwError('MW_ERR_AMQP_CONNECT', { where: this.where, url, reason: reasonOf(err) });
    }
    model.on('error', () => undefined);
    try {
      const { exchange, declare } = this.config;
      // The default exchange always exists; one the target declares itself need not yet.
      if (exchange === '' || declare !== undefined) return;
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.checkExchange(exchange).catch((err: unknown) => {
        throw new MwError('MW_ERR_AMQP_NOT_FOUND', {
          where: this.where,
          what: `exchange "${exchange}"`,
          url,
          reason: reasonOf(err),
        });
      });
    } finally {
      await model.close().catch(() => undefined);
    }
  }

  health(): ConnectorHealth {
    return {
      status: this.closed ? 'stopped' : this.status,
      detail: this.detail,
      lastDataTs: this.lastDataTs,
      reconnects: this.reconnects,
      errors: this.errors,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.opening?.catch(() => undefined);
    const model = this.model;
    this.model = null;
    this.channel = null;
    await model?.close().catch(() => undefined);
  }
}

function waitForDrain(channel: ConfirmChannel): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      channel.off('drain', done);
      channel.off('close', done);
      resolve();
    };
    channel.once('drain', done);
    channel.once('close', done);
  });
}

/** A target instance with its connection state (status, last error, backoff) for health. */
export interface AmqpTargetInstance extends TargetInstance {
  health(): ConnectorHealth;
}

export const amqpTarget = {
  type: 'amqp',
  summary:
    'AMQP 0-9-1 (RabbitMQ): persistent messages on an exchange, delivered once the broker confirmed them.',
  configSchema: amqpTargetSchema,
  create: (config: AmqpTargetConfig, ctx: TargetContext): AmqpTargetInstance =>
    new AmqpPublisher(config, ctx),
} satisfies TargetDefinition<AmqpTargetConfig>;
