/**
 * The OPC UA client connection (loaded on first start, see index.ts): monitors the variables of its tags through subscriptions and hands
 * each data change to the core as a sample (value, quality and StatusCode name, source time).
 *
 * - Connecting: endpoint discovery picks the endpoint of the configured security mode and
 *   policy; the server certificate must be trusted explicitly (session.ts, pki.ts). The first
 *   connection is retried with the connection's backoff (withBackoff).
 * - A lost connection: every tag is sent once as bad "stale: connection lost", and node-opcua's
 *   reconnection (same delays) restores the session, or creates a new one and transfers or
 *   recreates the subscriptions and monitored items (servers without TransferSubscriptions too).
 * - The watchdog (watchdog.ts) recreates a subscription that went silent without an error.
 * - write(): reads and caches the variable's DataType, converts the value to it (convert.ts).
 */
import {
  AttributeIds,
  type ClientMonitoredItemGroup,
  type ClientSession,
  type ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  type DataType,
  type DataValue,
  DeadbandType,
  type OPCUACertificateManager,
  type OPCUAClient,
  resolveNodeId,
  TimestampsToReturn,
} from 'node-opcua';
import { backoffOf } from '../../config/common.ts';
import type { OpcuaConnectionConfig } from '../../config/schema.ts';
import type {
  ConnectionStatus,
  ConnectionTestResult,
  ConnectorContext,
  ConnectorHealth,
  ConnectorInstance,
  ConnectorMetric,
} from '../../core/connector.ts';
import { withBackoff } from '../../core/backoff.ts';
import { isMwError, MwError } from '../../errors.ts';
import type { TagValue } from '../../model/index.ts';
import { namespaceUriOf, withNamespaceIndex } from './node-ids.ts';
import { NODE_ID_RE } from './config.ts';
import { convertDataValue, tagValueToVariant } from './convert.ts';
import { openCertificateManager, opcuaPkiDir } from './pki.ts';
import { type ClientTimeouts, oneLine, openSession, userIdentityOf } from './session.ts';
import { isSilent, silenceLimitMs } from './watchdog.ts';

export const OPCUA_DEFAULTS = {
  /** Longest period of the watchdog check; shorter for fast subscriptions (a quarter of the limit). */
  watchdogCheckMaxMs: 1000,
  watchdogCheckMinMs: 50,
  maxNotificationsPerPublish: 1000,
} as const;

export const STALE_STATUS = 'stale: connection lost';

type Tag = OpcuaConnectionConfig['tags'][number];

/** One subscription: the tags of one publishing interval and their monitored-item groups. */
interface SubscriptionState {
  readonly publishingIntervalMs: number;
  readonly tags: readonly Tag[];
  subscription: ClientSubscription | null;
  groups: ClientMonitoredItemGroup[];
  lastActivityTs: number;
  recreating: boolean;
}

export class OpcuaConnector implements ConnectorInstance {
  readonly type = 'opcua';
  private status: ConnectionStatus = 'stopped';
  private detail: string | null = null;
  private lastDataTs: number | null = null;
  private reconnects = 0;
  private errors = 0;
  private subscriptionRecreations = 0;
  private notifications = 0;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private certificateManager: OPCUACertificateManager | null = null;
  private client: OPCUAClient | null = null;
  private session: ClientSession | null = null;
  private subscriptions: SubscriptionState[] = [];
  private watchdog: NodeJS.Timeout | null = null;
  private staleSent = false;
  private lastLoggedError: string | null = null;
  private readonly tagsByName: ReadonlyMap<string, Tag>;
  /** Built-in DataType and array-ness of written variables, by NodeId. */
  /** The server's NamespaceArray as of the current session (for `nsu=` NodeIds). */
  private namespaces: string[] = [];
  private readonly writeTypes = new Map<string, { dataType: DataType; isArray: boolean }>();

  constructor(private readonly ctx: ConnectorContext<OpcuaConnectionConfig>) {
    this.tagsByName = new Map(ctx.config.tags.map((t) => [t.name, t]));
  }

  get id(): string {
    return this.ctx.config.id;
  }

