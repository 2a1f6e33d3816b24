/**
 * Expression bindings end to end (embedded broker → pipeline → SQLite): a state from two tags,
 * a counter decoded from a packed register, an expression that fails at runtime quarantined
 * with its position, and configuration errors naming the path and the position.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { parseConfig } from '../../src/config/load.ts';
import { isMwError } from '../../src/errors.ts';
import { PLANT_YAML, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const BINDINGS = `
connections: [{ id: plc, type: mqtt }]
bindings:
  - connection: plc
    inputs: { fault: 'plc/{line}/{unit}/fault', running: 'plc/{line}/{unit}/run' }
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: state
    expression: "fault ? 'down' : running ? 'running' : 'idle'"
  - connection: plc
    topic: 'plc/{line}/{unit}/packed'
    equipment: acme/plant1/packaging/{line}/{unit}
    meaning: counter.good
    expression: '(value >>> 16) * 1000 + (value & 0xFFFF)'
`;

describe('expression bindings', () => {
  let hub: TestHub;
  let device: MqttClient;
  const pub = (topic: string, v: string) => device.publishAsync(topic, v, { qos: 1 });

  before(async () => {
    hub = await startTestHub(testConfig(PLANT_YAML + BINDINGS));
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('derives a state from two tags once both are known', async () => {
    await pub('plc/line1/filler/run', '1');
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'unknown', 'fault not known yet');
    await pub('plc/line1/filler/fault', '0');
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'running');
    await pub('plc/line1/filler/fault', '1');
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'down');
    await pub('plc/line1/filler/fault', '0');
    await pub('plc/line1/filler/run', 'false');
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'idle');
  });

  it('decodes a packed counter register', async () => {
    await pub('plc/line1/filler/packed', String((2 << 16) | 5)); // 2005: the baseline
    await pub('plc/line1/filler/packed', String((2 << 16) | 12)); // 2012: +7
    await pub('plc/line1/filler/packed', String((3 << 16) | 1)); // 3001: +989
    assert.equal(hub.runtime.get(FILLER)?.counters.good.total, 996);
  });

  it('quarantines a value the expression cannot take, naming the binding and the position', async () => {
    const before = await hub.store.countQuarantine();
    await pub('plc/line1/filler/packed', 'jammed');
    assert.equal(await hub.store.countQuarantine(), before + 1);
    const [q] = await hub.store.listQuarantine({ limit: 1 });
    assert.equal(q?.code, 'MW_ERR_INGEST_EXPRESSION');
    assert.match(q?.message ?? '', /^bindings\[1\] expression: .*at position \d+/);
    assert.equal(hub.runtime.get(FILLER)?.counters.good.total, 996, 'nothing counted');
  });

  it('rejects a broken expression at load time with its path and position', () => {
    const bad = (binding: string) => {
      try {
        parseConfig(
          `${PLANT_YAML}\nconnections: [{ id: plc, type: mqtt }]\nbindings:\n  - ${binding}\n`,
        );
        return [];
      } catch (err) {
        assert.ok(isMwError(err));
        return [...err.details];
      }
    };
    const typo = bad(
      `{ connection: plc, inputs: { fault: 'a/{unit}/f' }, meaning: state, expression: "faultt ? 'down' : 'running'" }`,
    );
    assert.ok(
      typo.some((d) =>
        /bindings\[0\]\.expression.*unknown variable "faultt" at position 0/.test(d),
      ),
      typo.join('\n'),
    );
    const both = bad(
      `{ connection: plc, topic: 'a/{unit}/s', inputs: { x: 'a/{unit}/x' }, meaning: state, expression: "x" }`,
    );
    assert.ok(
      both.some((d) => /bindings\[0\]\.inputs.*either topic or inputs/.test(d)),
      both.join('\n'),
    );
    const none = bad(`{ connection: plc, inputs: { x: 'a/{unit}/x' }, meaning: state }`);
    assert.ok(
      none.some((d) => /bindings\[0\]\.expression.*need an expression/.test(d)),
      none.join('\n'),
    );
  });
});
