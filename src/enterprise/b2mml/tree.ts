/**
 * A parsed B2MML document as a tree of elements that know their path, and the value rules the
 * mappers share: text, decimal quantities, xs:dateTime. Refusals name the element path.
 */
import { Decimal } from 'decimal.js';
import { XMLParser } from 'fast-xml-parser';
import { MwError } from '../../errors.ts';
import { decodeEntities, pathStep } from './xml-source.ts';

/** fast-xml-parser's shape with every element an array (options below). */
interface XNode {
  readonly [key: string]: XNode[] | string | undefined;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  // No entity processing at all (the DTD is refused before; the five predefined entities and
  // character references are decoded by decodeEntities, text by text).
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  alwaysCreateTextNode: true,
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Every element is an array: in B2MML nearly any element may repeat (maxOccurs="unbounded").
  isArray: (_name, _jpath, _isLeaf, isAttribute) => !isAttribute,
});

/** The refusal of a valid document that lacks what the import needs. */
export function incomplete(path: string, reason: string): MwError {
  return new MwError('MW_ERR_B2MML_INCOMPLETE', { path, reason }, { path });
}

export class Element {
  constructor(
    readonly name: string,
    readonly path: string,
    private readonly node: XNode,
  ) {}

  children(name: string): Element[] {
    const list = this.node[name];
    if (!Array.isArray(list)) return [];
    return list.map(
      (n, i) => new Element(name, `${this.path}/${pathStep(name, i + 1, list.length)}`, n),
    );
  }

  child(name: string): Element | null {
    return this.children(name)[0] ?? null;
  }

  /** Text content (entities decoded, trimmed), or null when empty. */
  text(): string | null {
    const raw = this.node['#text'];
    const cdata = this.node['#cdata'];
    let text = typeof raw === 'string' ? decodeEntities(raw) : '';
    if (Array.isArray(cdata))
      text += cdata.map((c) => (typeof c === 'string' ? c : String(c['#text'] ?? ''))).join('');
    else if (typeof cdata === 'string') text += cdata;
    text = text.trim();
    return text === '' ? null : text;
  }

  childText(name: string): string | null {
    return this.child(name)?.text() ?? null;
  }

  attribute(name: string): string | null {
    const v = this.node[`@_${name}`];
    return typeof v === 'string' ? decodeEntities(v) : null;
  }
}

/** The root element of a document already checked by readXml and validated. */
export function parseTree(text: string, rootLocal: string): Element {
  const doc = parser.parse(text) as XNode;
  const root = doc[rootLocal];
  const node = Array.isArray(root) ? root[0] : undefined;
  if (node === undefined) throw new Error(`parseTree: no root element ${rootLocal}`);
  return new Element(rootLocal, `/${rootLocal}`, node);
}

// ---------------------------------------------------------------------------------------------
// Values

/** xs:decimal, optionally with an exponent (as the hub's quantities, docs/units.md). */
const DECIMAL_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Decimal text in plain notation (`1.000` → `1`, `1.2e3` → `1200`); refuses other text. */
export function decimalText(text: string, path: string, options: { positive?: boolean } = {}) {
  const d = DECIMAL_RE.test(text) ? new Decimal(text) : null;
  if (d === null || !d.isFinite())
    throw incomplete(path, `"${text}" is not a decimal number (e.g. 12.5)`);
  if (d.isNegative() && !d.isZero()) throw incomplete(path, `"${text}" is negative`);
  if (options.positive === true && d.isZero()) throw incomplete(path, 'the quantity is 0');
  return d.toFixed();
}

export interface QuantityValue {
  readonly quantity: string;
  readonly uom: string | null;
}

/**
 * The first `Quantity` of an element (B2MML QuantityValueType: QuantityString, DataType,
 * UnitOfMeasure), or null when it has none. QuantityString is xs:string in every version's XSD,
 * so its decimal form is checked here.
 */
export function quantityOf(
  el: Element,
  options: { positive?: boolean } = {},
): QuantityValue | null {
  const q = el.child('Quantity');
  if (q === null) return null;
  const qs = q.child('QuantityString');
  const text = qs?.text() ?? null;
  if (qs === null || text === null) throw incomplete(q.path, 'no QuantityString');
  return { quantity: decimalText(text, qs.path, options), uom: q.childText('UnitOfMeasure') };
}

const DATE_TIME_RE =
  /^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * xs:dateTime → UTC epoch ms. A value without a time zone offset is taken as UTC: XML Schema
 * leaves such a time "local" to an unknown place, and the hub keeps time in UTC (DESIGN.md).
 */
export function dateTimeMs(text: string, path: string): number {
  const m = DATE_TIME_RE.exec(text);
  if (m === null) throw incomplete(path, `"${text}" is not an xs:dateTime`);
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const ms = frac === undefined ? 0 : Math.floor(Number(`0${frac}`) * 1000);
  const midnight = new Date(0);
  midnight.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // Date.UTC maps 0-99 to 19xx
  // Added, not set: 24:00:00 is the end of the day (XML Schema 1.0 §3.2.7).
  let t = midnight.getTime() + ((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1000 + ms;
  if (zone !== undefined && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return t;
}

/** The dateTime of a child element, or null when absent. */
export function childTime(el: Element, name: string): number | null {
  const c = el.child(name);
  const text = c?.text() ?? null;
  return c === null || text === null ? null : dateTimeMs(text, c.path);
}
