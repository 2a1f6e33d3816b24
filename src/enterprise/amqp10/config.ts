/**
 * Configuration of the AMQP 1.0 target (documented in docs/configuration.md): the protocol of
 * Azure Service Bus, IBM MQ's AMQP channel, ActiveMQ Artemis, Solace and RabbitMQ (native from
 * 4.0, through the `rabbitmq_amqp1_0` plugin in 3.x).
 */
import { z } from 'zod';
import { durationSchema, reconnectSchema } from '../../config/common.ts';
import { formatFields, targetFields } from '../target-config.ts';

export const amqp10TargetSchema = z
  .strictObject({
    ...targetFields,
    ...formatFields,
    type: z.literal('amqp10'),
    host: z
      .string()
      .min(1)
      .describe('Host name or address of the broker.')
      .meta({ examples: ['plant-bus.servicebus.windows.net'] }),
    port: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(5672)
      .describe('TCP port: 5672 for plain AMQP, usually 5671 with `tls`.'),
    tls: z
      .strictObject({
        ca: z
          .string()
          .optional()
          .describe('PEM file of the CA that signed the broker certificate (else the system CAs).')
          .meta({ examples: ['tls/plant-ca.crt'] }),
        servername: z
          .string()
          .optional()
          .describe('Name the broker certificate must carry, when it differs from `host`.')
          .meta({ examples: ['mq.plant.example'] }),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Refuse a broker certificate that does not verify. Keep true outside tests.'),
      })
      .optional()
      .describe('Connect with TLS (`{}`: the system CAs). Files are relative to the config file.')
      .meta({ examples: [{}] }),
    username: z
      .string()
      .optional()
      .describe(
        'User for SASL PLAIN (Azure Service Bus: the shared access policy name). Left out: no authentication, for brokers that allow anonymous senders.',
      )
      .meta({ examples: ['millwright'] }),
    password: z
      .string()
      .optional()
      .describe(
        'Password for SASL PLAIN (Azure Service Bus: the key); write "${ENV_NAME}" to keep it out of the file.',
      )
      .meta({ examples: ['${AMQP_PASSWORD}'] }),
    address: z
      .string()
      .min(1)
      .describe(
        'Target address of the sender link: a queue or topic name (Azure Service Bus, Artemis, IBM MQ). RabbitMQ 3.x plugin: `/exchange/NAME/ROUTINGKEY` (an exchange that must exist), `/amq/queue/NAME` (an existing queue) or `/queue/NAME` (declared on attach); RabbitMQ 3.x accepts and drops a message that routes to no queue. RabbitMQ 4: `/exchanges/NAME/KEY` or `/queues/NAME`.',
      )
      .meta({ examples: ['/exchange/erp.mes/millwright'] }),
    timeout: durationSchema
      .default(30_000)
      .describe(
        'Longest wait for the broker to settle a message (and for the link to open); then the delivery fails and is retried.',
      )
      .meta({ examples: ['30s'] }),
    reconnect: reconnectSchema.prefault({}),
  })
  .describe(
    'An AMQP 1.0 target: each message is sent durable on a sender link, with its id as message id, and counts as delivered once the broker accepted it.',
  );

export type Amqp10TargetConfig = z.infer<typeof amqp10TargetSchema>;
