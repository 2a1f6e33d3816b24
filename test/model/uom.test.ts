/**
 * Units of measure (src/model/uom.ts): the UN/CEFACT Rec 20 catalog and exact conversions.
 *
 * What the properties assert, and why they are honest about rounding: a conversion is one exact
 * fraction rounded once. When `isExactConversion(a, b)` (the factor ratio terminates) the result
 * is exact for every quantity, so round trips, linearity and transitivity hold with `eq`, not
 * within a tolerance. Otherwise the result is the correctly rounded 34-digit value (checked
 * against a 200-digit reference) and a round trip is within two roundings (≈1e-33 relative).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import {
  BASE_UNITS,
  CONVERSION_PRECISION,
  DIMENSIONS,
  UNITS,
  UomError,
  convert,
  findUnit,
  formatQuantity,
  getUnit,
  isExactConversion,
  materialConversionErrors,
  parseQuantity,
  type MaterialConversions,
  type UnitDefinition,
} from '../../src/model/uom.ts';

/** Test-side arithmetic: enough digits that every sum and product here is exact. */
const Exact = Decimal.clone({ precision: 1000 });
/** Reference for conversions: 200 significant digits, far beyond the 34 of a result. */
const Hi = Decimal.clone({ precision: 200 });

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Decimal strings from integers of up to 30 digits and up to 12 decimal places. */
const quantityArb = fc
  .record({
    units: fc.oneof(
      fc.bigInt({ min: -1000n, max: 1000n }),
      fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }),
    ),
    scale: fc.nat({ max: 12 }),
  })
  .map(({ units, scale }) => new Exact(`${units.toString()}e-${scale}`).toFixed());

const byDimension = (dim: string): UnitDefinition[] => UNITS.filter((u) => u.dimension === dim);

/** Every ordered pair of distinct units of one dimension. */
const PAIRS: readonly (readonly [string, string])[] = DIMENSIONS.flatMap((dim) =>
  byDimension(dim).flatMap((a) =>
    byDimension(dim)
      .filter((b) => b !== a)
      .map((b) => [a.code, b.code] as const),
  ),
);
const EXACT_PAIRS = PAIRS.filter(([a, b]) => isExactConversion(a, b));
const ROUNDED_PAIRS = PAIRS.filter(([a, b]) => !isExactConversion(a, b));
/** Ordered triples a, b, c of one dimension whose first step a → b is exact. */
const TRIPLES = EXACT_PAIRS.flatMap(([a, b]) =>
  byDimension(getUnit(a).dimension).map((c) => [a, b, c.code] as const),
);
/** Units without an offset: conversions between them are linear. */
const isLinear = ([a, b]: readonly [string, string]): boolean =>
  getUnit(a).offset === undefined && getUnit(b).offset === undefined;

// ---------------------------------------------------------------------------------------------
// Reference arithmetic, independent of the fractions inside uom.ts

function factorParts(text: string): [Decimal, Decimal] {
  const [n = '', d = '1'] = text.split('/');
  return [new Hi(n), new Hi(d)];
}

/** convert() at 200 significant digits, through the base unit, without material. */
function reference(q: string, from: string, to: string): Decimal {
  const a = getUnit(from);
  const b = getUnit(to);
  const [an, ad] = factorParts(a.factor);
  const [bn, bd] = factorParts(b.factor);
  const base = new Hi(q)
    .plus(a.offset ?? '0')
    .times(an)
    .div(ad);
  return base
    .times(bd)
    .div(bn)
    .minus(b.offset ?? '0');
}

/** The round-to-34-digits result, from the reference. */
const rounded = (x: Decimal): Decimal =>
  x.toSignificantDigits(CONVERSION_PRECISION, Decimal.ROUND_HALF_EVEN);

/** |x/y − 1|, or |x| when y is 0. */
function relativeError(x: Decimal, y: Decimal): Decimal {
  const diff = new Exact(x).minus(y).abs();
  return y.isZero() ? diff : diff.div(new Exact(y).abs());
}

/** Rounding to 34 significant digits moves a value x by at most 5e-34·|x|. */
const HALF_ULP = new Exact('5e-34');

/** Two roundings of linear conversions, relative to the quantity: (1 + 5e-34)² − 1 ≈ 1e-33. */
const TWO_ROUNDINGS = HALF_ULP.plus(1).pow(2).minus(1);

