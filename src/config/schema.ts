/**
 * The configuration schema: the single source of validation, TypeScript types and the
 * configuration reference (`npm run docs` writes docs/configuration.md from it; a test fails
 * when that file is stale). Every field has a description, and a default or an example.
 */
import { genealogySchema, qualitySchema } from './quality.ts';
import { z } from 'zod';
import { mqttConnectionSchema } from '../connectors/mqtt/config.ts';
import { simulatorConnectionSchema } from '../connectors/simulator/config.ts';
import { opcuaConnectionSchema } from '../connectors/opcua/config.ts';
import { modbusConnectionSchema } from '../connectors/modbus/config.ts';
import { sqlConnectionSchema } from '../connectors/sql/config.ts';
import { sparkplugConnectionSchema } from '../connectors/sparkplug/config.ts';
import { topicPatternError } from '../connectors/mqtt/topic-pattern.ts';
import { inboundSchema, targetSchema } from '../enterprise/config.ts';
import { durationSchema, idSchema, tlsSchema } from './common.ts';

export { durationSchema, idSchema, mqttConnectionSchema, simulatorConnectionSchema, tlsSchema };
import { EQUIPMENT_STATES } from '../model/state.ts';

function isIanaZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return zone.includes('/') || zone === 'UTC';
  } catch {
    return false;
  }
}

const timeZoneSchema = z
  .string()
  .refine(isIanaZone, { error: 'expected an IANA time zone such as "Europe/Berlin" or "UTC"' })
  .describe('IANA time zone of the site, used for shifts and local-time reports.')
  .meta({ examples: ['Europe/Berlin'] });

const unitSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the work unit, unique within its line.')
      .meta({ examples: ['filler'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    idealCycleTime: durationSchema
      .optional()
      .describe('Ideal time to make one piece (for OEE performance).')
      .meta({ examples: ['1.5s'] }),
    stateDebounce: durationSchema
      .optional()
      .describe('This unit’s `runtime.stateDebounce`.')
      .meta({ examples: ['2s'] }),
    microStopMax: durationSchema
      .optional()
      .describe('This unit’s `runtime.microStopMax`.')
      .meta({ examples: ['30s'] }),
    noDataTimeout: durationSchema
      .optional()
      .describe('This unit’s `runtime.noDataTimeout`.')
      .meta({ examples: ['5m'] }),
  })
  .describe('An ISA-95 work unit (a machine: filler, capper, labeller …).');

const lineSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the line (ISA-95 work center), unique within its area.')
      .meta({ examples: ['line1'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    units: z
      .array(unitSchema)
      .min(1, { error: 'a line needs at least one unit' })
      .describe('Work units of the line.'),
    outputUnit: idSchema
      .optional()
      .describe(
        'The unit whose good count is the line’s output (for OEE and order progress); defaults to the last unit.',
      )
      .meta({ examples: ['casepacker'] }),
    flow: z
      .array(idSchema)
      .min(2, { error: 'a flow needs at least two units' })
      .optional()
      .describe(
        'Units in the order the product flows through them, to derive starved and blocked: a unit that reads `idle` while the unit before it is stopped is `starved` (reason `upstream-stopped`), while the unit after it is stopped `blocked` (reason `downstream-stopped`). Map those reasons in the site’s reason tree with `plcCodes`. Without it, starved and blocked come only from the devices.',
      )
      .meta({ examples: [['filler', 'capper', 'labeller', 'casepacker']] }),
  })
  .describe('A production line (ISA-95 work center).');

const areaSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the area, unique within its site.')
      .meta({ examples: ['packaging'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    lines: z
      .array(lineSchema)
      .min(1, { error: 'an area needs at least one line' })
      .describe('Lines of the area.'),
  })
  .describe('An ISA-95 area.');

const reasonSchema = z
  .strictObject({
    code: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, {
        error: 'expected a code of letters, digits, "_", "." or "-"',
      })
      .describe('The reason’s code, unique within the site.')
      .meta({ examples: ['JAM'] }),
    name: z
      .string()
      .describe('What operators read.')
      .meta({ examples: ['Bottle jam'] }),
    planned: z
      .boolean()
      .default(false)
      .describe('A planned stop (break, cleaning, changeover): not an availability loss.'),
    category: z
      .string()
      .describe('The branch of the tree the reason belongs to.')
      .meta({ examples: ['mechanical'] }),
    plcCodes: z
      .array(z.string())
      .default([])
      .describe('PLC reason codes (as the state binding reads them) that mean this reason.')
      .meta({ examples: [['17', '18']] }),
  })
  .describe('A downtime reason.');

const wallTimeSchema = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: 'expected a local time HH:MM, e.g. "06:00"' });

const shiftSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .describe('Name of the shift, unique in the calendar (reports group by it).')
      .meta({ examples: ['Night'] }),
    start: wallTimeSchema
      .describe('Local start time, HH:MM in the site’s time zone.')
      .meta({ examples: ['22:00'] }),
    end: wallTimeSchema
      .describe(
        'Local end time, HH:MM; at or before `start` the shift ends the next day (22:00–06:00).',
      )
      .meta({ examples: ['06:00'] }),
    days: z
      .array(z.number().int().min(1).max(7))
      .min(1)
      .optional()
      .describe('ISO weekdays the shift starts on (1 = Monday … 7 = Sunday); default every day.')
      .meta({ examples: [[1, 2, 3, 4, 5]] }),
    breaks: z
      .array(
        z
          .strictObject({
            name: z
              .string()
              .min(1)
              .describe('Name of the break.')
              .meta({ examples: ['Lunch'] }),
            start: wallTimeSchema.describe('Local start, HH:MM.').meta({ examples: ['02:00'] }),
            end: wallTimeSchema.describe('Local end, HH:MM.').meta({ examples: ['02:30'] }),
          })
          .describe('A break or meal inside its shift, by local wall-clock times.'),
      )
      .default([])
      .describe(
        'Breaks and meals inside the shift: not planned operation time (OEE does not count them).',
      ),
  })
  .describe('A shift by local wall-clock times.');

const calendarSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .optional()
      .describe('Name of the calendar, stated in every report; defaults to "<site id> shifts".')
      .meta({ examples: ['3-shift'] }),
    shifts: z.array(shiftSchema).min(1).describe('The shifts, in the order of a day.'),
    rotation: z
      .strictObject({
        crews: z
          .array(z.string().min(1))
          .min(1)
          .describe('The crews.')
          .meta({ examples: [['A', 'B', 'C', 'D']] }),
        cycleDays: z.number().int().min(1).describe('Length of the rotation in days.'),
        anchor: z
          .string()
          .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a day YYYY-MM-DD' })
          .describe('A local day that is day 0 of the cycle.')
          .meta({ examples: ['2026-01-05'] }),
        pattern: z
          .array(z.array(z.string().nullable()))
          .describe(
            'pattern[d][k]: the crew on shifts[k] on cycle day d; null: shift k is not worked that day.',
          )
          .meta({
            examples: [
              [
                ['A', 'C'],
                ['A', 'C'],
                ['B', 'D'],
                ['B', 'D'],
              ],
            ],
          }),
      })
      .describe('Which crew works which shift (e.g. 4 crews on 12-hour shifts).')
      .optional(),
    holidays: z
      .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'expected a day YYYY-MM-DD' }))
      .default([])
      .describe('Local days on which no shift starts (a night shift begun the day before runs on).')
      .meta({ examples: [['2026-12-25', '2026-12-26']] }),
  })
  .describe(
    'The site’s shift calendar, in its time zone (docs/kpi.md). Without one the site is planned 24 hours a day, in one shift named Day.',
  );

const siteSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the site, unique within the enterprise.')
      .meta({ examples: ['plant1'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    timeZone: timeZoneSchema,
    areas: z
      .array(areaSchema)
      .min(1, { error: 'a site needs at least one area' })
      .describe('Areas of the site.'),
    reasons: z
      .array(reasonSchema)
      .default([])
      .describe(
        'The site’s downtime reason tree: planned or unplanned → category → reason. PLC stop codes map into it; a stop without a mapped code can be given a reason afterwards (POST /api/v1/equipment/{id}/downtimes/{seq}/reason).',
      ),
    calendar: calendarSchema.optional(),
  })
  .describe('An ISA-95 site (a plant).');

const materialSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/, {
        error: 'expected a code of letters, digits, "_", ".", "-" or "/"',
      })
      .describe('The hub’s material code (devices’ and ERPs’ codes map to it, docs/mapping.md).')
      .meta({ examples: ['PET-28G'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    idealCycleTime: durationSchema
      .optional()
      .describe(
        'Ideal time to make one piece of this product on any unit, for OEE performance while an order for it runs; overrides the unit’s `idealCycleTime`.',
      )
      .meta({ examples: ['1.2s'] }),
    uom: z
      .string()
      .describe(
        'The unit consumption of this material is booked in: a UN/CEFACT Rec 20 code (docs/units.md). Readings in another unit are converted exactly.',
      )
      .meta({ examples: ['KGM'] }),
    conversions: z
      .array(
        z.string().regex(/^\s*\S+\s+\S+\s*=\s*\S+\s+\S+\s*$/, {
          error: "expected '<quantity> <unit> = <quantity> <unit>', e.g. '1 H87 = 0.028 KGM'",
        }),
      )
      .default([])
      .describe(
        'Conversions between units of different dimensions for this material, used both ways: pieces to mass, volume to mass (density) …',
      )
      .meta({ examples: [['1 H87 = 0.028 KGM', '1 LTR = 1.032 KGM']] }),
    finished: z
      .boolean()
      .optional()
      .describe(
        'A finished good: a recall (docs/quality.md) lists the lots of finished materials made from the lot recalled. Where no material says so, a lot nothing was made from counts as finished.',
      ),
  })
  .describe('A material the plant consumes or makes (ISA-95 material definition).');

const enterpriseSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the enterprise: the first segment of every equipment id.')
      .meta({ examples: ['acme'] }),
    name: z.string().optional().describe('Display name; defaults to the id.'),
  })
  .describe('The ISA-95 enterprise at the top of the hierarchy.');

export const connectionSchema = z.discriminatedUnion('type', [
  mqttConnectionSchema,
  simulatorConnectionSchema,
  opcuaConnectionSchema,
  modbusConnectionSchema,
  sqlConnectionSchema,
  sparkplugConnectionSchema,
]);

const payloadSchema = z
  .strictObject({
    format: z
      .enum(['auto', 'json', 'number', 'string'])
      .default('auto')
      .describe(
        'auto: JSON when it parses, else a number, else the text — but a binding that reads fields (valuePath, timestampPath, reasonPath, materialPath) needs JSON, and anything else is quarantined.',
      ),
    valuePath: z
      .string()
      .optional()
      .describe(
        'Dot path of the value inside a JSON payload; without it the whole payload is the value.',
      )
      .meta({ examples: ['value'] }),
    timestampPath: z
      .string()
      .optional()
      .describe(
        'Dot path of the source timestamp (ISO 8601 text or epoch ms) inside a JSON payload.',
      )
      .meta({ examples: ['timestamp'] }),
    reasonPath: z
      .string()
      .optional()
      .describe('State bindings: dot path of the reason code inside a JSON payload.')
      .meta({ examples: ['reason'] }),
    materialPath: z
      .string()
      .optional()
      .describe('Consumption bindings: dot path of the material code inside a JSON payload.')
      .meta({ examples: ['material'] }),
  })
  .describe('How to read the payload.');

const topicPatternSchema = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    const error = topicPatternError(pattern);
    if (error !== null) ctx.addIssue({ code: 'custom', message: error });
  });