  private get timeouts(): ClientTimeouts {
    const c = this.ctx.config;
    const b = backoffOf(c.reconnect);
    return {
      requestTimeoutMs: c.requestTimeout,
      sessionTimeoutMs: c.sessionTimeout,
      reconnect: { initialMs: b.initialMs, maxMs: b.maxMs, jitter: b.jitter },
    };
  }

  async start(): Promise<void> {
    // Settings that can be checked without the server fail the start, naming the field.
    userIdentityOf(this.ctx.config, this.ctx.configDir);
    this.certificateManager = await openCertificateManager(opcuaPkiDir(this.ctx.dataDir));
    this.status = 'connecting';
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.connectLoop(abort.signal);
  }

  /** Connect with the connection's backoff until it works or stop() aborts. */
  private async connectLoop(signal: AbortSignal): Promise<void> {
    try {
      await withBackoff(backoffOf(this.ctx.config.reconnect), () => this.connectOnce(signal), {
        signal,
        onFailure: (err, _attempt, delayMs) => {
          this.errors++;
          this.reconnects++;
          this.status = 'disconnected';
          this.detail = isMwError(err) ? `${err.code} ${oneLine(err)}` : oneLine(err);
          if (this.detail !== this.lastLoggedError) {
            this.lastLoggedError = this.detail;
            this.ctx.logger.warn(
              { endpoint: this.ctx.config.endpoint, retryInMs: delayMs },
              `OPC UA connection failed: ${this.detail}`,
            );
          }
          this.markStale();
        },
      });
    } catch {
      // aborted by stop()
    }
  }

  private async connectOnce(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.status = 'connecting';
    this.namespaces = [];
    const opened = await openSession(
      this.ctx.config,
      this.certificateManager as OPCUACertificateManager,
      this.timeouts,
      this.ctx.configDir,
      (client) => this.watchClient(client),
    );
    if (signal.aborted) {
      await opened.session.close().catch(() => undefined);
      await opened.client.disconnect().catch(() => undefined);
      signal.throwIfAborted();
    }
    this.client = opened.client;
    this.session = opened.session;
    this.watchSession(opened.session);
    try {
      // Tags named by namespace URI: the server's index of each, as of this session.
      if (this.ctx.config.tags.some((t) => namespaceUriOf(t.nodeId) !== null))
        this.namespaces = await opened.session.readNamespaceArray();
      this.subscriptions = this.planSubscriptions();
      for (const s of this.subscriptions) await this.createSubscription(s);
    } catch (err) {
      await this.closeClient();
      throw err;
    }
    this.connected('connected');
    this.startWatchdog();
  }

  private connected(how: string): void {
    this.status = 'connected';
    this.detail = null;
    this.staleSent = false;
    this.lastLoggedError = null;
    const now = Date.now();
    for (const s of this.subscriptions) s.lastActivityTs = now;
    this.ctx.logger.info(
      {
        endpoint: this.ctx.config.endpoint,
        securityMode: this.ctx.config.securityMode,
        tags: this.ctx.config.tags.length,
      },
      `OPC UA ${how}`,
    );
  }

  private reconnecting(): boolean {
    return this.status === 'connecting' || this.status === 'disconnected';
  }

  private watchClient(client: OPCUAClient): void {
    client.on('connection_lost', () => {
      if (this.status === 'stopped') return;
      this.status = 'disconnected';
      this.detail = 'connection lost; reconnecting';
      this.ctx.logger.warn({ endpoint: this.ctx.config.endpoint }, 'OPC UA connection lost');
      this.markStale();
    });
    // One count per reconnection attempt: the first, and each retry after a failed one.
    client.on('start_reconnection', () => {
      if (this.status === 'stopped') return;
      this.status = 'connecting';
      this.reconnects++;
    });
    client.on('backoff', () => {
      if (this.status !== 'stopped') this.reconnects++;
    });
    client.on('reconnection_attempt_has_failed', (err) => {
      if (this.status === 'stopped') return;
      this.errors++;
      this.detail = `reconnection failed: ${oneLine(err)}`;
    });
    client.on('after_reconnection', (err) => {
      if (this.status === 'stopped' || !err) return;
      this.errors++;
      this.detail = `reconnection failed: ${oneLine(err)}`;
    });
    // The session is restored (or a new one has its subscriptions back): data flows again.
    client.on('connection_reestablished', () => {
      if (this.reconnecting() && this.session !== null) this.connected('reconnected');
    });
  }

