/**
 * The hub: wires store, equipment runtime, ingest pipeline, embedded broker, connectors and the
 * HTTP API into one process, and takes them down in order. `millwright run` and `millwright demo`
 * both start one; tests start one in-process.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { IdentityService } from './compliance/identity.ts';
import { SignatureService } from './compliance/signatures.ts';
import { hierarchyOf } from './config/hierarchy.ts';
import type { Config } from './config/schema.ts';
import { connectorFor } from './connectors/index.ts';
import { EmbeddedBroker } from './connectors/mqtt/embedded-broker.ts';
import { BindingTable } from './core/bindings.ts';
import type { ConnectorInstance, ConnectorState } from './core/connector.ts';
import { DowntimeService } from './core/downtime-service.ts';
import { KpiService } from './core/kpi/service.ts';
import { siteCalendars } from './core/kpi/groups.ts';
import { LiveValues } from './core/live-values.ts';
import { MappingService } from './core/mapping-service.ts';
import { MaterialCatalog } from './core/materials.ts';
import { createQuality } from './core/genealogy/index.ts';
import { LineResults } from './core/genealogy/line-results.ts';
import { IngestPipeline } from './core/pipeline.ts';
import { RateMeter } from './core/rates.ts';
import { EquipmentRuntime, type UnitSettings } from './core/runtime.ts';
import { findUnit, ReasonTree } from './model/index.ts';
import type { HubView } from './hub-view.ts';
import { startErp } from './hub-erp.ts';
import { buildServer, listenServer } from './server/app.ts';
import { readTlsFiles } from './server/tls.ts';
import { openSpool } from './store/sqlite/spool.ts';
import { openStore } from './store/index.ts';
import type { Store } from './store/types.ts';

/** How often the runtime's clock-driven checks run (debounce, no-data timeout). */
const RUNTIME_TICK_MS = 250;

/** Per unit: the `runtime` defaults with the unit's own overrides. */
/** Each line's `flow` as work unit ids. */
function lineFlows(config: Config): string[][] {
  return config.sites.flatMap((site) =>
    site.areas.flatMap((area) =>
      area.lines.flatMap((line) =>
        line.flow === undefined
          ? []
          : [line.flow.map((u) => [config.enterprise.id, site.id, area.id, line.id, u].join('/'))],
      ),
    ),
  );
}

function unitSettings(config: Config): (equipmentId: string) => UnitSettings {
  const r = config.runtime;
  const byId = new Map<string, UnitSettings>();
  for (const site of config.sites)
    for (const area of site.areas)
      for (const line of area.lines)
        for (const unit of line.units)
          byId.set(`${config.enterprise.id}/${site.id}/${area.id}/${line.id}/${unit.id}`, {
            debounceMs: unit.stateDebounce ?? r.stateDebounce,
            microStopMaxMs: unit.microStopMax ?? r.microStopMax,
            noDataTimeoutMs: unit.noDataTimeout ?? r.noDataTimeout,
          });
  const fallback: UnitSettings = {
    debounceMs: r.stateDebounce,
    microStopMaxMs: r.microStopMax,
    noDataTimeoutMs: r.noDataTimeout,
  };
  return (id) => byId.get(id) ?? fallback;
}

/** How often expired sessions are removed. */
const SESSION_PURGE_EVERY_MS = 5 * 60_000;

export interface HubOptions {
  readonly config: Config;
  /** Folder relative paths of the configuration are resolved against. */
  readonly baseDir: string;
  readonly logger: Logger;
  /** Overrides `http.port` (e.g. `--port`). */
  readonly httpPort?: number | undefined;
  /** Overrides `dataDir` (e.g. `--data-dir`), resolved against the working directory. */
  readonly dataDir?: string | undefined;
  /** Start the HTTP API (default true). */
  readonly http?: boolean;
}

export interface Hub extends HubView {
  /** Base URL of the HTTP API, when it runs. */
  readonly url: string | null;
  stop(): Promise<void>;
}

/**
 * Open the store a configuration names, with its paths resolved the way the hub resolves them
 * (`dataDir` and a relative SQLite path against the config file's folder; `--data-dir` against
 * the working directory). Used by the hub and by commands that only need the store.
 */
