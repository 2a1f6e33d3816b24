/**
 * The unit state machine over random reading sequences (fast-check): debounce filters short
 * flickers, durations add up to the time covered, and micro-stops are exactly the short downs.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import {
  EQUIPMENT_STATES,
  INITIAL_STATUS,
  readState,
  tickState,
  type EquipmentState,
  type MachineState,
  type StateMachineConfig,
  type Transition,
} from '../../src/model/index.ts';

const STATES = EQUIPMENT_STATES.filter((s) => s !== 'unknown');
/** Readings: a state and the gap (ms) since the previous reading. */
const readings = fc.array(
  fc.record({ state: fc.constantFrom(...STATES), gap: fc.integer({ min: 1, max: 10_000 }) }),
  { minLength: 1, maxLength: 60 },
);
const config = fc.record({
  debounceMs: fc.integer({ min: 0, max: 5_000 }),
  microStopMaxMs: fc.integer({ min: 0, max: 8_000 }),
});

function run(
  seq: { state: EquipmentState; gap: number }[],
  cfg: StateMachineConfig,
  end: number,
): { transitions: Transition[]; machine: MachineState; times: number[] } {
  let machine: MachineState = { status: INITIAL_STATUS, pending: null };
  const transitions: Transition[] = [];
  const times: number[] = [];
  let t = 1_000_000;
  for (const r of seq) {
    t += r.gap;
    times.push(t);
    const step = readState(machine, r.state, null, t, cfg);
    machine = step.machine;
    transitions.push(...step.transitions);
  }
  const last = tickState(machine, t + end, cfg);
  transitions.push(...last.transitions);
  return { transitions, machine: last.machine, times };
}

it('with no debounce every change is a transition at its reading', () => {
  fc.assert(
    fc.property(readings, (seq) => {
      const { transitions, times } = run(seq, { debounceMs: 0, microStopMaxMs: 0 }, 0);
      const changes = seq.filter((r, i) => i === 0 || r.state !== seq[i - 1]!.state);
      assert.equal(transitions.length, changes.length);
      const changeTimes = times.filter((_, i) => i === 0 || seq[i]!.state !== seq[i - 1]!.state);
      assert.deepEqual(
        transitions.map((x) => x.at),
        changeTimes,
      );
    }),
  );
});

it('durations chain: each transition closes the previous state at its own start', () => {
  fc.assert(
    fc.property(readings, config, (seq, cfg) => {
      const { transitions } = run(seq, cfg, cfg.debounceMs);
      for (let i = 1; i < transitions.length; i++) {
        const prev = transitions[i - 1]!;
        const t = transitions[i]!;
        assert.ok(t.at >= prev.at, 'transitions in time order');
        assert.equal(t.previous.state, prev.state);
        assert.equal(t.previousDurationMs, t.at - prev.at);
      }
      // The confirmed states tile the time from the first to the last transition.
      if (transitions.length > 1) {
        const covered = transitions.slice(1).reduce((sum, t) => sum + t.previousDurationMs, 0);
        assert.equal(covered, transitions.at(-1)!.at - transitions[0]!.at);
      }
    }),
  );
});

it('a state that stood less than the debounce never becomes a transition', () => {
  fc.assert(
    fc.property(readings, config, (seq, cfg) => {
      const { transitions, times } = run(seq, cfg, cfg.debounceMs);
      for (const t of transitions) {
        // How long the readings kept this state from when it began.
        const i = times.indexOf(t.at);
        assert.ok(i >= 0, 'a transition starts at a reading');
        let j = i;
        while (j + 1 < seq.length && seq[j + 1]!.state === seq[i]!.state) j++;
        const stoodUntil = j + 1 < seq.length ? times[j + 1]! : Infinity;
        assert.ok(stoodUntil - t.at >= cfg.debounceMs, 'it stood at least the debounce');
      }
    }),
  );
});

it('micro-stops are exactly the downs shorter than the limit', () => {
  fc.assert(
    fc.property(readings, config, (seq, cfg) => {
      const { transitions } = run(seq, cfg, cfg.debounceMs);
      for (const t of transitions.slice(1)) {
        const expected =
          t.previous.state === 'down' &&
          cfg.microStopMaxMs > 0 &&
          t.previousDurationMs < cfg.microStopMaxMs;
        assert.equal(t.previousMicroStop, expected);
      }
    }),
  );
});

it('a flicker shorter than the debounce is filtered; the real stop is dated when it began', () => {
  const cfg = { debounceMs: 2000, microStopMaxMs: 30_000 };
  let m: MachineState = { status: INITIAL_STATUS, pending: null };
  const at = (state: EquipmentState, t: number) => {
    const s = readState(m, state, null, t, cfg);
    m = s.machine;
    return s.transitions;
  };
  assert.equal(at('running', 0).length, 0);
  assert.equal(tickState(m, 2000, cfg).transitions[0]?.state, 'running');
  m = tickState(m, 2000, cfg).machine;
  assert.deepEqual(at('down', 10_000), []); // pending
  assert.deepEqual(at('running', 10_500), []); // back within 500 ms: a flicker
  assert.equal(m.pending, null);
  assert.deepEqual(at('down', 20_000), []);
  const confirmed = tickState(m, 22_000, cfg);
  assert.equal(confirmed.transitions[0]?.at, 20_000, 'dated when it began');
  m = confirmed.machine;
  const back = at('running', 25_000);
  assert.deepEqual(back, []);
  const end = tickState(m, 27_000, cfg).transitions[0];
  assert.equal(end?.previousDurationMs, 5_000);
  assert.equal(end?.previousMicroStop, true);
});
