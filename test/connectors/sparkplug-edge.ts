/**
 * A Sparkplug B edge node for tests: mqtt.js plus the hub's own encoder (payload.ts), or the
 * Tahu `sparkplug-payload` encoder as an independent peer. It keeps seq and bdSeq as the spec
 * says (NDEATH as the Will, bdSeq in NBIRTH and NDEATH, seq 0–255 shared with its devices), and
 * records the NCMD/DCMD it receives.
 */
import { createRequire } from 'node:module';
import mqtt, { type MqttClient } from 'mqtt';
import {
  DataType,
  decodePayload,
  encodePayload,
  type MetricInput,
  type PayloadInput,
  type SparkplugPayload,
} from '../../src/connectors/sparkplug/payload.ts';

const require = createRequire(import.meta.url);

/** Tahu's JavaScript encoder (sparkplug-payload 1.0.x, CommonJS). */
interface TahuMetric {
  name?: string;
  alias?: number;
  type: string;
  value: unknown;
  timestamp?: number;
}
const tahu = (
  require('sparkplug-payload') as {
    get(ns: string): { encodePayload(p: object): Uint8Array };
  }
).get('spBv1.0');

export function tahuEncode(p: { timestamp?: number; seq?: number; metrics: TahuMetric[] }): Buffer {
  return Buffer.from(tahu.encodePayload(p));
}

export interface Command {
  readonly topic: string;
  readonly payload: SparkplugPayload;
}

export interface EdgeOptions {
  readonly url: string;
  readonly group: string;
  readonly edgeNode: string;
  readonly bdSeq?: number;
  /** Encode births and data with Tahu's encoder (metrics given in Tahu's form). */
  readonly protocolVersion?: 4 | 5;
}

export class EdgeNode {
  client: MqttClient | null = null;
  seq = 0;
  bdSeq: number;
  readonly commands: Command[] = [];

  constructor(readonly opts: EdgeOptions) {
    this.bdSeq = opts.bdSeq ?? 0;
  }

  private topic(type: string, device?: string): string {
    const { group, edgeNode } = this.opts;
    return `spBv1.0/${group}/${type}/${edgeNode}${device === undefined ? '' : `/${device}`}`;
  }

  /** CONNECT with the NDEATH as Will (QoS 1, not retained), subscribe to NCMD/DCMD. */
  async connect(): Promise<void> {
    const will = encodePayload({
      timestamp: Date.now(),
      metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq }],
    });
    const client = await mqtt.connectAsync(
      this.opts.url,
      {
        clientId: `edge-${this.opts.group}-${this.opts.edgeNode}-${Math.random().toString(36).slice(2, 8)}`,
        clean: true,
        protocolVersion: this.opts.protocolVersion ?? 4,
        reconnectPeriod: 0,
        will: { topic: this.topic('NDEATH'), payload: will, qos: 1, retain: false },
      },
      false,
    );
    this.client = client;
    client.on('message', (topic, payload) => {
      try {
        this.commands.push({ topic, payload: decodePayload(payload) });
      } catch {
        // not a payload of ours
      }
    });
    await client.subscribeAsync([this.topic('NCMD'), `${this.topic('DCMD')}/+`], { qos: 1 });
  }

  private next(): number {
    this.seq = (this.seq + 1) % 256;
    return this.seq;
  }

  private async send(topic: string, payload: Buffer): Promise<void> {
    if (this.client === null) throw new Error('edge node not connected');
    await this.client.publishAsync(topic, payload, { qos: 0 });
  }

  /** NBIRTH with bdSeq, `Node Control/Rebirth` and `metrics`; seq restarts at 0. */
  async nbirth(metrics: readonly MetricInput[], timestamp = Date.now()): Promise<void> {
    this.seq = 0;
    await this.send(
      this.topic('NBIRTH'),
      encodePayload({
        timestamp,
        seq: 0,
        metrics: [
          { name: 'bdSeq', datatype: DataType.Int64, value: this.bdSeq },
          { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
          ...metrics,
        ],
      }),
    );
  }

  async dbirth(device: string, metrics: readonly MetricInput[]): Promise<void> {
    await this.send(this.topic('DBIRTH', device), this.encode(metrics));
  }

  async ndata(metrics: readonly MetricInput[]): Promise<void> {
    await this.send(this.topic('NDATA'), this.encode(metrics));
  }

  async ddata(device: string, metrics: readonly MetricInput[]): Promise<void> {
    await this.send(this.topic('DDATA', device), this.encode(metrics));
  }

  async ddeath(device: string, timestamp = Date.now()): Promise<void> {
    await this.send(this.topic('DDEATH', device), this.encode([], timestamp));
  }

  /** An explicit NDEATH with `bdSeq` (default: the current one). */
  async ndeath(bdSeq = this.bdSeq): Promise<void> {
    await this.send(
      this.topic('NDEATH'),
      encodePayload({ metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: bdSeq }] }),
    );
  }

  /** Skip `n` sequence numbers (as if messages were lost). */
  skipSeq(n = 1): void {
    this.seq = (this.seq + n) % 256;
  }

  /** A raw payload on a message type of this node (Tahu-encoded births/data, garbage …). */
  async raw(type: string, payload: Buffer, device?: string): Promise<void> {
    await this.send(this.topic(type, device), payload);
  }

  /** The seq the next message carries (for payloads built outside, e.g. with Tahu). */
  nextSeq(): number {
    return this.next();
  }

  private encode(metrics: readonly MetricInput[], timestamp = Date.now()): Buffer {
    const p: PayloadInput = { timestamp, seq: this.next(), metrics };
    return encodePayload(p);
  }

  /** Drop the TCP connection without DISCONNECT: the broker publishes the NDEATH Will. */
  kill(): void {
    this.client?.stream.destroy();
    this.client?.end(true);
    this.client = null;
  }

  async end(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.endAsync();
  }
}