export async function openConfiguredStore(
  options: Pick<HubOptions, 'config' | 'baseDir' | 'dataDir'>,
): Promise<{ store: Store; dataDir: string }> {
  const { config } = options;
  const dataDir =
    options.dataDir !== undefined
      ? path.resolve(options.dataDir)
      : path.resolve(options.baseDir, config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const storeConfig =
    config.store.type === 'sqlite' && config.store.path !== undefined
      ? { ...config.store, path: path.resolve(options.baseDir, config.store.path) }
      : config.store;
  const store = await openStore(storeConfig, {
    dataDir,
    quarantineMaxEntries: config.quarantine.maxEntries,
    quarantinePayloadBytes: config.quarantine.payloadBytes,
  });
  return { store, dataDir };
}

/**
 * A connection's key/value state (ConnectorContext.state): records of type `connector-state`
 * with id `<connection id>/<key>`. Bookkeeping, so no audit rows; one writer per connection.
 */
function connectorState(store: Store, connectionId: string): ConnectorState {
  const entityType = 'connector-state';
  return {
    async get(key) {
      return (await store.getRecord(entityType, `${connectionId}/${key}`))?.data.value;
    },
    async set(key, value) {
      const entityId = `${connectionId}/${key}`;
      const current = await store.getRecord(entityType, entityId);
      await store.writeRecords(
        [{ entityType, entityId, expectedVersion: current?.version ?? 0, data: { value } }],
        [],
      );
    },
  };
}

export async function startHub(options: HubOptions): Promise<Hub> {
  const { config, logger } = options;
  const { store, dataDir } = await openConfiguredStore(options);
  const hierarchy = hierarchyOf(config);
  const cleanups: (() => Promise<void>)[] = [() => store.close()];
  const stopAll = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        logger.warn({ err }, 'error while stopping');
      }
    }
    cleanups.length = 0;
  };
  try {
    const migrations = await store.migrate();
    const applied = migrations.filter((m) => m.state === 'applied');
    logger.info(
      { store: store.location, applied: applied.map((m) => m.name) },
      `store ${store.kind} ready (${applied.length} migration(s) applied, ${migrations.length - applied.length} already applied)`,
    );

    const identity = new IdentityService(store, { security: config.security });
    const signatures = new SignatureService(store, identity);
    const downtime = new DowntimeService(
      store,
      identity,
      new Map(config.sites.map((site) => [site.id, new ReasonTree(site.reasons)])),
    );
    const kpi = new KpiService({
      store,
      hierarchy,
      downtime,
      calendars: siteCalendars(config),
      materialIdealMs: new Map(
        config.materials.flatMap((m) =>
          m.idealCycleTime === undefined ? [] : [[m.id, m.idealCycleTime] as const],
        ),
      ),
    });
    const mappings = await MappingService.open(store, identity, {
      checkOurs: {
        equipment: (id) =>
          hierarchy.get(id) === undefined
            ? 'is not an equipment id of the hierarchy (GET /api/v1/equipment)'
            : null,
        uom: (code) =>
          findUnit(code) === undefined ? 'is not in the unit catalog (docs/units.md)' : null,
      },
    });
    // Sessions nobody ends (a closed browser) are removed once expired, with an audit row each.
    const purge = setInterval(() => {
      identity.purgeExpiredSessions().then(
        (n) => {
          if (n > 0) logger.info({ sessions: n }, `ended ${n} expired session(s)`);
        },
        (err: unknown) => logger.warn({ err }, 'could not end expired sessions'),
      );
    }, SESSION_PURGE_EVERY_MS).unref();
    cleanups.push(async () => clearInterval(purge));
    const runtime = new EquipmentRuntime(hierarchy, unitSettings(config), lineFlows(config));
    const materials = new MaterialCatalog(config.materials);
    runtime.reset(await store.loadUnits());
    const bindings = new BindingTable(config.bindings, config.enterprise.id);
    const maxPayload = new Map(
      config.connections.map((c) => [c.id, c.type === 'mqtt' ? c.maxPayloadBytes : 1_048_576]),
    );
    const spoolConfig = config.ingest.spool;
    const spool = spoolConfig.enabled
      ? openSpool(
          path.resolve(options.baseDir, spoolConfig.path ?? path.join(dataDir, 'spool.db')),
          spoolConfig.maxBytes,
        )
      : null;
    // Closed after the pipeline (cleanups run in reverse).
    if (spool !== null) cleanups.push(async () => spool.close());
    const pipeline = new IngestPipeline(
      store,
      runtime,
      bindings,
      {
        batchMaxSize: config.ingest.batchMaxSize,
        batchLingerMs: config.ingest.batchLinger,
        queueMax: config.ingest.queueMax,
        maxPayloadBytes: (id) => maxPayload.get(id) ?? 1_048_576,
        quarantinePayloadBytes: config.quarantine.payloadBytes,
        auditStateChanges: config.audit.stateChanges,
        materials,
        toOurs: (system, kind, theirs) => mappings.toOurs(system, kind, theirs),
        reasonKnown: (equipmentId, code) => {
          const tree = downtime.treeOf(equipmentId);
          return tree.size === 0 || tree.ofPlcCode(code) !== undefined;
        },
      },
      logger.child({ component: 'pipeline' }),
      spool,
    );
    let broker: EmbeddedBroker | null = null;
    // MQTT and Sparkplug connections without a url use the embedded broker.
    if (
      config.connections.some(
        (c) => (c.type === 'mqtt' || c.type === 'sparkplug') && c.url === undefined,
      )
    ) {
      broker = await EmbeddedBroker.start({
        host: config.broker.host,
        port: config.broker.port,
        logger: logger.child({ component: 'broker' }),
        tls:
          config.broker.tls === undefined
            ? undefined
            : readTlsFiles('broker.tls', config.broker.tls, options.baseDir),
        authentication: config.broker.authentication,
        authenticate: (username, password, address) =>
          identity.authenticateMqtt(username, password, address),
      });
      const b = broker;
      cleanups.push(() => b.close());
      logger.info(
        { url: broker.url },
        `embedded MQTT broker on ${broker.url}${broker.portNote === null ? '' : ` (${broker.portNote})`}`,
      );
    }
    // Debounced states and no-data timeouts move with the clock, not only with readings.
    const ticker = setInterval(() => pipeline.tick(Date.now()), RUNTIME_TICK_MS).unref();
    cleanups.push(async () => clearInterval(ticker));
    const live = new LiveValues();
    pipeline.on('committed', (_events, batch) => live.update(batch.samples));
    const rates = new RateMeter();
    rates.record({}, Date.now());
    const tick = setInterval(() => {
      const counts = Object.fromEntries(
        Object.entries(pipeline.snapshot().connections).map(([id, c]) => [id, c.received]),
      );
      rates.record(counts, Date.now());
    }, 1000).unref();
    cleanups.push(async () => clearInterval(tick));
    // Stopped before the broker, so the PUBACKs of the last batch still go out.
    cleanups.push(() => pipeline.close());
    const brokerUrlOf = (connectionId: string): string => {
      const c = config.connections.find((x) => x.id === connectionId);
      if (c?.type !== 'mqtt') throw new Error(`no mqtt connection ${connectionId}`);
      if (c.url !== undefined) return c.url;
      if (broker === null) throw new Error('no embedded broker');
      return broker.url;
    };

    // MQTT connections first, so the simulators publish into listening ingest.
    const ordered = [...config.connections].sort(
      (a, b) => (a.type === 'mqtt' ? 0 : 1) - (b.type === 'mqtt' ? 0 : 1),
    );
    const connectors: ConnectorInstance[] = [];
    for (const conn of ordered) {
      const instance = connectorFor(conn, {
        logger: logger.child({ component: 'connector', connection: conn.id }),
        hierarchy,
        filters: [
          ...new Set([
            ...bindings.filtersFor(conn.id),
            ...(conn.type === 'mqtt' ? conn.subscribe : []),
          ]),
        ],
        ingest: (msg, onAccepted) => pipeline.ingestMessage(msg, onAccepted),
        ingestSample: (sample, onAccepted) => pipeline.ingestSample(sample, onAccepted),
        embeddedBroker: broker,
        brokerUrlOf,
        lastReading: (id) => runtime.get(id),
        dataDir,
        configDir: options.baseDir,
        state: connectorState(store, conn.id),
      });
      await instance.start();
      connectors.push(instance);
      cleanups.push(() => instance.stop());
    }

    const { orders, inbound, dispatcher } = await startErp({
      config,
      options,
      store,
      hierarchy,
      mappings,
      identity,
      pipeline,
      kpi,
      dataDir,
      cleanups,
    });

    const quality = createQuality({
      store,
      materials,
      hierarchy,
      config: config.genealogy,
      site: config.sites[0]!.id,
      targets: config.targets.map((t) => ({ id: t.id, messages: t.messages })),
      audit: (by, action, entityType, entityId, changes, reason) =>
        identity.audit(by, action, entityType, entityId, changes, reason),
      onEnqueued: (ids) => dispatcher.kick(ids),
      signatures,
      plans: config.quality.plans,
      finished: new Set(config.materials.filter((m) => m.finished === true).map((m) => m.id)),
    });

    const lineResults = new LineResults(
      quality,
      hierarchy,
      config.quality.lineResults,
      logger.child({ component: 'line-results' }),
    );
    if (lineResults.enabled) {
      orders.onChange(() => lineResults.ordersChanged());
      pipeline.on('committed', (_events, batch) => lineResults.committed(batch.samples));
      cleanups.push(() => lineResults.settled());
    }

    const startedAt = Date.now();
    let url: string | null = null;
    const hubWithoutHttp = {
      config,
      hierarchy,
      store,
      runtime,
      pipeline,
      broker,
      connectors,
      migrations,
      live,
      rates,
      identity,
      signatures,
      mappings,
      materials,
      downtime,
      kpi,
      orders,
      quality,
      lineResults,
      inbound,
      dispatcher,
      dataDir,
      startedAt,
    };
    if (options.http !== false) {
      const app = await buildServer({
        hub: hubWithoutHttp,
        logger: logger.child({ component: 'http' }),
        https:
          config.http.tls === undefined
            ? undefined
            : readTlsFiles('http.tls', config.http.tls, options.baseDir),
        corsOrigins: config.http.corsOrigins,
      });
      cleanups.push(() => app.close());
      url = await listenServer(app, config.http.host, options.httpPort ?? config.http.port);
    }
    return { ...hubWithoutHttp, url, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