export const bindingSchema = z
  .strictObject({
    connection: idSchema
      .describe('Id of the connection the tags come from.')
      .meta({ examples: ['plant-mqtt'] }),
    topic: topicPatternSchema
      .optional()
      .describe(
        'Topic pattern (the tag name on OPC UA, Modbus, Sparkplug and SQL connections). `{name}` captures one level by name, `+` matches one level, a final `#` matches the rest. Give `topic` or `inputs`.',
      )
      .meta({ examples: ['plant/{site}/{area}/{line}/{unit}/state'] }),
    inputs: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
          error: 'expected a variable name (letters, digits, _; not starting with a digit)',
        }),
        topicPatternSchema,
      )
      .optional()
      .describe(
        'Several tags feeding one `expression`: variable name → topic pattern. The unit is filled from each pattern’s captures; the expression is evaluated when every input has a good value. Give `topic` or `inputs`.',
      )
      .meta({
        examples: [
          {
            fault: 'plc/{line}/{unit}/fault',
            running: 'plc/{line}/{unit}/run',
          },
        ],
      }),
    expression: z
      .string()
      .optional()
      .describe(
        "Derive the value from the tag(s) with a safe expression (docs/expressions.md): the variable is `value` with `topic`, the input names with `inputs`. E.g. `fault ? 'down' : running ? 'running' : 'idle'`, `(status & 4) != 0`, `(hi << 16) | lo`.",
      )
      .meta({ examples: ["fault ? 'down' : running ? 'running' : 'idle'"] }),
    equipment: z
      .string()
      .optional()
      .describe(
        'Work unit the tag belongs to: a path, with `{name}` filled from the topic captures. Defaults to `<enterprise>/{site}/{area}/{line}/{unit}`.',
      )
      .meta({ examples: ['acme/plant1/packaging/line1/{unit}'] }),
    meaning: z
      .enum(['state', 'counter.good', 'counter.scrap', 'counter.total', 'consumption', 'process'])
      .describe(
        'What the tag means for its unit: its state, a production counter, the consumption of a material, or a process value (temperature, pressure, fill level …) kept as samples for quality and batch records.',
      ),
    material: z
      .string()
      .optional()
      .describe(
        'Consumption bindings: the material, a code with `{name}` filled from the topic captures (or give `payload.materialPath`). It must be one of `materials` — after mapping through `materialSystem` when that is set.',
      )
      .meta({ examples: ['{material}'] }),
    materialSystem: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/, {
        error: 'expected a system id: lower-case letters, digits, ".", "_" or "-"',
      })
      .optional()
      .describe(
        'Consumption bindings: the material code read is this system’s code, mapped to the hub’s through the mapping table `<system>/material` (docs/mapping.md). An unknown code is quarantined, never passed through.',
      )
      .meta({ examples: ['plc-line1'] }),
    deadband: z
      .number()
      .min(0)
      .optional()
      .describe(
        'Process bindings: keep a reading only when it differs from the last one kept by at least this much (absolute, in the tag’s unit); the others are counted as filtered.',
      )
      .meta({ examples: [0.5] }),
    uom: z
      .string()
      .optional()
      .describe(
        'Process and consumption bindings: the value’s unit of measure, a UN/CEFACT Rec 20 code (docs/units.md). Consumption defaults to the material’s unit and is converted to it exactly.',
      )
      .meta({ examples: ['CEL'] }),
    payload: payloadSchema.prefault({}),
    stateMap: z
      .record(z.string(), z.enum(EQUIPMENT_STATES))
      .optional()
      .describe(
        'State bindings: device value → state; a key `3..9` maps a range of whole numbers. Without it the value must be a state name.',
      )
      .meta({ examples: [{ '1': 'running', '2': 'idle', '3..9': 'down' }] }),
    rolloverAt: z
      .number()
      .positive()
      .optional()
      .describe(
        'Counter and consumption bindings: largest value of the PLC counter (a whole number) or totaliser before it wraps to 0.',
      )
      .meta({ examples: [65535] }),
    counterMode: z
      .enum(['absolute', 'increment', 'pulse'])
      .default('absolute')
      .describe(
        'Counter and consumption bindings: `absolute`, a PLC counter or totaliser that only grows (deltas computed, rollover and resets detected; re-delivery never counts twice); `increment`, pieces made or quantity used since the last report (readings not newer than the last one are dropped as re-deliveries); `pulse` (counters only), a part-complete signal where each rising edge 0 → 1 is one piece.',
      ),
  })
  .describe('Binds the tags of a connection to a work unit and a meaning.');

