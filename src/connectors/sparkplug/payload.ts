/**
 * Sparkplug B payloads: protobuf encoding and decoding with the official `sparkplug_b.proto`
 * (Eclipse Tahu, EPL-2.0, copied unchanged beside this file and loaded with protobufjs), and the
 * conversion between metric values and hub tag values.
 *
 * 64-bit integers stay exact: protobufjs reads uint64 fields as Long, kept here as bigint and
 * handed to the hub as a number when it is a safe integer, else as a decimal string.
 * Sparkplug B 3.0 §6 "Data Types" [tck-id-payloads-metric-datatype-value-type]
 * [tck-id-payloads-metric-datatype-value].
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { TagValue } from '../../model/index.ts';

/** The Sparkplug `DataType` enum (sparkplug_b.proto). */
export const DataType = {
  Unknown: 0,
  Int8: 1,
  Int16: 2,
  Int32: 3,
  Int64: 4,
  UInt8: 5,
  UInt16: 6,
  UInt32: 7,
  UInt64: 8,
  Float: 9,
  Double: 10,
  Boolean: 11,
  String: 12,
  DateTime: 13,
  Text: 14,
  UUID: 15,
  DataSet: 16,
  Bytes: 17,
  File: 18,
  Template: 19,
  PropertySet: 20,
  PropertySetList: 21,
  Int8Array: 22,
  Int16Array: 23,
  Int32Array: 24,
  Int64Array: 25,
  UInt8Array: 26,
  UInt16Array: 27,
  UInt32Array: 28,
  UInt64Array: 29,
  FloatArray: 30,
  DoubleArray: 31,
  BooleanArray: 32,
  StringArray: 33,
  DateTimeArray: 34,
} as const;

const DATATYPE_NAMES = Object.fromEntries(
  Object.entries(DataType).map(([name, code]) => [code, name]),
) as Record<number, string>;

/** The name of a datatype code, e.g. 4 → "Int64". */
export function datatypeName(code: number): string {
  return DATATYPE_NAMES[code] ?? `datatype ${code}`;
}

/** The value of a metric as it was on the wire: which oneof field, and its content. */
export type WireValue =
  | { readonly field: 'intValue'; readonly value: number }
  | { readonly field: 'longValue'; readonly value: bigint }
  | { readonly field: 'floatValue'; readonly value: number }
  | { readonly field: 'doubleValue'; readonly value: number }
  | { readonly field: 'booleanValue'; readonly value: boolean }
  | { readonly field: 'stringValue'; readonly value: string }
  | { readonly field: 'bytesValue'; readonly value: Buffer }
  | { readonly field: 'datasetValue'; readonly value: unknown }
  | { readonly field: 'templateValue'; readonly value: unknown }
  | { readonly field: 'extensionValue'; readonly value: unknown };

export interface SparkplugMetric {
  readonly name: string | null;
  readonly alias: bigint | null;
  /** UTC ms since epoch. */
  readonly timestamp: number | null;
  readonly datatype: number | null;
  readonly isHistorical: boolean;
  readonly isTransient: boolean;
  readonly isNull: boolean;
  readonly value: WireValue | null;
  /** The metric's PropertySet, key → decoded value (only basic types). */
  readonly properties: ReadonlyMap<string, TagValue>;
}

export interface SparkplugPayload {
  /** UTC ms since epoch, or null when absent. */
  readonly timestamp: number | null;
  readonly seq: number | null;
  readonly metrics: readonly SparkplugMetric[];
}

/** A metric to encode; `value` in JS form (see `wireValueOf`), null for is_null. */
export interface MetricInput {
  readonly name?: string;
  readonly alias?: bigint | number;
  readonly timestamp?: number;
  readonly datatype?: number;
  readonly value: MetricJsValue;
  readonly isHistorical?: boolean;
  readonly isTransient?: boolean;
  readonly properties?: Readonly<Record<string, { type: number; value: MetricJsValue }>>;
}

export type MetricJsValue =
  | number
  | bigint
  | string
  | boolean
  | Buffer
  | null
  | readonly (number | bigint | string | boolean)[];

export interface PayloadInput {
  readonly timestamp?: number;
  readonly seq?: number;
  readonly metrics: readonly MetricInput[];
}

// ---------------------------------------------------------------------------------------------
// Loading the .proto

