/**
 * From a binding's value to what the runtime applies: a state from the value map, a consumption
 * reading with its material and conversion resolved; and the audit row of a state change.
 */
import { Decimal } from 'decimal.js';
import type { AuditEntry } from '../compliance/audit.ts';
import { MwError } from '../errors.ts';
import {
  isEquipmentState,
  readDecimal,
  type EquipmentState,
  type StateChangedEvent,
  type TagValue,
} from '../model/index.ts';
import { fillTemplate, type CompiledBinding, type Resolution } from './bindings.ts';
import { noTable } from './mapping.ts';
import type { MaterialCatalog } from './materials.ts';
import type { PipelineOptions } from './ingest-types.ts';
import type { ConsumptionReading } from './runtime.ts';

/**
 * A consumption reading resolved: the device's material code (payload or topic) mapped to the
 * hub's through the binding's system, the material looked up, the quantity read as an exact
 * decimal and its conversion to the material's unit found. Each step that fails throws the
 * error that quarantines the input: unknown code, unknown material, impossible conversion.
 */
export function consumptionReading(
  resolution: Resolution,
  value: TagValue,
  payloadMaterial: string | null,
  options: Pick<PipelineOptions, 'materials' | 'toOurs'>,
): ConsumptionReading {
  const { binding } = resolution;
  const code = payloadMaterial ?? fillTemplate(binding.material ?? '', resolution.captures);
  const id =
    binding.materialSystem === undefined
      ? code
      : (options.toOurs ?? noMapping)(binding.materialSystem, 'material', code);
  const material = options.materials?.get(id);
  if (material === undefined)
    throw new MwError('MW_ERR_INGEST_UNKNOWN_MATERIAL', { index: binding.index, material: id });
  const raw = readDecimal(value);
  if (raw === null) {
    throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
      field: `bindings[${binding.index}] (consumption of ${id}) value`,
      expected: 'a non-negative decimal number',
      actual: JSON.stringify(value),
    });
  }
  const rawUom = binding.uom ?? material.uom;
  return {
    material: id,
    raw,
    rawUom,
    uom: material.uom,
    toUom: (options.materials as MaterialCatalog).converter(material, rawUom),
    mode: binding.counterMode === 'increment' ? 'increment' : 'absolute',
    rolloverAt:
      binding.rolloverAt === undefined ? undefined : new Decimal(String(binding.rolloverAt)),
  };
}

/** 21 CFR 11.10(e): who (the connection the device spoke through), when, what, old → new. */
export function stateChangeAudit(actor: string, event: StateChangedEvent): AuditEntry {
  const d = event.data;
  return {
    at: Date.now(),
    actor,
    action: 'update',
    entityType: 'equipment-state',
    entityId: event.equipmentId,
    changes: {
      state: { old: d.previousState, new: d.state },
      ...(d.previousReasonCode === d.reasonCode
        ? {}
        : { reasonCode: { old: d.previousReasonCode, new: d.reasonCode } }),
    },
    reason: null,
  };
}

function noMapping(system: string, kind: 'material', theirs: string): never {
  throw noTable(system, kind, 'theirs', theirs);
}

export function toState(binding: CompiledBinding, value: TagValue): EquipmentState {
  const key = String(value);
  if (binding.stateMap !== undefined) {
    const mapped = binding.stateMap[key];
    if (mapped !== undefined) return mapped;
    const n = typeof value === 'number' ? value : Number.NaN;
    const range = binding.stateRanges.find((r) => Number.isInteger(n) && n >= r.low && n <= r.high);
    if (range === undefined)
      throw new MwError('MW_ERR_INGEST_UNMAPPED_STATE', { value: JSON.stringify(value) });
    return range.state;
  }
  if (typeof value === 'string' && isEquipmentState(value)) return value;
  throw new MwError('MW_ERR_INGEST_UNMAPPED_STATE', { value: JSON.stringify(value) });
}
