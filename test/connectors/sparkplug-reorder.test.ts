/**
 * Sparkplug Reorder Timeout (host requirements operational-behavior-host-reordering-*): a message
 * after a sequence gap is held; when the missing one arrives within the timeout both are applied
 * in order and no rebirth is asked for; when it does not, the held one is applied after the
 * timeout and the node is asked for a rebirth.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DataType, encodePayload } from '../../src/connectors/sparkplug/payload.ts';
import type { ConnectorInstance } from '../../src/core/connector.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { EdgeNode } from './sparkplug-edge.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const T0 = Date.parse('2026-11-26T08:00:00Z');

describe('Sparkplug Reorder Timeout', () => {
  const G = `mwreorder-${Math.random().toString(36).slice(2, 8)}`;
  let hub: TestHub;
  let sp: ConnectorInstance;
  let edge: EdgeNode;
  /** DDATA of the filler's good counter with an explicit seq (as a reordering broker delivers). */
  const ddata = (seq: number, good: number) =>
    edge.raw(
      'DDATA',
      encodePayload({
        timestamp: T0 + seq,
        seq,
        metrics: [{ alias: 11, datatype: DataType.UInt32, value: good, timestamp: T0 + seq }],
      }),
      'filler',
    );
  const metric = (name: string) =>
    (sp.metrics?.() ?? []).find((m) => m.name === name)?.value ?? Number.NaN;
  const rebirths = () => edge.commands.filter((c) => c.topic === `spBv1.0/${G}/NCMD/edge1`).length;

  before(async () => {
    hub = await startTestHub(
      testConfig(`${PLANT_YAML}
connections:
  - id: sp
    type: sparkplug
    groupIds: [${G}]
    rebirthMinInterval: 100ms
    reorderTimeout: 1500ms
bindings:
  - connection: sp
    topic: '${G}/+/{unit}/count/good'
    equipment: acme/plant1/packaging/line1/{unit}
    meaning: counter.good
`),
      { http: false },
    );
    sp = hub.connectors.find((c) => c.id === 'sp') as ConnectorInstance;
    await waitFor(() => sp.health().status === 'connected', { what: 'host connected' });
    edge = new EdgeNode({ url: hub.broker!.url, group: G, edgeNode: 'edge1', bdSeq: 1 });
    await edge.connect();
    await edge.nbirth([]); // seq 0
    await edge.dbirth('filler', [
      { name: 'count/good', alias: 11, datatype: DataType.UInt32, value: 100, timestamp: T0 },
    ]); // seq 1
    await waitFor(() => hub.runtime.get(FILLER)?.counters.good.lastRaw === 100, {
      what: 'the birth value',
    });
  });
  after(async () => {
    await edge?.end().catch(() => undefined);
    await hub?.dispose();
  });

  it('puts a message that overtook another back in order, without a rebirth', async () => {
    await ddata(3, 130); // overtakes seq 2: held
    await ddata(2, 120);
    await waitFor(() => hub.runtime.get(FILLER)?.counters.good.lastRaw === 130, {
      what: 'both applied',
    });
    // Applied in seq order: 100 → 120 → 130 is 30 pieces (out of order, 130 → 120 would read as
    // a counter reset).
    assert.equal(hub.runtime.get(FILLER)?.counters.good.total, 30);
    assert.equal(metric('sparkplug_reordered_total'), 1);
    assert.equal(metric('sparkplug_seq_gaps_total'), 0);
    assert.equal(rebirths(), 0);
  });

  it('applies what it holds when the timeout passes, and asks for a rebirth', async () => {
    await ddata(6, 160); // seq 4 and 5 never come
    // Held, not applied, while the timer runs.
    assert.equal(hub.runtime.get(FILLER)?.counters.good.lastRaw, 130);
    // After the timeout: applied (uncertain: the node owes a rebirth), and the rebirth asked for.
    const sample = await waitFor(
      async () =>
        (await hub.store.listSamples({ tag: `${G}/edge1/filler/count/good`, limit: 100 })).find(
          (x) => x.value === 160,
        ),
      { what: 'the held message applied after the timeout' },
    );
    assert.equal(sample.quality, 'uncertain');
    await waitFor(() => rebirths() === 1, { what: 'the rebirth request' });
    assert.equal(metric('sparkplug_seq_gaps_total'), 1);
  });
});