/**
 * Where the .proto is: beside this module when it runs from src (tsx), or in src/ of the package
 * when it runs compiled from dist/ (tsc does not copy .proto files).
 */
const PROTO_CANDIDATES = [
  new URL('./sparkplug_b.proto', import.meta.url),
  new URL('../../../src/connectors/sparkplug/sparkplug_b.proto', import.meta.url),
];

/** The static side of the `long` package, as protobufjs holds it in util.Long. */
interface LongStatic {
  fromBits(low: number, high: number, unsigned: boolean): protobuf.Long;
}

interface ProtoTypes {
  readonly Payload: protobuf.Type;
  readonly Long: LongStatic;
}

let types: ProtoTypes | null = null;

/** The protobuf types, parsed from sparkplug_b.proto on first use. */
function protoTypes(): ProtoTypes {
  if (types !== null) return types;
  const file = PROTO_CANDIDATES.map((u) => fileURLToPath(u)).find((f) => existsSync(f));
  if (file === undefined)
    throw new Error(
      `sparkplug_b.proto not found (looked at ${PROTO_CANDIDATES.map((u) => fileURLToPath(u)).join(', ')})`,
    );
  const root = protobuf.parse(readFileSync(file, 'utf8'), { keepCase: false }).root;
  const Long = protobuf.util.Long as unknown as LongStatic | undefined | null;
  // Without the `long` package protobufjs reads uint64 as a double and loses precision.
  if (Long === undefined || Long === null)
    throw new Error('protobufjs has no Long support: 64-bit integers would lose precision');
  types = { Payload: root.lookupType('org.eclipse.tahu.protobuf.Payload'), Long };
  return types;
}

/** Parse the .proto now, so a missing file shows at start rather than at the first message. */
export function loadProto(): void {
  protoTypes();
}

// ---------------------------------------------------------------------------------------------
// 64-bit helpers

const MAX_U64 = (1n << 64n) - 1n;

/** A bigint as a hub value: a number when it is a safe integer, else a decimal string. */
export function bigToTagValue(v: bigint): number | string {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v.toString();
}

function toLong(v: bigint): protobuf.Long {
  const u = BigInt.asUintN(64, v);
  return protoTypes().Long.fromBits(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0, true);
}

/** A uint64 as toObject({ longs: String }) gives it (decimal string), or a number. */
function big(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'string' || typeof v === 'number') return BigInt(v);
  throw new Error(`expected a 64-bit integer, got ${typeof v}`);
}

// ---------------------------------------------------------------------------------------------
// Decoding

type Obj = Record<string, unknown>;

const VALUE_FIELDS = [
  'intValue',
  'longValue',
  'floatValue',
  'doubleValue',
  'booleanValue',
  'stringValue',
  'bytesValue',
  'datasetValue',
  'templateValue',
  'extensionValue',
] as const;

function wireValueOf(o: Obj): WireValue | null {
  for (const field of VALUE_FIELDS) {
    const v = o[field];
    if (v === undefined || v === null) continue;
    switch (field) {
      case 'longValue':
        return { field, value: big(v) };
      case 'bytesValue':
        return { field, value: Buffer.from(v as Uint8Array) };
      case 'intValue':
      case 'floatValue':
      case 'doubleValue':
        return { field, value: v as number };
      case 'booleanValue':
        return { field, value: v as boolean };
      case 'stringValue':
        return { field, value: v as string };
      default:
        return { field, value: v };
    }
  }
  return null;
}

/** Decode a payload; throws when the bytes are not a Sparkplug B protobuf payload. */
export function decodePayload(bytes: Uint8Array): SparkplugPayload {
  const { Payload } = protoTypes();
  const message = Payload.decode(bytes);
  const o = Payload.toObject(message, { longs: String, defaults: false, arrays: true }) as Obj;
  const metrics = ((o.metrics as Obj[] | undefined) ?? []).map(decodeMetric);
  return {
    timestamp: o.timestamp === undefined ? null : Number(big(o.timestamp)),
    seq: o.seq === undefined ? null : Number(big(o.seq)),
    metrics,
  };
}

function decodeMetric(m: Obj): SparkplugMetric {
  return {
    name: typeof m.name === 'string' ? m.name : null,
    alias: m.alias === undefined ? null : big(m.alias),
    timestamp: m.timestamp === undefined ? null : Number(big(m.timestamp)),
    datatype: typeof m.datatype === 'number' ? m.datatype : null,
    isHistorical: m.isHistorical === true,
    isTransient: m.isTransient === true,
    isNull: m.isNull === true,
    value: wireValueOf(m),
    properties: decodeProperties(m.properties as Obj | undefined),
  };
}

