/**
 * Units of measure: exact conversions between UN/CEFACT Recommendation 20 codes (the catalog is
 * in uom-catalog.ts), within a dimension and, through per-material conversions, across
 * dimensions (1 LTR of SYRUP-01 = 1.32 KGM). Part of identity mapping (issue #5). Pure: no I/O.
 *
 * Quantities are decimal.js Decimals or decimal strings, never binary floats.
 *
 * Precision rule. A conversion is computed as one exact fraction (quantity, factors, offsets and
 * material conversions are all exact decimals or fractions) and rounded once, at the end:
 * - when that fraction is a terminating decimal, the result is exact, however many digits it
 *   has (1 LBR = 0.45359237 KGM; 100 CEL = 212 FAH; 0.001 KGM = 1 GRM);
 * - otherwise it is rounded half-even to 34 significant digits (CONVERSION_PRECISION, the
 *   precision of IEEE 754 decimal128), a relative error of at most 5e-34 (1 GRM = 0.002204…
 *   LBR; 212 FAH = 100 CEL exactly, but 1 FAH = -17.22… CEL is rounded).
 * `isExactConversion(from, to)` says whether every quantity converts exactly (the ratio of the
 * two factors terminates). A round trip a → b → a then returns the quantity exactly; when the
 * first step was rounded, it is within two roundings: about 1e-33 relative for linear units; for
 * temperatures the first rounding is relative to the intermediate value (FAH → CEL → FAH).
 */
import { Decimal } from 'decimal.js';
import { UNITS, type Dimension, type UnitDefinition } from './uom-catalog.ts';

export * from './uom-catalog.ts';

/** Significant digits of a conversion result that is not a terminating decimal. */
export const CONVERSION_PRECISION = 34;

/** Quantities whose decimal exponent is larger than this are refused (they are typos). */
const MAX_EXPONENT = 1000;

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Messages of the unit errors; each code is meant for the registry in src/errors.ts (the model
 * imports nothing from the rest of src/, so it has its own small error type with the same codes).
 */
export const UOM_ERROR_MESSAGES = {
  MW_ERR_UOM_UNKNOWN_UNIT: 'unit {unit} is not in the unit catalog: {reason}',
  MW_ERR_UOM_INVALID_QUANTITY: 'invalid quantity {quantity}: {reason}',
  MW_ERR_UOM_NO_CONVERSION:
    'cannot convert {from} ({fromDimension}) to {to} ({toDimension}) {reason}',
  MW_ERR_UOM_MATERIAL_CONVERSION:
    'material {material}: conversion {conversion} is invalid: {reason}',
} as const;

export type UomErrorCode = keyof typeof UOM_ERROR_MESSAGES;

/** A unit of measure error: a stable code (MW_ERR_UOM_*) and the parameters of its message. */
export class UomError extends Error {
  readonly code: UomErrorCode;
  readonly params: Readonly<Record<string, string>>;

  constructor(code: UomErrorCode, params: Readonly<Record<string, string>>) {
    super(
      UOM_ERROR_MESSAGES[code].replace(/\{(\w+)\}/g, (whole, name: string) =>
        Object.hasOwn(params, name) ? String(params[name]) : whole,
      ),
    );
    this.name = 'UomError';
    this.code = code;
    this.params = params;
  }
}

// ---------------------------------------------------------------------------------------------
// The catalog by code

const BY_CODE: ReadonlyMap<string, UnitDefinition> = new Map(UNITS.map((u) => [u.code, u]));

/** The unit with this Rec 20 code, or undefined. Codes are upper case and matched exactly. */
export function findUnit(code: string): UnitDefinition | undefined {
  return BY_CODE.get(code);
}

/** The unit with this Rec 20 code; throws MW_ERR_UOM_UNKNOWN_UNIT naming the code. */
export function getUnit(code: string): UnitDefinition {
  const unit = BY_CODE.get(code);
  if (unit !== undefined) return unit;
  const upper = typeof code === 'string' ? code.toUpperCase() : '';
  const reason = BY_CODE.has(upper)
    ? `codes are upper case; did you mean ${upper}?`
    : 'not a UN/CEFACT Recommendation 20 code the hub knows (docs/units.md lists them)';
  throw new UomError('MW_ERR_UOM_UNKNOWN_UNIT', { unit: JSON.stringify(code), reason });
}

