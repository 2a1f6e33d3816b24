/**
 * Crash test on the external-broker path: a private Mosquitto (started here, on a free port, with
 * unbounded queues so the broker itself drops nothing) holds the hub's persistent session. QoS 1
 * messages stream through it into a hub running as its own process; the hub is killed with
 * SIGKILL mid-stream and restarted. The hub acknowledges a message to the broker only after its
 * commit, so the broker re-delivers everything not committed: the store must end up with every
 * message, and the counter must be exact.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';
import { REQUIRE_SERVICES, waitFor } from '../helpers/services.ts';
import { childTracker, exited, freePort, hubProcessArgs } from '../helpers/processes.ts';

const MESSAGES = 5000;
const KILL_AFTER = 1500;
const T0 = Date.parse('2026-11-25T06:00:00Z');
const TOPIC = 'plc/plant1/packaging/line1/filler/good';
const MOSQUITTO = '/usr/sbin/mosquitto';

const data = tempDir('mw-crash-ext-');
after(() => data.remove());
const track = childTracker();

function spawnChild(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return track(child);
}

it(
  'an external broker re-delivers what the killed hub had not committed, and nothing counts twice',
  { timeout: 120_000 },
  async (t) => {
    if (spawnSync(MOSQUITTO, ['-h']).error !== undefined) {
      const line = `mosquitto not installed at ${MOSQUITTO}`;
      if (REQUIRE_SERVICES) throw new Error(`${line} (MILLWRIGHT_REQUIRE_SERVICES=1)`);
      console.log(`# skip: ${line}`);
      return t.skip(line);
    }
    const brokerPort = await freePort();
    const brokerConf = path.join(data.dir, 'mosquitto.conf');
    writeFileSync(
      brokerConf,
      `listener ${brokerPort} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\npersistence false\n`,
    );
    const broker = spawnChild(MOSQUITTO, ['-c', brokerConf]);
    const url = `mqtt://127.0.0.1:${brokerPort}`;
    await waitFor(
      async () => {
        const c = await mqtt
          .connectAsync(url, { reconnectPeriod: 0, connectTimeout: 500 })
          .catch(() => null);
        await c?.endAsync();
        return c !== null;
      },
      { what: 'the private Mosquitto' },
    );

    const configFile = path.join(data.dir, 'millwright.yaml');
    writeFileSync(
      configFile,
      `${PLANT_YAML}
connections: [{ id: plc, type: mqtt, url: '${url}', clientId: crash-hub }]
bindings:
  - connection: plc
    topic: plc/{site}/{area}/{line}/{unit}/good
    meaning: counter.good
    payload: { valuePath: n, timestampPath: ts }
# Batches wait 20 ms for more messages: an acknowledgement sent before its commit would be
# exposed to the SIGKILL for that long, so the test would catch it.
ingest: { batchLinger: 20ms }
http: { port: 0 }
dataDir: ./data
`,
    );
    const hubArgs = hubProcessArgs(configFile);
    let hub = spawnChild(process.execPath, hubArgs);
    const dbFile = path.join(data.dir, 'data', 'millwright.db');
    const lastRaw = (): number | null => {
      try {
        const db = new Database(dbFile, { readonly: true, fileMustExist: true });
        try {
          const row = db
            .prepare('SELECT good_last_raw AS v FROM unit_state WHERE equipment_id = ?')
            .get('acme/plant1/packaging/line1/filler') as { v: number } | undefined;
          return row?.v ?? null;
        } finally {
          db.close();
        }
      } catch {
        return null;
      }
    };
    // The first message is read only once the hub's session exists; from then on the broker
    // queues for it, also while it is down.
    const publisher = await mqtt.connectAsync(url, {
      clientId: 'crash-ext-publisher',
      reconnectPeriod: 0,
    });
    await waitFor(
      async () => {
        await publisher.publishAsync(TOPIC, JSON.stringify({ n: 0, ts: T0 }), { qos: 1 });
        return lastRaw() === 0;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'the hub to read the first message' },
    );

    for (let n = 1; n <= MESSAGES; n++) {
      await publisher.publishAsync(TOPIC, JSON.stringify({ n, ts: T0 + n }), { qos: 1 });
      if (n === KILL_AFTER) {
        hub.kill('SIGKILL');
        await exited(hub);
        hub = spawnChild(process.execPath, hubArgs);
      }
    }
    await publisher.endAsync();
    await waitFor(() => lastRaw() === MESSAGES, {
      timeoutMs: 60_000,
      what: `the hub to commit message ${MESSAGES} (at ${lastRaw()})`,
    });
    hub.kill('SIGTERM');
    await exited(hub);
    broker.kill('SIGTERM');
    await exited(broker);

    const db = new Database(dbFile, { readonly: true });
    try {
      const values = new Set(
        (db.prepare('SELECT value FROM tag_samples').all() as { value: string }[]).map((r) =>
          Number(r.value),
        ),
      );
      const missing = Array.from({ length: MESSAGES + 1 }, (_, n) => n).filter(
        (n) => !values.has(n),
      );
      assert.deepEqual(
        missing.slice(0, 10),
        [],
        `${missing.length} messages missing from the store`,
      );
      const unit = db.prepare('SELECT good_total AS total FROM unit_state').get() as {
        total: number;
      };
      assert.equal(unit.total, MESSAGES, 'each message counted exactly once');
    } finally {
      db.close();
    }
  },
);