function decodeProperties(set: Obj | undefined): ReadonlyMap<string, TagValue> {
  const out = new Map<string, TagValue>();
  if (set === undefined) return out;
  const keys = (set.keys as string[] | undefined) ?? [];
  const values = (set.values as Obj[] | undefined) ?? [];
  // [tck-id-payloads-propertyset-keys-array-size] keys and values pair up by index.
  keys.forEach((key, i) => {
    const pv = values[i];
    if (pv === undefined) return;
    if (pv.isNull === true) {
      out.set(key, null);
      return;
    }
    const wire = wireValueOf(pv);
    const type = typeof pv.type === 'number' ? pv.type : null;
    if (wire === null || type === null) return;
    const v = valueOf(type, wire);
    if (v.ok) out.set(key, v.value);
  });
  return out;
}

export type ValueResult =
  { readonly ok: true; readonly value: TagValue } | { readonly ok: false; readonly reason: string };

const ok = (value: TagValue): ValueResult => ({ ok: true, value });
const fail = (reason: string): ValueResult => ({ ok: false, reason });

/** The unsigned 64-bit pattern of an integer field, whichever of the two it came in. */
function integerBits(wire: WireValue): bigint | null {
  if (wire.field === 'intValue') return BigInt(wire.value >>> 0);
  if (wire.field === 'longValue') return wire.value;
  return null;
}

/**
 * The hub value of a metric of `datatype` (the metric's own, or the one of its birth).
 *
 * Integers: Int8/16/32 come in the uint32 `int_value` as a two's-complement bit pattern, Int64
 * in the uint64 `long_value`. UInt32 is read from `int_value` (the spec's table) or `long_value`
 * (what Tahu's encoders write); every integer width is read leniently from either field, keeping
 * the bits of its width (so an Int8 -5 sent as 0xFFFFFFFB or as 0xFB both read -5).
 */
export function valueOf(datatype: number, wire: WireValue): ValueResult {
  const name = datatypeName(datatype);
  const wrongField = (): ValueResult =>
    fail(`${name} metric carries ${wire.field}, which does not fit the datatype`);
  switch (datatype) {
    case DataType.Int8:
    case DataType.Int16:
    case DataType.Int32:
    case DataType.Int64: {
      const bits = integerBits(wire);
      if (bits === null) return wrongField();
      const width = { 1: 8, 2: 16, 3: 32, 4: 64 }[datatype];
      return ok(bigToTagValue(BigInt.asIntN(width, bits)));
    }
    case DataType.UInt8:
    case DataType.UInt16:
    case DataType.UInt32:
    case DataType.UInt64: {
      const bits = integerBits(wire);
      if (bits === null) return wrongField();
      const width = { 5: 8, 6: 16, 7: 32, 8: 64 }[datatype];
      return ok(bigToTagValue(BigInt.asUintN(width, bits)));
    }
    case DataType.DateTime: {
      const bits = integerBits(wire);
      if (bits === null) return wrongField();
      return ok(bigToTagValue(bits));
    }
    case DataType.Float:
    case DataType.Double:
      if (wire.field === 'floatValue' || wire.field === 'doubleValue') return ok(wire.value);
      return wrongField();
    case DataType.Boolean:
      return wire.field === 'booleanValue' ? ok(wire.value) : wrongField();
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      return wire.field === 'stringValue' ? ok(wire.value) : wrongField();
    case DataType.Bytes:
    case DataType.File:
      return wire.field === 'bytesValue' ? ok(wire.value.toString('base64')) : wrongField();
    case DataType.DataSet:
      return wire.field === 'datasetValue' ? dataSetValue(wire.value as Obj) : wrongField();
    case DataType.Template:
      return wire.field === 'templateValue' ? templateValue(wire.value as Obj) : wrongField();
    default:
      if (datatype >= DataType.Int8Array && datatype <= DataType.DateTimeArray) {
        if (wire.field !== 'bytesValue') return wrongField();
        try {
          return ok(JSON.stringify(unpackArray(datatype, wire.value)));
        } catch (err) {
          return fail(`${name}: ${(err as Error).message}`);
        }
      }
      return fail(`unsupported ${name}`);
  }
}

