/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1), started when an MQTT connection names no URL.
 *
 * Ingest is in-process: a PUBLISH whose topic a connection listens to is handed to the ingest
 * pipeline from aedes' `authorizePublish` hook, and aedes sends the PUBACK only after that hook's
 * callback, i.e. after the store committed the message. aedes dispatches every packet of one
 * socket read concurrently, so many messages share one store transaction (group commit) while the
 * acknowledgement still means "committed".
 *
 * Off loopback the broker only starts with TLS (mqtts) and `authentication: hub`, where every
 * client logs in through the `authenticate` callback; without a callback nobody gets in.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { brokerExposureProblem } from '../../config/cross-references.ts';
import { MwError } from '../../errors.ts';
import { compileTopicPattern, type TopicPattern } from './topic-pattern.ts';

export interface EmbeddedBrokerOptions {
  readonly host: string;
  /** Undefined: 1883, or a free port when 1883 is taken. A number: that port or an error. */
  readonly port: number | undefined;
  readonly logger: Logger;
  /** Serve mqtts with this PEM certificate (chain) and key instead of plain MQTT. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** `hub`: every client logs in through `authenticate`. Default `none` (loopback only). */
  readonly authentication?: 'none' | 'hub' | undefined;
  /** Checks a client's login when `authentication` is `hub`; unset there, everyone is refused. */
  readonly authenticate?:
    ((username: string, password: string, clientAddress: string) => Promise<boolean>) | undefined;
}

export type PublishHandler = (topic: string, payload: Buffer) => Promise<void>;

interface Listener {
  readonly patterns: readonly TopicPattern[];
  readonly handler: PublishHandler;
}

export const DEFAULT_MQTT_PORT = 1883;

export class EmbeddedBroker {
  private readonly listeners: Listener[] = [];
  private closed = false;

  private constructor(
    private readonly aedes: Aedes,
    private readonly server: net.Server | tls.Server,
    readonly host: string,
    readonly port: number,
    /** Why the port is not the one asked for, if it is not. */
    readonly portNote: string | null,
  ) {}

  get url(): string {
    const scheme = this.server instanceof tls.Server ? 'mqtts' : 'mqtt';
    return `${scheme}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const log = options.logger;
    const authentication = options.authentication ?? 'none';
    const exposure = brokerExposureProblem({
      host: options.host,
      tls: options.tls !== undefined,
      authentication,
    });
    if (exposure !== null) {
      // Also reported by check-config (cross-references.ts); this guards other ways in.
      throw new MwError('MW_ERR_BROKER_EXPOSED', { problem: exposure }, { path: 'broker.host' });
    }
    // Set once the broker exists; publishes before that (none can arrive) pass through.
    const ref: { broker?: EmbeddedBroker } = {};
    const aedes = await Aedes.createBroker({
      authorizePublish: (
        client: Client | null,
        packet: PublishPacket,
        callback: (error?: Error | null) => void,
      ) => {
        if (ref.broker === undefined || packet.topic.startsWith('$')) return callback(null);
        ref.broker.dispatch(packet.topic, packet.payload as Buffer).then(
          () => callback(null),
          (err: unknown) => {
            // No PUBACK: the client will send the message again when it reconnects.
            log.warn(
              { err, clientId: client?.id, topic: packet.topic },
              'publish not accepted, closing the client to make it resend',
            );
            callback(err as Error);
          },
        );
      },
      ...(authentication === 'hub'
        ? { authenticate: hubAuthenticate(options.authenticate, log) }
        : {}),
    });
    aedes.on('clientError', (client, err) =>
      log.debug({ clientId: client.id, err: err.message }, 'MQTT client error'),
    );
    const server =
      options.tls === undefined
        ? net.createServer(aedes.handle)
        : tls.createServer({ cert: options.tls.cert, key: options.tls.key }, aedes.handle);
    let port: number;
    let note: string | null = null;
    try {
      port = await listen(server, options.host, options.port ?? DEFAULT_MQTT_PORT);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
        await closeAedes(aedes);
        throw err;
      }
      if (options.port !== undefined) {
        await closeAedes(aedes);
        throw new MwError(
          'MW_ERR_BROKER_PORT_IN_USE',
          { port: options.port, host: options.host },
          { cause: err },
        );
      }
      port = await listen(server, options.host, 0);
      note = `port ${DEFAULT_MQTT_PORT} is taken (another broker?), so the embedded broker took a free port`;
    }
    ref.broker = new EmbeddedBroker(aedes, server, options.host, port, note);
    return ref.broker;
  }

  /** Publish to the broker's subscribers (QoS 1), as the hub itself. */
  publish(topic: string, payload: Buffer, retain = false): Promise<void> {
    return new Promise((resolve, reject) =>
      this.aedes.publish(
        { cmd: 'publish', topic, payload, qos: 1, retain, dup: false },
        (err?: Error | null) => (err ? reject(err) : resolve()),
      ),
    );
  }

  /** Hand publishes on topics matching `filters` to `handler`; its promise decides the PUBACK. */
  addListener(filters: readonly string[], handler: PublishHandler): void {
    this.listeners.push({ patterns: filters.map(compileTopicPattern), handler });
  }

  private dispatch(topic: string, payload: Buffer): Promise<void> {
    for (const l of this.listeners) {
      if (l.patterns.some((p) => p.match(topic) !== null)) return l.handler(topic, payload);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      // Connected clients keep the server open: aedes.close ends them.
      void closeAedes(this.aedes);
    });
  }
}

type AuthenticateHook = (
  client: Client,
  username: Readonly<string | undefined>,
  password: Readonly<Buffer | undefined>,
  done: (error: AuthenticateError | null, success: boolean | null) => void,
) => void;

// MQTT 3.1.1 §3.2.2.3 CONNACK return codes.
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function refusal(returnCode: 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

/** aedes' `authenticate` hook for `authentication: hub`: fails closed. */
function hubAuthenticate(
  authenticate: EmbeddedBrokerOptions['authenticate'],
  log: Logger,
): AuthenticateHook {
  return (client, username, password, done) => {
    const clientAddress =
      (client.conn as Partial<net.Socket> | undefined)?.remoteAddress ?? 'unknown';
    const refuse = (returnCode: 3 | 4 | 5, message: string): void => {
      log.info({ clientId: client.id, clientAddress, username }, `MQTT login refused: ${message}`);
      done(refusal(returnCode, message), false);
    };
    if (authenticate === undefined)
      return refuse(NOT_AUTHORIZED, 'no login is possible (no user check configured)');
    if (username === undefined || username === '' || password === undefined)
      return refuse(NOT_AUTHORIZED, 'user name and password required');
    const secret = password.toString('utf8');
    // Through a promise, so a check that throws synchronously is a refusal too, not a crash.
    Promise.resolve(username)
      .then((user) => authenticate(user, secret, clientAddress))
      .then(
        (ok) =>
          ok === true
            ? done(null, true)
            : refuse(BAD_USERNAME_OR_PASSWORD, 'bad user name or password'),
        (err: unknown) => {
          log.warn({ err, clientId: client.id, clientAddress }, 'MQTT login check failed');
          done(refusal(SERVER_UNAVAILABLE, 'login check failed'), false);
        },
      );
  };
}

function listen(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeAedes(aedes: Aedes): Promise<void> {
  return new Promise((resolve) => aedes.close(() => resolve()));
}
