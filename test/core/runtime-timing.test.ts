/**
 * The runtime's clock-driven rules in a real hub (embedded broker, SQLite): debounced states
 * confirmed by the clock, a flicker filtered, a micro-stop flagged, a silent unit turned
 * `unknown` (no-data), a bad-quality state reading turned `unknown` at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import type { StateChangedEvent } from '../../src/model/index.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const CAPPER = 'acme/plant1/packaging/line1/capper';

describe('runtime timing rules', () => {
  let hub: TestHub;
  let device: MqttClient;
  const state = (unit: string, v: string) =>
    device.publishAsync(
      `t/plant1/packaging/line1/${unit}/state`,
      JSON.stringify({ v, ts: Date.now() }),
      { qos: 1 },
    );
  const changes = async (unit: string): Promise<StateChangedEvent['data'][]> =>
    (await hub.store.listEvents({ equipmentId: unit, limit: 1000 }))
      .filter(
        (e): e is StateChangedEvent & { seq: number; recordedAt: number } =>
          e.type === 'state.changed',
      )
      .map((e) => e.data);

  before(async () => {
    hub = await startTestHub(
      testConfig(
        `${PLANT_YAML}
runtime: { stateDebounce: 1s, microStopMax: 10s }
connections: [{ id: line, type: mqtt }]
bindings:
  - { connection: line, topic: 't/{site}/{area}/{line}/{unit}/state', meaning: state, payload: { valuePath: v, timestampPath: ts } }
`.replace('{ id: capper }', '{ id: capper, noDataTimeout: 800ms, stateDebounce: 0ms }'),
      ),
    );
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('confirms a state once it stood the debounce, filters a flicker, flags a micro-stop', async () => {
    await state('filler', 'running');
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'unknown', 'not yet: debouncing');
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'running', {
      what: 'running confirmed by the clock',
    });
    await state('filler', 'down');
    await state('filler', 'running'); // back within a few ms: a flicker
    await state('filler', 'down');
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'down', { what: 'down' });
    await state('filler', 'running');
    await waitFor(() => hub.runtime.get(FILLER)?.status.state === 'running', { what: 'running' });
    await hub.pipeline.flush();
    const seen = await changes(FILLER);
    assert.deepEqual(
      seen.map((d) => d.state),
      ['running', 'down', 'running'],
      'the flicker left no trace in the journal',
    );
    assert.equal(seen[2]?.previousMicroStop, true, 'a down shorter than 10 s is a micro-stop');
    assert.ok((seen[2]?.previousDurationMs ?? 0) >= 1000);
  });

  it('turns a silent unit unknown (no-data), with an audit row by the system', async () => {
    await state('capper', 'running');
    await waitFor(() => hub.runtime.get(CAPPER)?.status.state === 'running', { what: 'running' });
    await waitFor(() => hub.runtime.get(CAPPER)?.status.reasonCode === 'no-data', {
      what: 'unknown after 800 ms of silence',
      timeoutMs: 5000,
    });
    assert.equal(hub.runtime.get(CAPPER)?.status.state, 'unknown');
    await hub.pipeline.flush();
    const audit = await hub.store.listAudit({ entityId: CAPPER, actor: 'system', limit: 10 });
    assert.equal(audit.length, 1);
    assert.deepEqual(audit[0]?.changes.state, { old: 'running', new: 'unknown' });
    // A new reading brings it back.
    await state('capper', 'idle');
    assert.equal(hub.runtime.get(CAPPER)?.status.state, 'idle');
  });

  it('a bad-quality state reading makes the unit unknown at once', async () => {
    await hub.pipeline.ingestSample({
      connectionId: 'line',
      tag: 't/plant1/packaging/line1/capper/state',
      value: null,
      quality: 'bad',
      status: 'stale: connection lost',
      sourceTs: null,
      receivedTs: Date.now(),
    });
    assert.equal(hub.runtime.get(CAPPER)?.status.state, 'unknown');
    assert.equal(hub.runtime.get(CAPPER)?.status.reasonCode, 'bad-quality');
  });
});
