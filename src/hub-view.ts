/**
 * What a running hub offers the parts built on it (the HTTP routes, metrics): its services,
 * without the process-level `url` and `stop` of `Hub` (hub.ts). Kept apart from hub.ts so the
 * server imports this and hub.ts imports the server, not each other.
 */
import type { IdentityService } from './compliance/identity.ts';
import type { SignatureService } from './compliance/signatures.ts';
import type { Config } from './config/schema.ts';
import type { EmbeddedBroker } from './connectors/mqtt/embedded-broker.ts';
import type { ConnectorInstance } from './core/connector.ts';
import type { DowntimeService } from './core/downtime-service.ts';
import type { KpiService } from './core/kpi/service.ts';
import type { LiveValues } from './core/live-values.ts';
import type { MappingService } from './core/mapping-service.ts';
import type { MaterialCatalog } from './core/materials.ts';
import type { IngestPipeline } from './core/pipeline.ts';
import type { RateMeter } from './core/rates.ts';
import type { EquipmentRuntime } from './core/runtime.ts';
import type { Hierarchy } from './model/index.ts';
import type { MigrationStatus, Store } from './store/types.ts';
import type { OrderService } from './core/orders/service.ts';
import type { Quality } from './core/genealogy/index.ts';
import type { LineResults } from './core/genealogy/line-results.ts';
import type { ErpInbound } from './enterprise/inbound.ts';
import type { OutboxDispatcher } from './enterprise/outbox.ts';

export interface HubView {
  readonly config: Config;
  readonly hierarchy: Hierarchy;
  readonly store: Store;
  readonly runtime: EquipmentRuntime;
  readonly pipeline: IngestPipeline;
  readonly broker: EmbeddedBroker | null;
  readonly connectors: readonly ConnectorInstance[];
  readonly migrations: readonly MigrationStatus[];
  /** The latest committed value of every tag. */
  readonly live: LiveValues;
  /** Samples per second per connection (10 s window). */
  readonly rates: RateMeter;
  readonly identity: IdentityService;
  readonly signatures: SignatureService;
  /** Identity mapping tables (issue #5). */
  readonly mappings: MappingService;
  /** The configured materials (config `materials`). */
  readonly materials: MaterialCatalog;
  /** Stops and their reasons (issue #5). */
  readonly downtime: DowntimeService;
  /** OEE and the KPIs around it (issue #11). */
  readonly kpi: KpiService;
  /** Work orders (issue #10). */
  readonly orders: OrderService;
  /** Lots, genealogy, holds and inspections (issue #12). */
  readonly quality: Quality;
  /** Inspection results from line tags (config quality.lineResults). */
  readonly lineResults: LineResults;
  /** Everything an ERP sends: parse, import, quarantine. */
  readonly inbound: ErpInbound;
  /** Delivers the outbox to the enterprise targets. */
  readonly dispatcher: OutboxDispatcher;
  readonly dataDir: string;
  readonly startedAt: number;
}
