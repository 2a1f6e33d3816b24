/**
 * OPC UA values ↔ hub values: a DataValue becomes a TagValue with quality, status and source
 * time; a TagValue to write becomes a Variant of the variable's DataType.
 */
import { DataType, type DataValue, type Variant, VariantArrayType } from 'node-opcua';
import type { Quality, TagValue } from '../../model/index.ts';

export interface ConvertedValue {
  readonly value: TagValue;
  readonly quality: Quality;
  /** The StatusCode name when it is not plain Good (e.g. BadSensorFailure, UncertainLastUsableValue). */
  readonly status: string | null;
  readonly sourceTs: number | null;
}

export interface ConvertOptions {
  /** DateTime as ISO 8601 text or epoch milliseconds. */
  readonly dateTime: 'iso' | 'ms';
}

const TWO_32 = 2n ** 32n;

/** node-opcua carries Int64/UInt64 as [high, low] 32-bit words. */
function int64Of(words: unknown, signed: boolean): bigint {
  const [high, low] = Array.isArray(words) ? (words as number[]) : [0, Number(words)];
  const raw = BigInt(high ?? 0) * TWO_32 + BigInt(low ?? 0);
  return signed ? BigInt.asIntN(64, raw) : BigInt.asUintN(64, raw);
}

/** An integer as a number when it is exact, else its decimal text. */
function exactNumber(n: bigint): number | string {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

/** The shortest decimal that reads back as the same Float (0.1f is 0.1, not 0.100000001490116). */
function shortFloat(f: number): number {
  if (!Number.isFinite(f)) return f;
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/** One scalar element of a Variant as a JSON-able value. */
function scalarOf(dataType: DataType, v: unknown, options: ConvertOptions): unknown {
  if (v === null || v === undefined) return null;
  switch (dataType) {
    case DataType.Boolean:
      return Boolean(v);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Double:
      return Number(v);
    case DataType.Float:
      return shortFloat(Number(v));
    case DataType.Int64:
      return exactNumber(int64Of(v, true));
    case DataType.UInt64:
      return exactNumber(int64Of(v, false));
    case DataType.String:
    case DataType.XmlElement:
      return String(v);
    case DataType.DateTime: {
      const ms = (v as Date).getTime();
      if (Number.isNaN(ms)) return null;
      return options.dateTime === 'ms' ? ms : new Date(ms).toISOString();
    }
    case DataType.ByteString:
      return Buffer.isBuffer(v) ? v.toString('base64') : String(v);
    case DataType.LocalizedText:
      return (v as { text?: string | null }).text ?? null;
    case DataType.QualifiedName:
      return (v as { name?: string | null }).name ?? null;
    case DataType.StatusCode:
      return (v as { name: string }).name;
    case DataType.Guid:
    case DataType.NodeId:
    case DataType.ExpandedNodeId:
      return String(v);
    default: {
      const json = (v as { toJSON?: () => unknown }).toJSON?.();
      return json ?? String(v);
    }
  }
}

/** A Variant as a TagValue: scalars as they are, arrays and matrices as JSON text. */
export function variantToTagValue(variant: Variant, options: ConvertOptions): TagValue {
  if (variant.arrayType !== VariantArrayType.Scalar) {
    const items = Array.from(variant.value as ArrayLike<unknown>, (x) =>
      scalarOf(variant.dataType, x, options),
    );
    return JSON.stringify(items);
  }
  const value = scalarOf(variant.dataType, variant.value, options);
  if (value === null || ['number', 'string', 'boolean'].includes(typeof value))
    return value as TagValue;
  return JSON.stringify(value);
}

/** Quality from the StatusCode's severity bits (OPC UA Part 4 §7.39: Good 00, Uncertain 01, Bad 10). */
export function qualityOf(status: { isGood(): boolean; isBad(): boolean }): Quality {
  if (status.isGood()) return 'good';
  if (status.isBad()) return 'bad';
  return 'uncertain';
}

export function convertDataValue(dv: DataValue, options: ConvertOptions): ConvertedValue {
  const quality = qualityOf(dv.statusCode);
  const name = dv.statusCode.name;
  const status = name === 'Good' ? null : name;
  const ts = dv.sourceTimestamp ?? dv.serverTimestamp;
  const sourceTs = ts === null || Number.isNaN(ts.getTime()) ? null : ts.getTime();
  try {
    // A Bad value carries no usable value (Part 4 §7.39); keep null rather than a stale one.
    const value = quality === 'bad' ? null : variantToTagValue(dv.value, options);
    return { value, quality, status, sourceTs };
  } catch (err) {
    return {
      value: null,
      quality: 'bad',
      status: `cannot decode ${DataType[dv.value.dataType]}: ${(err as Error).message}`,
      sourceTs,
    };
  }
}

const INTEGER_RANGES: Partial<Record<DataType, readonly [bigint, bigint]>> = {
  [DataType.SByte]: [-128n, 127n],
  [DataType.Byte]: [0n, 255n],
  [DataType.Int16]: [-32768n, 32767n],
  [DataType.UInt16]: [0n, 65535n],
  [DataType.Int32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [DataType.UInt32]: [0n, 2n ** 32n - 1n],
  [DataType.Int64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [DataType.UInt64]: [0n, 2n ** 64n - 1n],
};

function toBigInt(value: unknown): bigint {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`${value} is not an integer`);
    return BigInt(value);
  }
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return BigInt(value.trim());
  if (typeof value === 'boolean') return value ? 1n : 0n;
  throw new Error(`${JSON.stringify(value)} is not an integer`);
}

function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))
    return Number(value);
  throw new Error(`${JSON.stringify(value)} is not a number`);
}

