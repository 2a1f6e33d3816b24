/**
 * AMQP 1.0 target (rhea): sends each ERP message on a sender link to `address`.
 *
 * - Each message is sent unsettled and durable, with the message id as `message_id` (Azure
 *   Service Bus duplicate detection and other receivers key on it), `content_type`, the type as
 *   `subject`, and `application_properties { type, orderId, idempotencyKey }`.
 * - The broker's outcome decides (AMQP 1.0 §3.4): `accepted` delivers; `rejected` is permanent —
 *   the broker refused this message, and the DeliveryError carries its condition and
 *   description; `released` and `modified` are temporary, as are a lost connection and no
 *   outcome within `timeout`. A link the broker refuses to attach (e.g. amqp:not-found for a
 *   missing exchange) is temporary too: the address is wrong or not yet created, which an
 *   operator fixes; it is not the message's fault (the same rule as the amqp target).
 * - One connection and sender link are kept open; after a failure they are reopened lazily by
 *   the next delivery, and a failed open holds the next back for the `reconnect` backoff.
 *   rhea's own reconnect is off, so the backoff is the hub's (STYLE.md rule 2).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import rhea, {
  type AmqpError,
  type Connection,
  type ConnectionOptions,
  type Delivery,
  type EventContext,
  type Sender,
} from 'rhea';
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
import { amqp10TargetSchema, type Amqp10TargetConfig } from './config.ts';

export const AMQP10_DEFAULTS = {
  /** Our idle timeout (AMQP 1.0 §2.4.5): the broker sends empty frames at least this often. */
  idleTimeoutMs: 60_000,
  /** At close, how long to wait for the broker's close. */
  closeWaitMs: 2000,
} as const;

interface Pending {
  readonly id: string;
  resolve(): void;
  fail(err: DeliveryError): void;
}

/** A remote error (link, session or connection) as one line. */
function remoteReason(err: AmqpError | Error | undefined, fallback: string): string {
  if (err === undefined) return fallback;
  const { condition, description } = err as AmqpError;
  if (condition !== undefined || description !== undefined)
    return [condition, description].filter((x) => x !== undefined).join(': ');
  return (err as Error).message ?? fallback;
}

class Amqp10Publisher implements Amqp10TargetInstance {
  private readonly where: string;
  private readonly container: ReturnType<typeof rhea.create_container>;
  private connection: Connection | null = null;
  private sender: Sender | null = null;
  private opening: Promise<Sender> | null = null;
  private readonly pending = new Map<Delivery, Pending>();
  /** Sends waiting for link credit. */
  private readonly waiting: (() => void)[] = [];
  private status: ConnectionStatus = 'disconnected';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private failures = 0;
  private retryAt = 0;
  private everConnected = false;
  private closed = false;

  constructor(
    private readonly config: Amqp10TargetConfig,
    private readonly ctx: TargetContext,
  ) {
    this.where = `target ${config.id}`;
    this.container = rhea.create_container({ id: `millwright-${config.id}` });
    // Events nobody else handled reach the container; an unhandled 'error' would throw.
    this.container.on('error', (err: unknown) =>
      ctx.logger.warn({ err: remoteReason(err as Error, 'error') }, 'AMQP 1.0 error'),
    );
  }

  private get peer(): string {
    return `amqp${this.config.tls === undefined ? '' : 's'}://${this.config.host}:${this.config.port}`;
  }

  async deliver(messages: readonly OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const format = { format: this.config.format, b2mmlVersion: this.config.b2mmlVersion };
    const rendered = messages.map((m) => ({ m, r: renderMessages([m], format, this.ctx.render) }));
    const sender = await this.senderFor();
    const outcomes = await Promise.allSettled(rendered.map(({ m, r }) => this.send(sender, m, r)));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    this.lastDataTs = Date.now();
  }

  private send(sender: Sender, m: OutboundMessage, r: RenderedMessage): Promise<void> {
    const { timeout, address } = this.config;
    return new Promise<void>((resolve, reject) => {
      let delivery: Delivery | null = null;
      const settle = (err: DeliveryError | null): void => {
        clearTimeout(timer);
        if (delivery !== null) this.pending.delete(delivery);
        if (err === null) return resolve();
        this.errors++;
        reject(err);
      };
      const fail = (why: string, permanent: boolean): void =>
        settle(
          new DeliveryError(`${this.where}: message ${m.id} to ${address}: ${why}`, permanent),
        );
      const timer = setTimeout(() => {
        fail(`no outcome from the broker within ${timeout} ms`, false);
        // Likely a dead connection: start afresh with the next delivery.
        this.drop(this.connection, 'no outcome within the timeout');
      }, timeout);
      const go = (): void => {
        if (sender !== this.sender) return fail('the link closed before it could be sent', false);
        delivery = sender.send({
          message_id: m.id,
          content_type: r.contentType,
          subject: m.type,
          creation_time: new Date(m.at),
          durable: true,
          application_properties: { type: m.type, orderId: m.orderId, idempotencyKey: m.id },
          body: rhea.message.data_section(r.body),
        });
        this.pending.set(delivery, {
          id: m.id,
          resolve: () => settle(null),
          fail: (err) => settle(err),
        });
      };
      if (sender.sendable() && this.waiting.length === 0) go();
      else this.waiting.push(go); // in order, as the broker grants credit
    });
  }

