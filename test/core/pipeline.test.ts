/**
 * The pipeline's edges on a real SQLite store: a bounded queue holds sources back, and a failed
 * commit acknowledges nothing and leaves the runtime as the store has it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { hierarchyOf } from '../../src/config/hierarchy.ts';
import { parseConfig } from '../../src/config/load.ts';
import { BindingTable } from '../../src/core/bindings.ts';
import { IngestPipeline } from '../../src/core/pipeline.ts';
import { EquipmentRuntime } from '../../src/core/runtime.ts';
import { openStore } from '../../src/store/index.ts';
import type { IngestBatch, Store, UnitProjection } from '../../src/store/types.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';

const config = parseConfig(`${PLANT_YAML}
connections: [{ id: c, type: mqtt }]
bindings:
  - { connection: c, topic: 'p/{unit}/good', equipment: 'acme/plant1/packaging/line1/{unit}', meaning: counter.good, payload: { valuePath: n, timestampPath: ts } }
`);
const FILLER = 'acme/plant1/packaging/line1/filler';
const msg = (n: number) => ({
  connectionId: 'c',
  topic: 'p/filler/good',
  payload: Buffer.from(JSON.stringify({ n, ts: 1_000 + n })),
  receivedTs: Date.now(),
});

/** The real store, with a gate before each commit and an optional failure. */
class GatedStore {
  gate: Promise<void> = Promise.resolve();
  failNext = false;
  commits = 0;
  constructor(readonly inner: Store) {}
  async commit(batch: IngestBatch) {
    await this.gate;
    this.commits++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full (simulated)');
    }
    return this.inner.commit(batch);
  }
}

describe('ingest pipeline', () => {
  const tmp = tempDir();
  let inner: Store;
  before(async () => {
    inner = await openStore(
      { type: 'sqlite', synchronous: 'NORMAL', path: path.join(tmp.dir, 'p.db') },
      {
        dataDir: tmp.dir,
        quarantineMaxEntries: 100,
        quarantinePayloadBytes: 100,
      },
    );
    await inner.migrate();
  });
  after(async () => {
    await inner.close();
    tmp.remove();
  });

  /** A pipeline over a runtime loaded with `units` (as the hub loads it from the store). */
  function pipeline(store: GatedStore, queueMax: number, units: UnitProjection[] = []) {
    const hierarchy = hierarchyOf(config);
    const runtime = new EquipmentRuntime(hierarchy);
    runtime.reset(units);
    const facade = new Proxy(inner, {
      get: (target, prop) =>
        prop === 'commit' ? store.commit.bind(store) : Reflect.get(target, prop),
    });
    return {
      runtime,
      p: new IngestPipeline(
        facade,
        runtime,
        new BindingTable(config.bindings, 'acme'),
        {
          batchMaxSize: 5,
          batchLingerMs: 0,
          queueMax,
          maxPayloadBytes: () => 1000,
          quarantinePayloadBytes: 100,
          auditStateChanges: true,
        },
        pino({ level: 'silent' }),
      ),
    };
  }

  it('holds sources back when the queue is full, and commits everything once the store frees up', async () => {
    const store = new GatedStore(inner);
    let open!: () => void;
    store.gate = new Promise((r) => (open = r));
    const { p } = pipeline(store, 10);
    let maxQueued = 0;
    const acks = Array.from({ length: 40 }, (_, i) =>
      p.ingestMessage(msg(i + 1)).then(() => (maxQueued = Math.max(maxQueued, p.queued))),
    );
    await waitFor(() => p.queued === 10, { what: 'the queue to fill up to queueMax' });
    assert.equal(p.snapshot().committedSamples, 0);
    open();
    await Promise.all(acks);
    assert.ok(maxQueued <= 10, `queued stayed within queueMax (saw ${maxQueued})`);
    assert.equal(p.snapshot().committedSamples, 40);
    await p.close();
  });

  it('acknowledges nothing of a failed commit and returns the runtime to the units as stored', async () => {
    const store = new GatedStore(inner);
    const { p, runtime } = pipeline(store, 100, await inner.loadUnits());
    const before = runtime.get(FILLER)?.counters.good.total ?? 0;
    const lastRaw = runtime.get(FILLER)?.counters.good.lastRaw ?? 0;
    store.failNext = true;
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => p.ingestMessage(msg(lastRaw + i))),
    );
    assert.ok(
      results.every((r) => r.status === 'rejected'),
      'every message of the failed batch is refused',
    );
    assert.equal(p.snapshot().commitErrors, 1);
    // The runtime forgot what it derived from the failed batch …
    await waitFor(() => runtime.get(FILLER)?.counters.good.total === before, {
      what: 'the runtime back at the stored units',
    });
    // … so the re-delivery counts exactly once.
    for (const i of [1, 2, 3]) await p.ingestMessage(msg(lastRaw + i));
    assert.equal(runtime.get(FILLER)?.counters.good.total, before + 3);
    const stored = (await inner.loadUnits()).find((u) => u.equipmentId === FILLER);
    assert.equal(stored?.counters.good.total, before + 3);
    await p.close();
  });

  it('takes decoded samples: good ones count, bad ones are kept without counting, unbound ones are quarantined', async () => {
    const { p, runtime } = pipeline(new GatedStore(inner), 100);
    const before = runtime.get(FILLER)?.counters.good.total ?? 0;
    const sample = (value: number, quality: 'good' | 'bad', tag = 'p/filler/good') => ({
      connectionId: 'c',
      tag,
      value,
      quality,
      status: quality === 'bad' ? 'BadCommunicationError' : null,
      sourceTs: null,
      receivedTs: Date.now(),
    });
    await p.ingestSample(sample(100, 'good')); // the first reading is the baseline
    // A bad reading (here absurd: a drop to 0 would read as a reset) changes nothing.
    await p.ingestSample(sample(0, 'bad'));
    await p.ingestSample(sample(107, 'good'));
    assert.equal(runtime.get(FILLER)?.counters.good.total, before + 7);
    const stored = await inner.listSamples({ tag: 'p/filler/good', limit: 10_000 });
    const bad = stored.filter((x) => x.quality === 'bad');
    assert.equal(bad.at(-1)?.status, 'BadCommunicationError');
    assert.equal(bad.at(-1)?.value, 0);

    const quarantinedBefore = await inner.countQuarantine();
    await p.ingestSample(sample(1, 'good', 'p/nowhere'));
    const [q] = await inner.listQuarantine({ limit: 1 });
    assert.equal(await inner.countQuarantine(), quarantinedBefore + 1);
    assert.equal(q?.code, 'MW_ERR_INGEST_NO_BINDING');
    assert.deepEqual(JSON.parse(q!.payload.toString()), {
      value: 1,
      quality: 'good',
      status: null,
    });
    await p.close();
  });
});