/**
 * a → b → a within one dimension when a → b is rounded. The first rounding (at most 5e-34·|y| of
 * the intermediate value y) is carried back by the slope of b → a, the second is at most
 * 5e-34·|result|. For linear units that is TWO_ROUNDINGS relative to the quantity; for affine
 * units the first rounding is relative to the intermediate temperature, not the quantity
 * (-415 °F is -248.3 °C, so the error in °F is about ten times 1e-33 × 415).
 */
function assertRoundTrip(q: string, a: string, b: string): void {
  const y = convert(q, a, b);
  const back = convert(y, b, a);
  const slope = reference('1', b, a)
    .minus(reference('0', b, a))
    .abs();
  const bound = HALF_ULP.times(y.abs().times(slope).plus(back.abs()));
  const err = new Exact(back).minus(q).abs();
  assert.ok(err.lte(bound), `${q} ${a}→${b}→${a}: ${back.toFixed()}, error ${err} > ${bound}`);
  if (isLinear([a, b])) assert.ok(relativeError(back, new Exact(q)).lte(TWO_ROUNDINGS));
}

// ---------------------------------------------------------------------------------------------
// The catalog

test('catalog: codes are unique Rec 20 common codes; each dimension has its base unit', () => {
  const codes = UNITS.map((u) => u.code);
  assert.equal(new Set(codes).size, codes.length, 'duplicate code');
  for (const u of UNITS) {
    assert.match(u.code, /^[A-Z0-9]{2,3}$/, u.code);
    assert.ok(!/^X[A-Z0-9]{2}$/.test(u.code), `${u.code}: Rec 21 package codes are out of scope`);
    assert.ok(u.name.length > 0 && u.symbol.length > 0, u.code);
    assert.match(u.factor, /^\d+(\.\d+)?(\/\d+(\.\d+)?)?$/, `${u.code}: exact factor`);
    assert.ok(factorParts(u.factor)[0].gt(0), `${u.code}: positive factor`);
    assert.equal(u.offset !== undefined, u.dimension === 'temperature' && u.code !== 'KEL');
  }
  for (const dim of DIMENSIONS) {
    const base = getUnit(BASE_UNITS[dim]);
    assert.equal(base.dimension, dim);
    assert.equal(base.factor, '1');
    assert.equal(base.offset, undefined);
  }
  for (const code of ['C62', 'H87', 'EA']) assert.equal(getUnit(code).dimension, 'count');
  for (const code of ['C62', 'H87', 'EA']) assert.equal(getUnit(code).factor, '1');
});

test('known values', () => {
  const table: [string, string, string, string][] = [
    // [quantity, from, to, exact result]
    ['1', 'LBR', 'KGM', '0.45359237'],
    ['1', 'GLL', 'LTR', '3.785411784'],
    ['100', 'CEL', 'FAH', '212'],
    ['0', 'CEL', 'KEL', '273.15'],
    ['212', 'FAH', 'CEL', '100'],
    ['32', 'FAH', 'CEL', '0'],
    ['-40', 'CEL', 'FAH', '-40'],
    ['0', 'KEL', 'FAH', '-459.67'],
    ['0', 'KEL', 'CEL', '-273.15'],
    ['1', 'ONZ', 'GRM', '28.349523125'],
    ['16', 'ONZ', 'LBR', '1'],
    ['1', 'TNE', 'MGM', '1000000000'],
    ['1', 'INH', 'MMT', '25.4'],
    ['1', 'FOT', 'INH', '12'],
    ['1', 'YRD', 'FOT', '3'],
    ['1', 'KMT', 'CMT', '100000'],
    ['1', 'FTK', 'INK', '144'],
    ['1', 'MTK', 'CMK', '10000'],
    ['1', 'MTQ', 'HLT', '10'],
    ['330', 'MLT', 'CLT', '33'],
    ['1', 'CMQ', 'MLT', '1'],
    ['1', 'GLI', 'LTR', '4.54609'],
    ['1', 'KWH', 'JOU', '3600000'],
    ['1', 'KWH', '3B', '3.6'],
    ['1', 'MWH', 'KWH', '1000'],
    ['1', 'DAY', 'HUR', '24'],
    ['1', 'WEE', 'MIN', '10080'],
    ['90', 'MIN', 'HUR', '1.5'],
    ['2', 'DZN', 'H87', '24'],
    ['3', 'PR', 'EA', '6'],
    ['7', 'H87', 'C62', '7'],
    ['12.5', 'P1', 'P1', '12.5'],
    ['0', 'KGM', 'GRM', '0'],
    ['-2.5', 'KGM', 'GRM', '-2500'],
    [
      '123456789012345678901234567890.123456789',
      'KGM',
      'MGM',
      '123456789012345678901234567890123456.789',
    ],
  ];
  for (const [q, from, to, expected] of table) {
    const got = convert(q, from, to);
    assert.ok(got.eq(expected), `${q} ${from} = ${expected} ${to}, got ${got.toFixed()}`);
    assert.ok(got instanceof Decimal);
  }
  // Not terminating: rounded half-even to 34 significant digits.
  assert.equal(convert('1', 'GRM', 'LBR').toFixed(), '0.00220462262184877580722973801345027');
  assert.equal(convert('1', 'FAH', 'CEL').toFixed(), '-17.22222222222222222222222222222222');
  assert.equal(convert('1', 'INH', 'FOT').toFixed(), '0.08333333333333333333333333333333333');
  assert.ok(convert(new Decimal('2.5'), 'KGM', 'GRM').eq(2500));
});

