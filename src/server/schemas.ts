/**
 * Request and response schemas of the HTTP API (zod): the single source of request validation,
 * response types and the OpenAPI document (`/api/openapi.json`).
 */
import { z } from 'zod';
import { COUNTER_KINDS, EQUIPMENT_LEVELS, EQUIPMENT_STATES } from '../model/index.ts';

export const errorResponse = z
  .object({
    error: z.object({
      code: z.string().meta({ examples: ['MW_ERR_API_VALIDATION'] }),
      message: z.string(),
      path: z
        .string()
        .optional()
        .describe('The request field, YAML path or record the error is about.'),
      details: z.array(z.string()).optional(),
    }),
  })
  .meta({ id: 'Error' });

/** A time given as ISO 8601 text or epoch milliseconds. */
export const timeParam = z
  .string()
  .transform((text, ctx) => {
    const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
    if (Number.isNaN(ms)) {
      ctx.addIssue({
        code: 'custom',
        message: 'expected an ISO 8601 time like 2026-11-25T08:00:00Z or epoch milliseconds',
      });
      return z.NEVER;
    }
    return ms;
  })
  .meta({ examples: ['2026-11-25T08:00:00Z'] });

const cursorParam = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, {
    error: 'expected a cursor returned as nextCursor by an earlier page',
  })
  .describe('Opaque paging cursor: the `nextCursor` of the previous page.');

