/**
 * ISA-95 material lots and their genealogy (issue #12): the shapes and the pure rules. A lot is
 * an identified quantity of one material; a sublot (a container, a serial) is a lot whose
 * `parent` is the lot it was split from. Every movement of material from one lot into another
 * is a link (from → to, with the quantity moved), so the genealogy is a directed graph whose
 * edges point the way material flows: backward trace follows them against their direction
 * ("where from"), forward trace along it ("where used").
 *
 * Quantities are exact decimals (decimal.js), kept as decimal text.
 */
import { Decimal } from 'decimal.js';

export const LOT_STATUSES = ['available', 'on-hold', 'consumed', 'shipped', 'scrapped'] as const;
export type LotStatus = (typeof LOT_STATUSES)[number];

/** How a lot came to be. */
export const LOT_ORIGINS = ['received', 'produced', 'split', 'merged'] as const;
export type LotOrigin = (typeof LOT_ORIGINS)[number];

/** What moved material from one lot into another. */
export const LINK_KINDS = ['consume', 'split', 'merge'] as const;
export type LinkKind = (typeof LINK_KINDS)[number];

/** A lot as its record (entity type `material-lot`, id = the lot number) holds it. */
export interface LotData {
  readonly material: string;
  /** What is left (decimal text, in `uom`). */
  readonly quantity: string;
  /** What the lot held when it was made or received. */
  readonly initialQuantity: string;
  readonly uom: string;
  readonly status: LotStatus;
  /** Active quality holds (their record ids); while any is active the lot does not move. */
  readonly holds: readonly string[];
  /** The equipment where the lot is, or null. */
  readonly location: string | null;
  /** The order (and operation) that produced it, or null. */
  readonly order: string | null;
  readonly operation: string | null;
  /** The lot it is a sublot of, or null. */
  readonly parent: string | null;
  readonly origin: LotOrigin;
  /** ISA-95 material lot properties: name → value text. */
  readonly properties: Readonly<Record<string, string>>;
  /** Where the record came from: a user, a token, an ERP import (for people reading it). */
  readonly source: string;
  /** When it was made or received (UTC epoch ms). */
  readonly at: number;
  /** The seq of the lot's last quality message (QualityMessage.seq); absent before the first. */
  readonly messageSeq?: number;
}

/** One movement of material, as the genealogy stores it. */
export interface LotLink {
  readonly from: string;
  readonly to: string;
  /** Quantity moved, in the `from` lot's unit (decimal text). */
  readonly quantity: string;
  readonly uom: string;
  readonly kind: LinkKind;
  readonly order: string | null;
  readonly operation: string | null;
  readonly equipment: string | null;
  /** When it happened (UTC epoch ms). */
  readonly at: number;
  readonly actor: string;
}

export interface StoredLotLink extends LotLink {
  readonly id: number;
}

export type TraceDirection = 'backward' | 'forward';

/**
 * The quantity left after taking `take` out of a lot holding `have`: null when it holds less
 * (the caller refuses). Both decimal text.
 */
export function takeFrom(have: string, take: Decimal): string | null {
  const left = new Decimal(have).minus(take);
  return left.isNegative() ? null : left.toFixed();
}

/**
 * A lot number from a pattern (config `genealogy.lotNumbers`): `{material}`, `{site}`,
 * `{date}` (UTC yyyyMMdd, or `{date:yyMMdd}` with y, M, d, H, m letters), `{seq}` or `{seq:N}`
 * (the material's running number, zero-padded to N digits).
 */
export function formatLotNumber(
  pattern: string,
  values: { readonly material: string; readonly site: string; readonly at: number },
  seq: number,
): string {
  const d = new Date(values.at);
  const parts: Record<string, string> = {
    yyyy: String(d.getUTCFullYear()),
    yy: String(d.getUTCFullYear() % 100).padStart(2, '0'),
    MM: String(d.getUTCMonth() + 1).padStart(2, '0'),
    dd: String(d.getUTCDate()).padStart(2, '0'),
    HH: String(d.getUTCHours()).padStart(2, '0'),
    mm: String(d.getUTCMinutes()).padStart(2, '0'),
  };
  return pattern.replace(/\{(\w+)(?::([^}]*))?\}/g, (whole, name: string, arg?: string) => {
    switch (name) {
      case 'material':
        return values.material;
      case 'site':
        return values.site;
      case 'date':
        return (arg ?? 'yyyyMMdd').replace(/yyyy|yy|MM|dd|HH|mm/g, (t) => parts[t]!);
      case 'seq':
        return String(seq).padStart(arg === undefined ? 1 : Number(arg), '0');
      default:
        return whole;
    }
  });
}

/** The part of a pattern up to the running number: numbers of one prefix share a counter. */
export function lotNumberCounter(
  pattern: string,
  values: { readonly material: string; readonly site: string; readonly at: number },
): string {
  const cut = pattern.search(/\{seq(?::[^}]*)?\}/);
  return formatLotNumber(cut < 0 ? pattern : pattern.slice(0, cut), values, 0);
}