  private outcome(context: EventContext, kind: 'accepted' | 'rejected' | 'released'): void {
    const delivery = context.delivery;
    const p = delivery === undefined ? undefined : this.pending.get(delivery);
    if (p === undefined) return;
    if (kind === 'accepted') return p.resolve();
    const at = `${this.where}: message ${p.id} to ${this.config.address}`;
    if (kind === 'rejected') {
      const error = (delivery?.remote_state as { error?: AmqpError } | undefined)?.error;
      p.fail(new DeliveryError(`${at}: rejected: ${remoteReason(error, 'no reason given')}`, true));
    } else {
      p.fail(new DeliveryError(`${at}: released by the broker (not delivered)`, false));
    }
  }

  private senderFor(): Promise<Sender> {
    if (this.closed)
      return Promise.reject(new DeliveryError(`${this.where}: the target is closed`, false));
    if (this.sender !== null) return Promise.resolve(this.sender);
    if (this.opening !== null) return this.opening;
    const waitMs = this.retryAt - Date.now();
    if (waitMs > 0) {
      return Promise.reject(
        new DeliveryError(
          `${this.where}: not connected to ${this.peer} (${this.detail ?? 'connection lost'}); next attempt in ${waitMs} ms`,
          false,
        ),
      );
    }
    this.status = 'connecting';
    this.opening = this.open().then(
      (sender) => {
        this.opening = null;
        return sender;
      },
      (err: unknown) => {
        this.opening = null;
        const reason = remoteReason(err as Error, 'cannot connect');
        this.status = 'disconnected';
        this.errors++;
        const delayMs = backoffDelay(backoffOf(this.config.reconnect), this.failures++);
        this.retryAt = Date.now() + delayMs;
        this.detail = `${reason}; next attempt in ${delayMs} ms (failure ${this.failures})`;
        const log = { peer: this.peer, err: reason, attempt: this.failures, delayMs };
        if (this.failures === 1) this.ctx.logger.warn(log, 'AMQP 1.0 sender cannot open');
        else this.ctx.logger.debug(log, 'AMQP 1.0 sender still cannot open');
        throw new DeliveryError(`${this.where}: ${this.detail}`, false, { cause: err });
      },
    );
    return this.opening;
  }

  /** Open a connection and the sender link; resolves once the broker attached the link. */
  private open(): Promise<Sender> {
    return new Promise<Sender>((resolve, reject) => {
      const conn = this.container.connect(this.connectionOptions());
      this.connection = conn;
      let opened = false;
      const timer = setTimeout(() => {
        this.drop(conn, `the link did not open within ${this.config.timeout} ms`);
      }, this.config.timeout);
      const sender = conn.open_sender({ target: { address: this.config.address } });
      sender.on('sender_open', () => {
        clearTimeout(timer);
        opened = true;
        if (this.closed) return this.drop(conn, 'the target is closed');
        if (this.everConnected) this.reconnects++;
        this.everConnected = true;
        this.sender = sender;
        this.status = 'connected';
        this.detail = null;
        this.failures = 0;
        this.retryAt = 0;
        this.ctx.logger.info(
          { peer: this.peer, address: this.config.address },
          'AMQP 1.0 connected',
        );
        resolve(sender);
      });
      sender.on('sendable', () => {
        while (this.waiting.length > 0 && sender.sendable()) this.waiting.shift()?.();
      });
      sender.on('accepted', (c: EventContext) => this.outcome(c, 'accepted'));
      sender.on('rejected', (c: EventContext) => this.outcome(c, 'rejected'));
      sender.on('released', (c: EventContext) => this.outcome(c, 'released'));
      sender.on('modified', (c: EventContext) => this.outcome(c, 'released'));
      const down = (what: string) => (c: EventContext) => {
        const err = c.sender?.error ?? c.session?.error ?? c.connection.error ?? c.error;
        this.drop(conn, remoteReason(err, what));
      };
      sender.on('sender_error', down('link closed by the broker'));
      sender.on('sender_close', down('link closed by the broker'));
      conn.on('session_error', down('session ended by the broker'));
      conn.on('session_close', down('session ended by the broker'));
      conn.on('connection_error', down('connection closed by the broker'));
      conn.on('connection_close', down('connection closed'));
      conn.on('disconnected', down('disconnected'));
      conn.on('protocol_error', (err: unknown) =>
        this.drop(conn, remoteReason(err as Error, 'error')),
      );
      conn.on('error', (err: unknown) => this.drop(conn, remoteReason(err as Error, 'error')));
      this.abortOpen = (reason) => {
        clearTimeout(timer);
        if (!opened) reject(new Error(reason));
      };
    });
  }