// ---------------------------------------------------------------------------------------------
// Exact fractions (bigint numerator and denominator), the arithmetic under every conversion

interface Fraction {
  readonly n: bigint;
  /** Always positive; the fraction is kept reduced. */
  readonly d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

function fraction(n: bigint, d: bigint): Fraction {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return g <= 1n ? { n, d } : { n: n / g, d: d / g };
}

const mul = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.n, a.d * b.d);
const div = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d, a.d * b.n);
const add = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d + b.n * a.d, a.d * b.d);
const sub = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d - b.n * a.d, a.d * b.d);
const ONE: Fraction = { n: 1n, d: 1n };
const ZERO: Fraction = { n: 0n, d: 1n };

/** A plain decimal: optional sign, digits with an optional point, optional exponent. */
const DECIMAL_RE = /^([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/;

/** The exact fraction of a decimal string, or undefined when it is not one. */
function parseDecimal(text: string): Fraction | undefined {
  const m = DECIMAL_RE.exec(text);
  if (m === null) return undefined;
  const [, sign = '', body = '', expText] = m;
  const exponent = expText === undefined ? 0 : Number(expText);
  const point = body.indexOf('.');
  const digits = point < 0 ? body : body.slice(0, point) + body.slice(point + 1);
  const scale = exponent - (point < 0 ? 0 : body.length - point - 1);
  if (Math.abs(scale) > MAX_EXPONENT + digits.length) return undefined;
  const n = BigInt(sign + digits);
  return scale >= 0 ? fraction(n * 10n ** BigInt(scale), 1n) : fraction(n, 10n ** BigInt(-scale));
}

/** A catalog factor: a decimal string or a fraction 'n/d' of two. */
function parseFactor(text: string): Fraction {
  const [num = '', den] = text.split('/');
  const n = parseDecimal(num);
  const d = den === undefined ? ONE : parseDecimal(den);
  if (n === undefined || d === undefined || d.n === 0n) {
    throw new Error(`unit catalog: bad factor ${JSON.stringify(text)}`);
  }
  return div(n, d);
}

interface UnitMath {
  readonly unit: UnitDefinition;
  readonly factor: Fraction;
  readonly offset: Fraction;
}

const MATH: ReadonlyMap<string, UnitMath> = new Map(
  UNITS.map((unit) => [
    unit.code,
    {
      unit,
      factor: parseFactor(unit.factor),
      offset: unit.offset === undefined ? ZERO : parseFactor(unit.offset),
    },
  ]),
);

function unitMath(code: string): UnitMath {
  const math = MATH.get(getUnit(code).code);
  if (math === undefined) throw new Error(`unit catalog: no factor for ${code}`);
  return math;
}

/** True when the decimal expansion of the fraction ends (its denominator is 2^a·5^b). */
function terminates(f: Fraction): boolean {
  let d = f.d;
  while (d % 2n === 0n) d /= 2n;
  while (d % 5n === 0n) d /= 5n;
  return d === 1n;
}

/** Rounds half-even to CONVERSION_PRECISION significant digits. */
const Rounded = Decimal.clone({
  precision: CONVERSION_PRECISION,
  rounding: Decimal.ROUND_HALF_EVEN,
});

/** The fraction as a Decimal: exact when it terminates, else rounded (see the precision rule). */
function toDecimal(f: Fraction): Decimal {
  if (!terminates(f)) {
    return new Decimal(new Rounded(f.n.toString()).div(f.d.toString()));
  }
  // d = 2^a·5^b: n/d = n·(10^m/d) / 10^m with m = max(a, b).
  let m = 0n;
  let p = 1n;
  while (p % f.d !== 0n) {
    p *= 10n;
    m += 1n;
  }
  const scaled = f.n * (p / f.d);
  return new Decimal(`${scaled.toString()}e-${m.toString()}`);
}

/** A quantity as an exact fraction; throws MW_ERR_UOM_INVALID_QUANTITY. */
function quantityFraction(quantity: Decimal | string): Fraction {
  let text: string;
  if (typeof quantity === 'string') text = quantity.trim();
  else if (Decimal.isDecimal(quantity)) {
    if (!quantity.isFinite()) {
      throw new UomError('MW_ERR_UOM_INVALID_QUANTITY', {
        quantity: quantity.toString(),
        reason: 'not a finite number',
      });
    }
    text = quantity.toString();
  } else {
    // A JavaScript caller passing a number: a binary float is not an exact quantity.
    throw new UomError('MW_ERR_UOM_INVALID_QUANTITY', {
      quantity: String(quantity),
      reason: `expected a Decimal or a decimal string, got ${typeof quantity} (binary floats are not exact)`,
    });
  }
  const f = parseDecimal(text);
  if (f === undefined) {
    throw new UomError('MW_ERR_UOM_INVALID_QUANTITY', {
      quantity: JSON.stringify(text),
      reason: DECIMAL_RE.test(text)
        ? `exponent beyond ±${MAX_EXPONENT}`
        : 'expected a decimal number such as 12.5, -3 or 1.2e3',
    });
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Per-material conversions

/**
 * `quantity unit` of a material is the same amount as `equalsQuantity equalsUnit`, e.g.
 * 1 LTR = 1.32 KGM, or 1 H87 = 0.0021 KGM. The two units have different dimensions (within a
 * dimension the catalog converts); a conversion is used in both directions.
 */
export interface MaterialConversion {
  readonly quantity: Decimal | string;
  readonly unit: string;
  readonly equalsQuantity: Decimal | string;
  readonly equalsUnit: string;
}

/** Conversions by material code (the hub's material id). */
export type MaterialConversions = Readonly<Record<string, readonly MaterialConversion[]>>;

export interface ConvertOptions {
  /** The material being converted; needed when the two units have different dimensions. */
  readonly material?: string;
  readonly materialConversions?: MaterialConversions;
}

/** One base unit of `from` is `factor` base units of `to`. */
interface Edge {
  readonly from: Dimension;
  readonly to: Dimension;
  readonly factor: Fraction;
  readonly index: number;
}

function describe(c: MaterialConversion, index: number): string {
  const show = (q: Decimal | string): string => (typeof q === 'string' ? q : q.toString());
  return `#${index} (${show(c.quantity)} ${c.unit} = ${show(c.equalsQuantity)} ${c.equalsUnit})`;
}

/** The edges (both directions) of one material's conversions; throws on an invalid one. */
function materialEdges(material: string, conversions: readonly MaterialConversion[]): Edge[] {
  const edges: Edge[] = [];
  conversions.forEach((c, index) => {
    const fail = (reason: string): never => {
      throw new UomError('MW_ERR_UOM_MATERIAL_CONVERSION', {
        material,
        conversion: describe(c, index),
        reason,
      });
    };
    const sides = [c.unit, c.equalsUnit].map((code) => {
      const unit = findUnit(code);
      if (unit === undefined) return fail(`unknown unit ${JSON.stringify(code)}`);
      if (unit.offset !== undefined) {
        return fail(`${code} is a temperature (affine), which no material converts to`);
      }
      return unitMath(code);
    });
    const [a, b] = sides as [UnitMath, UnitMath];
    if (a.unit.dimension === b.unit.dimension) {
      fail(
        `${a.unit.code} and ${b.unit.code} are both ${a.unit.dimension}; the catalog converts those`,
      );
    }
    const amounts = [c.quantity, c.equalsQuantity].map((q) => {
      let f: Fraction;
      try {
        f = quantityFraction(q);
      } catch (err) {
        return fail((err as Error).message);
      }
      return f.n > 0n ? f : fail(`quantities must be greater than zero`);
    });
    const [qa, qb] = amounts as [Fraction, Fraction];
    // qa·fa base(A) = qb·fb base(B), so 1 base(A) = (qb·fb)/(qa·fa) base(B).
    const factor = div(mul(qb, b.factor), mul(qa, a.factor));
    const from = a.unit.dimension;
    const to = b.unit.dimension;
    const same = edges.find((e) => e.from === from && e.to === to);
    if (same !== undefined && (same.factor.n !== factor.n || same.factor.d !== factor.d)) {
      fail(`it disagrees with conversion ${describe(conversions[same.index]!, same.index)}`);
    }
    edges.push(
      { from, to, factor, index },
      { from: to, to: from, factor: div(ONE, factor), index },
    );
  });
  return edges;
}

/** The factor from base(from) to base(to) over the fewest conversions, or undefined. */
function materialFactor(
  edges: readonly Edge[],
  from: Dimension,
  to: Dimension,
): Fraction | undefined {
  const reached = new Map<Dimension, Fraction>([[from, ONE]]);
  let frontier: Dimension[] = [from];
  while (frontier.length > 0) {
    const next: Dimension[] = [];
    for (const dim of frontier) {
      const at = reached.get(dim)!;
      for (const e of edges) {
        if (e.from !== dim || reached.has(e.to)) continue;
        reached.set(e.to, mul(at, e.factor));
        next.push(e.to);
      }
    }
    frontier = next;
  }
  return reached.get(to);
}

/** Every invalid material conversion, for a configuration check (nothing thrown). */
export function materialConversionErrors(conversions: MaterialConversions): UomError[] {
  const errors: UomError[] = [];
  for (const [material, list] of Object.entries(conversions)) {
    try {
      materialEdges(material, list);
    } catch (err) {
      if (!(err instanceof UomError)) throw err;
      errors.push(err);
    }
  }
  return errors;
}

// ---------------------------------------------------------------------------------------------
// Conversion

/** True when every quantity converts exactly from `from` to `to` (the factor ratio terminates). */
export function isExactConversion(from: string, to: string): boolean {
  return terminates(div(unitMath(from).factor, unitMath(to).factor));
}

/**
 * Converts a quantity between two units of measure (Rec 20 codes). Units of one dimension
 * convert through their catalog factors (and offsets, for temperatures, which are taken as
 * absolute temperatures, not differences). Units of different dimensions need a material and a
 * conversion for it; several conversions are chained when needed (H87 → KGM → LTR).
 * Exact, or rounded to 34 significant digits: see the precision rule at the top of this file.
 * Throws UomError: MW_ERR_UOM_UNKNOWN_UNIT, MW_ERR_UOM_INVALID_QUANTITY, MW_ERR_UOM_NO_CONVERSION,
 * MW_ERR_UOM_MATERIAL_CONVERSION.
 */
export function convert(
  quantity: Decimal | string,
  from: string,
  to: string,
  opts: ConvertOptions = {},
): Decimal {
  const a = unitMath(from);
  const b = unitMath(to);
  const q = quantityFraction(quantity);
  let base = mul(add(q, a.offset), a.factor);
  if (a.unit.dimension !== b.unit.dimension) {
    const noConversion = (reason: string): never => {
      throw new UomError('MW_ERR_UOM_NO_CONVERSION', {
        from: a.unit.code,
        fromDimension: a.unit.dimension,
        to: b.unit.code,
        toDimension: b.unit.dimension,
        reason,
      });
    };
    const material = opts.material;
    if (material === undefined) {
      return noConversion('without a material: the dimensions differ');
    }
    const table = opts.materialConversions ?? {};
    const list = Object.hasOwn(table, material) ? table[material] : undefined;
    const factor =
      list === undefined
        ? undefined
        : materialFactor(materialEdges(material, list), a.unit.dimension, b.unit.dimension);
    if (factor === undefined) {
      return noConversion(`without a conversion for material ${material}`);
    }
    base = mul(base, factor);
  }
  return toDecimal(sub(div(base, b.factor), b.offset));
}

// ---------------------------------------------------------------------------------------------
// Text

/** A quantity with its unit of measure. */
export interface Quantity {
  readonly value: Decimal;
  /** Rec 20 code. */
  readonly unit: string;
}

/**
 * Reads `'12.5 KGM'`: a decimal number, white space, a Rec 20 code of the catalog.
 * Throws MW_ERR_UOM_INVALID_QUANTITY or MW_ERR_UOM_UNKNOWN_UNIT.
 */
export function parseQuantity(text: string): Quantity {
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(text);
  if (m === null) {
    throw new UomError('MW_ERR_UOM_INVALID_QUANTITY', {
      quantity: JSON.stringify(text),
      reason: "expected '<decimal> <unit code>', e.g. '12.5 KGM'",
    });
  }
  const [, number = '', code = ''] = m;
  quantityFraction(number);
  return { value: new Decimal(number), unit: getUnit(code).code };
}

/** Writes a quantity the way parseQuantity reads it, without exponent: `'12.5 KGM'`. */
export function formatQuantity(quantity: Quantity): string {
  return `${quantity.value.toFixed()} ${quantity.unit}`;
}
