/** A value read from the shop floor, as connectors hand it to the core. */

export type Quality = 'good' | 'uncertain' | 'bad';

export type TagValue = number | string | boolean | null;

export interface TagSample {
  /** The connection that read it (config `connections[].id`). */
  readonly connectionId: string;
  /** The tag's address in that connection's namespace (an MQTT topic, an OPC UA NodeId …). */
  readonly tag: string;
  readonly value: TagValue;
  readonly quality: Quality;
  /**
   * The protocol's own status behind a quality other than good (an OPC UA StatusCode name, a
   * Modbus exception, "stale: connection lost" …), or null.
   */
  readonly status?: string | null;
  /** When the device says the value was taken (UTC epoch ms); the receive time when it says nothing. */
  readonly sourceTs: number;
  /** When the hub received it (UTC epoch ms). */
  readonly receivedTs: number;
}
