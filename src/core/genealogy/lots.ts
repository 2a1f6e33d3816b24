/**
 * The rules of one lot, shared by every change that touches it: reading it (or failing with
 * MW_ERR_LOT_NOT_FOUND), checking it may move (not on hold, available), taking a quantity out
 * of it in its own unit, and drawing a new lot number from the numbering scheme.
 */
import { Decimal } from 'decimal.js';
import type { GenealogyConfig } from '../../config/quality.ts';
import { MwError } from '../../errors.ts';
import {
  formatLotNumber,
  lotNumberCounter,
  readDecimal,
  takeFrom,
  type Hierarchy,
  type LinkKind,
  type LotData,
  type LotLink,
  type LotOrigin,
} from '../../model/index.ts';
import type { MaterialCatalog } from '../materials.ts';
import type { Draft } from './draft.ts';
import {
  HOLD_ENTITY,
  LOT_ENTITY,
  LOT_SEQUENCE_ENTITY,
  materialRef,
  type HoldData,
} from './types.ts';

/** What a lot is made of, as a receipt, production or merge names it. */
export interface NewLot {
  readonly id?: string | undefined;
  readonly material: string;
  readonly quantity: string | number;
  readonly uom?: string | undefined;
  readonly location?: string | null | undefined;
  readonly order?: string | null | undefined;
  readonly operation?: string | null | undefined;
  readonly properties?: Readonly<Record<string, string>> | undefined;
}

export interface InputLot {
  readonly lot: string;
  readonly quantity: string | number;
  readonly uom?: string | undefined;
}

export interface Movement {
  readonly order?: string | null | undefined;
  readonly operation?: string | null | undefined;
  readonly equipment?: string | null | undefined;
  readonly reason?: string | null | undefined;
}

export const LOT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.\-/:#]{0,127}$/;
export const LOT_ID_RULE =
  'expected a lot number of letters, digits and "_", ".", "-", "/", ":", "#" (at most 128)';

export function lotInvalid(path: string, rule: string): MwError {
  return new MwError('MW_ERR_LOT_INVALID', { path, rule }, { path });
}

export async function readLot(draft: Draft, id: string, context = ''): Promise<LotData> {
  const lot = await draft.get<LotData>(LOT_ENTITY, id);
  if (lot === undefined) throw new MwError('MW_ERR_LOT_NOT_FOUND', { id, context });
  return lot;
}

/** Refuse to move a lot on hold (naming the hold) or not available. */
export async function checkMovable(
  draft: Draft,
  id: string,
  lot: LotData,
  action: string,
): Promise<void> {
  const holdId = lot.holds[0];
  if (holdId !== undefined) {
    const hold = await draft.get<HoldData>(HOLD_ENTITY, holdId);
    throw new MwError('MW_ERR_LOT_ON_HOLD', {
      id,
      hold: holdId,
      reason: hold?.reason ?? 'reason unknown',
      action,
    });
  }
  if (lot.status !== 'available')
    throw new MwError('MW_ERR_LOT_STATUS', { id, status: lot.status, action });
}

/** A positive quantity from the API, as a Decimal; `path` names it in the error. */
export function positiveQuantity(value: string | number, path: string): Decimal {
  const d = readDecimal(value);
  if (d === null || d.isZero() || !d.isFinite())
    throw lotInvalid(path, 'expected a positive decimal number');
  return d;
}

/**
 * Take `quantity` (in `uom`, or the lot's unit) out of a lot that may move: the lot after it
 * and the quantity in the lot's unit. MW_ERR_LOT_QUANTITY when it holds less.
 */
export async function takeOut(
  draft: Draft,
  materials: MaterialCatalog,
  id: string,
  quantity: Decimal,
  uom: string | undefined,
  action: string,
  context = '',
): Promise<{ lot: LotData; after: LotData; taken: Decimal }> {
  const lot = await readLot(draft, id, context);
  await checkMovable(draft, id, lot, action);
  const taken = inLotUnit(materials, lot, quantity, uom);
  const left = takeFrom(lot.quantity, taken);
  if (left === null)
    throw new MwError('MW_ERR_LOT_QUANTITY', {
      id,
      have: lot.quantity,
      take: taken.toFixed(),
      uom: lot.uom,
    });
  const after: LotData = {
    ...lot,
    quantity: left,
    status: new Decimal(left).isZero() ? 'consumed' : lot.status,
  };
  return { lot, after, taken };
}

/** A quantity in the lot's unit: converted exactly (MW_ERR_UOM_*) when given in another. */
export function inLotUnit(
  materials: MaterialCatalog,
  lot: LotData,
  quantity: Decimal,
  uom: string | undefined,
): Decimal {
  if (uom === undefined || uom === lot.uom) return quantity;
  const material = materials.get(lot.material) ?? {
    id: lot.material,
    name: lot.material,
    uom: lot.uom,
  };
  return materials.converter({ ...material, uom: lot.uom }, uom)(quantity);
}

/**
 * A new lot number: from the material's pattern or the default, its running number kept per
 * prefix in a `lot-sequence` record changed in the same draft (so two lots never share one;
 * a hub racing another on PostgreSQL meets a conflict and tries again).
 */
