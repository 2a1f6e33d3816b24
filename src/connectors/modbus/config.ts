/**
 * Configuration of a Modbus TCP connection (validated at startup; documented in
 * docs/configuration.md and docs/connectors/modbus.md).
 *
 * Addresses are the protocol's 0-based addresses (Modbus Application Protocol V1.1b §4.4): holding
 * register "40001" of a device manual is `table: holdingRegisters, address: 0`.
 */
import { z } from 'zod';
import { durationSchema, idSchema, reconnectSchema } from '../../config/common.ts';

export const MODBUS_TABLES = [
  'coils',
  'discreteInputs',
  'holdingRegisters',
  'inputRegisters',
] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

export const MODBUS_DATA_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'float32',
  'float64',
  'string',
] as const;
export type ModbusDataType = (typeof MODBUS_DATA_TYPES)[number];

/** Registers a value of the type takes (string: its `length`). */
export const REGISTERS_OF: Readonly<Record<Exclude<ModbusDataType, 'string'>, number>> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  float64: 4,
};

export function isBitTable(table: ModbusTable): boolean {
  return table === 'coils' || table === 'discreteInputs';
}

/** Levels separated by "/", none empty, no MQTT wildcards or capture braces. */
const TAG_NAME_RE = /^[^/+#{}\s][^/+#{}]*(\/[^/+#{}\s][^/+#{}]*)*$/;

const orderSchema = z.enum(['big', 'little']);

const tagSchema = z
  .strictObject({
    name: z
      .string()
      .regex(TAG_NAME_RE, {
        error:
          'expected a tag name of levels separated by "/" (no empty level, "+", "#" or braces)',
      })
      .describe(
        'Name of the tag, as bindings match it (`topic` of a binding): levels separated by "/".',
      )
      .meta({ examples: ['line1/filler/good'] }),
    table: z
      .enum(MODBUS_TABLES)
      .default('holdingRegisters')
      .describe(
        'Modbus table the tag lives in: `coils` (FC1, write FC5/FC15), `discreteInputs` (FC2), `holdingRegisters` (FC3, write FC6/FC16) or `inputRegisters` (FC4).',
      ),
    address: z
      .number()
      .int()
      .min(0, { error: 'expected a Modbus address from 0 to 65535' })
      .max(65535, { error: 'expected a Modbus address from 0 to 65535' })
      .describe(
        '0-based protocol address of the first register or bit (holding register 40001 is address 0).',
      )
      .meta({ examples: [0, 100] }),
    type: z
      .enum(MODBUS_DATA_TYPES)
      .optional()
      .describe(
        'Data type of a register tag; defaults to `uint16`. Coils and discrete inputs are booleans and take no type.',
      )
      .meta({ examples: ['float32'] }),
    length: z
      .number()
      .int()
      .min(1)
      .max(125)
      .optional()
      .describe('Length of a `string` tag in registers (two characters each); required for it.')
      .meta({ examples: [10] }),
    byteOrder: orderSchema
      .optional()
      .describe(
        "Order of the two bytes in each register; defaults to the device's. `big` is the Modbus standard.",
      ),
    wordOrder: orderSchema
      .optional()
      .describe(
        "Order of the registers of a 32- or 64-bit value; defaults to the device's. `big`: the first register holds the most significant word.",
      ),
    scale: z
      .number()
      .refine((n) => n !== 0, { error: 'a scale of 0 cannot be inverted for writes' })
      .optional()
      .describe(
        'Engineering value = raw × scale + offset (a write inverts it). Not for strings or bits.',
      )
      .meta({ examples: [0.1] }),
    offset: z
      .number()
      .optional()
      .describe('Added after `scale` (engineering value = raw × scale + offset).')
      .meta({ examples: [-40] }),
    poll: idSchema
      .optional()
      .describe('Id of the poll group that reads the tag; defaults to the first poll group.')
      .meta({ examples: ['fast'] }),
  })
  .superRefine((tag, ctx) => {
    const bits = isBitTable(tag.table);
    if (bits) {
      for (const key of ['type', 'length', 'byteOrder', 'wordOrder', 'scale', 'offset'] as const)
        if (tag[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `${tag.table} are booleans: \`${key}\` does not apply`,
          });
      return;
    }
    const type = tag.type ?? 'uint16';
    if (type === 'string') {
      if (tag.length === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['length'],
          message: 'a string tag needs its length in registers',
        });
      for (const key of ['scale', 'offset', 'wordOrder'] as const)
        if (tag[key] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [key],
            message: `\`${key}\` does not apply to a string tag`,
          });
    } else if (tag.length !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['length'],
        message: `\`length\` is only for string tags (${type} takes ${REGISTERS_OF[type]} register(s))`,
      });
    }
    const size = type === 'string' ? (tag.length ?? 1) : REGISTERS_OF[type];
    if (tag.address + size - 1 > 65535)
      ctx.addIssue({
        code: 'custom',
        path: ['address'],
        message: `a ${type} of ${size} register(s) at ${tag.address} runs past address 65535`,
      });
  })
  .describe('A value read from (and written to) a device.');

