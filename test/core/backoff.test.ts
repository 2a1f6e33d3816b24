/** Reconnect backoff and the samples/s meter: properties over random inputs (fast-check). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { backoffDelay, withBackoff } from '../../src/core/backoff.ts';
import { RateMeter } from '../../src/core/rates.ts';

const policy = fc.record({
  initialMs: fc.integer({ min: 1, max: 10_000 }),
  maxMs: fc.integer({ min: 1, max: 600_000 }),
  factor: fc.double({ min: 1, max: 10, noNaN: true }),
  jitter: fc.double({ min: 0, max: 1, noNaN: true }),
});

it('backoff delays stay within ±jitter of min(max, initial × factor^n)', () => {
  fc.assert(
    fc.property(
      policy,
      fc.integer({ min: 0, max: 60 }),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      (p, n, r) => {
        const base = Math.min(p.maxMs, p.initialMs * p.factor ** n);
        const d = backoffDelay(p, n, () => r);
        return d >= Math.floor(base * (1 - p.jitter)) && d <= Math.ceil(base * (1 + p.jitter));
      },
    ),
  );
});

it('without jitter, the delays never shrink from one attempt to the next', () => {
  fc.assert(
    fc.property(policy, fc.integer({ min: 0, max: 60 }), (p, n) => {
      const q = { ...p, jitter: 0 };
      return backoffDelay(q, n + 1) >= backoffDelay(q, n);
    }),
  );
});

it('withBackoff retries until success and stops on abort', async () => {
  let calls = 0;
  const failures: number[] = [];
  const result = await withBackoff(
    { initialMs: 1, maxMs: 4, factor: 2, jitter: 0 },
    async () => {
      calls++;
      if (calls < 4) throw new Error(`fail ${calls}`);
      return 'ok';
    },
    { onFailure: (_e, attempt, delay) => failures.push(attempt * 100 + delay) },
  );
  assert.equal(result, 'ok');
  assert.deepEqual(failures, [1, 102, 204]);
  const abort = new AbortController();
  const never = withBackoff(
    { initialMs: 60_000, maxMs: 60_000, factor: 1, jitter: 0 },
    async () => {
      throw new Error('down');
    },
    { signal: abort.signal, onFailure: () => abort.abort(new Error('stopped')) },
  );
  await assert.rejects(never, /stopped/);
});

it('the rate meter counts a burst that arrived before its first record', () => {
  const m = new RateMeter(10_000);
  m.record({}, 0);
  m.record({ a: 20 }, 1000);
  assert.equal(m.rate('a'), 20);
  m.record({ a: 40 }, 2000);
  assert.equal(m.rate('a'), 20);
  for (let t = 3000; t <= 20_000; t += 1000) m.record({ a: 40 }, t);
  assert.equal(m.rate('a'), 0, 'quiet over the whole window');
  assert.equal(m.rate('unknown'), 0);
});
