/** Configuration of an MQTT connection (validated at startup; documented in docs/configuration.md). */
import { z } from 'zod';
import { idSchema, mqttBrokerFields, reconnectSchema } from '../../config/common.ts';
import { topicPatternError } from './topic-pattern.ts';

export const mqttConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['plant-mqtt'] }),
    type: z.literal('mqtt'),
    ...mqttBrokerFields,
    clientId: z
      .string()
      .optional()
      .describe(
        'MQTT client id; defaults to "millwright-<connection id>". Keep it stable: the broker keeps the session (QoS 1 messages) under it.',
      ),
    protocolVersion: z
      .literal([4, 5])
      .default(5)
      .describe('MQTT protocol version: 4 is MQTT 3.1.1, 5 is MQTT 5.'),
    qos: z.literal([0, 1]).default(1).describe('QoS of the subscriptions.'),
    subscribe: z
      .array(
        z.string().superRefine((filter, ctx) => {
          const error = topicPatternError(filter);
          if (error !== null || /[{}]/.test(filter))
            ctx.addIssue({
              code: 'custom',
              message: error ?? 'expected an MQTT filter (captures belong in bindings)',
            });
        }),
      )
      .default([])
      .describe(
        'Extra MQTT filters to listen to beyond those of the bindings. A message under them that matches no binding is quarantined (MW_ERR_INGEST_NO_BINDING), so a device publishing to an unexpected topic is noticed.',
      )
      .meta({ examples: [['plant/#']] }),
    sharedGroup: z
      .string()
      .regex(/^[^/+#]+$/, { error: 'expected a group name without "/", "+" or "#"' })
      .optional()
      .describe(
        'Subscribe as a member of this shared subscription group (`$share/<group>/<filter>`), so several hubs split the messages of one plant between them. Needs a broker with shared subscriptions (MQTT 5, or Mosquitto / EMQX on 3.1.1).',
      )
      .meta({ examples: ['millwright-plant1'] }),
    reconnect: reconnectSchema.prefault({}),
    maxPayloadBytes: z
      .number()
      .int()
      .positive()
      .default(1_048_576)
      .describe('Payloads larger than this are quarantined, not parsed.'),
  })
  .describe('An MQTT connection: subscribes to the topics of its bindings.');
