/**
 * The configured materials (config `materials`): each with the unit its consumption is booked in
 * and its conversions across dimensions. Turns a device's reading into the material's unit,
 * exactly, or fails with the unit of measure error (MW_ERR_UOM_*) as an MwError.
 */
import { Decimal } from 'decimal.js';
import type { MaterialConfig } from '../config/schema.ts';
import { parseConversion } from '../config/cross-references.ts';
import { MwError } from '../errors.ts';
import { convert, UomError, type MaterialConversions } from '../model/index.ts';

export interface MaterialView {
  readonly id: string;
  readonly name: string;
  readonly uom: string;
}

export class MaterialCatalog {
  private readonly byId = new Map<string, MaterialView>();
  private readonly conversions: MaterialConversions;
  private readonly converters = new Map<string, (quantity: Decimal) => Decimal>();

  /** Checked when the configuration was loaded (cross-references.ts): every entry parses here. */
  constructor(materials: readonly MaterialConfig[]) {
    const conversions: Record<string, ReturnType<typeof parseConversion>[]> = {};
    for (const m of materials) {
      this.byId.set(m.id, { id: m.id, name: m.name ?? m.id, uom: m.uom });
      conversions[m.id] = m.conversions.map(parseConversion);
    }
    this.conversions = conversions;
  }

  get(id: string): MaterialView | undefined {
    return this.byId.get(id);
  }

  all(): MaterialView[] {
    return [...this.byId.values()];
  }

  /**
   * How a quantity in `fromUom` becomes one in the material's unit. Fails at once (not at the
   * first reading) when no conversion exists, so an impossible binding is quarantined from the
   * start. Throws MwError MW_ERR_UOM_*.
   */
  converter(material: MaterialView, fromUom: string): (quantity: Decimal) => Decimal {
    const key = `${material.id}\u0000${fromUom}`;
    const known = this.converters.get(key);
    if (known !== undefined) return known;
    const opts = { material: material.id, materialConversions: this.conversions };
    const run = (q: Decimal): Decimal => {
      try {
        return convert(q, fromUom, material.uom, opts);
      } catch (err) {
        if (err instanceof UomError) throw new MwError(err.code, err.params, { cause: err });
        throw err;
      }
    };
    run(new Decimal(1));
    this.converters.set(key, run);
    return run;
  }
}
