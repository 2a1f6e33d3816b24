/**
 * The hub's enterprise side (issue #10), wired by startHub: the targets and their outbox
 * dispatcher, the order service, the inbound drop folders and queues, and the KPI export to BI
 * (issue #11) for the targets that list `kpi.shift`.
 */
import type { IdentityService } from './compliance/identity.ts';
import type { Config } from './config/schema.ts';
import { KpiExporter, kpiTargets } from './core/kpi/export.ts';
import { siteCalendars } from './core/kpi/groups.ts';
import type { KpiService } from './core/kpi/service.ts';
import type { MappingService } from './core/mapping-service.ts';
import { OrderService } from './core/orders/service.ts';
import type { IngestPipeline } from './core/pipeline.ts';
import { startAmqpInbound } from './enterprise/amqp/inbound.ts';
import { startDropFolder } from './enterprise/files/inbound.ts';
import { createTarget } from './enterprise/index.ts';
import { ErpInbound, formatOf } from './enterprise/inbound.ts';
import { hubInstanceId, OutboxDispatcher, type DispatchTarget } from './enterprise/outbox.ts';
import type { Logger } from 'pino';
import { isErpMessageType, type Hierarchy } from './model/index.ts';
import type { Store } from './store/types.ts';

/**
 * The enterprise side (issue #10): targets and their dispatcher, the order service, the KPI
 * exporter, and the inbound drop folders and queues. Stopped in reverse: inbound first, then
 * the exporter, then the dispatcher.
 */
export async function startErp(x: {
  config: Config;
  /** The folder relative paths of the configuration are resolved against, and the logger. */
  options: { readonly baseDir: string; readonly logger: Logger };
  store: Store;
  hierarchy: Hierarchy;
  mappings: MappingService;
  identity: IdentityService;
  pipeline: IngestPipeline;
  kpi: KpiService;
  dataDir: string;
  cleanups: (() => Promise<void>)[];
}): Promise<{ orders: OrderService; inbound: ErpInbound; dispatcher: OutboxDispatcher }> {
  const { config, options, store, hierarchy, mappings } = x;
  const logger = options.logger;
  const firstZone = config.sites[0]?.timeZone;
  const targets: DispatchTarget[] = config.targets.map((t) => ({
    id: t.id,
    type: t.type,
    mode: t.mode,
    schedule: t.schedule,
    timeZone: t.timeZone ?? firstZone,
    retry: t.retry,
    instance: createTarget(t, {
      logger: logger.child({ component: 'target', target: t.id }),
      configDir: options.baseDir,
      dataDir: x.dataDir,
      render: {
        toTheirs: (kind, ours) =>
          t.system === undefined ? ours : mappings.toTheirs(t.system, kind, ours),
      },
    }),
  }));
  const dispatcher = new OutboxDispatcher(store, targets, {
    logger: logger.child({ component: 'outbox' }),
    hubId: hubInstanceId(x.dataDir),
  });
  dispatcher.start();
  x.cleanups.push(() => dispatcher.stop());
  if (kpiTargets(config.targets).length > 0) {
    const exporter = new KpiExporter({
      store,
      kpi: x.kpi,
      hierarchy,
      calendars: siteCalendars(config),
      targets: config.targets,
      exportDelayMs: config.kpi.exportDelay,
      logger: logger.child({ component: 'kpi-export' }),
      onEnqueued: (ids) => dispatcher.kick(ids),
      settle: () => x.pipeline.flush(),
    });
    exporter.start();
    x.cleanups.push(() => exporter.stop());
  }
  const lines = new Map(
    config.sites.flatMap((site) =>
      site.areas.flatMap((area) =>
        area.lines.map((l) => {
          const id = [config.enterprise.id, site.id, area.id, l.id].join('/');
          const unit = l.outputUnit ?? l.units.at(-1)?.id;
          return [id, unit === undefined ? null : `${id}/${unit}`] as const;
        }),
      ),
    ),
  );
  const orders = new OrderService(store, {
    hierarchy,
    mappings,
    outputUnitOf: (lineId) => lines.get(lineId) ?? null,
    targets: config.targets.map((t) => ({
      id: t.id,
      messages: t.messages.filter(isErpMessageType),
    })),
    onEnqueued: (ids) => dispatcher.kick(ids),
    settle: () => x.pipeline.flush(),
    audit: (by, action, entityType, entityId, changes, reason) =>
      x.identity.audit(by, action, entityType, entityId, changes, reason),
  });
  const inbound = new ErpInbound(orders, store);
  for (const path of config.inbound) {
    const source = {
      id: path.id,
      system: path.system ?? config.orders.system ?? null,
      actor: `connection:${path.id}`,
    };
    const log = logger.child({ component: 'inbound', inbound: path.id });
    if (path.type === 'folder') {
      const folder = startDropFolder(path, {
        logger: log,
        configDir: options.baseDir,
        importFile: (name, content) =>
          inbound.importFile(name, content, { ...source, where: name }),
      });
      x.cleanups.push(() => folder.stop());
    } else {
      const queue = startAmqpInbound(path, {
        logger: log,
        importDocument: async (body, contentType) => {
          await inbound.importBody(formatOf(contentType, body), body, {
            ...source,
            where: path.queue,
          });
        },
      });
      x.cleanups.push(() => queue.stop());
    }
  }
  return { orders, inbound, dispatcher };
}
