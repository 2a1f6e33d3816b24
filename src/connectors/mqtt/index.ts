/**
 * MQTT connector: subscribes to the topics of its bindings and hands every message to the core.
 *
 * - No `url`: the hub's embedded broker, ingest in-process (see embedded-broker.ts).
 * - An external broker: mqtt.js with a persistent session (clean = false; with MQTT 5 a session
 *   expiry interval), so QoS 1 messages published while the hub was down arrive after it
 *   restarts. mqtt.js sends the PUBACK when `handleMessage` calls back; we call back only after
 *   the store committed the message. mqtt.js handles one QoS 1 message at a time that way, so
 *   this path commits about one small transaction per message (measured in bench/README.md);
 *   the embedded broker's in-process path batches.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { mqttConnectionSchema, type MqttConnectionConfig } from '../../config/schema.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
} from '../../core/connector.ts';

export const MQTT_DEFAULTS = {
  /** First reconnect delay; mqtt.js retries at this period. */
  reconnectPeriodMs: 1000,
  connectTimeoutMs: 10_000,
  /** MQTT 5 session expiry: keep QoS 1 messages for a stopped hub for a week. */
  sessionExpiryIntervalS: 7 * 24 * 3600,
  keepaliveS: 30,
} as const;

class MqttConnector implements ConnectorInstance {
  readonly type = 'mqtt';
  private client: MqttClient | null = null;
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;

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
    client.handleMessage = (packet, callback) => {
      const payload =
        typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.deliver(packet.topic, payload).then(
        () => callback(),
        (err: unknown) => {
          // Not committed: no PUBACK. Drop the connection so the broker delivers it again.
          this.errors++;
          this.detail = `commit failed: ${(err as Error).message}`;
          logger.warn(
            { err, topic: packet.topic },
            'message not committed; reconnecting so the broker resends it',
          );
          callback(err as Error);
          client.stream?.destroy();
        },
      );
    };
    client.on('connect', (connack) => {
      this.status = 'connected';
      this.detail = null;
      logger.info({ url: config.url, sessionPresent: connack.sessionPresent }, 'MQTT connected');
      if (!connack.sessionPresent && filters.length > 0) {
        client.subscribe([...filters], { qos: config.qos }, (err) => {
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
    client.on('close', () => {
      if (this.status === 'connected') logger.warn({ url: config.url }, 'MQTT connection lost');
      if (this.status !== 'stopped') this.status = 'disconnected';
    });
    client.on('error', (err) => {
      this.errors++;
      this.detail = err.message;
      logger.warn({ err: err.message }, 'MQTT error');
    });
  }

  private deliver(topic: string, payload: Buffer): Promise<void> {
    const receivedTs = Date.now();
    this.lastDataTs = receivedTs;
    return this.ctx.ingest({ connectionId: this.ctx.config.id, topic, payload, receivedTs });
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
      reconnectPeriod: MQTT_DEFAULTS.reconnectPeriodMs,
      connectTimeout: MQTT_DEFAULTS.connectTimeoutMs,
      keepalive: MQTT_DEFAULTS.keepaliveS,
      // Subscriptions are renewed on connect when the broker lost the session.
      resubscribe: false,
    };
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    const client = this.client;
    this.client = null;
    if (client !== null) await client.endAsync();
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