/** DataSet → JSON text `{"columns":[…],"types":["Int32",…],"rows":[[…],…]}`. */
function dataSetValue(ds: Obj): ValueResult {
  const columns = (ds.columns as string[] | undefined) ?? [];
  const typeCodes = (ds.types as number[] | undefined) ?? [];
  // [tck-id-payloads-dataset-column-size] [tck-id-payloads-dataset-types-num]
  if (columns.length !== typeCodes.length)
    return fail(`DataSet has ${columns.length} columns but ${typeCodes.length} types`);
  const rows: TagValue[][] = [];
  for (const row of (ds.rows as Obj[] | undefined) ?? []) {
    const cells: TagValue[] = [];
    const elements = (row.elements as Obj[] | undefined) ?? [];
    for (let i = 0; i < typeCodes.length; i++) {
      const el = elements[i];
      const wire = el === undefined ? null : wireValueOf(el);
      if (wire === null) {
        cells.push(null);
        continue;
      }
      const v = valueOf(typeCodes[i] as number, wire);
      if (!v.ok) return fail(`DataSet column ${columns[i]}: ${v.reason}`);
      cells.push(v.value);
    }
    rows.push(cells);
  }
  return ok(JSON.stringify({ columns, types: typeCodes.map(datatypeName), rows }));
}

