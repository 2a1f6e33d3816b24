/**
 * The KPI cache's number packing (src/store/kpi-cache.ts packNumbers): every double comes back
 * exactly, whole numbers take few bytes, and a truncated or padded text is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { packNumbers, unpackNumbers } from '../../src/store/kpi-cache.ts';

test('property: packed numbers come back exactly, whatever they are', () => {
  const value = fc.oneof(
    fc.double(),
    fc.integer({ min: 0, max: 2 ** 31 }),
    fc.maxSafeInteger(),
    fc.constantFrom(0, -0, 1, 127, 128, 2 ** 52 - 1, 2 ** 52, 2 ** 53, -1, 0.5, NaN, Infinity),
  );
  fc.assert(
    fc.property(fc.array(value, { maxLength: 200 }), (list) => {
      const values = Float64Array.from(list);
      const back = unpackNumbers(packNumbers(values), values.length);
      assert.equal(back.length, values.length);
      values.forEach((v, i) =>
        assert.ok(Object.is(back[i], v), `${i}: ${v} came back as ${back[i]}`),
      );
    }),
  );
});

test('whole numbers are small: a zero is one byte, a shift in milliseconds four', () => {
  assert.equal(packNumbers(new Float64Array(40)).length, 40);
  assert.equal(packNumbers(Float64Array.of(8 * 3_600_000)).length, 4);
  assert.equal(packNumbers(Float64Array.of(0.5)).length, 9);
  const packed = packNumbers(Float64Array.of(1, 2, 3_600_000));
  assert.throws(() => unpackNumbers(packed, 2), /4 bytes left over/);
  assert.throws(() => unpackNumbers(packed, 4), /left over|outside the bounds/);
});