// ---------------------------------------------------------------------------------------------
// Exactness and rounding

test('the named decimal pairs are exact in both directions', () => {
  const chains = [
    ['KGM', 'GRM', 'MGM', 'TNE'],
    ['MTR', 'MMT', 'CMT', 'KMT'],
    ['LTR', 'MLT', 'HLT', 'MTQ', 'CLT'],
    ['CEL', 'KEL'],
    ['C62', 'H87', 'EA'],
  ];
  for (const chain of chains) {
    for (const a of chain) for (const b of chain) assert.ok(isExactConversion(a, b), `${a}→${b}`);
  }
  // One-way exact: multiplying by the factor terminates, dividing by it does not.
  assert.ok(isExactConversion('LBR', 'GRM') && !isExactConversion('GRM', 'LBR'));
  assert.ok(isExactConversion('CEL', 'FAH') && !isExactConversion('FAH', 'CEL'));
  assert.ok(isExactConversion('HUR', 'SEC') && isExactConversion('DAY', 'MIN'));
  assert.ok(!isExactConversion('SEC', 'MIN') && !isExactConversion('MIN', 'HUR'));
  assert.ok(isExactConversion('FOT', 'INH') && !isExactConversion('INH', 'FOT'));
});

test('every conversion equals the 200-digit reference: exactly when exact, else rounded to 34 digits', () => {
  fc.assert(
    fc.property(fc.constantFrom(...PAIRS), quantityArb, ([a, b], q) => {
      const got = convert(q, a, b);
      const ref = reference(q, a, b);
      if (isExactConversion(a, b)) {
        assert.ok(got.eq(ref), `${q} ${a}→${b}: ${got.toFixed()} ≠ ${ref.toFixed()}`);
      } else {
        assert.ok(got.sd() <= CONVERSION_PRECISION);
        assert.ok(got.eq(rounded(ref)), `${q} ${a}→${b}: ${got.toFixed()} ≠ ${rounded(ref)}`);
      }
    }),
    { numRuns: 2000 },
  );
});

test('round trip a → b → a is exact when a → b is exact (KGM↔GRM↔MGM↔TNE, MTR↔MMT, LTR↔MLT↔HLT, CEL↔KEL, CEL→FAH, …)', () => {
  fc.assert(
    fc.property(fc.constantFrom(...EXACT_PAIRS), quantityArb, ([a, b], q) => {
      const back = convert(convert(q, a, b), b, a);
      assert.ok(back.eq(q), `${q} ${a}→${b}→${a} gave ${back.toFixed()}`);
    }),
    { numRuns: 2000 },
  );
});

test('round trip a → b → a is within two roundings otherwise (≈1e-33 relative for GRM→LBR; FAH→CEL: see assertRoundTrip)', () => {
  assert.ok(ROUNDED_PAIRS.length > 0);
  fc.assert(
    fc.property(fc.constantFrom(...ROUNDED_PAIRS), quantityArb, ([a, b], q) => {
      assertRoundTrip(q, a, b);
    }),
    { numRuns: 2000 },
  );
});

