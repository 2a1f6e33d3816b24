/**
 * Sparkplug B 3.0 host application: follows the sessions of edge nodes and devices on an MQTT
 * broker and hands every metric to the core as a sample of tag
 * `<group>/<edge node>/<metric>` (node metrics) or `<group>/<edge node>/<device>/<metric>`
 * (device metrics); `/` in metric names is kept, so bindings can pattern-match folders.
 *
 * - Session: clean MQTT session, the Will is the host's death STATE, and right after its
 *   subscriptions the host publishes its birth STATE (session.ts has the node bookkeeping).
 * - Births build the tag set and alias map; data updates by name or alias; NDEATH (with the
 *   bdSeq of the current NBIRTH) and DDEATH mark tags bad "stale: NDEATH" / "stale: DDEATH".
 * - A seq gap, data before a birth, an unknown alias or an undecodable payload asks the node for
 *   a rebirth (NCMD `Node Control/Rebirth`, rate-limited); its tags stay stale until the birth.
 * - Writes are NCMD/DCMD with the metric's birth datatype, by alias when the birth gave one.
 *
 * Requirement ids (`tck-id-…` of the 3.0.0 spec) are cited where the code follows them; the
 * list with what is and is not implemented is in docs/connectors/sparkplug.md.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { SparkplugConnectionConfig } from '../../config/schema.ts';
import { backoffOf } from '../../config/common.ts';
import { withBackoff } from '../../core/backoff.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
  ConnectorMetric,
} from '../../core/connector.ts';
import type { SampleInput } from '../../core/ingest-types.ts';
import { MwError } from '../../errors.ts';
import { brokerTlsOptions } from '../shared/tls-files.ts';
import type { TagValue } from '../../model/index.ts';
import { sparkplugConnectionSchema } from './config.ts';
import { DataType, datatypeName, decodePayload, encodePayload, loadProto } from './payload.ts';
import { SparkplugSessions, type CommandTarget } from './session.ts';

export { sparkplugConnectionSchema } from './config.ts';

export const SPARKPLUG_DEFAULTS = {
  connectTimeoutMs: 10_000,
  keepaliveS: 30,
  /** At stop, how long to wait for the broker to take the offline STATE. */
  stopPublishWaitMs: 2000,
} as const;

/** Sparkplug B 3.0 [tck-id-topic-structure-namespace-a] */
export const NAMESPACE = 'spBv1.0';

/** The host's STATE topic. [tck-id-host-topic-phid-birth-topic] [tck-id-host-topic-phid-death-topic] */
export function stateTopic(hostId: string): string {
  return `${NAMESPACE}/STATE/${hostId}`;
}

/** The STATE payload: UTF-8 JSON. [tck-id-payloads-state-birth-payload] */
function statePayload(online: boolean, timestamp: number): Buffer {
  return Buffer.from(JSON.stringify({ online, timestamp }));
}

class SparkplugConnector implements ConnectorInstance {
  readonly type = 'sparkplug';
  private client: MqttClient | null = null;
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private abort: AbortController | null = null;
  /** Timestamp of the current session's Will, repeated in its birth STATE. */
  private sessionTs = 0;
  private birthPublished = false;
  private readonly sessions: SparkplugSessions;

  constructor(private readonly ctx: ConnectorContext<SparkplugConnectionConfig>) {
    const c = ctx.config;
    this.sessions = new SparkplugSessions({
      connectionId: c.id,
      rebirthMinIntervalMs: c.rebirthMinInterval,
      reorderTimeoutMs: c.reorderTimeout,
      emit: (samples) => void this.emit(samples),
      logger: ctx.logger,
      sendRebirth: (group, edgeNode) => this.sendRebirth(group, edgeNode),
      quarantine: (topic, payload, receivedTs) =>
        this.ctx.ingest({ connectionId: c.id, topic, payload, receivedTs }),
    });
  }

  get id(): string {
    return this.ctx.config.id;
  }

  get hostId(): string {
    return this.ctx.config.hostId ?? `millwright-${this.ctx.config.id}`;
  }

  private get url(): string {
    const { config, embeddedBroker } = this.ctx;
    if (config.url !== undefined) return config.url;
    if (embeddedBroker === null)
      throw new Error(`connection ${config.id}: no url and the hub runs no embedded broker`);
    return embeddedBroker.url;
  }

  async start(): Promise<void> {
    loadProto(); // a missing or broken .proto shows now, not at the first message
    const url = this.url;
    this.status = 'connecting';
    this.abort = new AbortController();
    void this.connectLoop(url, this.abort.signal);
  }