const brokerSchema = z
  .strictObject({
    host: z
      .string()
      .default('127.0.0.1')
      .describe(
        'Address the embedded broker listens on. Any address other than loopback needs `tls` and `authentication` (the hub refuses to start otherwise).',
      ),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe(
        'TCP port of the embedded broker. Unset: 1883, or a free port when 1883 is taken (printed at start). Set: that port, or a clear error when it is taken.',
      )
      .meta({ examples: [1883] }),
    tls: tlsSchema
      .optional()
      .describe('Serve MQTT over TLS (mqtts) with this certificate and key.'),
    authentication: z
      .enum(['none', 'hub'])
      .default('none')
      .describe(
        '`hub`: MQTT clients log in with a hub user name and password, or any user name and an API token as password; the user or token needs the permission `mqtt.publish` (role `integration`). `none` is only allowed on a loopback address.',
      ),
  })
  .describe('The embedded MQTT broker, started when an MQTT connection names no URL.');

const sqliteStoreSchema = z
  .strictObject({
    type: z.literal('sqlite'),
    path: z.string().optional().describe('Database file; defaults to `<dataDir>/millwright.db`.'),
    synchronous: z
      .enum(['FULL', 'NORMAL'])
      .default('FULL')
      .describe(
        'SQLite synchronous mode. FULL survives power loss; NORMAL survives a process crash but may lose the last commits on power loss.',
      ),
  })
  .describe('The embedded SQLite store (WAL mode).');

const postgresStoreSchema = z
  .strictObject({
    type: z.literal('postgres'),
    url: z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: 'expected a URL like "postgres://user@host:5432/db"' })
      .describe('Connection URL; write "${ENV_NAME}" to keep the password out of the file.')
      .meta({ examples: ['postgres://millwright@db:5432/mes'] }),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]*$/, { error: 'expected a lower-case SQL identifier' })
      .default('millwright')
      .describe("Schema that holds the hub's tables."),
    poolSize: z.number().int().min(1).max(100).default(5).describe('Connections in the pool.'),
  })
  .describe('A PostgreSQL store, shared by several hubs.');

const storeSchema = z.discriminatedUnion('type', [sqliteStoreSchema, postgresStoreSchema]);

const ingestSchema = z
  .strictObject({
    batchMaxSize: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(2000)
      .describe('A batch commits when it holds this many messages, whatever else.'),
    batchLinger: durationSchema
      .default(0)
      .describe(
        'How long a batch waits for more samples before it commits. 0: it commits at the end of the current event-loop turn, or as soon as the commit before it ends (group commit), so batches grow with the load.',
      )
      .meta({ examples: ['0ms', '5ms'] }),
    queueMax: z
      .number()
      .int()
      .min(1)
      .default(50_000)
      .describe(
        'Samples waiting for commit at most; above it sources are held back (backpressure).',
      ),
    spool: z
      .strictObject({
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'While the store is unreachable, keep accepted input in a local spool (and acknowledge it), and replay it in order when the store returns. Off: input is refused and sources deliver it again later.',
          ),
        maxBytes: z
          .number()
          .int()
          .min(65_536)
          .default(268_435_456)
          .describe(
            'Size of the spool at most. When full, sources are held back (not acknowledged) until replay frees room.',
          )
          .meta({ examples: [1_073_741_824] }),
        path: z
          .string()
          .optional()
          .describe('Spool file; defaults to `<dataDir>/spool.db`. Put it on a local disk.'),
      })
      .prefault({})
      .describe('The local spool for when the store is away.'),
  })
  .describe('Batching of samples into store transactions.');

