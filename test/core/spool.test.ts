/**
 * Nothing lost while the store is away: a PostgreSQL store behind a TCP proxy that the test
 * cuts. Input keeps being acknowledged (it goes to the local spool), health says so, and when
 * the store returns the spool is replayed in order: every sample stored once, every piece
 * counted once. A full spool holds the sources back instead of dropping anything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { PLANT_YAML, startTestHub, tempDir, testConfig, type TestHub } from '../helpers/hub.ts';
import { startProxy, type TcpProxy } from '../helpers/proxy.ts';
import { PG_URL, serviceSkip, waitFor } from '../helpers/services.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const skip = await serviceSkip('PostgreSQL', PG_URL);

describe('the spool while PostgreSQL is away', { skip }, () => {
  const schema = `mw_spool_${process.pid}_${Date.now()}`;
  let proxy: TcpProxy;
  let hub: TestHub;
  let device: MqttClient;

  const start = async (maxBytes: number, dataDir?: string): Promise<void> => {
    const url = new URL(PG_URL);
    url.host = `127.0.0.1:${proxy.port}`;
    hub = await startTestHub(
      testConfig(`${PLANT_YAML}
store: { type: postgres, url: '${url.toString()}', schema: ${schema} }
ingest: { spool: { maxBytes: ${maxBytes} } }
connections: [{ id: line, type: mqtt }]
bindings:
  - { connection: line, topic: 't/{site}/{area}/{line}/{unit}/good', meaning: counter.good, payload: { valuePath: v, timestampPath: ts } }
`),
      dataDir === undefined ? {} : { dataDir },
    );
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  };
  const good = (v: number) =>
    device.publishAsync(
      't/plant1/packaging/line1/filler/good',
      JSON.stringify({ v, ts: 1_800_000_000_000 + v }),
      { qos: 1 },
    );

  before(async () => {
    const target = new URL(PG_URL);
    proxy = await startProxy(target.hostname, Number(target.port || 5432));
  });
  after(async () => {
    await device?.endAsync().catch(() => undefined);
    await hub?.dispose();
    await proxy.close();
    const c = new pg.Client(PG_URL);
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  });

  it('acknowledges into the spool while the store is away, then replays in order', async () => {
    await start(16 * 1024 * 1024);
    for (let v = 1; v <= 50; v++) await good(v);
    assert.equal(hub.pipeline.snapshot().mode, 'direct');

    await proxy.cut();
    // Every publish still gets its PUBACK: the input is durable in the spool.
    for (let v = 51; v <= 100; v++) await good(v);
    const during = hub.pipeline.snapshot();
    assert.equal(during.mode, 'spooling');
    assert.ok((during.spool?.entries ?? 0) > 0, 'the spool holds the input');
    const res = await fetch(`${hub.url}/api/v1/health`);
    // The store is down, yet nothing is refused: the spool takes the input.
    // Degraded, not down: the hub still takes (and acknowledges) every input.
    assert.equal(res.status, 200);
    const health = (await res.json()) as {
      status: string;
      ingest: { mode: string; spool: { entries: number; fill: number } };
    };
    assert.equal(health.ingest.mode, 'spooling');
    assert.equal(health.status, 'degraded');
    assert.ok(health.ingest.spool.entries > 0 && health.ingest.spool.fill > 0);

    await proxy.restore();
    await waitFor(() => hub.pipeline.snapshot().mode === 'direct', {
      what: 'the spool to be replayed',
      timeoutMs: 30_000,
    });
    assert.equal(hub.pipeline.snapshot().spool?.entries, 0);
    const figures = hub.pipeline.snapshot().connections.line;
    assert.deepEqual(
      [figures?.received, figures?.accepted],
      [100, 100],
      'each message counted once, also those replayed after their batch failed',
    );
    const samples = await hub.store.listSamples({ limit: 1000 });
    assert.deepEqual(
      samples.map((s) => s.value),
      Array.from({ length: 100 }, (_, i) => i + 1),
      'every sample once, in order',
    );
    const events = await hub.store.listEvents({ equipmentId: FILLER, limit: 1000 });
    const counted = events.filter((e) => e.type === 'counted');
    assert.equal(
      counted.reduce((sum, e) => sum + (e.type === 'counted' ? e.data.delta : 0), 0),
      99,
      'every piece counted once (the first reading is the baseline)',
    );
    const unit = (await hub.store.loadUnits()).find((u) => u.equipmentId === FILLER);
    assert.equal(unit?.counters.good.total, 99);
    await device.endAsync();
    await hub.dispose();
  });

  it('holds the sources back when the spool is full, and loses nothing', async () => {
    await start(65_536);
    await good(1_000);
    await proxy.cut();
    const acked: number[] = [];
    const sends = Array.from({ length: 600 }, (_, i) => good(1_001 + i).then(() => acked.push(i)));
    await waitFor(
      () => {
        const s = hub.pipeline.snapshot().spool;
        return s !== null && s.bytes > s.maxBytes * 0.9;
      },
      { what: 'the spool to fill up', timeoutMs: 20_000 },
    );
    assert.ok(acked.length < 600, `some publishes wait for room (acked ${acked.length})`);
    // Now input cannot be taken: down.
    const full = await fetch(`${hub.url}/api/v1/health`);
    assert.equal(full.status, 503);
    assert.equal(((await full.json()) as { status: string }).status, 'down');
    await proxy.restore();
    await Promise.all(sends);
    await waitFor(() => hub.pipeline.snapshot().mode === 'direct', {
      what: 'the spool to drain',
      timeoutMs: 30_000,
    });
    const unit = (await hub.store.loadUnits()).find((u) => u.equipmentId === FILLER);
    // 99 from the first test, then a baseline of 1000 and 600 more pieces.
    assert.equal(unit?.counters.good.total, 99 + 1_000 - 100 + 600);
  });

  it('keeps the spool across a restart and replays it at the next start', async () => {
    await device.endAsync();
    await hub.dispose();
    const data = tempDir('mw-spool-restart-');
    try {
      await start(16 * 1024 * 1024, data.dir);
      const before = (await hub.store.loadUnits()).find((u) => u.equipmentId === FILLER);
      const lastRaw = before?.counters.good.lastRaw ?? 0;
      await proxy.cut();
      for (let v = 1; v <= 20; v++) await good(lastRaw + v);
      assert.ok((hub.pipeline.snapshot().spool?.entries ?? 0) > 0);
      await device.endAsync();
      await hub.stop(); // the store is still away: the spool keeps the input on disk
      await proxy.restore();
      await start(16 * 1024 * 1024, data.dir);
      await waitFor(() => hub.pipeline.snapshot().mode === 'direct', {
        what: 'the spool of the earlier run to be replayed',
        timeoutMs: 30_000,
      });
      const unit = (await hub.store.loadUnits()).find((u) => u.equipmentId === FILLER);
      assert.equal(unit?.counters.good.total, (before?.counters.good.total ?? 0) + 20);
    } finally {
      await device.endAsync();
      await hub.stop();
      data.remove();
    }
  });
});
