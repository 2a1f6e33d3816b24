/**
 * Modbus TCP connector benchmark. A modbus-serial ServerTCP in its own process (modbus-server.ts)
 * holds `--tags` holding registers of one unit id, four per work unit (three counters and a
 * state), changing every `--change-every` ms. Two runs against it:
 *
 *   1. ceiling: a bare modbus-serial client reading the same blocks (125 registers each, the
 *      Modbus maximum, as the connector plans them) one after the other in a loop;
 *   2. hub: an in-process hub (SQLite, synchronous FULL) with a modbus connection polling every
 *      tag every `--every` ms with `heartbeat: 0s`, so every tag of every scan becomes a sample
 *      in the store. Figures: tags committed per second, scan period, answer → commit latency.
 *
 * Usage: npm run bench:modbus [-- --tags 2000 --seconds 15 --every 10 --change-every 100]
 */
import modbusSerial from 'modbus-serial';
import {
  COUNTERS,
  CommitMeter,
  finish,
  fmt,
  forkPeer,
  freePort,
  header,
  mb,
  note,
  numArg,
  onCleanup,
  pct,
  progress,
  result,
  rss,
  run,
  waitUntil,
  deadline,
  startBenchHub,
  unitOf,
} from './common.ts';

const ModbusRTU = modbusSerial.default;

const TAGS = numArg('tags', 2000);
const SECONDS = numArg('seconds', 15);
const CEILING_SECONDS = numArg('ceiling-seconds', Math.min(SECONDS, 10));
const EVERY_MS = numArg('every', 10);
const CHANGE_EVERY_MS = numArg('change-every', 100);
const WARMUP_MS = 2000;
const UNIT_ID = 1;
/** Registers per read request: the most FC3 allows (Modbus Application Protocol V1.1b §6.3). */
const BLOCK = 125;

const TAG_NAMES = [...COUNTERS, 'state'] as const;
const tagName = (address: number): string => {
  const { line, unit } = unitOf(Math.floor(address / 4));
  return `${line}/${unit}/${TAG_NAMES[address % 4] as string}`;
};

async function ceiling(port: number): Promise<{ registersPerS: number; scanMs: number[] }> {
  const client = new ModbusRTU();
  await client.connectTCP('127.0.0.1', { port });
  let open = true;
  const close = (): Promise<void> =>
    open
      ? new Promise<void>((resolve) => {
          open = false;
          client.close(() => resolve());
        })
      : Promise.resolve();
  onCleanup(close);
  client.setID(UNIT_ID);
  client.setTimeout(1000);
  const blocks: [number, number][] = [];
  for (let start = 0; start < TAGS; start += BLOCK)
    blocks.push([start, Math.min(BLOCK, TAGS - start)]);
  const scanMs: number[] = [];
  let registers = 0;
  const scan = async (): Promise<void> => {
    for (const [start, count] of blocks) {
      const r = await client.readHoldingRegisters(start, count);
      registers += r.data.length;
    }
  };
  const warmupEnd = Date.now() + 1000;
  while (Date.now() < warmupEnd) await scan();
  registers = 0;
  const stop = progress('bare client', () => `${fmt(registers)} registers read`);
  const t0 = performance.now();
  const end = Date.now() + CEILING_SECONDS * 1000;
  while (Date.now() < end) {
    const s0 = performance.now();
    await scan();
    scanMs.push(performance.now() - s0);
  }
  const seconds = (performance.now() - t0) / 1000;
  stop();
  await close();
  return { registersPerS: registers / seconds, scanMs: scanMs.sort((a, b) => a - b) };
}

