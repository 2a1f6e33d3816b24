/**
 * Ingest through an external broker (the machine's Mosquitto, MILLWRIGHT_MQTT_URL): the mqtt.js
 * path, where mqtt.js hands over one QoS 1 message at a time and the hub acknowledges each after
 * its commit. Publishes at a fixed rate for SQLite synchronous FULL and NORMAL and reports the
 * committed rate and any loss. Usage: npm run bench:external [-- --count 30000 --rate 5000]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startHub } from '../../src/hub.ts';
import { benchPlantYaml } from './config.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
// --private-broker: a Mosquitto of this run's own with unbounded queues (max_queued_messages 0),
// to separate the hub's rate from the loss a default-configured broker causes.
const PRIVATE = process.argv.includes('--private-broker');
let privateBroker: ChildProcess | null = null;
let URL_ = process.env.MILLWRIGHT_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
if (PRIVATE) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = path.join(mkdtempSync(path.join(os.tmpdir(), 'mw-bench-mq-')), 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n`,
  );
  privateBroker = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  URL_ = `mqtt://127.0.0.1:${port}`;
  await new Promise((r) => setTimeout(r, 500));
}
const COUNT = arg('count', 30_000);
const RATE = arg('rate', 5_000);
const UNITS = 200;
const publisherScript = fileURLToPath(new URL('./publisher.ts', import.meta.url));
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function run(synchronous: 'FULL' | 'NORMAL', rate: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mw-bench-ext-'));
  const id = `bench-ext-${randomUUID().slice(0, 8)}`;
  const config = parseConfig(
    benchPlantYaml(
      UNITS,
      `{ id: bench, type: mqtt, url: '${URL_}', clientId: ${id} }`,
      `{ type: sqlite, synchronous: ${synchronous} }`,
    ),
  );
  const hub = await startHub({
    config,
    baseDir: dir,
    dataDir: dir,
    logger: pino({ level: 'warn' }),
    http: false,
  });
  while (hub.connectors[0]?.health().status !== 'connected')
    await new Promise((r) => setTimeout(r, 20));
  let committed = 0;
  let first = 0;
  let last = 0;
  hub.pipeline.on('committed', (_e, batch) => {
    if (committed === 0) first = Date.now();
    committed += batch.samples.length;
    last = Date.now();
  });
  await new Promise<void>((resolve, reject) => {
    const child = fork(publisherScript, [URL_, String(COUNT), String(UNITS), String(rate), '100'], {
      execArgv: ['--import', 'tsx'],
    });
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`publisher exited ${code}`)),
    );
  });
  // Wait until nothing more arrives for a second.
  let seen = -1;
  while (seen !== committed) {
    seen = committed;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const stored = await hub.store.countSamples();
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `  synchronous ${synchronous}, offered ${fmt(rate)}/s: ${fmt((committed / Math.max(1, last - first)) * 1000)} samples/s committed; stored ${fmt(stored)} of ${fmt(COUNT)}${stored === COUNT ? '' : ` (${fmt(COUNT - stored)} not delivered by the broker: see bench/README.md)`}`,
  );
}

console.log(
  `bench/ingest external: ${fmt(COUNT)} messages via ${URL_}${PRIVATE ? ' (private Mosquitto, unbounded queues)' : ''}, QoS 1, ${UNITS} units`,
);
await run('FULL', RATE);
await run('NORMAL', RATE);
privateBroker?.kill();
