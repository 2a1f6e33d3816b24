/**
 * Sparkplug B host benchmark. An edge node in its own process (sparkplug-edge.ts) publishes
 * DDATA of one device with `--metrics` metrics per message (by alias, every metric changed),
 * QoS 0, as fast as the receiver keeps up: at most `--window` messages beyond what the receiver
 * has taken, so neither the broker nor the host drops anything. Broker: the machine's Mosquitto
 * (MILLWRIGHT_MQTT_URL, default mqtt://127.0.0.1:1883), or `--embedded` an aedes broker in this
 * process. Three measurements:
 *
 *   1. ceiling: a bare mqtt.js subscriber decoding each payload with protobufjs and counting
 *      its metrics;
 *   2. hub: an in-process hub (SQLite, synchronous FULL) with a sparkplug connection; metrics
 *      committed per second, and latency from the payload's timestamp to the commit;
 *   3. decode cost: the hub's decodePayload against a bare protobufjs decode of the same
 *      DDATA payload, in µs per message.
 *
 * Usage: npm run bench:sparkplug [-- --metrics 100 --seconds 15 --window 50 --embedded]
 */
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import protobuf from 'protobufjs';
import { EmbeddedBroker } from '../../src/connectors/mqtt/embedded-broker.ts';
import {
  DataType,
  decodePayload,
  encodePayload,
  type MetricInput,
} from '../../src/connectors/sparkplug/payload.ts';
import {
  CommitMeter,
  deadline,
  finish,
  flag,
  fmt,
  forkPeer,
  header,
  logger,
  mb,
  note,
  numArg,
  onCleanup,
  pct,
  progress,
  result,
  rss,
  run,
  sleep,
  startBenchHub,
  strArg,
  waitUntil,
} from './common.ts';

const METRICS = numArg('metrics', 100);
const SECONDS = numArg('seconds', 15);
const CEILING_SECONDS = numArg('ceiling-seconds', Math.min(SECONDS, 10));
const WINDOW = numArg('window', 50);
const DECODE_COUNT = numArg('decode-count', 20_000);
const WARMUP_MS = 2000;
const RUN = Math.random().toString(36).slice(2, 8);
const GROUP = `mwbench-${RUN}`;
const HOST_ID = `mwbench-host-${RUN}`;

const Payload = protobuf
  .loadSync(
    fileURLToPath(new URL('../../src/connectors/sparkplug/sparkplug_b.proto', import.meta.url)),
  )
  .lookupType('org.eclipse.tahu.protobuf.Payload');

async function brokerUrl(): Promise<{ url: string; name: string }> {
  const external = strArg('url', process.env.MILLWRIGHT_MQTT_URL ?? 'mqtt://127.0.0.1:1883');
  if (!flag('embedded')) {
    try {
      const probe = await mqtt.connectAsync(external, { reconnectPeriod: 0, connectTimeout: 2000 });
      await probe.endAsync();
      return { url: external, name: `Mosquitto at ${external}` };
    } catch {
      console.log(`  no broker at ${external}: using an embedded aedes broker`);
    }
  }
  const broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, logger });
  onCleanup(() => broker.close());
  return { url: broker.url, name: `embedded aedes broker (this process) at ${broker.url}` };
}

interface Edge {
  /** Tell the edge node how many messages the receiver has taken. */
  received(n: number): void;
  /** Stop publishing; resolves with the messages sent. */
  stop(): Promise<number>;
}

async function startEdge(url: string, edgeNode: string): Promise<Edge> {
  const peer = await forkPeer<{ ready: boolean }>('./sparkplug-edge.ts', [
    url,
    GROUP,
    edgeNode,
    String(METRICS),
    String(WINDOW),
  ]);
  return {
    received: (n) => peer.send({ received: n }),
    stop: async () => {
      const answer = peer.next((m) => (m as { sent?: number }).sent);
      peer.send({ stop: true });
      const sent = await answer;
      await peer.stop();
      return sent;
    },
  };
}

async function ceiling(url: string): Promise<{ metricsPerS: number; messages: number }> {
  const sub = await mqtt.connectAsync(url, {
    clientId: `mwbench-bare-${RUN}`,
    reconnectPeriod: 0,
    protocolVersion: 4,
  });
  onCleanup(() => sub.endAsync().catch(() => undefined));
  await sub.subscribeAsync(`spBv1.0/${GROUP}/#`, { qos: 0 });
  let messages = 0;
  let metrics = 0;
  let edge: Edge | null = null;
  sub.on('message', (topic, payload) => {
    const decoded = Payload.decode(payload) as unknown as { metrics: unknown[] };
    if (!topic.includes('/DDATA/')) return;
    messages++;
    metrics += decoded.metrics.length;
  });
  const credit = setInterval(() => edge?.received(messages), 5);
  edge = await startEdge(url, 'bare');
  await sleep(1000);
  const stopProgress = progress('bare subscriber', () => `${fmt(metrics)} metrics decoded`);
  const m0 = metrics;
  const t0 = performance.now();
  await sleep(CEILING_SECONDS * 1000);
  const rate = ((metrics - m0) / (performance.now() - t0)) * 1000;
  stopProgress();
  clearInterval(credit);
  await edge.stop();
  await sub.endAsync();
  return { metricsPerS: rate, messages };
}