  private watchSession(session: ClientSession): void {
    session.on('session_restored', () => {
      if (this.reconnecting() && this.session === session) this.connected('reconnected');
    });
    session.on('keepalive_failure', () => {
      if (this.status === 'stopped') return;
      this.errors++;
      this.detail = 'session keep-alive failed';
    });
    session.on('session_closed', () => {
      // Closed by the server (not by stop()): start again from discovery.
      if (this.status === 'stopped' || this.session !== session) return;
      this.ctx.logger.warn({ endpoint: this.ctx.config.endpoint }, 'OPC UA session closed');
      void this.restart('session closed by the server');
    });
  }

  /** Drop the client and connect again from scratch (the loop's backoff applies). */
  private async restart(reason: string): Promise<void> {
    this.status = 'disconnected';
    this.detail = reason;
    this.markStale();
    this.stopWatchdog();
    await this.closeClient();
    const signal = this.abort?.signal;
    if (signal === undefined || signal.aborted) return;
    this.reconnects++;
    this.loop = this.connectLoop(signal);
  }

  /** Tags grouped by publishing interval: one subscription each. */
  private planSubscriptions(): SubscriptionState[] {
    const byInterval = new Map<number, Tag[]>();
    for (const t of this.ctx.config.tags) {
      const interval = t.publishingInterval ?? this.ctx.config.publishingInterval;
      byInterval.set(interval, [...(byInterval.get(interval) ?? []), t]);
    }
    return [...byInterval].map(([publishingIntervalMs, tags]) => ({
      publishingIntervalMs,
      tags,
      subscription: null,
      groups: [],
      lastActivityTs: Date.now(),
      recreating: false,
    }));
  }

  private async createSubscription(s: SubscriptionState): Promise<void> {
    const session = this.session;
    if (session === null) throw new Error('no session');
    const c = this.ctx.config;
    const subscription = await session.createSubscription2({
      requestedPublishingInterval: s.publishingIntervalMs,
      requestedMaxKeepAliveCount: c.maxKeepAliveCount,
      requestedLifetimeCount: Math.max(c.lifetimeCount, 3 * c.maxKeepAliveCount),
      maxNotificationsPerPublish: OPCUA_DEFAULTS.maxNotificationsPerPublish,
      publishingEnabled: true,
      priority: 1,
    });
    s.subscription = subscription;
    s.groups = [];
    s.lastActivityTs = Date.now();
    const alive = (): void => {
      if (s.subscription === subscription) s.lastActivityTs = Date.now();
    };
    subscription.on('keepalive', alive);
    subscription.on('received_notifications', alive);
    subscription.on('status_changed', (status) => {
      // e.g. BadTimeout: the server dropped the subscription (Part 4 §7.25.4).
      if (s.subscription !== subscription || this.status === 'stopped') return;
      this.errors++;
      this.detail = `subscription status ${status.name}`;
    });

    // Tags with the same monitoring parameters share one CreateMonitoredItems request.
    const byParams = new Map<string, Tag[]>();
    for (const t of s.tags) {
      const key = JSON.stringify([t.samplingInterval, t.queueSize, t.deadband]);
      byParams.set(key, [...(byParams.get(key) ?? []), t]);
    }
    for (const tags of byParams.values()) {
      const first = tags[0] as Tag;
      const filter =
        first.deadband.type === 'none'
          ? null
          : new DataChangeFilter({
              trigger: DataChangeTrigger.StatusValue,
              deadbandType:
                first.deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
              deadbandValue: first.deadband.value,
            });
      const group = await subscription.monitorItems(
        tags.map((t) => ({
          nodeId: withNamespaceIndex(t.nodeId, this.namespaces),
          attributeId: AttributeIds.Value,
        })),
        {
          samplingInterval: first.samplingInterval ?? s.publishingIntervalMs,
          queueSize: first.queueSize,
          discardOldest: true,
          filter,
        },
        TimestampsToReturn.Both,
      );
      s.groups.push(group);
      group.on('changed', (_item, dataValue: DataValue, index: number) => {
        const tag = tags[index];
        if (tag !== undefined && s.subscription === subscription) this.deliver(tag, dataValue);
      });
      // A monitored item the server refused (BadNodeIdUnknown …) is reported, not dropped.
      group.monitoredItems.forEach((item, i) => {
        const tag = tags[i];
        if (tag === undefined || !item.statusCode.isBad()) return;
        this.errors++;
        this.ctx.logger.warn(
          { tag: tag.name, nodeId: tag.nodeId, status: item.statusCode.name },
          `OPC UA monitored item refused: ${item.statusCode.name}`,
        );
        this.send(tag.name, null, 'bad', `monitored item: ${item.statusCode.name}`, null);
      });
    }
  }

