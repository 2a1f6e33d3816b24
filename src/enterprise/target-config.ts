/**
 * Config fields every enterprise target shares (one field name for one idea, STYLE.md rule 8).
 * A target's own schema (src/enterprise/<type>/config.ts) is
 * `z.strictObject({ ...targetFields, type: z.literal('<type>'), …its own fields })`.
 */
import { z } from 'zod';
import { durationSchema, idSchema } from '../config/common.ts';
import {
  ERP_MESSAGE_TYPES,
  OUTBOUND_MESSAGE_TYPES,
  QUALITY_MESSAGE_TYPES,
  type OutboundMessageType,
} from './types.ts';

export const MESSAGE_FORMATS = ['json', 'b2mml', 'csv'] as const;
export type MessageFormat = (typeof MESSAGE_FORMATS)[number];

export const B2MML_VERSIONS = ['V0401', 'V0600', 'V0701'] as const;

/**
 * The message types an ERP interface (an OData entity set, a SOAP operation) can be configured
 * for: the order and the quality messages; not `kpi.shift` (shared/entity.ts).
 */
export const ENTITY_MESSAGE_TYPES = [...ERP_MESSAGE_TYPES, ...QUALITY_MESSAGE_TYPES] as const;

export const retrySchema = z
  .strictObject({
    initialDelay: durationSchema
      .default(1000)
      .describe('Wait before the first retry of a failed delivery.')
      .meta({ examples: ['1s'] }),
    maxDelay: durationSchema
      .default(300_000)
      .describe('Longest wait between retries (the wait doubles per failure up to this).')
      .meta({ examples: ['5m'] }),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe('Attempts before a message moves to the dead letters.'),
    maxAge: durationSchema
      .default(86_400_000)
      .describe(
        'A message still not delivered this long after it was written moves to the dead letters.',
      )
      .meta({ examples: ['24h'] }),
  })
  .describe('Retry of failed deliveries: exponential backoff with jitter, then dead letters.');

export const targetFields = {
  id: idSchema.describe('Id of the target, unique among targets.').meta({ examples: ['sap'] }),
  system: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/)
    .optional()
    .describe(
      'The mapping system whose tables translate the hub’s material, equipment and unit codes into the receiver’s (docs/mapping.md). Without it the hub’s own codes are sent.',
    )
    .meta({ examples: ['sap'] }),
  messages: z
    .array(z.enum(OUTBOUND_MESSAGE_TYPES))
    .min(1)
    .default([...ERP_MESSAGE_TYPES])
    .describe(
      'The transaction points this target receives (docs/erp.md). The default is every order message; `kpi.shift` (each site’s KPIs at each shift end, docs/kpi.md) is sent only to a target that lists it, and only a folder, webhook, amqp or amqp10 target with `format: json` or `csv` can. The quality messages `lot.held`, `lot.released` and `inspection.recorded` (docs/quality.md) are sent only to a target that lists them, in any format and over any transport.',
    )
    .meta({ examples: [['order.started', 'operation.confirmed', 'goods.receipt']] }),
  mode: z
    .enum(['realtime', 'batch'])
    .default('realtime')
    .describe(
      '`realtime`: each message is sent as soon as it is committed. `batch`: messages are collected and sent together at each `schedule` time.',
    ),
  schedule: z
    .string()
    .optional()
    .describe(
      'For `mode: batch`: a cron expression (in the first site’s time zone, or `timeZone`), e.g. the shift ends.',
    )
    .meta({ examples: ['0 6,14,22 * * *'] }),
  timeZone: z
    .string()
    .optional()
    .describe('Time zone of `schedule`; defaults to the first site’s.')
    .meta({ examples: ['Europe/Berlin'] }),
  retry: retrySchema.prefault({}),
};

export type RetryConfig = z.infer<typeof retrySchema>;

/** The fields of targetFields after parsing, as every target's config has them. */
export interface TargetCommonConfig {
  readonly id: string;
  readonly type: string;
  readonly system?: string | undefined;
  readonly messages: readonly OutboundMessageType[];
  readonly mode: 'realtime' | 'batch';
  readonly schedule?: string | undefined;
  readonly timeZone?: string | undefined;
  readonly retry: RetryConfig;
}

/** `format` (+ `b2mmlVersion`) for targets whose transport carries any format. */
export const formatFields = {
  format: z
    .enum(MESSAGE_FORMATS)
    .default('json')
    .describe(
      'Wire format: `json` (docs/erp.md), `b2mml` (ISA-95 B2MML performance XML, XSD-valid) or `csv`.',
    ),
  b2mmlVersion: z
    .enum(B2MML_VERSIONS)
    .default('V0701')
    .describe(
      'B2MML version for `format: b2mml`: V0701 sends OperationsPerformance, V0600 and V0401 ProductionPerformance.',
    ),
};