/** Template → JSON text `{"templateRef":…,"metrics":{name: value,…}}`. */
function templateValue(t: Obj): ValueResult {
  const metrics: Record<string, TagValue> = {};
  for (const raw of (t.metrics as Obj[] | undefined) ?? []) {
    const m = decodeMetric(raw);
    if (m.name === null) continue;
    if (m.isNull || m.value === null || m.datatype === null) {
      metrics[m.name] = null;
      continue;
    }
    const v = valueOf(m.datatype, m.value);
    metrics[m.name] = v.ok ? v.value : null;
  }
  return ok(
    JSON.stringify({
      templateRef: typeof t.templateRef === 'string' ? t.templateRef : null,
      isDefinition: t.isDefinition === true,
      metrics,
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Arrays: little-endian packed bytes (Sparkplug B 3.0 §6 "Array Types"; Tahu Java uses
// ByteOrder.LITTLE_ENDIAN for all of them).

const ARRAY_WIDTH: Record<number, number> = {
  [DataType.Int8Array]: 1,
  [DataType.Int16Array]: 2,
  [DataType.Int32Array]: 4,
  [DataType.Int64Array]: 8,
  [DataType.UInt8Array]: 1,
  [DataType.UInt16Array]: 2,
  [DataType.UInt32Array]: 4,
  [DataType.UInt64Array]: 8,
  [DataType.FloatArray]: 4,
  [DataType.DoubleArray]: 8,
  [DataType.DateTimeArray]: 8,
};

/** The elements of an array metric (64-bit ones as number when safe, else decimal string). */
export function unpackArray(datatype: number, b: Buffer): (number | string | boolean)[] {
  if (datatype === DataType.StringArray) {
    // NUL-terminated UTF-8 strings, one after the other.
    if (b.length === 0) return [];
    if (b[b.length - 1] !== 0) throw new Error('last string is not NUL-terminated');
    return b
      .subarray(0, b.length - 1)
      .toString('utf8')
      .split('\u0000');
  }
  if (datatype === DataType.BooleanArray) {
    // 4-byte little-endian count, then the bits, most significant bit first.
    if (b.length < 4) throw new Error('shorter than its 4-byte count');
    const count = b.readUInt32LE(0);
    if (b.length !== 4 + Math.ceil(count / 8))
      throw new Error(`${count} booleans need ${4 + Math.ceil(count / 8)} bytes, got ${b.length}`);
    return Array.from(
      { length: count },
      (_, i) => ((b[4 + (i >> 3)] as number) & (0x80 >> (i & 7))) !== 0,
    );
  }
  const width = ARRAY_WIDTH[datatype];
  if (width === undefined) throw new Error(`not an array datatype`);
  if (b.length % width !== 0)
    throw new Error(`${b.length} bytes is not a whole number of ${width}-byte elements`);
  const out: (number | string)[] = [];
  for (let off = 0; off < b.length; off += width) {
    switch (datatype) {
      case DataType.Int8Array:
        out.push(b.readInt8(off));
        break;
      case DataType.Int16Array:
        out.push(b.readInt16LE(off));
        break;
      case DataType.Int32Array:
        out.push(b.readInt32LE(off));
        break;
      case DataType.Int64Array:
      case DataType.DateTimeArray:
        out.push(bigToTagValue(b.readBigInt64LE(off)) as number | string);
        break;
      case DataType.UInt8Array:
        out.push(b.readUInt8(off));
        break;
      case DataType.UInt16Array:
        out.push(b.readUInt16LE(off));
        break;
      case DataType.UInt32Array:
        out.push(b.readUInt32LE(off));
        break;
      case DataType.UInt64Array:
        out.push(bigToTagValue(b.readBigUInt64LE(off)) as number | string);
        break;
      case DataType.FloatArray:
        out.push(b.readFloatLE(off));
        break;
      case DataType.DoubleArray:
        out.push(b.readDoubleLE(off));
        break;
    }
  }
  return out;
}

/** Pack array elements into the little-endian bytes of `datatype`. */
export function packArray(
  datatype: number,
  values: readonly (number | bigint | string | boolean)[],
): Buffer {
  if (datatype === DataType.StringArray)
    return Buffer.concat(values.map((v) => Buffer.from(`${String(v)}\u0000`, 'utf8')));
  if (datatype === DataType.BooleanArray) {
    const b = Buffer.alloc(4 + Math.ceil(values.length / 8));
    b.writeUInt32LE(values.length, 0);
    values.forEach((v, i) => {
      if (toBoolean(v)) b[4 + (i >> 3)] = (b[4 + (i >> 3)] as number) | (0x80 >> (i & 7));
    });
    return b;
  }
  const width = ARRAY_WIDTH[datatype];
  if (width === undefined) throw new Error(`${datatypeName(datatype)} is not an array datatype`);
  const b = Buffer.alloc(width * values.length);
  values.forEach((v, i) => {
    const off = i * width;
    switch (datatype) {
      case DataType.Int8Array:
        b.writeInt8(toInteger(v, -(2 ** 7), 2 ** 7 - 1), off);
        break;
      case DataType.Int16Array:
        b.writeInt16LE(toInteger(v, -(2 ** 15), 2 ** 15 - 1), off);
        break;
      case DataType.Int32Array:
        b.writeInt32LE(toInteger(v, -(2 ** 31), 2 ** 31 - 1), off);
        break;
      case DataType.UInt8Array:
        b.writeUInt8(toInteger(v, 0, 2 ** 8 - 1), off);
        break;
      case DataType.UInt16Array:
        b.writeUInt16LE(toInteger(v, 0, 2 ** 16 - 1), off);
        break;
      case DataType.UInt32Array:
        b.writeUInt32LE(toInteger(v, 0, 2 ** 32 - 1), off);
        break;
      case DataType.Int64Array:
      case DataType.DateTimeArray:
        b.writeBigInt64LE(toBigInteger(v, -(1n << 63n), (1n << 63n) - 1n), off);
        break;
      case DataType.UInt64Array:
        b.writeBigUInt64LE(toBigInteger(v, 0n, MAX_U64), off);
        break;
      case DataType.FloatArray:
        b.writeFloatLE(toNumber(v), off);
        break;
      case DataType.DoubleArray:
        b.writeDoubleLE(toNumber(v), off);
        break;
    }
  });
  return b;
}

// ---------------------------------------------------------------------------------------------
// Encoding

function toNumber(v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n === 'bigint') return Number(n);
  if (typeof n !== 'number' || Number.isNaN(n))
    throw new Error(`expected a number, got ${show(v)}`);
  return n;
}

function toInteger(v: unknown, min: number, max: number): number {
  const n = toNumber(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`expected an integer from ${min} to ${max}, got ${show(v)}`);
  return n;
}

function toBigInteger(v: unknown, min: bigint, max: bigint): bigint {
  let n: bigint;
  if (typeof v === 'bigint') n = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) n = BigInt(v.trim());
  else throw new Error(`expected an integer (a number or a decimal string), got ${show(v)}`);
  if (n < min || n > max) throw new Error(`expected an integer from ${min} to ${max}, got ${n}`);
  return n;
}

function toBoolean(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new Error(`expected a boolean, got ${show(v)}`);
}

function show(v: unknown): string {
  return typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? String(v));
}

/**
 * The protobuf value field of a JS value of `datatype`: throws, with the reason, when the value
 * does not fit the datatype. Int8/16/32 negatives go into the uint32 as two's complement; UInt32
 * goes into `int_value` as the spec's datatype table says.
 */
export function encodeValue(datatype: number, value: MetricJsValue): Record<string, unknown> {
  if (value === null) return {};
  switch (datatype) {
    case DataType.Int8:
      return { intValue: toInteger(value, -(2 ** 7), 2 ** 7 - 1) >>> 0 };
    case DataType.Int16:
      return { intValue: toInteger(value, -(2 ** 15), 2 ** 15 - 1) >>> 0 };
    case DataType.Int32:
      return { intValue: toInteger(value, -(2 ** 31), 2 ** 31 - 1) >>> 0 };
    case DataType.UInt8:
      return { intValue: toInteger(value, 0, 2 ** 8 - 1) };
    case DataType.UInt16:
      return { intValue: toInteger(value, 0, 2 ** 16 - 1) };
    case DataType.UInt32:
      return { intValue: toInteger(value, 0, 2 ** 32 - 1) };
    case DataType.Int64:
      return { longValue: toLong(toBigInteger(value, -(1n << 63n), (1n << 63n) - 1n)) };
    case DataType.UInt64:
      return { longValue: toLong(toBigInteger(value, 0n, MAX_U64)) };
    case DataType.DateTime:
      return { longValue: toLong(toBigInteger(value, 0n, MAX_U64)) };
    case DataType.Float:
      return { floatValue: toNumber(value) };
    case DataType.Double:
      return { doubleValue: toNumber(value) };
    case DataType.Boolean:
      return { booleanValue: toBoolean(value) };
    case DataType.String:
    case DataType.Text:
    case DataType.UUID:
      if (typeof value === 'object') throw new Error(`expected a string, got ${show(value)}`);
      return { stringValue: String(value) };
    case DataType.Bytes:
    case DataType.File:
      if (Buffer.isBuffer(value)) return { bytesValue: value };
      if (typeof value === 'string') return { bytesValue: Buffer.from(value, 'base64') };
      throw new Error(`expected bytes (base64 text), got ${show(value)}`);
    default: {
      if (datatype >= DataType.Int8Array && datatype <= DataType.DateTimeArray) {
        let elements: unknown = value;
        if (typeof value === 'string') {
          try {
            elements = JSON.parse(value);
          } catch {
            throw new Error(`expected a JSON array, got ${show(value)}`);
          }
        }
        if (!Array.isArray(elements)) throw new Error(`expected an array, got ${show(value)}`);
        return {
          bytesValue: packArray(datatype, elements as (number | bigint | string | boolean)[]),
        };
      }
      throw new Error(`cannot encode a value of ${datatypeName(datatype)}`);
    }
  }
}

function encodeMetric(m: MetricInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (m.name !== undefined) out.name = m.name;
  if (m.alias !== undefined) out.alias = toLong(BigInt(m.alias));
  if (m.timestamp !== undefined) out.timestamp = toLong(BigInt(m.timestamp));
  if (m.datatype !== undefined) out.datatype = m.datatype;
  if (m.isHistorical === true) out.isHistorical = true;
  if (m.isTransient === true) out.isTransient = true;
  if (m.value === null) out.isNull = true;
  else {
    if (m.datatype === undefined) throw new Error(`metric ${m.name ?? m.alias}: no datatype`);
    Object.assign(out, encodeValue(m.datatype, m.value));
  }
  if (m.properties !== undefined) {
    const keys = Object.keys(m.properties);
    out.properties = {
      keys,
      values: keys.map((k) => {
        const p = m.properties?.[k] as { type: number; value: MetricJsValue };
        return p.value === null
          ? { type: p.type, isNull: true }
          : { type: p.type, ...encodeValue(p.type, p.value) };
      }),
    };
  }
  return out;
}

/** Encode a payload. Throws, naming the metric, when a value does not fit its datatype. */
export function encodePayload(p: PayloadInput): Buffer {
  const { Payload } = protoTypes();
  const message: Record<string, unknown> = {
    metrics: p.metrics.map((m) => {
      try {
        return encodeMetric(m);
      } catch (err) {
        throw new Error(`metric ${m.name ?? String(m.alias)}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }),
  };
  if (p.timestamp !== undefined) message.timestamp = toLong(BigInt(p.timestamp));
  if (p.seq !== undefined) message.seq = toLong(BigInt(p.seq));
  return Buffer.from(Payload.encode(message).finish());
}
