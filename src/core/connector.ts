/**
 * The contract between the core and a connector (STYLE.md rules 1–3): a connector starts,
 * stops, hands messages to the core, reports health and can test its connection. Protocol
 * knowledge stays in the connector; manufacturing meaning stays in the core.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import type { Hierarchy } from '../model/index.ts';
import type { UnitProjection } from '../store/types.ts';
import type { TagValue } from '../model/index.ts';
import type { RawMessage, SampleInput } from './ingest-types.ts';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'stopped';

export interface ConnectorHealth {
  readonly status: ConnectionStatus;
  /** One line on the state (e.g. the last error), or null. */
  readonly detail: string | null;
  readonly lastDataTs: number | null;
  readonly reconnects: number;
  readonly errors: number;
}

export interface ConnectionTestResult {
  readonly ok: boolean;
  readonly message: string;
}

export interface ConnectorInstance {
  readonly id: string;
  readonly type: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): ConnectorHealth;
  /** Try the connection once, without starting ingest (`check-config --connect`). */
  connectionTest(): Promise<ConnectionTestResult>;
  /**
   * Write a value to a tag of the device (an order number, a recipe, a setpoint); resolves when
   * the device confirmed it. Rejects with MW_ERR_TAG_WRITE naming the tag and the device's
   * reason. Absent on connectors that cannot write (the simulator).
   */
  write?(tag: string, value: TagValue): Promise<void>;
  /** Metrics of the connector's own (queue lengths, latencies), for /metrics; optional. */
  metrics?(): readonly ConnectorMetric[];
}

export interface ConnectorMetric {
  /** Prometheus name without the `millwright_` prefix, e.g. `modbus_queue_length`. */
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  /** Labels besides `connection` (added by the hub), e.g. `{ unit_id: '3' }`. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A broker running inside the hub, whose publishes reach the core without a network hop. */
export interface InProcessBroker {
  readonly url: string;
  addListener(
    filters: readonly string[],
    handler: (topic: string, payload: Buffer) => Promise<void>,
  ): void;
  /** Publish to the broker's clients (QoS 1); resolves when the broker has taken it. */
  publish(topic: string, payload: Buffer, retain?: boolean): Promise<void>;
}

export interface ConnectorContext<C> {
  readonly config: C;
  readonly logger: Logger;
  readonly hierarchy: Hierarchy;
  /** MQTT filters the connection's bindings need. */
  readonly filters: readonly string[];
  /**
   * Hand a message to the core; resolves when it is committed. `onAccepted` runs when the
   * message is in a batch (past backpressure), so a source may read on before the commit.
   */
  ingest(message: RawMessage, onAccepted?: () => void): Promise<void>;
  /**
   * Hand a decoded sample to the core (same guarantee and backpressure as `ingest`). A
   * connector that loses its device sends each of its tags once with quality `bad` and a
   * status such as "stale: connection lost", so no value stays good while nothing is read.
   */
  ingestSample(sample: SampleInput, onAccepted?: () => void): Promise<void>;
  /** The embedded broker, when the hub runs one. */
  readonly embeddedBroker: InProcessBroker | null;
  /** URL of the broker behind an MQTT connection id (for publishers such as the simulator). */
  brokerUrlOf(connectionId: string): string;
  /**
   * What the hub last read from a work unit. Simulated devices resume from it, as a PLC's
   * retentive memory would, so a restart of the hub does not look like a counter reset.
   */
  lastReading(equipmentId: string): UnitProjection | undefined;
  /** The hub's data folder, for a connector's local state (certificates, spool files …). */
  readonly dataDir: string;
  /** The configuration file's folder: relative paths in a connection's config (TLS files …) resolve against it. */
  readonly configDir: string;
  /**
   * A small key/value state of the connection kept in the hub's store across restarts (e.g. the
   * watermark of an SQL polling query). Bookkeeping: no audit rows.
   */
  readonly state: ConnectorState;
}

/** Per-connection key/value state persisted by the hub (values are JSON). */
export interface ConnectorState {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
}

export interface ConnectorDefinition<C extends { id: string; type: string }> {
  readonly type: C['type'];
  readonly summary: string;
  readonly configSchema: z.ZodType<C>;
  create(ctx: ConnectorContext<C>): ConnectorInstance;
}
