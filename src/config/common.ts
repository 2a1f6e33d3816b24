/**
 * Schema pieces shared by the configuration and the connectors' own config schemas
 * (src/connectors/<type>/config.ts): one way to write an id, a duration, a TLS pair.
 */
import { z } from 'zod';

export const ID_RULE = 'an id of letters, digits, "-" or "_" (no "/" or spaces)';
export const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { error: `expected ${ID_RULE}` })
  .max(64);

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const DURATION_FACTOR = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration written like "1.5s", "200ms", "5m" or "1h", parsed to milliseconds. */
export const durationSchema = z
  .string({ error: 'expected a duration like "1.5s"' })
  .regex(DURATION_RE, { error: 'expected a duration like "1.5s"' })
  .transform((text) => {
    const m = DURATION_RE.exec(text) as RegExpExecArray;
    return Number(m[1]) * DURATION_FACTOR[m[2] as keyof typeof DURATION_FACTOR];
  });

export const tlsSchema = z
  .strictObject({
    cert: z
      .string()
      .describe('PEM certificate (chain) file, relative to the config file.')
      .meta({ examples: ['tls/hub.crt'] }),
    key: z
      .string()
      .describe('PEM private key file of the certificate, relative to the config file.')
      .meta({ examples: ['tls/hub.key'] }),
  })
  .describe('TLS certificate and key.');

export type TlsConfig = z.infer<typeof tlsSchema>;

/** How a connection retries after it lost its peer: exponential backoff with jitter. */
export const reconnectSchema = z
  .strictObject({
    initial: durationSchema
      .default(500)
      .describe('Wait before the first retry.')
      .meta({ examples: ['500ms'] }),
    max: durationSchema
      .default(30_000)
      .describe('Longest wait between retries.')
      .meta({ examples: ['30s'] }),
    factor: z.number().min(1).max(10).default(2).describe('Growth of the wait per failure.'),
    jitter: z
      .number()
      .min(0)
      .max(1)
      .default(0.2)
      .describe('Fraction of the wait drawn at random (0.2: ±20 %), so peers are not hit at once.'),
  })
  .describe('Reconnection backoff of the connection.');

export type ReconnectConfig = z.infer<typeof reconnectSchema>;

/** The backoff policy (src/core/backoff.ts) of a connection's `reconnect` settings. */
export function backoffOf(r: ReconnectConfig): {
  initialMs: number;
  maxMs: number;
  factor: number;
  jitter: number;
} {
  return { initialMs: r.initial, maxMs: r.max, factor: r.factor, jitter: r.jitter };
}

/**
 * The fields of an MQTT broker connection, shared by every connector that talks to a broker
 * (mqtt, sparkplug): one field name for one idea, and connectors do not import each other.
 */
export const MQTT_URL_RE = /^(mqtt|mqtts|ws|wss|tcp|ssl):\/\/[^\s]+$/;

export const mqttBrokerFields = {
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
};