test('temperatures: CEL↔KEL exact; CEL→FAH→CEL exact; FAH→CEL→FAH within two roundings of 34 digits', () => {
  fc.assert(
    fc.property(quantityArb, (q) => {
      assert.ok(convert(convert(q, 'CEL', 'KEL'), 'KEL', 'CEL').eq(q));
      assert.ok(convert(convert(q, 'KEL', 'CEL'), 'CEL', 'KEL').eq(q));
      assert.ok(convert(convert(q, 'CEL', 'FAH'), 'FAH', 'CEL').eq(q));
      assert.ok(convert(convert(q, 'KEL', 'FAH'), 'FAH', 'KEL').eq(q));
      // F → C divides by 1.8: rounded to 34 digits, then back; compare in kelvin.
      assertRoundTrip(q, 'FAH', 'CEL');
      assertRoundTrip(q, 'FAH', 'KEL');
      // Affine: a difference of temperatures scales by the factor alone.
      const d = new Exact(q).plus(10);
      assert.ok(
        convert(d, 'CEL', 'FAH')
          .minus(convert(q, 'CEL', 'FAH'))
          .eq(18),
      );
    }),
  );
});

test('linearity: convert(x + y) = convert(x) + convert(y) exactly for exact linear pairs', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...EXACT_PAIRS.filter(isLinear)),
      quantityArb,
      quantityArb,
      ([a, b], x, y) => {
        const sum = convert(new Exact(x).plus(y), a, b);
        const parts = new Exact(convert(x, a, b)).plus(convert(y, a, b));
        assert.ok(sum.eq(parts), `${x} + ${y} ${a}→${b}`);
      },
    ),
    { numRuns: 2000 },
  );
});

test('transitivity: a → b → c equals a → c whenever a → b is exact (even if b → c is rounded)', () => {
  fc.assert(
    fc.property(fc.constantFrom(...TRIPLES), quantityArb, ([a, b, c], q) => {
      const twoSteps = convert(convert(q, a, b), b, c);
      const direct = convert(q, a, c);
      assert.ok(twoSteps.eq(direct), `${q} ${a}→${b}→${c}: ${twoSteps} ≠ ${direct}`);
    }),
    { numRuns: 2000 },
  );
});

test('results keep every digit whatever the global Decimal precision', () => {
  const q = '1234567890123456789012345678901234567890.5';
  assert.equal(Decimal.precision, 20);
  assert.equal(convert(q, 'KGM', 'GRM').toFixed(), '1234567890123456789012345678901234567890500');
});

// ---------------------------------------------------------------------------------------------
// Per-material conversions

const MATERIALS: MaterialConversions = {
  'SYRUP-01': [{ quantity: '1', unit: 'LTR', equalsQuantity: '1.32', equalsUnit: 'KGM' }],
  // Given the other way round (mass = count): used both ways all the same.
  'CAP-38': [{ quantity: '0.0021', unit: 'KGM', equalsQuantity: '1', equalsUnit: 'H87' }],
  // A bottle: 24 to a case of 12.6 kg, 0.5 l each; piece → litre goes through the mass.
  'BTL-05': [
    { quantity: '24', unit: 'H87', equalsQuantity: '12.6', equalsUnit: 'KGM' },
    { quantity: '1.05', unit: 'KGM', equalsQuantity: '1', equalsUnit: 'LTR' },
  ],
};
const opts = (material: string) => ({ material, materialConversions: MATERIALS });

test('material conversions: both directions, chained through base units', () => {
  assert.ok(convert('1', 'LTR', 'KGM', opts('SYRUP-01')).eq('1.32'));
  assert.ok(convert('1.32', 'KGM', 'LTR', opts('SYRUP-01')).eq('1'));
  assert.ok(convert('500', 'MLT', 'GRM', opts('SYRUP-01')).eq('660'));
  assert.ok(convert('660', 'GRM', 'HLT', opts('SYRUP-01')).eq('0.005'));
  assert.ok(convert('1000', 'H87', 'GRM', opts('CAP-38')).eq('2100'));
  assert.ok(convert('2.1', 'KGM', 'EA', opts('CAP-38')).eq('1000'));
  // 12 caps = 0.0252 kg, in pounds: not terminating, rounded to 34 digits.
  assert.equal(
    convert('1', 'DZN', 'LBR', opts('CAP-38')).toFixed(),
    rounded(new Hi('0.0252').div('0.45359237')).toFixed(),
  );
  // Two conversions: 24 H87 = 12.6 KGM = 12 LTR.
  assert.ok(convert('24', 'H87', 'LTR', opts('BTL-05')).eq('12'));
  assert.ok(convert('12', 'LTR', 'H87', opts('BTL-05')).eq('24'));
  // Same dimension: the material is not needed and not consulted.
  assert.ok(convert('1', 'KGM', 'GRM', opts('UNKNOWN')).eq(1000));
});