const deviceSchema = z
  .strictObject({
    unitId: z
      .number()
      .int()
      .min(0)
      .max(255)
      .describe(
        'Modbus unit identifier (slave id) of the device behind the endpoint; 255 or 1 for most devices that speak TCP themselves, the RTU address behind a gateway.',
      )
      .meta({ examples: [1] }),
    timeout: durationSchema
      .default(1000)
      .describe('How long to wait for the answer to one request before it counts as timed out.')
      .meta({ examples: ['1s', '300ms'] }),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .default(1)
      .describe('Retries of a request that timed out (exception answers are not retried).'),
    byteOrder: orderSchema.default('big').describe('Default byte order of the tags of the device.'),
    wordOrder: orderSchema.default('big').describe('Default word order of the tags of the device.'),
    writeMultiple: z
      .boolean()
      .default(false)
      .describe(
        'Write one coil or register with FC15/FC16 too, for devices without FC5/FC6. Otherwise a single coil is written with FC5 and a single register with FC6.',
      ),
    queueMax: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(200)
      .describe(
        'Requests waiting for the device at most. A scan that would overflow it is skipped and counted (`modbus_scan_overruns_total`); a write is refused.',
      ),
    tags: z
      .array(tagSchema)
      .min(1, { error: 'a device needs at least one tag' })
      .describe('Tags of the device.'),
  })
  .describe('A device (unit id) reached through the endpoint, with its own request queue.');

const pollGroupSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the poll group, unique in the connection.')
      .meta({ examples: ['fast'] }),
    every: durationSchema
      .refine((ms) => ms >= 10, { error: 'a scan rate below 10ms is not allowed' })
      .describe('Scan rate: the tags of the group are read this often.')
      .meta({ examples: ['500ms', '10s'] }),
  })
  .describe('Tags read at one scan rate.');

export const MODBUS_DEFAULT_POLL_GROUP = { id: 'default', every: 1000 } as const;

export const modbusConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['line1-plc'] }),
    type: z.literal('modbus'),
    host: z
      .string()
      .min(1)
      .describe('Host name or IP address of the Modbus TCP server (the device or gateway).')
      .meta({ examples: ['192.168.10.20'] }),
    port: z.number().int().min(1).max(65535).default(502).describe('TCP port of the server.'),
    connectTimeout: durationSchema
      .default(5000)
      .describe('How long to wait for the TCP connection to open.')
      .meta({ examples: ['5s'] }),
    reconnect: reconnectSchema.prefault({}),
    heartbeat: durationSchema
      .default(60_000)
      .describe(
        'A tag whose value, quality and status have not changed is sent again this long after it was last sent, so an unchanging value still shows it is alive. `0s`: every scan is sent.',
      )
      .meta({ examples: ['60s', '0s'] }),
    maxGap: z
      .number()
      .int()
      .min(0)
      .max(123)
      .default(16)
      .describe(
        'Tags of a device, poll group and table are read together in one request when the unused registers between them are at most this many (for coils and discrete inputs: this many × 16 bits). A request reads at most 125 registers or 2000 bits.',
      ),
    pollGroups: z
      .array(pollGroupSchema)
      .min(1)
      .default([{ ...MODBUS_DEFAULT_POLL_GROUP }])
      .describe(
        'Scan rates; a tag names its group in `poll`. Default: one group `default` every 1s.',
      )
      .meta({
        examples: [
          [
            { id: 'fast', every: '500ms' },
            { id: 'slow', every: '10s' },
          ],
        ],
      }),
    devices: z
      .array(deviceSchema)
      .min(1, { error: 'a Modbus connection needs at least one device' })
      .describe('Devices (unit ids) behind the endpoint.'),
  })
  .superRefine((c, ctx) => {
    const groups = new Set<string>();
    c.pollGroups.forEach((g, i) => {
      if (groups.has(g.id))
        ctx.addIssue({
          code: 'custom',
          path: ['pollGroups', i, 'id'],
          message: `poll group "${g.id}" is defined twice`,
        });
      groups.add(g.id);
    });
    const units = new Set<number>();
    const names = new Set<string>();
    c.devices.forEach((d, i) => {
      if (units.has(d.unitId))
        ctx.addIssue({
          code: 'custom',
          path: ['devices', i, 'unitId'],
          message: `unit id ${d.unitId} is configured twice in this connection`,
        });
      units.add(d.unitId);
      d.tags.forEach((t, j) => {
        if (names.has(t.name))
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'tags', j, 'name'],
            message: `tag "${t.name}" is defined twice in this connection`,
          });
        names.add(t.name);
        if (t.poll !== undefined && !groups.has(t.poll))
          ctx.addIssue({
            code: 'custom',
            path: ['devices', i, 'tags', j, 'poll'],
            message: `no poll group "${t.poll}" (known: ${[...groups].join(', ')})`,
          });
      });
    });
  })
  .describe('A Modbus TCP client: one TCP endpoint, devices by unit id, tags read in poll groups.');