const runtimeSchema = z
  .strictObject({
    stateDebounce: durationSchema
      .default(0)
      .describe(
        'A new state counts only once it has stood this long (a flicker is not a stop); the change is dated when the state began. 0: at once. Per unit: `units[].stateDebounce`.',
      )
      .meta({ examples: ['2s'] }),
    microStopMax: durationSchema
      .default(0)
      .describe(
        'A `down` shorter than this is a micro-stop (`previousMicroStop` on the event that ends it; OEE counts it as a performance loss). 0: none. Per unit: `units[].microStopMax`.',
      )
      .meta({ examples: ['30s'] }),
    noDataTimeout: durationSchema
      .default(0)
      .describe(
        'A unit with no good reading for this long becomes `unknown` (reason `no-data`) instead of keeping its last state. 0: never. Per unit: `units[].noDataTimeout`. A bad-quality state reading makes it `unknown` (reason `bad-quality`) at once.',
      )
      .meta({ examples: ['5m'] }),
  })
  .describe('How readings become equipment states.');

const quarantineSchema = z
  .strictObject({
    maxEntries: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe('Entries kept; the oldest are removed first.'),
    payloadBytes: z
      .number()
      .int()
      .min(0)
      .default(4096)
      .describe('Bytes of each payload kept for inspection.'),
  })
  .describe('Input that could not be accepted is kept here, with the reason.');

const auditSchema = z
  .strictObject({
    stateChanges: z
      .boolean()
      .default(true)
      .describe(
        'Write an audit row (actor `connection:<id>`) for every equipment state change a device reports, in the transaction that records it.',
      ),
  })
  .describe(
    'The audit trail (21 CFR Part 11): hash-chained rows, checked by `millwright audit verify`.',
  );

const httpSchema = z
  .strictObject({
    host: z.string().default('127.0.0.1').describe('Address the HTTP API listens on.'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(8080)
      .describe('Port of the HTTP API (0: a free port).'),
    tls: tlsSchema
      .optional()
      .describe('Serve HTTPS with this certificate and key (recommended off loopback).'),
    corsOrigins: z
      .array(
        z.string().regex(/^https?:\/\/[^/\s]+\/?$/, {
          error: 'expected an origin like "https://mes.example.com" (scheme, host and port only)',
        }),
      )
      .default([])
      .describe(
        'Browser origins allowed to call the API from other sites (CORS). Empty: none (closed).',
      ),
  })
  .describe('The HTTP API and UI.');

const securitySchema = z
  .strictObject({
    passwords: z
      .strictObject({
        minLength: z.number().int().min(8).max(128).default(12).describe('Minimum length.'),
        history: z
          .number()
          .int()
          .min(0)
          .max(24)
          .default(5)
          .describe('A new password must differ from this many previous ones.'),
        maxAgeDays: z
          .number()
          .int()
          .min(0)
          .default(90)
          .describe('Days after which a password must be changed; 0: never.'),
      })
      .prefault({})
      .describe('Password policy (21 CFR 11.300).'),
    lockout: z
      .strictObject({
        attempts: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(5)
          .describe('Consecutive failed logins (or signatures) that lock the account.'),
        duration: durationSchema
          .default(900_000)
          .describe('How long a locked account stays locked.')
          .meta({ examples: ['15m'] }),
      })
      .prefault({})
      .describe('Account lockout after repeated failures (audited).'),
    sessionIdle: durationSchema
      .default(1_800_000)
      .describe('A session expires after this long without a request.')
      .meta({ examples: ['30m'] }),
    sessionMax: durationSchema
      .default(43_200_000)
      .describe('A session expires this long after login, whatever its use.')
      .meta({ examples: ['12h'] }),
    loginRateLimit: z
      .number()
      .int()
      .min(1)
      .default(10)
      .describe(
        'Login and signing attempts per minute allowed per user name and per client address.',
      ),
  })
  .describe('Users, sessions and passwords.');

const ordersSchema = z
  .strictObject({
    system: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: 'expected a mapping system id' })
      .optional()
      .describe(
        'The mapping system of the ERP that sends orders: its material, work center and unit codes are mapped through the tables `<system>/material`, `<system>/equipment` and `<system>/uom` (docs/mapping.md), and a code without an entry is refused. Leave it out when the ERP sends the hub’s own codes. A REST caller may name another with `?system=`; a drop folder or queue has its own `system`.',
      )
      .meta({ examples: ['sap'] }),
  })
  .describe('Work orders from the ERP (docs/erp.md).');

