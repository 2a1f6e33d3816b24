/**
 * Ingest benchmark (issue #2). Three runs on the same machine, each with a separate publisher
 * process sending PLC-style tag changes from 200 units over MQTT QoS 1:
 *
 *   1. ceiling: a bare mqtt.js subscriber (connect, subscribe, JSON.parse, count) on the same
 *      embedded aedes broker the hub uses;
 *   2. hub, full speed: the same burst into the hub (embedded broker → pipeline → SQLite,
 *      synchronous=FULL); sustained samples/s into the committed store, and no sample lost;
 *   3. hub, half the ceiling rate: end-to-end latency publish → committed, p50 / p99.
 *
 * Peak RSS of this process (embedded broker + hub) is sampled every 50 ms during the hub run.
 * Usage: npm run bench:ingest [-- --count 1000000 --units 200]
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { EmbeddedBroker } from '../../src/connectors/mqtt/embedded-broker.ts';
import { startHub } from '../../src/hub.ts';
import { benchPlantYaml } from './config.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const COUNT = arg('count', 1_000_000);
const UNITS = arg('units', 200);
const LATENCY_COUNT = arg('latency-count', Math.min(COUNT, 300_000));
const WINDOW = arg('window', 1000);
const logger = pino({ level: 'warn' });
const publisherScript = fileURLToPath(new URL('./publisher.ts', import.meta.url));

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function publish(
  url: string,
  count: number,
  rate: number,
): Promise<{ acked: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(
      publisherScript,
      [url, String(count), String(UNITS), String(rate), String(WINDOW)],
      {
        execArgv: ['--import', 'tsx'],
        stdio: 'inherit',
      },
    );
    let result: { acked: number; seconds: number } | null = null;
    child.on('message', (m) => (result = m as { acked: number; seconds: number }));
    child.on('exit', (code) =>
      result !== null ? resolve(result) : reject(new Error(`publisher exited ${code}`)),
    );
  });
}

function progress(label: string, done: () => number, total: number): NodeJS.Timeout {
  return setInterval(
    () => process.stdout.write(`\r  ${label}: ${fmt(done())} / ${fmt(total)}   `),
    1000,
  );
}

async function ceiling(): Promise<number> {
  const broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, logger });
  const sub = await mqtt.connectAsync(broker.url, {
    clientId: 'bench-bare-sub',
    reconnectPeriod: 0,
  });
  await sub.subscribeAsync('bench/#', { qos: 1 });
  let received = 0;
  let first = 0;
  let last = 0;
  sub.on('message', (_topic, payload) => {
    JSON.parse(payload.toString());
    if (received === 0) first = Date.now();
    received++;
    last = Date.now();
  });
  const bar = progress('bare subscriber', () => received, COUNT);
  await publish(broker.url, COUNT, 0);
  while (received < COUNT) await new Promise((r) => setTimeout(r, 20));
  clearInterval(bar);
  await sub.endAsync();
  await broker.close();
  return (received / (last - first)) * 1000;
}

async function hubRun(
  count: number,
  rate: number,
): Promise<{ rate: number; stored: number; latencies: number[]; peakRss: number }> {
  global.gc?.();
  peakRss = process.memoryUsage().rss;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mw-bench-'));
  const hub = await startHub({
    config: parseConfig(
      benchPlantYaml(UNITS, '{ id: bench, type: mqtt }', '{ type: sqlite, synchronous: FULL }') +
        // --no-audit: no audit rows for state changes, to measure what auditing costs.
        (process.argv.includes('--no-audit') ? 'audit: { stateChanges: false }\n' : ''),
    ),
    baseDir: dir,
    dataDir: dir,
    logger,
    http: false,
  });
  let committed = 0;
  let first = 0;
  let last = 0;
  const latencies: number[] = [];
  hub.pipeline.on('committed', (_events, batch) => {
    const now = Date.now();
    if (committed === 0) first = batch.samples[0]?.receivedTs ?? now;
    committed += batch.samples.length;
    last = now;
    if (rate > 0) for (const s of batch.samples) latencies.push(now - s.sourceTs);
  });
  const bar = progress(
    rate > 0 ? `hub at ${fmt(rate)}/s` : 'hub full speed',
    () => committed,
    count,
  );
  const pub = await publish(hub.broker?.url ?? '', count, rate);
  clearInterval(bar);
  const stored = await hub.store.countSamples();
  const snap = hub.pipeline.snapshot();
  console.log(
    `\r  (${fmt(snap.committedBatches)} batches, ${fmt(snap.committedSamples / Math.max(1, snap.committedBatches))} samples per batch on average)`,
  );
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
  if (pub.acked !== count) throw new Error(`publisher saw ${pub.acked} of ${count} acknowledged`);
  return { rate: (committed / (last - first)) * 1000, stored, latencies, peakRss };
}

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

console.log(
  `bench/ingest: ${fmt(COUNT)} tag changes from ${UNITS} units, QoS 1, window ${WINDOW}, ${os.cpus().length} cores, node ${process.version}`,
);
const PHASE = process.argv.includes('--phase')
  ? process.argv[process.argv.indexOf('--phase') + 1]
  : 'all';
if (PHASE === 'hub') {
  // Profiling aid: only the full-speed hub run.
  const only = await hubRun(COUNT, 0);
  console.log(
    `\r  hub, full speed: ${fmt(only.rate)} samples/s committed; stored ${fmt(only.stored)} of ${fmt(COUNT)}`,
  );
  clearInterval(rssTimer);
  process.exit(0);
}
const ceilingRate = await ceiling();
console.log(`\r  ceiling (bare mqtt.js subscriber, same broker): ${fmt(ceilingRate)} msgs/s`);
const full = await hubRun(COUNT, 0);
console.log(
  `\r  hub, full speed: ${fmt(full.rate)} samples/s committed (${((full.rate / ceilingRate) * 100).toFixed(0)}% of the ceiling); stored ${fmt(full.stored)} of ${fmt(COUNT)}${full.stored === COUNT ? ', none lost' : ' — LOSS'}`,
);
const half = await hubRun(LATENCY_COUNT, Math.round(ceilingRate / 2));
const sorted = half.latencies.sort((a, b) => a - b);
console.log(
  `\r  hub at half the ceiling (${fmt(ceilingRate / 2)}/s, ${fmt(LATENCY_COUNT)} msgs): latency publish → committed p50 ${pct(sorted, 50)} ms, p99 ${pct(sorted, 99)} ms, max ${sorted[sorted.length - 1]} ms`,
);
clearInterval(rssTimer);
console.log(
  `  peak RSS of the process during the full-speed hub run (embedded broker + hub): ${mb(full.peakRss)}`,
);
console.log(
  `RESULT ceiling_msgs_s=${Math.round(ceilingRate)} hub_samples_s=${Math.round(full.rate)} ratio=${(full.rate / ceilingRate).toFixed(2)} lost=${COUNT - full.stored} p50_ms=${pct(sorted, 50)} p99_ms=${pct(sorted, 99)} peak_rss_mb=${Math.round(full.peakRss / 1048576)}`,
);
