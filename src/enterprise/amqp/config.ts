/**
 * Configuration of the AMQP 0-9-1 target and inbound queue (RabbitMQ; documented in
 * docs/configuration.md). Defaults are static: the broker URL, when left out, is resolved when
 * the target or queue is created (`resolveAmqpUrl`), from MILLWRIGHT_AMQP_URL or the local broker.
 */
import { z } from 'zod';
import { durationSchema, idSchema, reconnectSchema } from '../../config/common.ts';
import { formatFields, targetFields } from '../target-config.ts';

export const AMQP_URL_RE = /^amqps?:\/\/[^\s]+$/;

/** The broker when neither `url` nor MILLWRIGHT_AMQP_URL is set: RabbitMQ on this machine. */
export const AMQP_LOCAL_URL = 'amqp://guest:guest@127.0.0.1:5672';

/** `url`, else MILLWRIGHT_AMQP_URL, else the local broker (guest logs in from loopback only). */
export function resolveAmqpUrl(url: string | undefined): string {
  return url ?? process.env.MILLWRIGHT_AMQP_URL ?? AMQP_LOCAL_URL;
}

/** The URL without its password, for logs, health and errors. */
export function redactAmqpUrl(url: string): string {
  return url.replace(/^(amqps?:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

const urlField = z
  .string()
  .regex(AMQP_URL_RE, { error: 'expected a broker URL like "amqp://user:pass@host:5672/vhost"' })
  .optional()
  .describe(
    'Broker URL, `amqp://` or `amqps://` (TLS with the system CAs), with user, password and vhost; query parameters such as `?heartbeat=30` are passed on. Write the password as "${ENV_NAME}". Left out: the environment variable MILLWRIGHT_AMQP_URL, else amqp://guest:guest@127.0.0.1:5672 (RabbitMQ lets `guest` log in from loopback only).',
  )
  .meta({ examples: ['amqps://millwright:${AMQP_PASSWORD}@mq.plant.example:5671/erp'] });

const ROUTING_KEY_PLACEHOLDERS = new Set(['type', 'orderId']);

export const amqpTargetSchema = z
  .strictObject({
    ...targetFields,
    ...formatFields,
    type: z.literal('amqp'),
    url: urlField,
    exchange: z
      .string()
      .max(255)
      .describe(
        'Exchange the messages are published to. `""` is the default exchange, where the routing key names the queue.',
      )
      .meta({ examples: ['erp.mes'] }),
    routingKey: z
      .string()
      .max(255)
      .superRefine((template, ctx) => {
        for (const m of template.matchAll(/\{([^}]*)\}/g)) {
          if (!ROUTING_KEY_PLACEHOLDERS.has(m[1] ?? ''))
            ctx.addIssue({
              code: 'custom',
              message: `unknown placeholder {${m[1]}}: expected {type} or {orderId}`,
            });
        }
      })
      .default('millwright.{type}')
      .describe(
        'Routing key of each message; `{type}` is the message type (`goods.receipt` …) and `{orderId}` the ERP order number (a "." in it is a word separator for a topic exchange).',
      )
      .meta({ examples: ['mes.{type}.{orderId}'] }),
    declare: z
      .strictObject({
        type: z.enum(['topic', 'direct', 'fanout']).default('topic').describe('Exchange type.'),
        durable: z
          .boolean()
          .default(true)
          .describe('Whether the exchange survives a broker restart.'),
      })
      .optional()
      .describe(
        'Declare the exchange (assertExchange) on every connect. Left out, it must exist: the broker owner declares it and its bindings.',
      )
      .meta({ examples: [{ type: 'topic', durable: true }] }),
    mandatory: z
      .boolean()
      .default(true)
      .describe(
        'Publish as mandatory: a message no queue is bound for comes back and its delivery fails (temporarily: retried until an operator adds the binding) instead of being dropped by the broker.',
      ),
    timeout: durationSchema
      .default(30_000)
      .describe(
        'Longest wait for the broker to confirm a message (publisher confirms); then the delivery fails and is retried.',
      )
      .meta({ examples: ['30s'] }),
    reconnect: reconnectSchema.prefault({}),
  })
  .describe(
    'An AMQP 0-9-1 target (RabbitMQ): each message is published persistent, with its id as message id and idempotency key, and counts as delivered once the broker confirmed it.',
  );

export type AmqpTargetConfig = z.infer<typeof amqpTargetSchema>;

export const INBOUND_FORMATS = ['auto', 'json', 'b2mml', 'csv'] as const;

export const amqpInboundSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the inbound queue, unique among inbound sources (source `amqp:<id>`).')
      .meta({ examples: ['erp-orders'] }),
    type: z.literal('amqp'),
    url: urlField,
    queue: z
      .string()
      .min(1)
      .max(255)
      .describe('Queue the ERP sends orders, material masters and lots to.')
      .meta({ examples: ['mes.orders'] }),
    declare: z
      .boolean()
      .default(true)
      .describe(
        'Declare the queue durable (assertQueue) on every connect. false: it must exist (declared by the broker owner with its own arguments).',
      ),
    prefetch: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(10)
      .describe('Messages taken from the queue before the first is acknowledged (basic.qos).'),
    format: z
      .enum(INBOUND_FORMATS)
      .default('auto')
      .describe(
        'Format of the messages: `json`, `b2mml` (XML) or `csv`; `auto` goes by the content type, else by the first character (`<` XML, `{` or `[` JSON).',
      ),
    system: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/)
      .optional()
      .describe(
        'The mapping system whose tables translate the sender’s material, equipment and unit codes into the hub’s (docs/mapping.md).',
      )
      .meta({ examples: ['sap'] }),
    reconnect: reconnectSchema
      .prefault({})
      .describe(
        'Backoff of the reconnection, and of handing back a message whose import failed for a reason other than its content (the store away) so the broker delivers it again.',
      ),
  })
  .describe(
    'An AMQP 0-9-1 queue the ERP sends documents to. A message is acknowledged once it is committed; one refused for its content is quarantined (and acknowledged), any other failure hands it back to the queue.',
  );

export type AmqpInboundConfig = z.infer<typeof amqpInboundSchema>;
