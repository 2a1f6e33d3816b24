/**
 * MQTT connector: subscribes to the topics of its bindings and hands every message to the core.
 *
 * - No `url`: the hub's embedded broker, ingest in-process (see embedded-broker.ts).
 * - An external broker: mqtt.js with a persistent session (clean = false; with MQTT 5 a session
 *   expiry interval), so QoS 1 messages published while the hub was down arrive after it
 *   restarts. The PUBACK of a QoS 1 message is sent only once the store committed it, while
 *   mqtt.js reads on (see deferAcknowledgements), so messages share transactions as on the
 *   embedded broker.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { backoffOf } from '../../config/common.ts';
import { mqttConnectionSchema, type MqttConnectionConfig } from '../../config/schema.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
} from '../../core/connector.ts';
import { backoffDelay } from '../../core/backoff.ts';
import { MwError } from '../../errors.ts';
import { brokerTlsOptions } from '../shared/tls-files.ts';
import type { TagValue } from '../../model/index.ts';

export const MQTT_DEFAULTS = {
  connectTimeoutMs: 10_000,
  /** MQTT 5 session expiry: keep QoS 1 messages for a stopped hub for a week. */
  sessionExpiryIntervalS: 7 * 24 * 3600,
  keepaliveS: 30,
  /** At stop, how long to wait for held PUBACKs of committed messages. */
  stopAckWaitMs: 5000,
  /** Topics remembered for marking them stale when the connection is lost. */
  maxKnownTopics: 100_000,
} as const;

/** A PUBACK held until its message is committed; `committed` settles to null or the error. */
interface Deferred {
  committed: Promise<Error | null> | null;
  readonly generation: number;
}

type SendPacket = (
  packet: { cmd: string; messageId?: number },
  cb?: (err?: Error) => void,
  cbStorePut?: () => void,
  noStore?: boolean,
) => void;

class MqttConnector implements ConnectorInstance {
  readonly type = 'mqtt';
  private client: MqttClient | null = null;
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  /** Counts connections, so a PUBACK is never sent on a newer connection than its PUBLISH's. */
  private generation = 0;
  /** PUBACKs held until their commit, chained in arrival order (see deferAcknowledgements). */
  private ackChain: Promise<void> = Promise.resolve();
  /** Failed connection attempts since the last success (drives the reconnect backoff). */
  private failures = 0;
  /** Topics that delivered data, marked stale when the connection is lost. */
  private readonly knownTopics = new Set<string>();

  constructor(private readonly ctx: ConnectorContext<MqttConnectionConfig>) {}

  get id(): string {
    return this.ctx.config.id;
  }

  async start(): Promise<void> {
    const { config, filters, embeddedBroker, logger } = this.ctx;
    if (config.url === undefined) {
      if (embeddedBroker === null)
        throw new Error(`connection ${config.id}: no url and no embedded broker`);
      embeddedBroker.addListener(filters, (topic, payload) => this.deliver(topic, payload));
      this.status = 'connected';
      this.detail = `in-process on the embedded broker ${embeddedBroker.url}`;
      return;
    }
    this.status = 'connecting';
    const client = mqtt.connect(config.url, this.clientOptions());
    this.client = client;
    this.deferAcknowledgements(client);
    client.on('connect', (connack) => {
      this.generation++;
      this.status = 'connected';
      this.detail = null;
      logger.info({ url: config.url, sessionPresent: connack.sessionPresent }, 'MQTT connected');
      this.failures = 0;
      if (!connack.sessionPresent && filters.length > 0) {
        const shared =
          config.sharedGroup === undefined
            ? [...filters]
            : filters.map((f) => `$share/${config.sharedGroup}/${f}`);
        client.subscribe(shared, { qos: config.qos }, (err) => {
          if (err) {
            this.errors++;
            this.detail = `subscribe failed: ${err.message}`;
            logger.error({ err }, 'MQTT subscribe failed');
          }
        });
      }
    });
    client.on('reconnect', () => {
      this.reconnects++;
      this.status = 'connecting';
    });
    // Before mqtt.js's own close handler, which schedules the retry with options.reconnectPeriod.
    client.prependListener('close', () => {
      if (this.status === 'connected') {
        logger.warn({ url: config.url }, 'MQTT connection lost');
        this.markStale('stale: connection to the broker lost');
      }
      if (this.status !== 'stopped') this.status = 'disconnected';
      client.options.reconnectPeriod = backoffDelay(backoffOf(config.reconnect), this.failures++);
    });
    client.on('error', (err) => {
      this.errors++;
      this.detail = err.message;
      logger.warn({ err: err.message }, 'MQTT error');
    });
  }