  private deliver(tag: Tag, dataValue: DataValue): void {
    const v = convertDataValue(dataValue, { dateTime: this.ctx.config.dateTime });
    this.notifications++;
    this.lastDataTs = Date.now();
    this.send(tag.name, v.value, v.quality, v.status, v.sourceTs);
  }

  private send(
    tag: string,
    value: TagValue,
    quality: 'good' | 'uncertain' | 'bad',
    status: string | null,
    sourceTs: number | null,
  ): void {
    this.ctx
      .ingestSample({
        connectionId: this.ctx.config.id,
        tag,
        value,
        quality,
        status,
        sourceTs,
        receivedTs: Date.now(),
      })
      .catch((err: unknown) => {
        this.errors++;
        this.detail = `ingest failed: ${oneLine(err)}`;
      });
  }

  /** Every tag once as bad "stale: connection lost", so no value stays good while nothing is read. */
  private markStale(): void {
    if (this.staleSent) return;
    this.staleSent = true;
    for (const t of this.ctx.config.tags) this.send(t.name, null, 'bad', STALE_STATUS, null);
  }

  private startWatchdog(): void {
    this.stopWatchdog();
    const c = this.ctx.config;
    const limits = this.subscriptions.map((s) =>
      silenceLimitMs({
        publishingIntervalMs: s.publishingIntervalMs,
        maxKeepAliveCount: c.maxKeepAliveCount,
        factor: c.watchdogFactor,
      }),
    );
    if (limits.length === 0) return;
    const period = Math.min(
      OPCUA_DEFAULTS.watchdogCheckMaxMs,
      Math.max(OPCUA_DEFAULTS.watchdogCheckMinMs, Math.min(...limits) / 4),
    );
    this.watchdog = setInterval(() => this.checkSubscriptions(), period);
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private checkSubscriptions(): void {
    const now = Date.now();
    for (const s of this.subscriptions) {
      const sub = s.subscription;
      if (s.recreating || sub === null) continue;
      const silent = isSilent({
        now,
        lastActivityTs: s.lastActivityTs,
        // The revised values the server granted, when it told them.
        publishingIntervalMs: sub.publishingInterval || s.publishingIntervalMs,
        maxKeepAliveCount: sub.maxKeepAliveCount || this.ctx.config.maxKeepAliveCount,
        factor: this.ctx.config.watchdogFactor,
        connected: this.status === 'connected',
      });
      if (silent) void this.recreateSubscription(s, now - s.lastActivityTs);
    }
  }

  /** Delete a silent subscription and create it again with its monitored items. */
  private async recreateSubscription(s: SubscriptionState, silentMs: number): Promise<void> {
    s.recreating = true;
    this.errors++;
    this.subscriptionRecreations++;
    this.detail = `subscription (publishing interval ${s.publishingIntervalMs} ms) silent for ${silentMs} ms; recreated`;
    this.ctx.logger.warn(
      { subscriptionId: s.subscription?.subscriptionId, silentMs },
      'OPC UA subscription went silent; recreating it',
    );
    const old = s.subscription;
    s.subscription = null;
    try {
      await old?.terminate().catch(() => undefined);
      await this.createSubscription(s);
    } catch (err) {
      this.errors++;
      this.detail = `recreating a silent subscription failed: ${oneLine(err)}`;
      // Left to the next check (the subscription is still marked silent).
      s.subscription = old;
    } finally {
      s.recreating = false;
    }
  }

  private async closeClient(): Promise<void> {
    const session = this.session;
    const client = this.client;
    this.session = null;
    this.client = null;
    this.subscriptions = [];
    if (session !== null) await session.close(true).catch(() => undefined);
    if (client !== null) await client.disconnect().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.status = 'stopped';
    this.abort?.abort(new Error('stopped'));
    this.stopWatchdog();
    await this.loop;
    await this.closeClient();
    await this.certificateManager?.dispose();
    this.certificateManager = null;
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
    return [
      {
        name: 'opcua_subscriptions',
        help: 'Subscriptions of the connection.',
        type: 'gauge',
        value: this.subscriptions.length,
      },
      {
        name: 'opcua_monitored_items',
        help: 'Monitored items of the connection.',
        type: 'gauge',
        value: this.subscriptions.reduce(
          (n, s) => n + s.groups.reduce((m, g) => m + g.monitoredItems.length, 0),
          0,
        ),
      },
      {
        name: 'opcua_subscription_recreations_total',
        help: 'Subscriptions the watchdog found silent and created again.',
        type: 'counter',
        value: this.subscriptionRecreations,
      },
      {
        name: 'opcua_data_changes_total',
        help: 'Data change notifications received.',
        type: 'counter',
        value: this.notifications,
      },
    ];
  }

  async connectionTest(): Promise<ConnectionTestResult> {
    const { config } = this.ctx;
    const manager =
      this.certificateManager ?? (await openCertificateManager(opcuaPkiDir(this.ctx.dataDir)));
    try {
      const { client, session, endpoint } = await openSession(
        config,
        manager,
        this.timeouts,
        this.ctx.configDir,
      );
      await session.close().catch(() => undefined);
      await client.disconnect().catch(() => undefined);
      return {
        ok: true,
        message: `connected to ${config.endpoint} (${config.securityMode}, ${endpoint.securityPolicyUri?.replace(/^.*#/, '')}, server ${endpoint.server.applicationName.text ?? '?'})`,
      };
    } catch (err) {
      return { ok: false, message: oneLine(err) };
    } finally {
      if (manager !== this.certificateManager) await manager.dispose();
    }
  }

  async write(tagName: string, value: TagValue): Promise<void> {
    const tag =
      this.tagsByName.get(tagName) ??
      (NODE_ID_RE.test(tagName) ? { name: tagName, nodeId: tagName } : undefined);
    const fail = (reason: string, cause?: unknown): MwError =>
      new MwError(
        'MW_ERR_TAG_WRITE',
        {
          connection: this.ctx.config.id,
          value: JSON.stringify(value),
          tag: tag === undefined ? tagName : `${tag.name} (node ${tag.nodeId})`,
          reason,
        },
        { path: `connections.${this.ctx.config.id}`, cause },
      );
    if (tag === undefined) throw fail('no such tag on this connection, and not a NodeId');
    const session = this.session;
    if (session === null || this.status !== 'connected')
      throw fail(`not connected (${this.status}${this.detail === null ? '' : `: ${this.detail}`})`);
    let nodeId: string;
    try {
      if (namespaceUriOf(tag.nodeId) !== null && this.namespaces.length === 0)
        this.namespaces = await session.readNamespaceArray();
      nodeId = withNamespaceIndex(tag.nodeId, this.namespaces);
    } catch (err) {
      throw fail(oneLine(err), err);
    }
    let type = this.writeTypes.get(tag.nodeId);
    if (type === undefined) {
      try {
        const [rank] = await session.read([{ nodeId, attributeId: AttributeIds.ValueRank }]);
        if (rank === undefined || !rank.statusCode.isGood())
          throw new Error(rank?.statusCode.name ?? 'no answer');
        const dataType = await session.getBuiltInDataType(resolveNodeId(nodeId));
        type = { dataType, isArray: Number(rank.value.value) >= 1 };
        this.writeTypes.set(tag.nodeId, type);
      } catch (err) {
        throw fail(`cannot read the variable's data type: ${oneLine(err)}`, err);
      }
    }
    let variant;
    try {
      variant = tagValueToVariant(value, type.dataType, type.isArray);
    } catch (err) {
      throw fail(oneLine(err), err);
    }
    let statusCode;
    try {
      statusCode = await session.write({
        nodeId,
        attributeId: AttributeIds.Value,
        value: { value: variant },
      });
    } catch (err) {
      throw fail(oneLine(err), err);
    }
    if (!statusCode.isGood()) throw fail(`${statusCode.name}: ${statusCode.description}`);
  }
}