test('material conversions: round trip exact when the first step is exact; chains agree', () => {
  fc.assert(
    fc.property(
      quantityArb,
      fc.constantFrom('MLT', 'LTR', 'HLT'),
      fc.constantFrom('MGM', 'GRM', 'KGM', 'TNE'),
      (q, vol, mass) => {
        // volume → mass multiplies by 1.32 (exact); back divides by it.
        const m = convert(q, vol, mass, opts('SYRUP-01'));
        assert.ok(convert(m, mass, vol, opts('SYRUP-01')).eq(q));
        // Through the base units by hand: vol → LTR → KGM → mass.
        const byHand = convert(
          convert(convert(q, vol, 'LTR'), 'LTR', 'KGM', opts('SYRUP-01')),
          'KGM',
          mass,
        );
        assert.ok(m.eq(byHand));
        // Count → mass (×0.0021) is exact; mass → count divides by it and is rounded.
        const caps = convert(convert(q, 'H87', mass, opts('CAP-38')), mass, 'H87', opts('CAP-38'));
        assert.ok(caps.eq(q));
        const back = convert(convert(q, mass, 'H87', opts('CAP-38')), 'H87', mass, opts('CAP-38'));
        assert.ok(relativeError(back, new Exact(q)).lte(TWO_ROUNDINGS));
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// Errors

function throwsUom(fn: () => unknown, code: string, ...mentions: string[]): UomError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UomError, `expected a UomError, got ${String(caught)}`);
  assert.equal(caught.code, code);
  for (const m of mentions) assert.ok(caught.message.includes(m), `"${caught.message}" lacks ${m}`);
  return caught;
}

test('errors name the unit codes, dimensions and material', () => {
  throwsUom(
    () => convert('1', 'KGX', 'GRM'),
    'MW_ERR_UOM_UNKNOWN_UNIT',
    'KGX',
    'Recommendation 20',
  );
  throwsUom(() => convert('1', 'KGM', 'XBX'), 'MW_ERR_UOM_UNKNOWN_UNIT', 'XBX');
  throwsUom(() => convert('1', 'kgm', 'GRM'), 'MW_ERR_UOM_UNKNOWN_UNIT', 'kgm', 'did you mean KGM');
  throwsUom(
    () => convert('1', 'KGM', 'LTR'),
    'MW_ERR_UOM_NO_CONVERSION',
    'cannot convert KGM (mass) to LTR (volume) without a material',
  );
  throwsUom(
    () => convert('1', 'KGM', 'LTR', opts('CAP-38')),
    'MW_ERR_UOM_NO_CONVERSION',
    'cannot convert KGM (mass) to LTR (volume) without a conversion for material CAP-38',
  );
  throwsUom(
    () => convert('1', 'H87', 'LTR', opts('toString')),
    'MW_ERR_UOM_NO_CONVERSION',
    'material toString',
  );
  throwsUom(() => convert('1', 'CEL', 'KGM', opts('SYRUP-01')), 'MW_ERR_UOM_NO_CONVERSION', 'CEL');
  throwsUom(() => convert('12,5', 'KGM', 'GRM'), 'MW_ERR_UOM_INVALID_QUANTITY', '"12,5"');
  throwsUom(() => convert('0x10', 'KGM', 'GRM'), 'MW_ERR_UOM_INVALID_QUANTITY', '0x10');
  throwsUom(() => convert('1e5000', 'KGM', 'GRM'), 'MW_ERR_UOM_INVALID_QUANTITY', 'exponent');
  throwsUom(() => convert(new Decimal(NaN), 'KGM', 'GRM'), 'MW_ERR_UOM_INVALID_QUANTITY', 'NaN');
  throwsUom(
    () => convert(0.1 as unknown as string, 'KGM', 'GRM'),
    'MW_ERR_UOM_INVALID_QUANTITY',
    'binary floats',
  );
});

test('invalid material conversions are refused, naming the material and the conversion', () => {
  const bad: MaterialConversions = {
    SAME: [{ quantity: '1', unit: 'KGM', equalsQuantity: '1000', equalsUnit: 'GRM' }],
    ZERO: [{ quantity: '0', unit: 'LTR', equalsQuantity: '1', equalsUnit: 'KGM' }],
    NEG: [{ quantity: '1', unit: 'LTR', equalsQuantity: '-1', equalsUnit: 'KGM' }],
    UNIT: [{ quantity: '1', unit: 'LTX', equalsQuantity: '1', equalsUnit: 'KGM' }],
    TEMP: [{ quantity: '1', unit: 'CEL', equalsQuantity: '1', equalsUnit: 'JOU' }],
    CLASH: [
      { quantity: '1', unit: 'LTR', equalsQuantity: '1.32', equalsUnit: 'KGM' },
      { quantity: '1000', unit: 'GRM', equalsQuantity: '1', equalsUnit: 'LTR' },
    ],
    AGREE: [
      { quantity: '1', unit: 'LTR', equalsQuantity: '1.32', equalsUnit: 'KGM' },
      { quantity: '1320', unit: 'GRM', equalsQuantity: '1000', equalsUnit: 'MLT' },
    ],
  };
  const o = (material: string) => ({ material, materialConversions: bad });
  const code = 'MW_ERR_UOM_MATERIAL_CONVERSION';
  throwsUom(() => convert('1', 'KGM', 'LTR', o('SAME')), code, 'material SAME', 'both mass');
  throwsUom(() => convert('1', 'KGM', 'LTR', o('ZERO')), code, 'ZERO', 'greater than zero');
  throwsUom(() => convert('1', 'KGM', 'LTR', o('NEG')), code, 'NEG', 'greater than zero');
  throwsUom(() => convert('1', 'KGM', 'LTR', o('UNIT')), code, 'UNIT', 'LTX');
  throwsUom(() => convert('1', 'KGM', 'LTR', o('TEMP')), code, 'TEMP', 'CEL');
  throwsUom(
    () => convert('1', 'KGM', 'LTR', o('CLASH')),
    code,
    'material CLASH: conversion #1 (1000 GRM = 1 LTR)',
    'disagrees with conversion #0 (1 LTR = 1.32 KGM)',
  );
  assert.ok(convert('1.32', 'KGM', 'LTR', o('AGREE')).eq(1));
  const errors = materialConversionErrors(bad);
  assert.deepEqual(
    errors.map((e) => e.params.material),
    ['SAME', 'ZERO', 'NEG', 'UNIT', 'TEMP', 'CLASH'],
  );
  assert.deepEqual(materialConversionErrors(MATERIALS), []);
});

// ---------------------------------------------------------------------------------------------
// Text

test('parseQuantity reads "<decimal> <code>"; formatQuantity writes it back', () => {
  const q = parseQuantity('12.5 KGM');
  assert.ok(q.value.eq('12.5'));
  assert.equal(q.unit, 'KGM');
  assert.equal(formatQuantity(q), '12.5 KGM');
  assert.equal(formatQuantity(parseQuantity('  1e-9\tLTR ')), '0.000000001 LTR');
  assert.equal(formatQuantity(parseQuantity('-0.50 3B')), '-0.5 3B');
  throwsUom(() => parseQuantity('12.5KGM'), 'MW_ERR_UOM_INVALID_QUANTITY', '<decimal> <unit code>');
  throwsUom(() => parseQuantity('12.5 kg'), 'MW_ERR_UOM_UNKNOWN_UNIT', '"kg"');
  throwsUom(() => parseQuantity('twelve KGM'), 'MW_ERR_UOM_INVALID_QUANTITY', 'twelve');
  fc.assert(
    fc.property(quantityArb, fc.constantFrom(...UNITS), (v, u) => {
      const back = parseQuantity(formatQuantity({ value: new Decimal(v), unit: u.code }));
      assert.ok(back.value.eq(v));
      assert.equal(back.unit, u.code);
    }),
  );
  assert.equal(findUnit('NOPE'), undefined);
  assert.equal(findUnit('KWH')?.name, 'kilowatt hour');
});

test('the unit errors are registered with the same messages as the error registry', async () => {
  const { errorDefinitions } = await import('../../src/errors.ts');
  const { UOM_ERROR_MESSAGES } = await import('../../src/model/uom.ts');
  for (const [code, message] of Object.entries(UOM_ERROR_MESSAGES)) {
    assert.equal(errorDefinitions[code as keyof typeof errorDefinitions]?.message, message, code);
  }
});