const limitParam = (max: number, fallback: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(max, { error: `must be at most ${max}` })
    .default(fallback)
    .describe(`Items per page (1–${max}).`);

export const downtimesQuery = z.strictObject({
  from: timeParam
    .optional()
    .describe(
      'Stops going on at or after this time: those that began since, and the one that began earlier and was still going on.',
    ),
  to: timeParam.optional().describe('Only stops that began before this time.'),
});

export const eventsQuery = z.strictObject({
  type: z
    .enum(['state.changed', 'counted', 'consumed'])
    .optional()
    .describe('Only events of this type (e.g. consumed: material used, for an ERP or BI pull).'),
  from: timeParam.optional().describe('Only events at or after this source time.'),
  to: timeParam.optional().describe('Only events before this source time.'),
  limit: limitParam(1000, 100),
  cursor: cursorParam.optional(),
});

export const quarantineQuery = z.strictObject({
  connection: z.string().optional().describe('Only entries of this connection id.'),
  limit: limitParam(1000, 100),
  cursor: cursorParam.optional(),
});

const counterView = z.object({
  total: z.number().describe('Pieces counted since the hub first saw the counter.'),
  lastRaw: z.number().nullable().describe('Last absolute value read from the device.'),
});

export const equipmentView = z
  .object({
    id: z.string().meta({ examples: ['acme/plant1/packaging/line1/filler'] }),
    name: z.string(),
    level: z.enum(EQUIPMENT_LEVELS),
    parentId: z.string().nullable(),
    childIds: z.array(z.string()),
    timeZone: z.string().nullable(),
    outputUnitId: z
      .string()
      .nullable()
      .describe('Lines: the unit whose good count is the line output (config `outputUnit`).'),
    idealCycleTimeS: z.number().nullable(),
    status: z
      .object({
        state: z.enum(EQUIPMENT_STATES),
        reasonCode: z.string().nullable(),
        since: z
          .string()
          .nullable()
          .describe('When the unit entered the state (ISO 8601 UTC, source time).'),
      })
      .nullable()
      .describe('Work units only: the live state.'),
    counters: z
      .record(z.enum(COUNTER_KINDS), counterView)
      .nullable()
      .describe('Work units only: production counters.'),
    materials: z
      .array(
        z.object({
          material: z.string().describe('The hub’s material id.'),
          total: z.string().describe('Used since the hub first saw it: exact decimal text.'),
          uom: z.string().nullable().describe('The material’s unit (Rec 20 code).'),
          lastRaw: z
            .string()
            .nullable()
            .describe('Last totaliser reading, in the tag’s unit (null for increments).'),
          lastTs: z.string().nullable().describe('Source time of the last reading applied.'),
        }),
      )
      .nullable()
      .describe('Work units only: material consumption, per material.'),
    updatedAt: z.string().nullable(),
  })
  .meta({ id: 'Equipment' });

export const equipmentList = z.object({ items: z.array(equipmentView) });

export const eventView = z
  .object({
    seq: z.number().describe('Position in the journal; strictly increasing.'),
    type: z.enum(['state.changed', 'counted', 'consumed']),
    equipmentId: z.string(),
    ts: z.string().describe('Source time (ISO 8601 UTC).'),
    recordedAt: z.string().describe('When the hub committed it (ISO 8601 UTC).'),
    data: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Event' });

export const eventPage = z.object({
  items: z.array(eventView),
  nextCursor: z
    .string()
    .nullable()
    .describe('Pass as `cursor` for the next page; null on the last page.'),
});

export const quarantineView = z
  .object({
    id: z.number(),
    connectionId: z.string(),
    source: z.string().describe('The topic (or address) the input came from.'),
    receivedAt: z.string(),
    code: z.string().describe('Error code: see docs/errors.md.'),
    message: z.string(),
    payloadBytes: z.number().describe('Size of the whole payload as received.'),
    payload: z.string().describe('The kept part of the payload.'),
    payloadEncoding: z.enum(['utf8', 'base64']),
    replayedAt: z
      .string()
      .nullable()
      .describe('When it was replayed (POST /api/v1/quarantine/{id}/replay), or null.'),
  })
  .meta({ id: 'QuarantineEntry' });

export const quarantinePage = z.object({
  items: z.array(quarantineView),
  nextCursor: z.string().nullable(),
  total: z
    .number()
    .describe('Entries held now (the oldest are removed beyond quarantine.maxEntries).'),
  countsByConnection: z
    .record(
      z.string(),
      z.object({ quarantined: z.number(), byCode: z.record(z.string(), z.number()) }),
    )
    .describe('Since the hub started: quarantined inputs per connection and code.'),
});

const connectionHealth = z.object({
  id: z.string(),
  type: z.string(),
  status: z.enum(['connecting', 'connected', 'disconnected', 'stopped']),
  detail: z.string().nullable(),
  lastDataAt: z.string().nullable(),
  reconnects: z.number(),
  errors: z.number(),
  received: z.number(),
  accepted: z.number(),
  quarantined: z.number(),
});

export const healthView = z
  .object({
    status: z.enum(['ok', 'degraded', 'down']),
    version: z.string(),
    startedAt: z.string(),
    store: z.object({
      kind: z.enum(['sqlite', 'postgres']),
      location: z.string(),
      ok: z.boolean(),
      error: z.string().nullable(),
    }),
    broker: z.object({ url: z.string(), clients: z.number() }).nullable(),
    connections: z.array(connectionHealth),
    ingest: z.object({
      queued: z.number(),
      committedSamples: z.number(),
      committedEvents: z.number(),
      committedBatches: z.number(),
      commitErrors: z.number(),
      lastCommitAt: z.string().nullable(),
      lastCommitError: z.string().nullable(),
      mode: z
        .enum(['direct', 'spooling'])
        .describe('spooling: the store is away and input goes to the local spool.'),
      spool: z
        .object({
          entries: z.number(),
          bytes: z.number(),
          maxBytes: z.number(),
          fill: z.number().describe('bytes / maxBytes, 0–1.'),
          location: z.string(),
        })
        .nullable(),
    }),
  })
  .meta({ id: 'Health' });

export const auditVerification = z
  .object({
    ok: z.boolean(),
    count: z.number().describe('Rows verified (before the broken one, when broken).'),
    seq: z.number().nullable().describe('The first row that breaks the chain, or null.'),
    reason: z.string().nullable().describe('Why that row breaks the chain.'),
    tookMs: z.number(),
  })
  .meta({ id: 'AuditVerification' });

const auditFilterFields = {
  entity: z
    .string()
    .min(1)
    .optional()
    .describe('Only rows about this entity type (user, api-token, config …).'),
  id: z.string().min(1).optional().describe('Only rows about this entity id.'),
  user: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Only rows by this actor: a user name (alice means user:alice) or a full actor (user:alice, token:<id>, connection:<id>, cli:<name>, address:<ip>, system).',
    )
    .meta({ examples: ['alice', 'token:erp'] }),
  from: timeParam.optional().describe('Only rows at or after this time.'),
  to: timeParam.optional().describe('Only rows before this time.'),
};

export const auditQuery = z.strictObject({
  ...auditFilterFields,
  limit: limitParam(1000, 100),
  cursor: cursorParam.optional(),
});

export const auditExportQuery = z.strictObject({
  format: z
    .enum(['csv', 'json'])
    .default('csv')
    .describe('csv: human readable (RFC 4180); json: an array of the rows as GET /api/v1/audit.'),
  ...auditFilterFields,
});

export const auditRowView = z
  .object({
    seq: z.number().describe('Position in the trail: 1, 2, 3 … without gaps.'),
    at: z.string().describe('When (ISO 8601 UTC, the hub clock).'),
    actor: z.string().meta({ examples: ['user:alice'] }),
    action: z.string().meta({ examples: ['update'] }),
    entityType: z.string(),
    entityId: z.string(),
    changes: z
      .record(z.string(), z.object({ old: z.unknown(), new: z.unknown() }))
      .describe('The changed fields, old → new (old is null on create, new is null on delete).'),
    reason: z.string().nullable(),
    hash: z.string().describe("SHA-256 of the previous row's hash and this row's content."),
    prevHash: z.string(),
  })
  .meta({ id: 'AuditRow' });

export const auditPage = z.object({
  items: z.array(auditRowView),
  nextCursor: z
    .string()
    .nullable()
    .describe('Pass as `cursor` for the next page; null on the last page.'),
});