  /** Connect, retrying with the connection's backoff, until connected or stopped. */
  private async connectLoop(url: string, signal: AbortSignal, afterLoss = false): Promise<void> {
    const { logger } = this.ctx;
    let first = !afterLoss;
    try {
      await withBackoff(
        backoffOf(this.ctx.config.reconnect),
        async () => {
          if (!first) this.reconnects++;
          first = false;
          await this.connectOnce(url, signal);
        },
        {
          signal,
          onFailure: (err, attempt, delayMs) => {
            this.errors++;
            this.detail = `cannot connect to ${url}: ${(err as Error).message}`;
            this.status = 'disconnected';
            // One line per state change: the first failure, not every retry.
            if (attempt === 0) logger.warn({ url, delayMs }, `Sparkplug: ${this.detail}`);
          },
        },
      );
    } catch {
      // aborted by stop()
    }
  }

  private clientOptions(): IClientOptions {
    const c = this.ctx.config;
    const protocolVersion = c.protocolVersion ?? (c.url === undefined ? 4 : 5);
    return {
      clientId: c.clientId ?? `millwright-${c.id}`,
      // [tck-id-message-flow-phid-sparkplug-clean-session-311] [tck-id-message-flow-phid-sparkplug-clean-session-50]
      clean: true,
      protocolVersion,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}),
      username: c.username,
      password: c.password,
      ...this.tlsOptions(),
      reconnectPeriod: 0, // reconnects are ours (withBackoff), each with a fresh Will timestamp
      connectTimeout: SPARKPLUG_DEFAULTS.connectTimeoutMs,
      keepalive: SPARKPLUG_DEFAULTS.keepaliveS,
      resubscribe: false,
    };
  }

  /** CA, client certificate and key files, read relative to the config file. */
  private tlsOptions(): Partial<IClientOptions> {
    return brokerTlsOptions(this.ctx.config.tls, this.ctx.configDir, this.id);
  }

  /**
   * One session: CONNECT with the death STATE as Will, subscribe, publish the birth STATE.
   * Rejects when any step fails (the client is then closed).
   */
  private async connectOnce(url: string, signal: AbortSignal): Promise<void> {
    const { config, logger } = this.ctx;
    const topic = stateTopic(this.hostId);
    // [tck-id-host-topic-phid-death-payload-timestamp-connect] the Will's timestamp is the
    // time of this CONNECT, and the birth repeats it [tck-id-host-topic-phid-birth-payload-timestamp].
    const ts = Date.now();
    this.status = 'connecting';
    this.birthPublished = false;
    const client = mqtt.connect(url, {
      ...this.clientOptions(),
      // [tck-id-operational-behavior-host-application-connect-will] [tck-id-payloads-state-will-message]
      // [tck-id-payloads-state-will-message-qos] [tck-id-payloads-state-will-message-retain]
      // [tck-id-payloads-state-will-message-payload]
      will: { topic, payload: statePayload(false, ts), qos: 1, retain: true },
    });
    this.client = client;
    client.handleMessage = (packet, done) => {
      const payload =
        typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      this.onMessage(packet.topic, payload).then(
        () => done(),
        (err: unknown) => {
          this.errors++;
          logger.error({ err, topic: packet.topic }, 'Sparkplug message handling failed');
          done();
        },
      );
    };
    client.on('error', (err) => {
      this.errors++;
      this.detail = err.message;
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const onConnect = (): void => {
          off();
          resolve();
        };
        const onFail = (err?: Error): void => {
          off();
          reject(err ?? new Error('connection closed'));
        };
        const onClose = (): void => onFail(new Error('connection closed'));
        const off = (): void => {
          client.off('connect', onConnect);
          client.off('error', onFail);
          client.off('close', onClose);
        };
        client.on('connect', onConnect);
        client.on('error', onFail);
        client.on('close', onClose);
      });
      signal.throwIfAborted();
      // [tck-id-message-flow-phid-sparkplug-subscription] [tck-id-host-topic-phid-birth-sub-required]
      // [tck-id-payloads-state-subscribe]: the namespace (or the configured groups) and the
      // host's own STATE topic, before the birth.
      const filters =
        config.groupIds.length === 0
          ? [`${NAMESPACE}/#`]
          : [...config.groupIds.map((g) => `${NAMESPACE}/${g}/#`), topic];
      const granted = await client.subscribeAsync(filters, { qos: 1 });
      const refused = granted.filter((g) => g.qos === 128);
      if (refused.length > 0)
        throw new Error(`subscription refused: ${refused.map((g) => g.topic).join(', ')}`);
      signal.throwIfAborted();
      // [tck-id-principles-birth-certificates-order] [tck-id-host-topic-phid-birth-message]
      // [tck-id-host-topic-phid-birth-qos] [tck-id-host-topic-phid-birth-retain]
      // [tck-id-host-topic-phid-birth-payload] [tck-id-message-flow-phid-sparkplug-state-publish]
      await client.publishAsync(topic, statePayload(true, ts), { qos: 1, retain: true });
      signal.throwIfAborted();
    } catch (err) {
      this.client = null;
      client.end(true);
      throw err;
    }
    this.sessionTs = ts;
    this.birthPublished = true;
    this.status = 'connected';
    this.detail = null;
    logger.info({ url, hostId: this.hostId }, 'Sparkplug host online');
    client.on('close', () => this.onClose(client, url));
    // Nodes known from before the loss may have sent what was missed: ask them for births.
    await this.sessions.connectionRestored();
  }

  private onClose(client: MqttClient, url: string): void {
    if (this.client !== client || this.status === 'stopped') return;
    this.client = null;
    this.birthPublished = false;
    client.end(true);
    this.status = 'disconnected';
    this.detail ??= 'connection lost';
    this.ctx.logger.warn({ url }, 'Sparkplug: connection to the broker lost');
    void this.emit(this.sessions.connectionLost(Date.now()));
    const signal = this.abort?.signal;
    if (signal !== undefined && !signal.aborted) void this.connectLoop(url, signal, true);
  }

  private async onMessage(topic: string, payload: Buffer): Promise<void> {
    const receivedTs = Date.now();
    const parts = topic.split('/');
    if (parts[0] !== NAMESPACE) return;
    if (parts[1] === 'STATE') {
      this.onState(parts.slice(2).join('/'), payload);
      return;
    }
    this.lastDataTs = receivedTs;
    let decoded;
    try {
      decoded = decodePayload(payload);
    } catch (err) {
      this.errors++;
      this.detail = `undecodable payload on ${topic}: ${(err as Error).message}`;
      await this.sessions.undecodable(topic, payload, receivedTs, (err as Error).message);
      return;
    }
    await this.emit(this.sessions.handle(topic, decoded, payload, receivedTs));
  }

  /**
   * STATE messages: only the host's own matter. [tck-id-message-flow-hid-sparkplug-state-message-delivered]
   * An `online: false` on its own id after its birth (a stale retained Will, another client)
   * is answered with the birth again, same timestamp as the current Will.
   */
  private onState(hostId: string, payload: Buffer): void {
    if (hostId !== this.hostId || !this.birthPublished) return;
    let online: unknown;
    try {
      online = (JSON.parse(payload.toString('utf8')) as { online?: unknown }).online;
    } catch {
      return;
    }
    if (online !== false) return;
    this.client
      ?.publishAsync(stateTopic(this.hostId), statePayload(true, this.sessionTs), {
        qos: 1,
        retain: true,
      })
      .catch((err: unknown) =>
        this.ctx.logger.warn({ err }, 'Sparkplug: cannot republish the birth STATE'),
      );
  }

  /**
   * Hand samples to the core in order; resolves once all are in a batch (backpressure: the
   * next MQTT message is read after that). Commit failures are counted, not thrown.
   */
  private emit(samples: readonly SampleInput[]): Promise<void> {
    if (samples.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      let pending = samples.length;
      const done = (): void => {
        if (--pending === 0) resolve();
      };
      for (const sample of samples) {
        let accepted = false;
        this.ctx
          .ingestSample(sample, () => {
            accepted = true;
            done();
          })
          .catch((err: unknown) => {
            this.errors++;
            this.detail = `sample of ${sample.tag} not committed: ${(err as Error).message}`;
            if (!accepted) done();
          });
      }
    });
  }

  /** NCMD `Node Control/Rebirth` = true. */
  private async sendRebirth(group: string, edgeNode: string): Promise<boolean> {
    const client = this.client;
    if (client === null || !this.birthPublished) return false;
    // [tck-id-operational-behavior-data-commands-ncmd-rebirth-verb]
    // [tck-id-operational-behavior-data-commands-ncmd-rebirth-name]
    // [tck-id-operational-behavior-data-commands-ncmd-rebirth-value]
    // [tck-id-operational-behavior-data-commands-rebirth-name-aliases] always by name.
    const payload = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: true }],
    });
    try {
      await client.publishAsync(`${NAMESPACE}/${group}/NCMD/${edgeNode}`, payload, {
        qos: 0,
        retain: false,
      });
      return true;
    } catch (err) {
      this.ctx.logger.warn({ err, group, edgeNode }, 'Sparkplug: rebirth request not sent');
      return false;
    }
  }

  async write(tag: string, value: TagValue): Promise<void> {
    const fail = (reason: string): MwError =>
      new MwError(
        'MW_ERR_TAG_WRITE',
        { connection: this.id, tag, value: JSON.stringify(value), reason },
        { path: `connections.${this.id}` },
      );
    const target: CommandTarget | string = this.sessions.commandTarget(tag);
    if (typeof target === 'string') throw fail(target);
    const client = this.client;
    if (client === null || !this.birthPublished) throw fail('not connected to the broker');
    let payload: Buffer;
    try {
      // [tck-id-topics-ncmd-timestamp] [tck-id-topics-dcmd-timestamp] host send time.
      // [tck-id-payloads-alias-data-cmd-requirement] by alias when the birth gave one.
      // [tck-id-operational-behavior-data-commands-ncmd-metric-value] value converted to the
      // birth datatype (sent along, though the spec says SHOULD NOT, see the docs page).
      payload = encodePayload({
        timestamp: Date.now(),
        metrics: [
          {
            ...(target.alias === null ? { name: target.name } : { alias: target.alias }),
            datatype: target.datatype,
            timestamp: Date.now(),
            value,
          },
        ],
      });
    } catch (err) {
      throw fail(
        `value does not fit ${datatypeName(target.datatype)}: ${(err as Error).message.replace(/^metric [^:]*: /, '')}`,
      );
    }
    // [tck-id-topics-ncmd-topic] [tck-id-topics-dcmd-topic] [tck-id-payloads-ncmd-qos]
    // [tck-id-payloads-ncmd-retain] [tck-id-payloads-dcmd-qos] [tck-id-payloads-dcmd-retain]
    const topic =
      target.device === null
        ? `${NAMESPACE}/${target.group}/NCMD/${target.edgeNode}`
        : `${NAMESPACE}/${target.group}/DCMD/${target.edgeNode}/${target.device}`;
    try {
      await client.publishAsync(topic, payload, { qos: 0, retain: false });
    } catch (err) {
      throw fail(`publish failed: ${(err as Error).message}`);
    }
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.sessions.close();
    this.abort?.abort();
    this.abort = null;
    const client = this.client;
    this.client = null;
    if (client === null) return;
    if (this.birthPublished && client.connected) {
      // [tck-id-operational-behavior-host-application-termination] death STATE first, with the
      // current time [tck-id-host-topic-phid-death-payload-timestamp-disconnect-clean], then
      // DISCONNECT [tck-id-operational-behavior-host-application-disconnect-intentional].
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client
          .publishAsync(stateTopic(this.hostId), statePayload(false, Date.now()), {
            qos: 1,
            retain: true,
          })
          .catch(() => undefined),
        new Promise(
          (resolve) => (timer = setTimeout(resolve, SPARKPLUG_DEFAULTS.stopPublishWaitMs)),
        ),
      ]);
      clearTimeout(timer);
    }
    this.birthPublished = false;
    await client.endAsync().catch(() => client.end(true));
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

  metrics(): readonly ConnectorMetric[] {
    const s = this.sessions.stats();
    return [
      {
        name: 'sparkplug_edge_nodes_online',
        help: 'Edge nodes with a live session (NBIRTH seen, no NDEATH since).',
        type: 'gauge',
        value: s.nodesOnline,
      },
      {
        name: 'sparkplug_devices_online',
        help: 'Devices with a live session (DBIRTH seen, no DDEATH since).',
        type: 'gauge',
        value: s.devicesOnline,
      },
      {
        name: 'sparkplug_seq_gaps_total',
        help: 'Messages whose seq did not follow the previous one of their edge node.',
        type: 'counter',
        value: s.seqGaps,
      },
      {
        name: 'sparkplug_reordered_total',
        help: 'Messages that arrived after a later one and were put back in order within the Reorder Timeout.',
        type: 'counter',
        value: s.reordered,
      },
      {
        name: 'sparkplug_rebirth_requests_total',
        help: 'NCMD Node Control/Rebirth requests sent.',
        type: 'counter',
        value: s.rebirthRequests,
      },
      {
        name: 'sparkplug_stale_ndeath_total',
        help: 'NDEATH messages ignored because their bdSeq was not that of the current NBIRTH.',
        type: 'counter',
        value: s.staleDeaths,
      },
    ];
  }

  async connectionTest(): Promise<ConnectionTestResult> {
    let url: string;
    try {
      url = this.url;
    } catch (err) {
      return { ok: false, message: (err as Error).message };
    }
    try {
      loadProto();
      const client = await mqtt.connectAsync(
        url,
        {
          ...this.clientOptions(),
          clientId: `${this.clientOptions().clientId ?? 'millwright'}-test`,
        },
        false,
      );
      await client.endAsync();
      return { ok: true, message: `connected to ${url}` };
    } catch (err) {
      return { ok: false, message: `cannot connect to ${url}: ${(err as Error).message}` };
    }
  }
}

export const sparkplugConnector: ConnectorDefinition<SparkplugConnectionConfig> = {
  type: 'sparkplug',
  summary:
    'Sparkplug B 3.0 host application: edge node and device metrics over MQTT, with births, deaths, rebirth and commands.',
  configSchema: sparkplugConnectionSchema,
  create: (ctx) => new SparkplugConnector(ctx),
};
