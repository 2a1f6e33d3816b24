/**
 * Peer of bench/connectors/sparkplug.ts, in its own process: a Sparkplug B edge node with one
 * device of `metrics` metrics (four per work unit: good, scrap, total, state). It publishes
 * NBIRTH and DBIRTH (names with aliases), then DDATA by alias with every metric changed, QoS 0
 * as Sparkplug requires [tck-id-topics-ddata-mqtt], as fast as the receiver keeps up: at most
 * `window` messages beyond the count the parent last reported as received (`{ received }`).
 * NCMD `Node Control/Rebirth` is answered with new births.
 *
 * Usage (forked): sparkplug-edge.ts <url> <group> <edgeNode> <metrics> <window>
 * Messages to the parent: `{ ready: true }` after the births, `{ sent }` after `{ stop: true }`.
 */
import mqtt from 'mqtt';
import {
  DataType,
  decodePayload,
  encodePayload,
  type MetricInput,
} from '../../src/connectors/sparkplug/payload.ts';

const [url = '', group = '', edgeNode = '', metricsArg = '100', windowArg = '200'] =
  process.argv.slice(2);
const METRICS = Number(metricsArg);
const WINDOW = Number(windowArg);
const DEVICE = 'plc1';
const KINDS = ['good', 'scrap', 'total', 'state'] as const;

const topic = (type: string, device?: string): string =>
  `spBv1.0/${group}/${type}/${edgeNode}${device === undefined ? '' : `/${device}`}`;

const bdSeq = 0;
let seq = 0;
const next = (): number => (seq = (seq + 1) % 256);
const values = new Array<number>(METRICS).fill(0);
for (let i = 3; i < METRICS; i += 4) values[i] = 1;

const nameOf = (i: number): string => {
  const u = Math.floor(i / 4);
  return `line${Math.floor(u / 10)}/unit${u % 10}/${KINDS[i % 4] as string}`;
};
const datatypeOf = (i: number): number => (i % 4 === 3 ? DataType.Int32 : DataType.UInt32);

const client = await mqtt.connectAsync(
  url,
  {
    clientId: `mw-bench-edge-${edgeNode}-${process.pid}`,
    clean: true,
    protocolVersion: 4,
    reconnectPeriod: 0,
    will: {
      topic: topic('NDEATH'),
      payload: encodePayload({
        metrics: [{ name: 'bdSeq', datatype: DataType.Int64, value: bdSeq }],
      }),
      qos: 1,
      retain: false,
    },
  },
  false,
);

async function births(): Promise<void> {
  seq = 0;
  await client.publishAsync(
    topic('NBIRTH'),
    encodePayload({
      timestamp: Date.now(),
      seq: 0,
      metrics: [
        { name: 'bdSeq', datatype: DataType.Int64, value: bdSeq },
        { name: 'Node Control/Rebirth', datatype: DataType.Boolean, value: false },
      ],
    }),
    { qos: 0 },
  );
  const metrics: MetricInput[] = values.map((value, i) => ({
    name: nameOf(i),
    alias: i + 1,
    datatype: datatypeOf(i),
    value,
  }));
  await client.publishAsync(
    topic('DBIRTH', DEVICE),
    encodePayload({ timestamp: Date.now(), seq: next(), metrics }),
    { qos: 0 },
  );
}

let sent = 0;
let received = 0;
let stopped = false;
let tick = 0;
let pumping = false;

function ddata(): Buffer {
  tick++;
  const metrics: MetricInput[] = new Array<MetricInput>(METRICS);
  for (let i = 0; i < METRICS; i++) {
    const kind = i % 4;
    if (kind === 3) {
      if ((tick + i) % 400 === 3) values[i] = values[i] === 1 ? 2 : 1; // running ↔ idle, rarely
    } else if (kind !== 1 || (tick + i) % 20 === 0) {
      values[i] = ((values[i] as number) + 1) >>> 0;
    }
    metrics[i] = { alias: i + 1, datatype: datatypeOf(i), value: values[i] as number };
  }
  return encodePayload({ timestamp: Date.now(), seq: next(), metrics });
}

/** Publish while the window allows; QoS 0 callbacks fire once the packet is written. */
function pump(): void {
  if (pumping) return;
  pumping = true;
  const loop = (): void => {
    let n = 0;
    while (!stopped && sent - received < WINDOW && n++ < 50) {
      sent++;
      client.publish(topic('DDATA', DEVICE), ddata(), { qos: 0 });
    }
    if (!stopped && sent - received < WINDOW) setImmediate(loop);
    else pumping = false;
  };
  loop();
}

client.on('message', (t, payload) => {
  if (t !== topic('NCMD')) return;
  const rebirth = decodePayload(payload).metrics.some(
    (m) => m.name === 'Node Control/Rebirth' && m.value?.value === true,
  );
  if (rebirth) void births();
});
await client.subscribeAsync(topic('NCMD'), { qos: 1 });
await births();

process.on('message', (m: { received?: number; stop?: boolean }) => {
  if (m.stop === true) {
    stopped = true;
    process.send?.({ sent });
    return;
  }
  if (m.received !== undefined) {
    received = m.received;
    pump();
  }
});
process.once('SIGTERM', () => {
  stopped = true;
  // A clean DISCONNECT: no NDEATH Will left for a host still listening.
  client.end(false, () => process.exit(0));
});
process.send?.({ ready: true });
pump();
