/**
 * Inbound orders in the ERP's codes → OrderContent in the hub's (identity mapping, issue #5
 * tables made live here). Every refusal names the field path and the rule; a code without a
 * mapping is refused with its table and code, never passed through.
 */
import { Decimal } from 'decimal.js';
import type {
  InboundMaterialDefinition,
  InboundMaterialLot,
  InboundOrder,
} from '../../model/index.ts';
import { isMwError, MwError } from '../../errors.ts';
import {
  EXTERNAL_ID_RE,
  EXTERNAL_ID_RULE,
  findUnit,
  type Hierarchy,
  type OrderContent,
} from '../../model/index.ts';
import type { MappingKind } from '../mapping.ts';

export interface CodeMapper {
  /** The hub's code for a system's; throws the mapping's MwError when there is none. */
  toOurs(system: string, kind: MappingKind, theirs: string): string;
}

export interface ImportContext {
  readonly hierarchy: Hierarchy;
  readonly mappings: CodeMapper;
  /** The sender's mapping system, or null when it sends the hub's own codes. */
  readonly system: string | null;
}

const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/;

export function invalid(path: string, rule: string): MwError {
  return new MwError('MW_ERR_ORDER_INVALID', { path, rule }, { path });
}

/** A code of `kind` mapped into the hub's, or a refusal naming the path, table and code. */
function ours(ctx: ImportContext, kind: MappingKind, theirs: string, path: string): string {
  if (theirs.trim() === '') throw invalid(path, 'must not be empty');
  if (ctx.system === null) return theirs;
  try {
    return ctx.mappings.toOurs(ctx.system, kind, theirs);
  } catch (err) {
    if (isMwError(err)) throw invalid(path, err.message);
    throw err;
  }
}

function decimalText(text: string, path: string, positive: boolean): string {
  let d: Decimal;
  try {
    d = new Decimal(text.trim());
  } catch {
    throw invalid(path, `expected a decimal number, got ${JSON.stringify(text)}`);
  }
  if (!d.isFinite()) throw invalid(path, 'expected a finite decimal number');
  if (positive ? d.lte(0) : d.lt(0))
    throw invalid(path, positive ? 'must be greater than 0' : 'must not be negative');
  return d.toString();
}

function uomOf(ctx: ImportContext, theirs: string, path: string): string {
  const code = ours(ctx, 'uom', theirs, path);
  if (findUnit(code) === undefined)
    throw invalid(path, `${JSON.stringify(code)} is not in the unit catalog (docs/units.md)`);
  return code;
}

function equipmentOf(ctx: ImportContext, theirs: string, path: string): string {
  const id = ours(ctx, 'equipment', theirs, path);
  const e = ctx.hierarchy.get(id);
  if (e === undefined || (e.level !== 'workCenter' && e.level !== 'workUnit'))
    throw invalid(
      path,
      `${JSON.stringify(id)} is not a line or work unit of the hierarchy (GET /api/v1/equipment)`,
    );
  return id;
}

function materialOf(ctx: ImportContext, theirs: string, path: string): string {
  const code = ours(ctx, 'material', theirs, path);
  if (!CODE_RE.test(code))
    throw invalid(path, 'expected a code of letters, digits, "_", ".", "-" or "/"');
  return code;
}

/** One inbound order as the hub keeps it; `path` names it in errors (`orders[2]`). */
export function mapOrder(order: InboundOrder, ctx: ImportContext, path: string): OrderContent {
  if (!EXTERNAL_ID_RE.test(order.externalId)) throw invalid(`${path}.externalId`, EXTERNAL_ID_RULE);
  if (order.operations.length === 0)
    throw invalid(`${path}.operations`, 'an order needs at least one operation');
  const seen = new Set<string>();
  const operations = order.operations.map((op, i) => {
    const p = `${path}.operations[${i}]`;
    if (op.id.trim() === '') throw invalid(`${p}.id`, 'must not be empty');
    if (seen.has(op.id))
      throw invalid(`${p}.id`, `operation ${JSON.stringify(op.id)} appears twice`);
    seen.add(op.id);
    return {
      id: op.id,
      equipment: equipmentOf(ctx, op.equipment, `${p}.equipment`),
      description: op.description,
    };
  });
  if (
    order.plannedStart !== null &&
    order.plannedEnd !== null &&
    order.plannedEnd < order.plannedStart
  )
    throw invalid(`${path}.plannedEnd`, 'must not be before plannedStart');
  if (!Number.isInteger(order.priority))
    throw invalid(`${path}.priority`, 'expected a whole number');
  return {
    externalId: order.externalId,
    material: materialOf(ctx, order.material, `${path}.material`),
    quantity: decimalText(order.quantity, `${path}.quantity`, true),
    uom: uomOf(ctx, order.uom, `${path}.uom`),
    operations,
    plannedStart: order.plannedStart,
    plannedEnd: order.plannedEnd,
    priority: order.priority,
    lot: order.lot,
    description: order.description,
  };
}

export interface MaterialDefinitionContent {
  readonly id: string;
  readonly description: string | null;
  readonly uom: string | null;
}

export function mapMaterial(
  m: InboundMaterialDefinition,
  ctx: ImportContext,
  path: string,
): MaterialDefinitionContent {
  return {
    id: materialOf(ctx, m.id, `${path}.id`),
    description: m.description,
    uom: m.uom === null ? null : uomOf(ctx, m.uom, `${path}.uom`),
  };
}

export interface MaterialLotContent {
  readonly id: string;
  readonly material: string;
  readonly quantity: string | null;
  readonly uom: string | null;
  readonly status: string | null;
  readonly sublots: readonly {
    readonly id: string;
    readonly quantity: string | null;
    readonly uom: string | null;
    readonly status: string | null;
  }[];
}

export function mapLot(
  lot: InboundMaterialLot,
  ctx: ImportContext,
  path: string,
): MaterialLotContent {
  if (!EXTERNAL_ID_RE.test(lot.id)) throw invalid(`${path}.id`, EXTERNAL_ID_RULE);
  return {
    id: lot.id,
    material: materialOf(ctx, lot.material, `${path}.material`),
    quantity: lot.quantity === null ? null : decimalText(lot.quantity, `${path}.quantity`, false),
    uom: lot.uom === null ? null : uomOf(ctx, lot.uom, `${path}.uom`),
    status: lot.status,
    sublots: (lot.sublots ?? []).map((sub, i) => {
      const at = `${path}.sublots[${i}]`;
      if (!EXTERNAL_ID_RE.test(sub.id)) throw invalid(`${at}.id`, EXTERNAL_ID_RULE);
      return {
        id: sub.id,
        quantity: sub.quantity === null ? null : decimalText(sub.quantity, `${at}.quantity`, true),
        uom: sub.uom === null ? null : uomOf(ctx, sub.uom, `${at}.uom`),
        status: sub.status,
      };
    }),
  };
}