export async function drawLotNumber(
  draft: Draft,
  config: GenealogyConfig,
  site: string,
  material: string,
): Promise<string> {
  const entries = config.lotNumbers;
  const pattern =
    entries.find((n) => n.material === material && n.site === site) ??
    entries.find((n) => n.material === material && n.site === undefined) ??
    entries.find((n) => n.material === undefined && n.site === site);
  return drawFrom(draft, pattern?.pattern ?? config.defaultPattern, site, material);
}

async function drawFrom(
  draft: Draft,
  pattern: string,
  site: string,
  material: string,
): Promise<string> {
  const values = { material, site, at: draft.at };
  const counter = lotNumberCounter(pattern, values);
  for (;;) {
    const seq = (await draft.get<{ next: number }>(LOT_SEQUENCE_ENTITY, counter))?.next ?? 1;
    await draft.put(LOT_SEQUENCE_ENTITY, counter, { next: seq + 1 }, 'number');
    const id = formatLotNumber(pattern, values, seq);
    // A lot received with a number of the scheme's shape may have taken it already.
    if ((await draft.get(LOT_ENTITY, id)) === undefined) return id;
  }
}

/** What making a lot needs of the hub: its materials, equipment and numbering scheme. */
export interface LotContext {
  readonly materials: MaterialCatalog;
  readonly hierarchy: Hierarchy;
  readonly config: GenealogyConfig;
  readonly site: string;
}

/** Create a lot record (origin, parent); `path` names the request's fields in errors. */
export async function createLot(
  draft: Draft,
  ctx: LotContext,
  lot: NewLot,
  origin: LotOrigin,
  parent: string | null,
  path: string,
  empty = origin === 'split' || origin === 'merged',
): Promise<string> {
  const material = ctx.materials.get(lot.material);
  const uom = lot.uom ?? material?.uom;
  if (uom === undefined)
    throw lotInvalid(
      `${path}.uom`,
      `material ${lot.material} is not configured: give the lot's unit`,
    );
  const quantity = empty ? new Decimal(0) : positiveQuantity(lot.quantity, `${path}.quantity`);
  if (lot.location != null && ctx.hierarchy.get(lot.location) === undefined)
    throw lotInvalid(`${path}.location`, `no equipment ${lot.location} in the hierarchy`);
  let id = lot.id;
  if (id === undefined)
    id = await drawLotNumber(draft, ctx.config, siteOf(lot.location) ?? ctx.site, lot.material);
  else if (!LOT_ID_RE.test(id)) throw lotInvalid(`${path}.id`, LOT_ID_RULE);
  const existing = await draft.get<LotData>(LOT_ENTITY, id);
  if (existing !== undefined)
    throw new MwError('MW_ERR_LOT_EXISTS', { id, material: existing.material });
  const data: LotData = {
    material: lot.material,
    quantity: quantity.toFixed(),
    initialQuantity: quantity.toFixed(),
    uom,
    status: 'available',
    holds: [],
    location: lot.location ?? null,
    order: lot.order ?? null,
    operation: lot.operation ?? null,
    parent,
    origin,
    properties: lot.properties ?? {},
    source: draft.by.actor,
    at: draft.at,
  };
  await draft.put(LOT_ENTITY, id, data, 'create', materialRef(lot.material));
  return id;
}

/**
 * Move `input.quantity` of a lot into `into`: taken out of the input (refused on hold, when
 * short), added to `into` for a split or merge (production states its own quantity), linked.
 */
export async function moveLot(
  draft: Draft,
  materials: MaterialCatalog,
  input: InputLot,
  into: string,
  kind: LinkKind,
  m: Movement,
  path: string,
): Promise<void> {
  const at = path === '' ? '' : `${path}.`;
  const quantity = positiveQuantity(input.quantity, `${at}quantity`);
  if (input.lot === into) throw lotInvalid(`${at}lot`, 'a lot cannot be consumed into itself');
  const action = kind === 'consume' ? 'consumed' : kind === 'split' ? 'split' : 'merged';
  const context = path === '' ? '' : ` (${path})`;
  const { after, taken } = await takeOut(
    draft,
    materials,
    input.lot,
    quantity,
    input.uom,
    action,
    context,
  );
  const link: LotLink = {
    from: input.lot,
    to: into,
    quantity: taken.toFixed(),
    uom: after.uom,
    kind,
    order: m.order ?? null,
    operation: m.operation ?? null,
    equipment: m.equipment ?? null,
    at: draft.at,
    actor: draft.by.actor,
  };
  // The input's audit row names where its material went: the link, as the genealogy keeps it.
  await draft.put(LOT_ENTITY, input.lot, after, kind, undefined, {
    link: { old: null, new: link },
  });
  if (kind !== 'consume') {
    const target = await readLot(draft, into);
    await draft.put(LOT_ENTITY, into, {
      ...target,
      quantity: new Decimal(target.quantity).plus(taken).toFixed(),
      initialQuantity: new Decimal(target.initialQuantity).plus(taken).toFixed(),
    });
  }
  draft.links.push(link);
}

/** The site of an equipment id (`<enterprise>/<site>/…`), or null. */
function siteOf(equipment: string | null | undefined): string | null {
  return equipment?.split('/')[1] ?? null;
}
