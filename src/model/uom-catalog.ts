/**
 * The units of measure the hub knows: UN/CEFACT Recommendation 20 ("Codes for Units of Measure
 * Used in International Trade") common codes, with the exact factor of each unit to the base
 * unit of its dimension. Pure data; the arithmetic is in uom.ts.
 *
 * Factors are exact decimal strings taken from the definitions of the units (the international
 * yard and pound of 1959: 1 lb = 0.45359237 kg, 1 in = 0.0254 m; 1 US gal = 231 in³ =
 * 3.785411784 l; 1 UK gal = 4.54609 l). The one factor with no terminating decimal, the degree
 * Fahrenheit (5/9 K), is written as the exact fraction '5/9'.
 *
 * Package codes (XBX box, XPK package, …) are UN/CEFACT Recommendation 21 codes, which the Rec 20
 * list carries with an X prefix. They are out of scope here: what a box holds depends on the
 * material, so they belong with per-material conversions, not in this catalog.
 */

export const DIMENSIONS = [
  'mass',
  'volume',
  'length',
  'area',
  'time',
  'count',
  'energy',
  'temperature',
  'ratio',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** The unit each dimension's factors are given in (its factor is '1' and its offset absent). */
export const BASE_UNITS: Readonly<Record<Dimension, string>> = {
  mass: 'KGM',
  // The litre (= dm³), not the cubic metre: manufacturing volumes are stated in litres.
  volume: 'LTR',
  length: 'MTR',
  area: 'MTK',
  time: 'SEC',
  count: 'C62',
  energy: 'JOU',
  temperature: 'KEL',
  ratio: 'P1',
};

export interface UnitDefinition {
  /** UN/CEFACT Recommendation 20 common code, upper case: `KGM`. */
  readonly code: string;
  /** Rec 20 name: `kilogram`. */
  readonly name: string;
  /** Symbol for display: `kg`. Rec 20 gives none for count units; those are customary. */
  readonly symbol: string;
  readonly dimension: Dimension;
  /**
   * Size of the unit in the dimension's base unit, exact: a decimal string (`'0.45359237'`), or
   * a fraction `'n/d'` of two decimal strings where no terminating decimal exists (`'5/9'`).
   */
  readonly factor: string;
  /**
   * Affine units only (temperatures): added before the factor is applied, so that
   * base = (quantity + offset) × factor. 0 °C = (0 + 273.15) × 1 K.
   */
  readonly offset?: string;
}

/** Defines the catalog in a compact form: [code, name, symbol, factor, offset?] per dimension. */
type Row = readonly [code: string, name: string, symbol: string, factor: string, offset?: string];

const ROWS: Readonly<Record<Dimension, readonly Row[]>> = {
  mass: [
    ['KGM', 'kilogram', 'kg', '1'],
    ['GRM', 'gram', 'g', '0.001'],
    ['MGM', 'milligram', 'mg', '0.000001'],
    ['TNE', 'tonne (metric ton)', 't', '1000'],
    // International avoirdupois pound (1959), exact by definition.
    ['LBR', 'pound', 'lb', '0.45359237'],
    // 1/16 lb.
    ['ONZ', 'ounce (avoirdupois)', 'oz', '0.028349523125'],
  ],
  volume: [
    ['LTR', 'litre', 'l', '1'],
    ['MLT', 'millilitre', 'ml', '0.001'],
    ['CLT', 'centilitre', 'cl', '0.01'],
    ['DLT', 'decilitre', 'dl', '0.1'],
    ['HLT', 'hectolitre', 'hl', '100'],
    ['CMQ', 'cubic centimetre', 'cm³', '0.001'],
    ['MTQ', 'cubic metre', 'm³', '1000'],
    // 231 in³ = 231 × 0.0254³ m³, exact.
    ['GLL', 'gallon (US)', 'gal (US)', '3.785411784'],
    ['GLI', 'gallon (UK)', 'gal (UK)', '4.54609'],
  ],
  length: [
    ['MTR', 'metre', 'm', '1'],
    ['MMT', 'millimetre', 'mm', '0.001'],
    ['CMT', 'centimetre', 'cm', '0.01'],
    ['KMT', 'kilometre', 'km', '1000'],
    ['INH', 'inch', 'in', '0.0254'],
    ['FOT', 'foot', 'ft', '0.3048'],
    ['YRD', 'yard', 'yd', '0.9144'],
  ],
  area: [
    ['MTK', 'square metre', 'm²', '1'],
    ['CMK', 'square centimetre', 'cm²', '0.0001'],
    ['MMK', 'square millimetre', 'mm²', '0.000001'],
    ['INK', 'square inch', 'in²', '0.00064516'],
    ['FTK', 'square foot', 'ft²', '0.09290304'],
  ],
  time: [
    ['SEC', 'second [unit of time]', 's', '1'],
    ['MIN', 'minute [unit of time]', 'min', '60'],
    ['HUR', 'hour', 'h', '3600'],
    // A day of 86 400 s and a week of 7 such days: durations, not calendar spans (DST days
    // are 23 or 25 h long; the shift calendar handles those). Months and years have no fixed
    // length and are left out.
    ['DAY', 'day', 'd', '86400'],
    ['WEE', 'week', 'wk', '604800'],
  ],
  count: [
    ['C62', 'one', '1', '1'],
    ['H87', 'piece', 'pc', '1'],
    ['EA', 'each', 'ea', '1'],
    ['PR', 'pair', 'pr', '2'],
    ['DZN', 'dozen', 'doz', '12'],
  ],
  energy: [
    ['JOU', 'joule', 'J', '1'],
    ['KJO', 'kilojoule', 'kJ', '1000'],
    ['3B', 'megajoule', 'MJ', '1000000'],
    ['WHR', 'watt hour', 'W·h', '3600'],
    ['KWH', 'kilowatt hour', 'kW·h', '3600000'],
    ['MWH', 'megawatt hour (1000 kW.h)', 'MW·h', '3600000000'],
  ],
  temperature: [
    ['KEL', 'kelvin', 'K', '1'],
    // T/K = t/°C + 273.15
    ['CEL', 'degree Celsius', '°C', '1', '273.15'],
    // T/K = (t/°F + 459.67) × 5/9
    ['FAH', 'degree Fahrenheit', '°F', '5/9', '459.67'],
  ],
  ratio: [['P1', 'percent', '%', '1']],
};

/** Every unit, in catalog order (by dimension, base unit first). */
export const UNITS: readonly UnitDefinition[] = DIMENSIONS.flatMap((dimension) =>
  ROWS[dimension].map(([code, name, symbol, factor, offset]): UnitDefinition => ({
    code,
    name,
    symbol,
    dimension,
    factor,
    ...(offset === undefined ? {} : { offset }),
  })),
);
