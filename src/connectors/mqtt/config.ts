/** Configuration of an MQTT connection (validated at startup; documented in docs/configuration.md). */
import { z } from 'zod';
import { idSchema, reconnectSchema } from '../../config/common.ts';
import { topicPatternError } from './topic-pattern.ts';

const MQTT_URL_RE = /^(mqtt|mqtts|ws|wss|tcp|ssl):\/\/[^\s]+$/;

export const mqttConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['plant-mqtt'] }),
    type: z.literal('mqtt'),
    url: z
      .string()
      .regex(MQTT_URL_RE, {
        error: 'expected a broker URL like "mqtt://host:1883" or "mqtts://host:8883"',
      })
      .optional()
      .describe(
        "URL of an external MQTT broker. Leave it out to use the hub's embedded broker (see `broker`), which ingests in-process.",
      )
      .meta({ examples: ['mqtt://127.0.0.1:1883'] }),
    username: z.string().optional().describe('User name for the broker; may be "${ENV_NAME}".'),
    password: z
      .string()
      .optional()
      .describe('Password for the broker; write "${ENV_NAME}" to keep it out of the file.'),
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
    tls: z
      .strictObject({
        ca: z
          .string()
          .optional()
          .describe('PEM file of the CA that signed the broker certificate (else the system CAs).')
          .meta({ examples: ['tls/plant-ca.crt'] }),
        cert: z
          .string()
          .optional()
          .describe('PEM client certificate, for brokers that authenticate clients by certificate.')
          .meta({ examples: ['tls/millwright.crt'] }),
        key: z
          .string()
          .optional()
          .describe('PEM private key of the client certificate.')
          .meta({ examples: ['tls/millwright.key'] }),
        rejectUnauthorized: z
          .boolean()
          .default(true)
          .describe('Refuse a broker certificate that does not verify. Keep true outside tests.'),
      })
      .optional()
      .describe('TLS settings for an mqtts:// URL (files relative to the config file).'),
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
