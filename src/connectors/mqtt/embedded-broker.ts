/**
 * The embedded MQTT broker (aedes, MQTT 3.1.1), started when an MQTT connection names no URL.
 *
 * Ingest is in-process: a PUBLISH whose topic a connection listens to is handed to the ingest
 * pipeline from aedes' `authorizePublish` hook, and aedes sends the PUBACK only after that hook's
 * callback, i.e. after the store committed the message. aedes dispatches every packet of one
 * socket read concurrently, so many messages share one store transaction (group commit) while the
 * acknowledgement still means "committed".
 */
import net from 'node:net';
import { Aedes, type Client, type PublishPacket } from 'aedes';
import type { Logger } from 'pino';
import { MwError } from '../../errors.ts';
import { compileTopicPattern, type TopicPattern } from './topic-pattern.ts';

export interface EmbeddedBrokerOptions {
  readonly host: string;
  /** Undefined: 1883, or a free port when 1883 is taken. A number: that port or an error. */
  readonly port: number | undefined;
  readonly logger: Logger;
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
    private readonly server: net.Server,
    readonly host: string,
    readonly port: number,
    /** Why the port is not the one asked for, if it is not. */
    readonly portNote: string | null,
  ) {}

  get url(): string {
    return `mqtt://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get connectedClients(): number {
    return this.aedes.connectedClients;
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const log = options.logger;
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
    });
    aedes.on('clientError', (client, err) =>
      log.debug({ clientId: client.id, err: err.message }, 'MQTT client error'),
    );
    const server = net.createServer(aedes.handle);
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
