/**
 * The counter and state forms of bindings through a real hub (embedded broker, SQLite): pulses,
 * increments (a re-delivery not counted twice) and state value maps with ranges.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig } from '../../src/config/load.ts';
import { isMwError } from '../../src/errors.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';

const CAPPER = 'acme/plant1/packaging/line1/capper';
const YAML = `${PLANT_YAML}
connections: [{ id: plc, type: mqtt }]
bindings:
  - { connection: plc, topic: 'plc/{line}/{unit}/done', equipment: 'acme/plant1/packaging/{line}/{unit}', meaning: counter.good, counterMode: pulse }
  - { connection: plc, topic: 'plc/{line}/{unit}/made', equipment: 'acme/plant1/packaging/{line}/{unit}', meaning: counter.total, counterMode: increment, payload: { valuePath: n, timestampPath: ts } }
  - { connection: plc, topic: 'plc/{line}/{unit}/code', equipment: 'acme/plant1/packaging/{line}/{unit}', meaning: state, stateMap: { '0': idle, '1': running, '3..9': down } }
  - { connection: plc, topic: 'plc/{line}/{unit}/temp', equipment: 'acme/plant1/packaging/{line}/{unit}', meaning: process, deadband: 0.5, uom: CEL }
`.replace(
  'units: [{ id: filler, idealCycleTime: 1s }, { id: capper }, { id: labeller }]',
  'units: [{ id: filler, idealCycleTime: 1s }, { id: capper }, { id: labeller }]\n            outputUnit: capper',
);

describe('binding forms', () => {
  let hub: TestHub;
  let device: MqttClient;
  const pub = (topic: string, v: string) => device.publishAsync(topic, v, { qos: 1 });
  const counters = () => hub.runtime.get(CAPPER)!.counters;

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('counts each rising edge of a pulse once', async () => {
    for (const level of ['0', '1', '1', '0', 'true', 'false', '1', '1']) {
      await pub('plc/line1/capper/done', level);
    }
    assert.equal(counters().good.total, 3);
  });

  it('adds increments and drops a re-delivered one', async () => {
    const made = (n: number, ts: number) => pub('plc/line1/capper/made', JSON.stringify({ n, ts }));
    await made(5, 1_000);
    await made(7, 2_000);
    await made(7, 2_000); // the same message again: not counted twice
    await made(2, 3_000);
    assert.equal(counters().total.total, 14);
  });

  it('maps a range of state codes', async () => {
    await pub('plc/line1/capper/code', '1');
    assert.equal(hub.runtime.get(CAPPER)?.status.state, 'running');
    await pub('plc/line1/capper/code', '7');
    assert.equal(hub.runtime.get(CAPPER)?.status.state, 'down');
    await pub('plc/line1/capper/code', '12');
    const [q] = await hub.store.listQuarantine({ limit: 1 });
    assert.equal(q?.code, 'MW_ERR_INGEST_UNMAPPED_STATE');
  });

  it('keeps process values outside the deadband, counting the others as filtered', async () => {
    for (const t of ['20.0', '20.2', '20.4', '20.6', '20.7', '21.2', '19']) {
      await pub('plc/line1/capper/temp', t);
    }
    const kept = await hub.store.listSamples({ tag: 'plc/line1/capper/temp', limit: 100 });
    assert.deepEqual(
      kept.map((x) => x.value),
      [20, 20.6, 21.2, 19],
    );
    assert.equal(hub.pipeline.snapshot().connections.plc?.filtered, 3);
    assert.equal(hub.runtime.get(CAPPER)?.counters.good.total, 3, 'a process value counts nothing');
  });

  it('names the line output unit', async () => {
    const { adminHeaders, call } = await import('../helpers/hub.ts');
    const admin = await adminHeaders(hub);
    const line = await call(hub, 'GET', '/api/v1/equipment/acme/plant1/packaging/line1', {
      headers: admin,
    });
    assert.equal(line.body.outputUnitId, CAPPER);
  });

  it('rejects a bad range and counterMode on a state binding, naming the path', () => {
    let details: string[] = [];
    try {
      parseConfig(`${PLANT_YAML}
connections: [{ id: plc, type: mqtt }]
bindings:
  - { connection: plc, topic: 'a/{unit}/s', meaning: state, stateMap: { '9..3': down }, counterMode: pulse }
  - { connection: plc, topic: 'a/{unit}/c', meaning: counter.good, counterMode: increment, rolloverAt: 99 }
  - { connection: plc, topic: 'a/{unit}/t', meaning: process, uom: DEGC }
  - { connection: plc, topic: 'a/{unit}/u', meaning: state, deadband: 1 }
`);
    } catch (err) {
      assert.ok(isMwError(err));
      details = [...err.details];
    }
    const text = details.join('\n');
    assert.match(text, /bindings\[0\]\.stateMap\.9\.\.3.*expected a range of whole numbers/);
    assert.match(
      text,
      /bindings\[0\]\.counterMode.*only counter and consumption bindings take counterMode/,
    );
    assert.match(text, /bindings\[1\]\.rolloverAt.*absolute counters only/);
    assert.match(text, /bindings\[2\]\.uom.*unknown unit "DEGC"/);
    assert.match(text, /bindings\[3\]\.deadband.*only process bindings take deadband/);
  });

  it('rejects bad materials, flows and consumption bindings, naming the path', () => {
    let details: string[] = [];
    try {
      parseConfig(`${PLANT_YAML.replace(
        '{ id: labeller }]',
        '{ id: labeller }]\n            flow: [filler, capper, mixer, capper]',
      )}
materials:
  - { id: PET, uom: KGM, conversions: ['1 H87 = 0.028 KGX', '2 KGM = 3 GRM'] }
  - { id: PET, uom: KILO }
  - { id: CAP, uom: H87, conversions: ['1 H87 = 0.002 KGM', '1 H87 = 0.003 KGM'] }
connections:
  - { id: plc, type: mqtt }
  - { id: sim, type: simulator, publishTo: plc, consumption: [{ unit: line1/mixer, material: SUGAR }, { unit: filler, material: CAP }] }
bindings:
  - { connection: plc, topic: 'a/{unit}/m', meaning: consumption, counterMode: pulse }
  - { connection: plc, topic: 'a/{unit}/n', meaning: consumption, material: SUGAR }
  - { connection: plc, topic: 'a/{unit}/o', meaning: counter.good, material: PET, rolloverAt: 99.5 }
`);
    } catch (err) {
      assert.ok(isMwError(err));
      details = [...err.details];
    }
    const text = details.join('\n');
    const flow = 'sites\\[0\\]\\.areas\\[0\\]\\.lines\\[0\\]\\.flow';
    assert.match(text, new RegExp(`${flow}\\[2\\].*no unit "mixer" on this line`));
    assert.match(text, new RegExp(`${flow}\\[3\\].*unit "capper" is in the flow twice`));
    assert.match(text, /materials\[0\]\.conversions\[0\].*unit "KGX" is not in the unit catalog/);
    assert.match(text, /materials\[0\]\.conversions\[1\][^\n]*: KGM and GRM are both mass/);
    assert.match(text, /materials\[1\]\.id.*duplicate material id "PET"/);
    assert.match(text, /materials\[1\]\.uom.*unknown unit "KILO"/);
    assert.match(text, /materials\[2\]\.conversions \(line.*material CAP/);
    assert.match(text, /connections\[1\]\.consumption\[0\]\.material.*no material "SUGAR"/);
    assert.match(text, /connections\[1\]\.consumption\[0\]\.unit.*no work unit "line1\/mixer"/);
    assert.doesNotMatch(text, /consumption\[1\]/);
    assert.match(text, /bindings\[0\]\.counterMode.*consumption is absolute or increment/);
    assert.match(text, /bindings\[0\]\.material.*needs a material/);
    assert.match(text, /bindings\[1\]\.material.*no material "SUGAR" in materials/);
    assert.match(text, /bindings\[2\]\.material.*only consumption bindings take material/);
    assert.match(text, /bindings\[2\]\.rolloverAt.*a PLC counter rolls over at a whole number/);
  });
});