async function hubRun(port: number): Promise<{
  tagsPerS: number;
  scanPeriodMs: number[];
  latencyMs: number[];
  overruns: number;
  requestLatencyMs: number;
  committed: number;
  peakRss: number;
}> {
  const tags = Array.from(
    { length: TAGS },
    (_, a) => `          - { name: ${tagName(a)}, address: ${a} }`,
  ).join('\n');
  const connection = `  - id: plc
    type: modbus
    host: 127.0.0.1
    port: ${port}
    heartbeat: 0s
    pollGroups: [{ id: fast, every: ${EVERY_MS}ms }]
    devices:
      - unitId: ${UNIT_ID}
        tags:
${tags}`;
  rss.reset();
  const { hub, stop } = await startBenchHub(Math.ceil(TAGS / 4), 'plc', connection, '');
  // Latency of one sample in 50: answer (receivedTs) → commit.
  const meter = new CommitMeter(hub, (s) => s.receivedTs, 50);
  const firstTag = tagName(0);
  const firstTagTs: number[] = [];
  hub.pipeline.on('committed', (_e, batch) => {
    for (const s of batch.samples) if (s.tag === firstTag) firstTagTs.push(s.receivedTs);
  });
  await waitUntil(hub, () => meter.batches > 0, 'the first commit');
  await run(hub, WARMUP_MS);
  meter.reset();
  firstTagTs.length = 0;
  const stopProgress = progress('hub', () => `${fmt(meter.samples)} samples committed`);
  await run(hub, SECONDS * 1000);
  meter.freeze();
  stopProgress();
  const metrics = hub.connectors.find((c) => c.id === 'plc')?.metrics?.() ?? [];
  const metric = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
  const peakRss = rss.peak;
  await stop();
  const scanPeriodMs = firstTagTs
    .slice(1)
    .map((ts, i) => ts - (firstTagTs[i] as number))
    .sort((a, b) => a - b);
  return {
    tagsPerS: meter.rate,
    scanPeriodMs,
    latencyMs: meter.sortedLatencies(),
    overruns: metric('modbus_scan_overruns_total'),
    requestLatencyMs: metric('modbus_request_latency_ms'),
    committed: meter.samples,
    peakRss,
  };
}

deadline(120 + SECONDS * 2);
try {
  header(
    'bench/connectors/modbus',
    `${fmt(TAGS)} holding registers of unit ${UNIT_ID} (changing every ${CHANGE_EVERY_MS} ms), poll every ${EVERY_MS} ms, heartbeat 0s, ${SECONDS} s measured`,
  );
  const port = await freePort();
  const server = await forkPeer<{ port: number }>('./modbus-server.ts', [
    String(port),
    String(TAGS),
    String(CHANGE_EVERY_MS),
  ]);
  console.log(`  ServerTCP (pid ${server.child.pid}) on 127.0.0.1:${port}`);
  const bare = await ceiling(port);
  const bareScan = pct(bare.scanMs, 50);
  note('ceiling: bare modbus-serial client', `${fmt(bare.registersPerS)} registers/s`);
  const hub = await hubRun(port);
  const hubScan = pct(hub.scanPeriodMs, 50);
  console.log('');
  result(
    'tags committed/s',
    `${fmt(hub.tagsPerS)} tags/s`,
    `bare client ${fmt(bare.registersPerS)} registers/s`,
    hub.tagsPerS / bare.registersPerS,
  );
  result(
    `scan of ${fmt(TAGS)} tags, p50`,
    `${fmt(hubScan, 1)} ms`,
    `bare client ${fmt(bareScan, 1)} ms`,
    bareScan / hubScan,
  );
  note(
    'scan period p99 / max',
    `${fmt(pct(hub.scanPeriodMs, 99), 1)} / ${fmt(hub.scanPeriodMs.at(-1) ?? NaN, 1)} ms`,
  );
  note(
    'answer → committed p50 / p99',
    `${fmt(pct(hub.latencyMs, 50))} / ${fmt(pct(hub.latencyMs, 99))} ms`,
  );
  note('request round trip (hub, avg)', `${fmt(hub.requestLatencyMs, 2)} ms`);
  note('scans skipped (overruns)', fmt(hub.overruns));
  note('peak RSS (hub process)', mb(hub.peakRss));
  console.log(
    `RESULT ceiling_registers_s=${Math.round(bare.registersPerS)} hub_tags_s=${Math.round(hub.tagsPerS)} ratio=${(hub.tagsPerS / bare.registersPerS).toFixed(2)} scan_p50_ms=${hubScan.toFixed(1)} bare_scan_p50_ms=${bareScan.toFixed(1)} latency_p50_ms=${pct(hub.latencyMs, 50)} latency_p99_ms=${pct(hub.latencyMs, 99)} peak_rss_mb=${Math.round(hub.peakRss / 1048576)}`,
  );
  await finish();
} catch (err) {
  await finish(err);
}
