/**
 * Starved and blocked derived from a line's flow (config `flow`): an idle unit behind a stopped
 * one is starved, in front of a stopped one blocked; starvation passes downstream, blockage
 * upstream; the derived state ends when the neighbour runs again; units that report their own
 * state (running, down) are never overridden; and it survives a restart of the runtime.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hierarchyOf } from '../../src/config/hierarchy.ts';
import { parseConfig } from '../../src/config/load.ts';
import { DOWNSTREAM_REASON, EquipmentRuntime, UPSTREAM_REASON } from '../../src/core/runtime.ts';
import { EQUIPMENT_STATES, type EquipmentState } from '../../src/model/index.ts';

const LINE = 'acme/plant1/packaging/line1';
const UNITS = ['depal', 'filler', 'capper', 'labeller'] as const;
const id = (u: string) => `${LINE}/${u}`;

function runtime(debounceMs = 0): EquipmentRuntime {
  const config = parseConfig(
    `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: depal }, { id: filler }, { id: capper }, { id: labeller }]
            flow: [depal, filler, capper, labeller]
`,
    '<test>',
  );
  const hierarchy = hierarchyOf(config);
  return new EquipmentRuntime(
    hierarchy,
    () => ({ debounceMs, microStopMaxMs: 0, noDataTimeoutMs: 0 }),
    [UNITS.map(id)],
  );
}

const states = (rt: EquipmentRuntime) =>
  UNITS.map((u) => `${rt.get(id(u))!.status.state}:${rt.get(id(u))!.status.reasonCode ?? ''}`);

describe('starved and blocked from the line flow', () => {
  it('starves the idle units behind a stop and blocks the idle ones before it', () => {
    const rt = runtime();
    for (const u of UNITS) rt.applyState(id(u), 'running', null, 1000);
    rt.applyState(id('depal'), 'idle', null, 2000);
    rt.applyState(id('labeller'), 'idle', null, 2000);
    // The filler jams: the idle depal before it is blocked, and — once the capper runs dry —
    // the capper and the labeller after it are starved.
    const events = rt.applyState(id('filler'), 'down', 'JAM', 3000);
    assert.deepEqual(
      events.map((e) => [e.equipmentId.split('/').at(-1), e.data.state, e.data.reasonCode]),
      [
        ['filler', 'down', 'JAM'],
        ['depal', 'blocked', DOWNSTREAM_REASON],
      ],
    );
    const more = rt.applyState(id('capper'), 'idle', null, 4000);
    assert.deepEqual(
      more.map((e) => [e.equipmentId.split('/').at(-1), e.data.state, e.ts]),
      [
        ['capper', 'starved', 4000],
        ['labeller', 'starved', 4000],
      ],
    );
    assert.deepEqual(states(rt), [
      `blocked:${DOWNSTREAM_REASON}`,
      'down:JAM',
      `starved:${UPSTREAM_REASON}`,
      `starved:${UPSTREAM_REASON}`,
    ]);
    // The filler runs again: every derived state goes back to what the devices said (idle).
    const back = rt.applyState(id('filler'), 'running', null, 5000);
    assert.deepEqual(states(rt), ['idle:', 'running:', 'idle:', 'idle:']);
    assert.ok(back.every((e) => e.ts === 5000));
  });

  it('confirms what a debounced reading stands for when its debounce ends', () => {
    const rt = runtime(1000);
    for (const u of UNITS) rt.applyState(id(u), 'running', null, 0);
    rt.tick(1000);
    // The filler goes down and the capper idle, both waiting out the debounce; the capper's
    // reading was taken while the filler still ran, so it read as plain idle.
    rt.applyState(id('filler'), 'down', 'JAM', 2000);
    rt.applyState(id('capper'), 'idle', null, 2100);
    const first = rt.tick(3000); // the filler's down is confirmed
    assert.deepEqual(
      first.map((e) => [e.equipmentId.split('/').at(-1), e.data.state]),
      [['filler', 'down']],
    );
    const second = rt.tick(3100); // the capper's idle: starved by now, from when it began
    assert.deepEqual(
      second.map((e) => [e.equipmentId.split('/').at(-1), e.data.state, e.data.reasonCode, e.ts]),
      [['capper', 'starved', UPSTREAM_REASON, 2100]],
    );
    // The filler runs again: once that is confirmed, the capper is plain idle again.
    rt.applyState(id('filler'), 'running', null, 4000);
    rt.tick(5000);
    assert.equal(rt.get(id('capper'))!.status.state, 'idle');
  });

  it('never overrides a state a unit reports itself', () => {
    const rt = runtime();
    rt.applyState(id('capper'), 'running', null, 1000);
    rt.applyState(id('filler'), 'down', null, 2000);
    assert.equal(rt.get(id('capper'))!.status.state, 'running');
  });

  it('keeps derived states across a restart of the runtime', () => {
    const rt = runtime();
    rt.applyState(id('filler'), 'down', null, 1000);
    rt.applyState(id('capper'), 'idle', null, 1000);
    assert.equal(rt.get(id('capper'))!.status.state, 'starved');
    const again = runtime();
    again.reset(rt.all());
    again.applyState(id('filler'), 'running', null, 2000);
    assert.equal(again.get(id('capper'))!.status.state, 'idle');
  });

  it('ends every sequence of readings in the derived state the final readings imply', () => {
    const reading = fc.record({
      unit: fc.integer({ min: 0, max: UNITS.length - 1 }),
      state: fc.constantFrom<EquipmentState>(...EQUIPMENT_STATES),
    });
    fc.assert(
      fc.property(fc.array(reading, { minLength: 1, maxLength: 40 }), (readings) => {
        const rt = runtime();
        const last = new Map<number, EquipmentState>();
        readings.forEach((r, i) => {
          rt.applyState(id(UNITS[r.unit]!), r.state, null, 1000 + i);
          last.set(r.unit, r.state);
        });
        // The expected states, computed independently along the chain.
        const read = UNITS.map((_u, i) => last.get(i) ?? 'unknown');
        const stopped = (s: EquipmentState) => ['down', 'planned-stop', 'changeover'].includes(s);
        const expected: EquipmentState[] = [...read];
        for (let i = 0; i < UNITS.length; i++) {
          const up = expected[i - 1];
          if (read[i] === 'idle' && up !== undefined && (stopped(up) || up === 'starved'))
            expected[i] = 'starved';
        }
        for (let i = UNITS.length - 1; i >= 0; i--) {
          const down = expected[i + 1];
          if (
            read[i] === 'idle' &&
            expected[i] === 'idle' &&
            down !== undefined &&
            (stopped(down) || down === 'blocked')
          )
            expected[i] = 'blocked';
        }
        assert.deepEqual(
          UNITS.map((u) => rt.get(id(u))!.status.state),
          expected,
        );
      }),
      { numRuns: 500 },
    );
  });
});
