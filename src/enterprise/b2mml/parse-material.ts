/**
 * Material master and lots from B2MML material messages (all three versions; B2MML
 * Material.xsd: MaterialInformationType, MaterialDefinitionType, MaterialLotType,
 * MaterialSubLotType). Codes stay the ERP's. Material classes and test specifications are not
 * part of an InboundDocument and are not read.
 */
import type {
  B2mmlVersion,
  InboundMaterialDefinition,
  InboundMaterialLot,
  InboundMaterialSubLot,
} from '../types.ts';
import { incomplete, quantityOf, type Element } from './tree.ts';

export interface MaterialContent {
  readonly materials: InboundMaterialDefinition[];
  readonly lots: InboundMaterialLot[];
}

/**
 * Property IDs that carry a definition's base unit: B2MML has no unit element on a material
 * definition, so senders use a MaterialDefinitionProperty (the official V0401 examples:
 * `BaseUnitOfMeasure`).
 */
const UNIT_PROPERTIES: ReadonlySet<string> = new Set(['BaseUnitOfMeasure', 'UnitOfMeasure']);

function requiredId(el: Element): string {
  const id = el.childText('ID');
  if (id === null) throw incomplete(el.path, 'no ID');
  return id;
}

function mapDefinition(def: Element): InboundMaterialDefinition {
  let uom: string | null = null;
  for (const p of def.children('MaterialDefinitionProperty')) {
    if (!UNIT_PROPERTIES.has(p.childText('ID') ?? '')) continue;
    uom = p.child('Value')?.childText('ValueString') ?? null;
    if (uom !== null) break;
  }
  return { id: requiredId(def), description: def.childText('Description'), uom };
}

/** A sublot and the sublots inside it (V0401/V0600 MaterialSubLot, V0701 MaterialSubLotChild). */
function mapSubLots(sublot: Element, version: B2mmlVersion): InboundMaterialSubLot[] {
  const q = quantityOf(sublot);
  const nested = sublot.children(version === 'V0701' ? 'MaterialSubLotChild' : 'MaterialSubLot');
  return [
    {
      id: requiredId(sublot),
      quantity: q?.quantity ?? null,
      uom: q?.uom ?? null,
      status: sublot.childText('Status'),
    },
    ...nested.flatMap((n) => mapSubLots(n, version)),
  ];
}

/**
 * A lot. Its material is its MaterialDefinitionID; a lot inside a MaterialInformation that
 * names none takes the MaterialInformation's ID, as the official V0401 examples do (one
 * MaterialInformation per material, its ID the material's).
 */
function mapLot(lot: Element, version: B2mmlVersion, fallback: string | null): InboundMaterialLot {
  const material = lot.childText('MaterialDefinitionID') ?? fallback;
  if (material === null) throw incomplete(lot.path, 'no MaterialDefinitionID: the lot’s material');
  const q = quantityOf(lot);
  const sublots = lot.children('MaterialSubLot').flatMap((s) => mapSubLots(s, version));
  return {
    id: requiredId(lot),
    material,
    quantity: q?.quantity ?? null,
    uom: q?.uom ?? null,
    status: lot.childText('Status'),
    ...(sublots.length > 0 ? { sublots } : {}),
  };
}

/** Sublots listed beside the lots of a MaterialInformation join their lot (MaterialLotID). */
function joinSubLots(
  info: Element,
  version: B2mmlVersion,
  lots: InboundMaterialLot[],
  fallback: string | null,
): InboundMaterialLot[] {
  const result = [...lots];
  for (const sublot of info.children('MaterialSubLot')) {
    const lotId = sublot.childText('MaterialLotID');
    if (lotId === null)
      throw incomplete(
        sublot.path,
        'no MaterialLotID: a sublot outside a MaterialLot names its lot',
      );
    const mapped = mapSubLots(sublot, version);
    const i = result.findIndex((l) => l.id === lotId);
    const lot = result[i];
    if (lot !== undefined) result[i] = { ...lot, sublots: [...(lot.sublots ?? []), ...mapped] };
    else {
      if (fallback === null)
        throw incomplete(sublot.path, `lot ${lotId} is not in the document and has no material`);
      result.push({
        id: lotId,
        material: fallback,
        quantity: null,
        uom: null,
        status: null,
        sublots: mapped,
      });
    }
  }
  return result;
}

function mapInformation(info: Element, version: B2mmlVersion): MaterialContent {
  const fallback = info.childText('ID');
  const lots = info.children('MaterialLot').map((l) => mapLot(l, version, fallback));
  return {
    materials: info.children('MaterialDefinition').map(mapDefinition),
    lots: joinSubLots(info, version, lots, fallback),
  };
}

/** The content of the nouns of a material message (`MaterialInformation`, `…Definition`, `…Lot`). */
export function mapMaterials(
  noun: string,
  elements: readonly Element[],
  version: B2mmlVersion,
): MaterialContent {
  switch (noun) {
    case 'MaterialDefinition':
      return { materials: elements.map(mapDefinition), lots: [] };
    case 'MaterialLot':
      return { materials: [], lots: elements.map((l) => mapLot(l, version, null)) };
    default: {
      const parts = elements.map((e) => mapInformation(e, version));
      return {
        materials: parts.flatMap((p) => p.materials),
        lots: parts.flatMap((p) => p.lots),
      };
    }
  }
}