  /** Every topic that delivered data gets one bad sample: nothing read now stays good. */
  private markStale(status: string): void {
    const receivedTs = Date.now();
    for (const tag of this.knownTopics) {
      this.ctx
        .ingestSample({
          connectionId: this.id,
          tag,
          value: null,
          quality: 'bad',
          status,
          sourceTs: null,
          receivedTs,
        })
        .catch((err: unknown) => this.ctx.logger.warn({ err, tag }, 'could not mark tag stale'));
    }
  }

  /** Publish a value to a topic (QoS 1): numbers, booleans and text as plain text. */
  async write(tag: string, value: TagValue): Promise<void> {
    const payload = Buffer.from(value === null ? '' : String(value));
    const fail = (reason: string): MwError =>
      new MwError('MW_ERR_TAG_WRITE', {
        connection: this.id,
        tag,
        value: JSON.stringify(value),
        reason,
      });
    if (/[+#]/.test(tag) || tag === '') throw fail('a topic to publish to has no wildcards');
    const { embeddedBroker, config } = this.ctx;
    if (config.url === undefined) {
      if (embeddedBroker === null) throw fail('no broker');
      await embeddedBroker.publish(tag, payload).catch((err: Error) => {
        throw fail(err.message);
      });
      return;
    }
    if (this.client === null || !this.client.connected) throw fail('not connected to the broker');
    await this.client.publishAsync(tag, payload, { qos: 1 }).catch((err: Error) => {
      throw fail(err.message);
    });
  }

  private deliver(topic: string, payload: Buffer, onAccepted?: () => void): Promise<void> {
    const receivedTs = Date.now();
    this.lastDataTs = receivedTs;
    if (this.knownTopics.size < MQTT_DEFAULTS.maxKnownTopics) this.knownTopics.add(topic);
    return this.ctx.ingest(
      { connectionId: this.ctx.config.id, topic, payload, receivedTs },
      onAccepted,
    );
  }

  /**
   * Acknowledge on commit without handling one message at a time.
   *
   * mqtt.js sends a QoS 1 PUBACK as soon as `handleMessage` calls back, and reads the next packet
   * only after that; holding the callback until the commit would make every message wait for a
   * transaction of its own. So `handleMessage` calls back as soon as the message is in a batch,
   * and the PUBACK itself is held: mqtt.js sends it through its internal `_sendPacket`, which is
   * wrapped here to send it when the message is committed. mqtt.js has no public hook for this
   * (checked for the pinned 5.16.0; test/connectors/mqtt-external.test.ts covers it).
   * - PUBACKs go out in the order the PUBLISHes came (MQTT-4.6.0-2): they are chained.
   * - A PUBACK whose connection has gone is dropped: the broker re-delivers the message on the
   *   new connection (with the same or a new packet id), and re-delivery is idempotent.
   * - A message that could not be committed gets no PUBACK; the connection is dropped so the
   *   broker delivers it again after the reconnect.
   */
  private deferAcknowledgements(client: MqttClient): void {
    const internals = client as unknown as { _sendPacket: SendPacket };
    const send: SendPacket = internals._sendPacket.bind(client);
    const pending = new Map<number, Deferred>();
    client.handleMessage = (packet, callback) => {
      const payload =
        typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      // Registered before delivery: `callback` may run synchronously inside it, and mqtt.js then
      // sends the PUBACK at once, which must find this entry to be held.
      const entry: Deferred = { committed: null, generation: this.generation };
      if (packet.qos === 1 && packet.messageId !== undefined) pending.set(packet.messageId, entry);
      const committed = this.deliver(packet.topic, payload, () => callback());
      // Settled here so a failure is handled even before the chain reaches it.
      entry.committed = committed.then(
        () => null,
        (err: unknown) => err as Error,
      );
    };

    internals._sendPacket = (packet, cb, cbStorePut, noStore) => {
      const deferred =
        packet.cmd === 'puback' && packet.messageId !== undefined
          ? pending.get(packet.messageId)
          : undefined;
      if (deferred === undefined) return send(packet, cb, cbStorePut, noStore);
      pending.delete(packet.messageId as number);
      cb?.(); // mqtt.js reads the next packet now
      this.ackChain = this.ackChain
        // Set right after delivery, long before this runs; never acknowledge without it.
        .then(() => deferred.committed ?? new Error('no commit outcome for the message'))
        .then((err) => {
          const sameConnection = deferred.generation === this.generation && client.connected;
          if (err === null) {
            if (sameConnection) send(packet, undefined, cbStorePut, noStore);
            return;
          }
          this.errors++;
          this.detail = `commit failed: ${(err as Error).message}`;
          this.ctx.logger.warn(
            { err },
            'message not committed; reconnecting so the broker delivers it again',
          );
          if (sameConnection) client.stream?.destroy();
        });
    };
  }

  private clientOptions(): mqtt.IClientOptions {
    const c = this.ctx.config;
    return {
      clientId: c.clientId ?? `millwright-${c.id}`,
      clean: false,
      protocolVersion: c.protocolVersion,
      ...(c.protocolVersion === 5
        ? { properties: { sessionExpiryInterval: MQTT_DEFAULTS.sessionExpiryIntervalS } }
        : {}),
      username: c.username,
      password: c.password,
      ...this.tlsOptions(),
      reconnectPeriod: backoffDelay(backoffOf(c.reconnect), 0),
      connectTimeout: MQTT_DEFAULTS.connectTimeoutMs,
      keepalive: MQTT_DEFAULTS.keepaliveS,
      // Subscriptions are renewed on connect when the broker lost the session.
      resubscribe: false,
    };
  }

  /** CA, client certificate and key files, read relative to the config file. */
  private tlsOptions(): Partial<mqtt.IClientOptions> {
    return brokerTlsOptions(this.ctx.config.tls, this.ctx.configDir, this.id);
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    const client = this.client;
    this.client = null;
    if (client === null) return;
    // Let the PUBACKs of messages already taken in go out after their commit (the pipeline is
    // still running), so a clean stop leaves the broker nothing to deliver twice.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ackChain,
      new Promise((resolve) => (timer = setTimeout(resolve, MQTT_DEFAULTS.stopAckWaitMs))),
    ]);
    clearTimeout(timer);
    await client.endAsync();
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

  async connectionTest(): Promise<ConnectionTestResult> {
    const { config, embeddedBroker } = this.ctx;
    if (config.url === undefined) {
      return {
        ok: true,
        message: `embedded broker${embeddedBroker === null ? '' : ` at ${embeddedBroker.url}`}`,
      };
    }
    try {
      const client = await mqtt.connectAsync(config.url, {
        ...this.clientOptions(),
        clientId: `${this.clientOptions().clientId ?? 'millwright'}-test`,
        clean: true,
        reconnectPeriod: 0,
        properties: {},
      });
      await client.endAsync();
      return { ok: true, message: `connected to ${config.url}` };
    } catch (err) {
      return { ok: false, message: `cannot connect to ${config.url}: ${(err as Error).message}` };
    }
  }
}

export const mqttConnector: ConnectorDefinition<MqttConnectionConfig> = {
  type: 'mqtt',
  summary:
    'MQTT 3.1.1 / 5 topics with JSON or plain payloads; the embedded broker or an external one.',
  configSchema: mqttConnectionSchema,
  create: (ctx) => new MqttConnector(ctx),
};
