/**
 * The types ingest's modules share: what a connector hands in (RawMessage, SampleInput) and the
 * pipeline's options. Kept apart from pipeline.ts so spool.ts, readings.ts and the connectors
 * import them without importing the pipeline (no import circle).
 */
import type { Quality, TagValue } from '../model/index.ts';
import type { MaterialCatalog } from './materials.ts';

export interface RawMessage {
  readonly connectionId: string;
  /** MQTT topic (or another protocol's address) of the message. */
  readonly topic: string;
  readonly payload: Buffer;
  readonly receivedTs: number;
}

/**
 * A value a connector has already decoded (OPC UA, Modbus, Sparkplug, SQL): no payload to parse.
 * The binding is found by the tag, as a topic is for MQTT.
 */
export interface SampleInput {
  readonly connectionId: string;
  readonly tag: string;
  readonly value: TagValue;
  readonly quality: Quality;
  /** The protocol's own status behind a quality other than good. */
  readonly status?: string | null;
  /** The device's time, or null when it gives none (then the receive time is used). */
  readonly sourceTs: number | null;
  readonly receivedTs: number;
}

export interface PipelineOptions {
  readonly batchMaxSize: number;
  readonly batchLingerMs: number;
  readonly queueMax: number;
  /** Largest payload accepted per connection, in bytes. */
  readonly maxPayloadBytes: (connectionId: string) => number;
  readonly quarantinePayloadBytes: number;
  /** Audit every state change a device reports (config `audit.stateChanges`). */
  readonly auditStateChanges: boolean;
  /** The configured materials (consumption bindings); none when absent. */
  readonly materials?: MaterialCatalog;
  /** Our code for a system's code (identity mapping); throws MW_ERR_MAPPING_* when unknown. */
  readonly toOurs?: (system: string, kind: 'material', theirs: string) => string;
  /**
   * Whether a PLC stop code means a reason of the unit's site (its reason tree); true when the
   * site has no tree. Unknown codes are counted, not quarantined: see `unmappedReasons`.
   */
  readonly reasonKnown?: (equipmentId: string, plcCode: string) => boolean;
}
