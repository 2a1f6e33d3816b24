/**
 * One input the store refuses (not because it is away) does not hold up the others: the batch
 * goes to the spool and is acknowledged, replay takes its inputs one at a time, the refused one
 * is set aside in the quarantine (MW_ERR_STORE_REJECTED, with the store's reason) after a few
 * tries, and everything around it is stored once, in order, counted once.
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
import { openSpool } from '../../src/store/sqlite/spool.ts';
import type { IngestBatch, Store } from '../../src/store/types.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';

const config = parseConfig(`${PLANT_YAML}
connections: [{ id: c, type: mqtt }]
bindings:
  - { connection: c, topic: 'p/{unit}/good', equipment: 'acme/plant1/packaging/line1/{unit}', meaning: counter.good, payload: { valuePath: n, timestampPath: ts } }
`);
const FILLER = 'acme/plant1/packaging/line1/filler';
const POISON = 13;

describe('an input the store refuses', () => {
  const tmp = tempDir();
  let inner: Store;
  let refused = 0;
  before(async () => {
    inner = await openStore(
      { type: 'sqlite', synchronous: 'NORMAL', path: path.join(tmp.dir, 'p.db') },
      { dataDir: tmp.dir, quarantineMaxEntries: 100, quarantinePayloadBytes: 100 },
    );
    await inner.migrate();
  });
  after(async () => {
    await inner.close();
    tmp.remove();
  });

  it('is set aside in the quarantine; the rest of its batch is stored once, in order', async () => {
    // The store refuses any batch holding reading 13, as PostgreSQL refuses text with U+0000.
    const store = new Proxy(inner, {
      get: (target, prop) =>
        prop === 'commit'
          ? async (batch: IngestBatch) => {
              if (batch.samples.some((s) => s.value === POISON)) {
                refused++;
                throw new Error('invalid byte sequence for encoding "UTF8": 0x00 (simulated)');
              }
              return target.commit(batch);
            }
          : Reflect.get(target, prop),
    });
    const hierarchy = hierarchyOf(config);
    const runtime = new EquipmentRuntime(hierarchy);
    const spool = openSpool(path.join(tmp.dir, 'spool.db'), 10_000_000);
    const p = new IngestPipeline(
      store,
      runtime,
      new BindingTable(config.bindings, 'acme'),
      {
        batchMaxSize: 8,
        batchLingerMs: 0,
        queueMax: 1000,
        maxPayloadBytes: () => 1000,
        quarantinePayloadBytes: 100,
        auditStateChanges: false,
      },
      pino({ level: 'silent' }),
      spool,
    );
    try {
      // A counter 1 … 20 whose 13th reading the store refuses; all accepted in one turn.
      const acks = Array.from({ length: 20 }, (_, i) =>
        p.ingestMessage({
          connectionId: 'c',
          topic: 'p/filler/good',
          payload: Buffer.from(JSON.stringify({ n: i + 1 })),
          receivedTs: 1_000 + i,
        }),
      );
      await Promise.all(acks); // every input acknowledged: stored, or durably spooled
      await waitFor(() => p.snapshot().mode === 'direct' && spool.stats().entries === 0, {
        what: 'the spool replayed',
      });
      const samples = await inner.listSamples({ limit: 100 });
      assert.deepEqual(
        samples.map((s) => s.value),
        Array.from({ length: 20 }, (_, i) => i + 1).filter((n) => n !== POISON),
      );
      const [q] = await inner.listQuarantine({ limit: 10 });
      assert.equal(q?.code, 'MW_ERR_STORE_REJECTED');
      assert.match(
        q?.message ?? '',
        /refused this input \(alone, 3 times\): invalid byte sequence/,
      );
      assert.equal(JSON.parse(q!.payload.toString()).n, POISON);
      // Counted once, as 19 accepted and 1 quarantined, however many tries replay took.
      const c = p.snapshot().connections.c!;
      assert.deepEqual([c.received, c.accepted, c.quarantined], [20, 19, 1]);
      assert.equal(c.quarantinedByCode.MW_ERR_STORE_REJECTED, 1);
      assert.ok(refused >= 4, `the batch and then the reading alone 3 times (${refused})`);
      // The counter went on across the hole: 1 → 20 is 19 pieces, none twice.
      assert.equal(runtime.get(FILLER)?.counters.good.total, 19);
    } finally {
      await p.close();
      spool.close();
    }
  });
});
