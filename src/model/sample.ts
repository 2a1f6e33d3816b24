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
  /** When the device says the value was taken (UTC epoch ms); the receive time when it says nothing. */
  readonly sourceTs: number;
  /** When the hub received it (UTC epoch ms). */
  readonly receivedTs: number;
}
