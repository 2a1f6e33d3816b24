/** Lot numbers and the quantity rule of lots (model/lot.ts), including a property test. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { formatLotNumber, lotNumberCounter, takeFrom } from '../../src/model/index.ts';

const AT = Date.parse('2026-03-04T05:06:00Z');
const values = { material: 'PET-28G', site: 'plant1', at: AT };

describe('lot numbers', () => {
  it('fills every placeholder, in UTC', () => {
    assert.equal(formatLotNumber('{material}-{date}-{seq:4}', values, 7), 'PET-28G-20260304-0007');
    assert.equal(
      formatLotNumber('{site}/{date:yyMMddHHmm}/{seq}', values, 12),
      'plant1/2603040506/12',
    );
    assert.equal(
      formatLotNumber('L{seq:3}', values, 12345),
      'L12345',
      'a number wider than N is kept',
    );
  });

  it('counts per prefix: the pattern up to the running number', () => {
    assert.equal(lotNumberCounter('{material}-{date}-{seq:4}', values), 'PET-28G-20260304-');
    const nextDay = { ...values, at: AT + 86_400_000 };
    assert.notEqual(
      lotNumberCounter('{material}-{date}-{seq:4}', nextDay),
      lotNumberCounter('{material}-{date}-{seq:4}', values),
      'a new day starts a new counter',
    );
  });
});

describe('takeFrom', () => {
  it('leaves have − take exactly, and refuses to go below zero', () => {
    const dec = fc.integer({ min: 0, max: 10_000_000 }).map((n) => new Decimal(n).div(1000));
    fc.assert(
      fc.property(dec, dec, (have, take) => {
        const left = takeFrom(have.toFixed(), take);
        if (take.gt(have)) return left === null;
        return left !== null && new Decimal(left).plus(take).eq(have);
      }),
    );
  });
});
