/**
 * Sparkplug B payload codec: every scalar datatype round-trips exactly (64-bit included), arrays
 * are little-endian packed as the spec text says, and payloads from Tahu's JavaScript encoder
 * (sparkplug-payload, an independent implementation) decode to the same values as ours.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DataType,
  decodePayload,
  encodePayload,
  packArray,
  unpackArray,
  valueOf,
  type MetricInput,
} from '../../src/connectors/sparkplug/payload.ts';
import { tahuEncode } from './sparkplug-edge.ts';

/** name → hub value of every metric of a payload. */
function values(bytes: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of decodePayload(bytes).metrics) {
    if (m.isNull) out[m.name as string] = null;
    else {
      const v = valueOf(m.datatype as number, m.value as NonNullable<typeof m.value>);
      out[m.name as string] = v.ok ? v.value : `ERROR ${v.reason}`;
    }
  }
  return out;
}

const T = Date.parse('2026-11-25T08:00:00Z');

describe('Sparkplug B payload codec', () => {
  it('round-trips every scalar datatype exactly', () => {
    const metrics: MetricInput[] = [
      { name: 'i8', datatype: DataType.Int8, value: -5 },
      { name: 'i16', datatype: DataType.Int16, value: -32768 },
      { name: 'i32', datatype: DataType.Int32, value: -2147483648 },
      { name: 'i64', datatype: DataType.Int64, value: -(2n ** 63n) + 1n },
      { name: 'i64small', datatype: DataType.Int64, value: -42 },
      { name: 'u8', datatype: DataType.UInt8, value: 255 },
      { name: 'u16', datatype: DataType.UInt16, value: 65535 },
      { name: 'u32', datatype: DataType.UInt32, value: 4294967295 },
      { name: 'u64', datatype: DataType.UInt64, value: 2n ** 64n - 1n },
      { name: 'f', datatype: DataType.Float, value: 1.5 },
      { name: 'd', datatype: DataType.Double, value: Math.PI },
      { name: 'b', datatype: DataType.Boolean, value: true },
      { name: 's', datatype: DataType.String, value: 'grüße' },
      { name: 'dt', datatype: DataType.DateTime, value: T },
      { name: 'txt', datatype: DataType.Text, value: 'long text' },
      { name: 'uuid', datatype: DataType.UUID, value: '3f2504e0-4f89-11d3-9a0c-0305e82c3301' },
      { name: 'bytes', datatype: DataType.Bytes, value: Buffer.from([0, 1, 254, 255]) },
      { name: 'null', datatype: DataType.Double, value: null },
    ];
    assert.deepEqual(values(encodePayload({ timestamp: T, seq: 0, metrics })), {
      i8: -5,
      i16: -32768,
      i32: -2147483648,
      i64: '-9223372036854775807',
      i64small: -42,
      u8: 255,
      u16: 65535,
      u32: 4294967295,
      u64: '18446744073709551615',
      f: 1.5,
      d: Math.PI,
      b: true,
      s: 'grüße',
      dt: T,
      txt: 'long text',
      uuid: '3f2504e0-4f89-11d3-9a0c-0305e82c3301',
      bytes: 'AAH+/w==',
      null: null,
    });
    const p = decodePayload(encodePayload({ timestamp: T, seq: 255, metrics: [] }));
    assert.equal(p.timestamp, T);
    assert.equal(p.seq, 255);
  });

  it('reads signed widths from the two-s complement bit pattern and UInt32 from either field', () => {
    const wire = (field: 'intValue' | 'longValue', v: number | bigint) =>
      field === 'intValue'
        ? ({ field, value: Number(v) } as const)
        : ({ field, value: BigInt(v) } as const);
    assert.deepEqual(valueOf(DataType.Int8, wire('intValue', 0xfffffffb)), { ok: true, value: -5 });
    assert.deepEqual(valueOf(DataType.Int8, wire('intValue', 0xfb)), { ok: true, value: -5 });
    assert.deepEqual(valueOf(DataType.Int16, wire('intValue', 0xffff8000)), {
      ok: true,
      value: -32768,
    });
    assert.deepEqual(valueOf(DataType.UInt32, wire('intValue', 4000000000)), {
      ok: true,
      value: 4000000000,
    });
    assert.deepEqual(valueOf(DataType.UInt32, wire('longValue', 4000000000n)), {
      ok: true,
      value: 4000000000,
    });
    assert.deepEqual(valueOf(DataType.Int64, wire('longValue', 2n ** 64n - 1n)), {
      ok: true,
      value: -1,
    });
    const wrong = valueOf(DataType.Boolean, { field: 'stringValue', value: 'x' });
    assert.equal(wrong.ok, false);
    assert.match(
      (wrong as { reason: string }).reason,
      /Boolean metric carries stringValue, which does not fit/,
    );
  });

  it('packs arrays little-endian as the spec text says (not its misprinted examples)', () => {
    // SOURCE.md errata: Int8Array [-23, 123] is E9 7B; DateTimeArray is 8 bytes per value.
    assert.equal(packArray(DataType.Int8Array, [-23, 123]).toString('hex'), 'e97b');
    assert.equal(
      packArray(DataType.DateTimeArray, [1256102875335, 1656107875000]).toString('hex'),
      'c7d0907524010000b8bab89781010000',
    );
    assert.deepEqual(
      unpackArray(DataType.DateTimeArray, Buffer.from('c7d0907524010000b8bab89781010000', 'hex')),
      [1256102875335, 1656107875000],
    );
    assert.equal(packArray(DataType.FloatArray, [1.5]).toString('hex'), '0000c03f');
    assert.equal(packArray(DataType.DoubleArray, [1.5]).toString('hex'), '000000000000f83f');
    // BooleanArray: 4-byte LE count, then bits MSB first.
    assert.equal(
      packArray(DataType.BooleanArray, [false, false, true, true, false]).toString('hex'),
      '0500000030',
    );
    assert.equal(
      packArray(DataType.StringArray, ['ABC', 'hello']).toString('hex'),
      '41424300' + '68656c6c6f00',
    );
    const all: [number, (number | string | boolean)[]][] = [
      [DataType.Int8Array, [-128, 0, 127]],
      [DataType.Int16Array, [-32768, 32767]],
      [DataType.Int32Array, [-2147483648, 2147483647]],
      [DataType.Int64Array, ['-9223372036854775808', 9007199254740991]],
      [DataType.UInt8Array, [0, 255]],
      [DataType.UInt16Array, [0, 65535]],
      [DataType.UInt32Array, [0, 4294967295]],
      [DataType.UInt64Array, ['18446744073709551615', 1]],
      [DataType.FloatArray, [0.5, -2]],
      [DataType.DoubleArray, [Math.E]],
      [DataType.BooleanArray, [true, false, true, true, false, false, false, false, true]],
      [DataType.StringArray, ['a', '', 'ü']],
      [DataType.DateTimeArray, [T]],
    ];
    for (const [datatype, elements] of all) {
      const bytes = encodePayload({
        metrics: [{ name: 'a', datatype, value: JSON.stringify(elements) }],
      });
      assert.deepEqual(values(bytes), { a: JSON.stringify(elements) }, `datatype ${datatype}`);
    }
    const bad = valueOf(DataType.Int32Array, {
      field: 'bytesValue',
      value: Buffer.from([1, 2, 3]),
    });
    assert.deepEqual(bad, {
      ok: false,
      reason: 'Int32Array: 3 bytes is not a whole number of 4-byte elements',
    });
  });

  it('rejects a value that does not fit its datatype, naming the metric', () => {
    assert.throws(
      () => encodePayload({ metrics: [{ name: 'x', datatype: DataType.Int8, value: 200 }] }),
      /metric x: expected an integer from -128 to 127, got 200/,
    );
    assert.throws(() => decodePayload(Buffer.from('not protobuf at all')));
  });

  it('decodes births and data from Tahu`s encoder as it decodes its own', () => {
    // Tahu's JS encoder writes UInt32 into long_value and knows no array types.
    const tahuBytes = tahuEncode({
      timestamp: T,
      seq: 0,
      metrics: [
        { name: 'i8', type: 'Int8', value: -5 },
        { name: 'i16', type: 'Int16', value: -300 },
        { name: 'i32', type: 'Int32', value: -70000 },
        { name: 'u8', type: 'UInt8', value: 200 },
        { name: 'u16', type: 'UInt16', value: 60000 },
        { name: 'u32', type: 'UInt32', value: 4000000000 },
        { name: 'i64', type: 'Int64', value: -1234567890123 },
        { name: 'u64', type: 'UInt64', value: 9007199254740991 },
        { name: 'f', type: 'Float', value: 0.25 },
        { name: 'd', type: 'Double', value: 1e-9 },
        { name: 'b', type: 'Boolean', value: false },
        { name: 's', type: 'String', value: 'Tahu' },
        { name: 'dt', type: 'DateTime', value: T },
        { name: 'txt', type: 'Text', value: 'text' },
        { name: 'uuid', type: 'UUID', value: 'u-1' },
        { name: 'bytes', type: 'Bytes', value: Buffer.from([9, 8, 7]) },
        { name: 'null', type: 'Int32', value: null },
      ],
    });
    const ours = encodePayload({
      timestamp: T,
      seq: 0,
      metrics: [
        { name: 'i8', datatype: DataType.Int8, value: -5 },
        { name: 'i16', datatype: DataType.Int16, value: -300 },
        { name: 'i32', datatype: DataType.Int32, value: -70000 },
        { name: 'u8', datatype: DataType.UInt8, value: 200 },
        { name: 'u16', datatype: DataType.UInt16, value: 60000 },
        { name: 'u32', datatype: DataType.UInt32, value: 4000000000 },
        { name: 'i64', datatype: DataType.Int64, value: -1234567890123 },
        { name: 'u64', datatype: DataType.UInt64, value: 9007199254740991 },
        { name: 'f', datatype: DataType.Float, value: 0.25 },
        { name: 'd', datatype: DataType.Double, value: 1e-9 },
        { name: 'b', datatype: DataType.Boolean, value: false },
        { name: 's', datatype: DataType.String, value: 'Tahu' },
        { name: 'dt', datatype: DataType.DateTime, value: T },
        { name: 'txt', datatype: DataType.Text, value: 'text' },
        { name: 'uuid', datatype: DataType.UUID, value: 'u-1' },
        { name: 'bytes', datatype: DataType.Bytes, value: Buffer.from([9, 8, 7]) },
        { name: 'null', datatype: DataType.Int32, value: null },
      ],
    });
    assert.deepEqual(values(tahuBytes), values(ours));
    const u32 = decodePayload(tahuBytes).metrics.find((m) => m.name === 'u32');
    assert.equal(u32?.value?.field, 'longValue', 'Tahu puts UInt32 in long_value');
  });
});