/** One element of a value to write, as node-opcua's representation of `dataType`. */
function scalarToOpcua(dataType: DataType, value: unknown): unknown {
  const range = INTEGER_RANGES[dataType];
  if (range !== undefined) {
    const n = toBigInt(value);
    if (n < range[0] || n > range[1])
      throw new Error(`${n} is out of range for ${DataType[dataType]} (${range[0]}…${range[1]})`);
    if (dataType === DataType.Int64 || dataType === DataType.UInt64) {
      const u = BigInt.asUintN(64, n);
      return [Number(u / TWO_32), Number(u % TWO_32)];
    }
    return Number(n);
  }
  switch (dataType) {
    case DataType.Boolean:
      if (typeof value === 'boolean') return value;
      if (value === 0 || value === 1) return value === 1;
      if (typeof value === 'string' && /^(true|false|1|0)$/i.test(value.trim()))
        return /^(true|1)$/i.test(value.trim());
      throw new Error(`${JSON.stringify(value)} is not a boolean`);
    case DataType.Float: {
      const f = toNumber(value);
      if (Number.isFinite(f) && Math.abs(f) > 3.4028234663852886e38)
        throw new Error(`${f} is out of range for Float`);
      return f;
    }
    case DataType.Double:
      return toNumber(value);
    case DataType.String:
      return typeof value === 'string' ? value : JSON.stringify(value);
    case DataType.DateTime: {
      const d = typeof value === 'number' ? new Date(value) : new Date(String(value));
      if (Number.isNaN(d.getTime())) throw new Error(`${JSON.stringify(value)} is not a date`);
      return d;
    }
    case DataType.LocalizedText:
      return { text: String(value) };
    case DataType.ByteString:
      return Buffer.from(String(value), 'base64');
    default:
      throw new Error(`writing ${DataType[dataType]} values is not supported`);
  }
}

/**
 * A hub value as a Variant value of the variable's built-in DataType; an array variable
 * (valueRank ≥ 1) takes a JSON array as text. Throws with the reason when it does not fit.
 */
export function tagValueToVariant(
  value: TagValue,
  dataType: DataType,
  isArray: boolean,
): { dataType: DataType; arrayType: VariantArrayType; value: unknown } {
  if (value === null) throw new Error('null cannot be written');
  if (isArray) {
    let items: unknown;
    try {
      items = typeof value === 'string' ? JSON.parse(value) : value;
    } catch {
      throw new Error('expected a JSON array for an array variable');
    }
    if (!Array.isArray(items)) throw new Error('expected a JSON array for an array variable');
    return {
      dataType,
      arrayType: VariantArrayType.Array,
      value: items.map((x) => scalarToOpcua(dataType, x)),
    };
  }
  return { dataType, arrayType: VariantArrayType.Scalar, value: scalarToOpcua(dataType, value) };
}