const kpiSchema = z
  .strictObject({
    exportDelay: durationSchema
      .default(120_000)
      .describe(
        'How long after a shift ends its KPIs are exported to the targets that list `kpi.shift` (docs/kpi.md): time for readings a device or the spool still holds to arrive. Readings later than this are in the API’s figures but not in that export.',
      )
      .meta({ examples: ['2m'] }),
  })
  .describe('KPIs (docs/kpi.md): the export of each shift’s figures to BI.');

export const configSchema = z.strictObject({
  enterprise: enterpriseSchema,
  sites: z
    .array(siteSchema)
    .min(1, { error: 'at least one site is needed' })
    .describe('Sites of the enterprise.'),
  materials: z
    .array(materialSchema)
    .default([])
    .describe('Materials the plant consumes or makes, with their units and conversions.'),
  connections: z.array(connectionSchema).default([]).describe('Connections to the shop floor.'),
  bindings: z
    .array(bindingSchema)
    .default([])
    .describe('Which tags mean what for which work unit.'),
  broker: brokerSchema.prefault({}),
  store: storeSchema
    .default({ type: 'sqlite', synchronous: 'FULL' })
    .describe('Where the hub keeps its data.'),
  ingest: ingestSchema.prefault({}),
  runtime: runtimeSchema.prefault({}),
  quarantine: quarantineSchema.prefault({}),
  audit: auditSchema.prefault({}),
  http: httpSchema.prefault({}),
  security: securitySchema.prefault({}),
  orders: ordersSchema.prefault({}),
  kpi: kpiSchema.prefault({}),
  genealogy: genealogySchema.prefault({}),
  quality: qualitySchema.prefault({}),
  targets: z
    .array(targetSchema)
    .default([])
    .describe(
      'Enterprise targets: where order starts, confirmations, goods receipts and consumption are sent (docs/erp.md).',
    ),
  inbound: z
    .array(inboundSchema)
    .default([])
    .describe('Drop folders and AMQP queues orders arrive on, besides the REST API (docs/erp.md).'),
  dataDir: z
    .string()
    .default('./data')
    .describe('Folder for the SQLite file and other local state, relative to the config file.'),
  logLevel: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
    .default('info')
    .describe('Log level.'),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type ConnectionConfig = z.infer<typeof connectionSchema>;
export type MqttConnectionConfig = Extract<ConnectionConfig, { type: 'mqtt' }>;
export type SimulatorConnectionConfig = Extract<ConnectionConfig, { type: 'simulator' }>;
export type SqlConnectionConfig = Extract<ConnectionConfig, { type: 'sql' }>;
export type OpcuaConnectionConfig = Extract<ConnectionConfig, { type: 'opcua' }>;
export type ModbusConnectionConfig = Extract<ConnectionConfig, { type: 'modbus' }>;
export type SparkplugConnectionConfig = Extract<ConnectionConfig, { type: 'sparkplug' }>;
export type BindingConfig = z.infer<typeof bindingSchema>;
export type MaterialConfig = z.infer<typeof materialSchema>;
export type StoreConfig = Config['store'];
export type SecurityConfig = Config['security'];
export type { TlsConfig } from './common.ts';
