/**
 * Crash test: QoS 1 samples stream into a hub running as its own process; the hub is killed with
 * SIGKILL mid-stream and restarted. Every message the publisher saw acknowledged must be in the
 * store, and the messages re-delivered after the crash must not double-count production.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import mqtt from 'mqtt';
import { openStore } from '../../src/store/index.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';
import { childTracker, exited, freePort, hubProcessArgs } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';

const MESSAGES = 6000;
const KILL_AFTER_ACKED = 1500;
const T0 = Date.parse('2026-11-25T06:00:00Z');
const TOPIC = 'plc/plant1/packaging/line1/filler/good';

const data = tempDir('mw-crash-');
after(() => data.remove());
const track = childTracker();

function startHubProcess(configFile: string): ChildProcess {
  const child = spawn(process.execPath, hubProcessArgs(configFile, '--log-format', 'json'), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL' && signal !== 'SIGTERM')
      console.log(`# hub exited ${code}: ${output}`);
  });
  return track(child);
}

it(
  'loses no acknowledged sample and counts re-deliveries once across a SIGKILL',
  { timeout: 120_000 },
  async () => {
    const brokerPort = await freePort();
    const configFile = path.join(data.dir, 'millwright.yaml');
    writeFileSync(
      configFile,
      `${PLANT_YAML}
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    topic: plc/{site}/{area}/{line}/{unit}/good
    meaning: counter.good
    payload: { valuePath: n, timestampPath: ts }
broker: { port: ${brokerPort} }
http: { port: 0 }
dataDir: ./data
`,
    );
    let hub = startHubProcess(configFile);

    // The publisher: a persistent mqtt.js client that re-sends unacknowledged QoS 1 messages when
    // it reconnects. The counter value n is absolute (like a PLC's), so n identifies the message.
    const client = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, {
      clientId: 'crash-publisher',
      clean: false,
      reconnectPeriod: 100,
    });
    client.on('error', () => undefined);
    const acked = new Set<number>();
    let killed = false;
    const publishAll = (async () => {
      const window = 200;
      const inflight = new Set<Promise<void>>();
      for (let n = 1; n <= MESSAGES; n++) {
        const p: Promise<void> = new Promise<void>((resolve) => {
          client.publish(TOPIC, JSON.stringify({ n, ts: T0 + n }), { qos: 1 }, (err) => {
            if (!err) acked.add(n);
            resolve();
          });
        }).then(() => {
          inflight.delete(p);
        });
        inflight.add(p);
        if (inflight.size >= window) await Promise.race(inflight);
        if (!killed && acked.size >= KILL_AFTER_ACKED) {
          killed = true;
          hub.kill('SIGKILL');
          await exited(hub);
          hub = startHubProcess(configFile);
        }
      }
      await Promise.all(inflight);
    })();

    await waitFor(() => acked.size === MESSAGES, {
      timeoutMs: 90_000,
      what: `all ${MESSAGES} messages acknowledged (have ${acked.size})`,
    });
    await publishAll;
    assert.ok(killed, 'the hub was killed mid-stream');
    // A broker re-delivers what it had not seen acknowledged, committed or not: send a run of
    // already-committed values again, as a re-delivery after a crash would.
    for (let n = KILL_AFTER_ACKED - 100; n <= KILL_AFTER_ACKED + 100; n++) {
      await client.publishAsync(TOPIC, JSON.stringify({ n, ts: T0 + n }), { qos: 1, dup: true });
    }
    await client.endAsync();
    hub.kill('SIGTERM');
    await exited(hub);
    assert.equal(hub.exitCode, 0, 'a SIGTERM stops the hub cleanly');

    const store = await openStore(
      { type: 'sqlite', synchronous: 'FULL' },
      {
        dataDir: path.join(data.dir, 'data'),
        quarantineMaxEntries: 10,
        quarantinePayloadBytes: 10,
      },
    );
    try {
      const stored = new Set<number>();
      let afterId = 0;
      for (;;) {
        const page = await store.listSamples({ tag: TOPIC, afterId, limit: 5000 });
        if (page.length === 0) break;
        for (const s of page) stored.add(Number(s.value));
        afterId = page[page.length - 1]?.id ?? afterId;
      }
      const rows = await store.countSamples();
      console.log(
        `${acked.size} acknowledged, ${stored.size} distinct samples stored, ${rows} sample rows (re-deliveries included)`,
      );
      assert.ok(rows >= MESSAGES + 201, 'the re-deliveries were stored as samples');
      const missing = [...acked].filter((n) => !stored.has(n));
      assert.deepEqual(
        missing.slice(0, 10),
        [],
        `${missing.length} acknowledged samples missing from the store`,
      );
      const filler = (await store.loadUnits()).find(
        (u) => u.equipmentId === 'acme/plant1/packaging/line1/filler',
      );
      // The first value is the baseline; every later one adds exactly 1, re-deliveries add nothing.
      assert.equal(filler?.counters.good.total, MESSAGES - 1);
      assert.equal(filler?.counters.good.lastRaw, MESSAGES);
      assert.equal(await store.countQuarantine(), 0);
    } finally {
      await store.close();
    }
  },
);