  /** Ends the open() of the current connection when it is dropped. */
  private abortOpen: ((reason: string) => void) | null = null;

  /** Tear a connection down, failing what waits on it (temporarily). */
  private drop(conn: Connection | null, reason: string): void {
    if (conn === null || conn !== this.connection) return;
    this.connection = null;
    const hadSender = this.sender !== null;
    this.sender = null;
    this.abortOpen?.(reason);
    this.abortOpen = null;
    for (const go of this.waiting.splice(0)) go(); // each fails: its link is gone
    for (const [, p] of this.pending)
      p.fail(new DeliveryError(`${this.where}: message ${p.id}: ${reason}`, false));
    this.pending.clear();
    if (hadSender && !this.closed) {
      this.status = 'disconnected';
      this.detail = reason;
      this.ctx.logger.warn({ peer: this.peer, err: reason }, 'AMQP 1.0 connection lost');
    }
    conn.close();
    // A connection the broker already dropped never answers the close: free the socket.
    const force = setTimeout(() => {
      (conn as { socket?: { destroy(): void } }).socket?.destroy();
    }, AMQP10_DEFAULTS.closeWaitMs).unref();
    conn.once('connection_close', () => clearTimeout(force));
    conn.once('disconnected', () => clearTimeout(force));
  }

  private connectionOptions(): ConnectionOptions {
    const { host, port, tls, username, password } = this.config;
    const common = {
      host,
      port,
      hostname: host,
      container_id: `millwright-${this.config.id}`,
      reconnect: false as const,
      idle_time_out: AMQP10_DEFAULTS.idleTimeoutMs,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
    };
    if (tls === undefined) return { ...common, transport: 'tcp' };
    let ca: Buffer | undefined;
    if (tls.ca !== undefined) {
      const file = path.resolve(this.ctx.configDir, tls.ca);
      try {
        ca = readFileSync(file);
      } catch (err) {
        throw new MwError('MW_ERR_TLS_CONFIG', {
          where: `targets.${this.config.id}.tls.ca`,
          what: 'ca',
          file,
          reason: (err as Error).message,
        });
      }
    }
    return {
      ...common,
      transport: 'tls',
      servername: tls.servername ?? host,
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(ca === undefined ? {} : { ca }),
    };
  }

  async connectionTest(): Promise<void> {
    if (this.sender !== null) return;
    // An operator's test tries now, not after the backoff of earlier deliveries.
    this.retryAt = 0;
    try {
      await this.senderFor();
    } catch (err) {
      const cause = (err as DeliveryError).cause as Error | undefined;
      const reason = cause?.message ?? (err as Error).message;
      const where = this.where;
      if (reason.startsWith('amqp:not-found'))
        throw new MwError('MW_ERR_AMQP_NOT_FOUND', {
          where,
          what: `address "${this.config.address}"`,
          url: this.peer,
          reason,
        });
      throw new MwError('MW_ERR_AMQP_CONNECT', { where, url: this.peer, reason });
    } finally {
      // A test opens nothing that lasts, and leaves no backoff behind.
      this.failures = 0;
      this.retryAt = 0;
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
    const conn = this.connection;
    if (conn === null) return;
    const closedNow = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, AMQP10_DEFAULTS.closeWaitMs);
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      conn.once('connection_close', done);
      conn.once('disconnected', done);
    });
    this.drop(conn, 'the target is closed');
    await closedNow;
  }
}

/** A target instance with its connection state (status, last error, backoff) for health. */
export interface Amqp10TargetInstance extends TargetInstance {
  health(): ConnectorHealth;
}

export const amqp10Target = {
  type: 'amqp10',
  summary:
    'AMQP 1.0 (Azure Service Bus, IBM MQ, ActiveMQ Artemis, RabbitMQ): durable messages on a sender link, delivered once the broker accepted them.',
  configSchema: amqp10TargetSchema,
  create: (config: Amqp10TargetConfig, ctx: TargetContext): Amqp10TargetInstance =>
    new Amqp10Publisher(config, ctx),
} satisfies TargetDefinition<Amqp10TargetConfig>;
