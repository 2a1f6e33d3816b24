/**
 * Modbus values: registers ⇄ typed, scaled values, and the meaning of exception codes.
 *
 * Registers travel big-endian (Modbus Application Protocol V1.1b §4.2); devices differ in how they
 * lay a wider value over several registers. The raw bytes of a tag are brought into big-endian
 * order (registers reversed for `wordOrder: little`, the two bytes of each register swapped for
 * `byteOrder: little`) and read as one big-endian number; a write does the reverse.
 */
import { REGISTERS_OF, type ModbusDataType } from './config.ts';
import type { TagValue } from '../../model/index.ts';

export interface RegisterLayout {
  readonly type: ModbusDataType;
  /** Registers the value takes. */
  readonly registers: number;
  readonly byteOrder: 'big' | 'little';
  readonly wordOrder: 'big' | 'little';
  /** null: no scaling (the raw value as it is). */
  readonly scale: number | null;
  readonly offset: number | null;
}

export function registersOf(type: ModbusDataType, length: number | undefined): number {
  return type === 'string' ? (length ?? 1) : REGISTERS_OF[type];
}

/** Modbus exception codes (Modbus Application Protocol V1.1b §7) and their meaning. */
export const MODBUS_EXCEPTIONS: Readonly<Record<number, string>> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  8: 'memory parity error',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** "exception 2 (illegal data address)". */
export function exceptionText(code: number): string {
  return `exception ${code} (${MODBUS_EXCEPTIONS[code] ?? 'unknown exception code'})`;
}

/** The bytes of a tag, reordered into big-endian byte and word order (a copy). */
function toBigEndian(raw: Buffer, layout: RegisterLayout, wordOrder: boolean): Buffer {
  const out = Buffer.from(raw);
  if (wordOrder && layout.wordOrder === 'little') {
    const n = out.length / 2;
    for (let i = 0; i < n; i++) raw.copy(out, (n - 1 - i) * 2, i * 2, i * 2 + 2);
  }
  if (layout.byteOrder === 'little') out.swap16();
  return out;
}

/** Decode the registers of one tag; a value that cannot be represented throws with the reason. */
export function decodeRegisters(raw: Buffer, layout: RegisterLayout): TagValue {
  if (layout.type === 'string') {
    const bytes = toBigEndian(raw, layout, false);
    const end = bytes.indexOf(0);
    return bytes.subarray(0, end === -1 ? bytes.length : end).toString('latin1');
  }
  const be = toBigEndian(raw, layout, true);
  let value: number;
  switch (layout.type) {
    case 'int16':
      value = be.readInt16BE(0);
      break;
    case 'uint16':
      value = be.readUInt16BE(0);
      break;
    case 'int32':
      value = be.readInt32BE(0);
      break;
    case 'uint32':
      value = be.readUInt32BE(0);
      break;
    case 'float32':
      value = be.readFloatBE(0);
      break;
    case 'float64':
      value = be.readDoubleBE(0);
      break;
  }
  if (!Number.isFinite(value)) throw new Error(`${layout.type} is ${String(value)}`);
  if (layout.scale === null && layout.offset === null) return value;
  // 15 significant digits drop the binary noise of the scaling (615 × 0.1 = 61.50000000000001).
  return Number((value * (layout.scale ?? 1) + (layout.offset ?? 0)).toPrecision(15));
}

const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

/** The registers (as 16-bit numbers) a value is written as; throws with the reason. */
export function encodeRegisters(value: TagValue, layout: RegisterLayout): number[] {
  const be = Buffer.alloc(layout.registers * 2);
  if (layout.type === 'string') {
    if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
    const bytes = Buffer.from(value, 'latin1');
    if (bytes.length > be.length)
      throw new Error(
        `"${value}" has ${bytes.length} characters, the tag holds ${be.length} (${layout.registers} registers)`,
      );
    bytes.copy(be);
  } else {
    const engineering =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value)
          : NaN;
    if (!Number.isFinite(engineering))
      throw new Error(`expected a number, got ${JSON.stringify(value)}`);
    let raw = (engineering - (layout.offset ?? 0)) / (layout.scale ?? 1);
    const range = INT_RANGE[layout.type];
    if (range !== undefined) {
      // Scaling may leave 12.000000001 for a value that was 12 on the device.
      raw = Math.round(raw);
      if (raw < range[0] || raw > range[1])
        throw new Error(`${raw} is out of the ${layout.type} range ${range[0]}…${range[1]}`);
    }
    switch (layout.type) {
      case 'int16':
        be.writeInt16BE(raw, 0);
        break;
      case 'uint16':
        be.writeUInt16BE(raw, 0);
        break;
      case 'int32':
        be.writeInt32BE(raw, 0);
        break;
      case 'uint32':
        be.writeUInt32BE(raw, 0);
        break;
      case 'float32':
        if (Math.abs(raw) > 3.4028234663852886e38)
          throw new Error(`${raw} is out of the float32 range`);
        be.writeFloatBE(raw, 0);
        break;
      case 'float64':
        be.writeDoubleBE(raw, 0);
        break;
    }
  }
  // Back from big-endian to the device's order: the same swaps undo themselves.
  const wire = toBigEndian(be, layout, layout.type !== 'string');
  const registers: number[] = [];
  for (let i = 0; i < layout.registers; i++) registers.push(wire.readUInt16BE(i * 2));
  return registers;
}

/** A coil value from a written value: booleans, 0/1 and "true"/"false". */
export function toCoil(value: TagValue): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new Error(`expected a boolean (or 0/1), got ${JSON.stringify(value)}`);
}