async function hubRun(url: string): Promise<{
  metricsPerS: number;
  latencyMs: number[];
  seqGaps: number;
  rebirths: number;
  quarantined: number;
  peakRss: number;
}> {
  rss.reset();
  const connection = `  - id: sp
    type: sparkplug
    url: ${url}
    hostId: ${HOST_ID}
    groupIds: [${GROUP}]`;
  const { hub, stop } = await startBenchHub(
    Math.ceil(METRICS / 4),
    'sp',
    connection,
    `${GROUP}/+/+/`,
  );
  // Clear the host's retained STATE on a shared broker afterwards.
  onCleanup(async () => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    await c.publishAsync(`spBv1.0/STATE/${HOST_ID}`, '', { qos: 1, retain: true });
    await c.endAsync();
  });
  const sp = hub.connectors.find((c) => c.id === 'sp');
  await waitUntil(hub, () => sp?.health().status === 'connected', 'the host to connect');
  // Latency of one metric in 50: the DDATA payload's timestamp (its send time) → commit.
  const meter = new CommitMeter(hub, (s) => s.sourceTs, 50);
  let total = 0;
  hub.pipeline.on('committed', (_e, batch) => (total += batch.samples.length));
  const edge = await startEdge(url, 'hub');
  const credit = setInterval(() => edge.received(Math.floor(total / METRICS)), 5);
  await waitUntil(hub, () => total > 0, 'the first commit');
  await run(hub, WARMUP_MS);
  meter.reset();
  const stopProgress = progress('hub', () => `${fmt(meter.samples)} metrics committed`);
  await run(hub, SECONDS * 1000);
  meter.freeze();
  stopProgress();
  clearInterval(credit);
  await edge.stop();
  const metrics = sp?.metrics?.() ?? [];
  const metric = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
  const peakRss = rss.peak;
  const out = {
    metricsPerS: meter.rate,
    latencyMs: meter.sortedLatencies(),
    seqGaps: metric('sparkplug_seq_gaps_total'),
    rebirths: metric('sparkplug_rebirth_requests_total'),
    quarantined: meter.quarantined,
    peakRss,
  };
  await stop();
  return out;
}

/** µs per decode of one DDATA payload: the hub's decodePayload and bare protobufjs. */
function decodeCost(): { hubUs: number; bareUs: number; bytes: number } {
  const metrics: MetricInput[] = Array.from({ length: METRICS }, (_, i) => ({
    alias: i + 1,
    datatype: i % 4 === 3 ? DataType.Int32 : DataType.UInt32,
    value: i % 4 === 3 ? 1 : 1000 + i,
  }));
  const payload = encodePayload({ timestamp: Date.now(), seq: 1, metrics });
  const time = (fn: () => void): number => {
    for (let i = 0; i < 2000; i++) fn(); // warm-up (JIT)
    const t0 = performance.now();
    for (let i = 0; i < DECODE_COUNT; i++) fn();
    return ((performance.now() - t0) * 1000) / DECODE_COUNT;
  };
  const bareUs = time(() => Payload.decode(payload));
  const hubUs = time(() => decodePayload(payload));
  return { hubUs, bareUs, bytes: payload.length };
}

deadline(120 + SECONDS * 2);
try {
  const { url, name } = await brokerUrl();
  header(
    'bench/connectors/sparkplug',
    `DDATA of ${METRICS} metrics per message, QoS 0, window ${WINDOW} messages, through the ${name}, ${SECONDS} s measured`,
  );
  const bare = await ceiling(url);
  note('ceiling: bare mqtt.js + protobufjs', `${fmt(bare.metricsPerS)} metrics/s`);
  const hub = await hubRun(url);
  const cost = decodeCost();
  console.log('');
  result(
    'metrics committed/s',
    `${fmt(hub.metricsPerS)} metrics/s`,
    `bare subscriber ${fmt(bare.metricsPerS)} metrics/s`,
    hub.metricsPerS / bare.metricsPerS,
  );
  result(
    `decode of one DDATA (${fmt(cost.bytes)} B)`,
    `${fmt(cost.hubUs, 1)} µs`,
    `bare protobufjs ${fmt(cost.bareUs, 1)} µs`,
    cost.bareUs / cost.hubUs,
  );
  note(
    'payload timestamp → committed',
    `p50 ${fmt(pct(hub.latencyMs, 50))} / p99 ${fmt(pct(hub.latencyMs, 99))} ms`,
  );
  note('seq gaps / rebirth requests', `${fmt(hub.seqGaps)} / ${fmt(hub.rebirths)}`);
  note('peak RSS (hub process)', mb(hub.peakRss));
  console.log(
    `RESULT ceiling_metrics_s=${Math.round(bare.metricsPerS)} hub_metrics_s=${Math.round(hub.metricsPerS)} ratio=${(hub.metricsPerS / bare.metricsPerS).toFixed(2)} decode_us=${cost.hubUs.toFixed(1)} bare_decode_us=${cost.bareUs.toFixed(1)} latency_p50_ms=${pct(hub.latencyMs, 50)} latency_p99_ms=${pct(hub.latencyMs, 99)} seq_gaps=${hub.seqGaps} peak_rss_mb=${Math.round(hub.peakRss / 1048576)}`,
  );
  await finish();
} catch (err) {
  await finish(err);
}
