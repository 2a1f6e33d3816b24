/** Configuration of an OPC UA client connection (validated at startup; documented in docs/configuration.md). */
import { z } from 'zod';
import { durationSchema, idSchema, reconnectSchema } from '../../config/common.ts';

const ENDPOINT_RE = /^opc\.tcp:\/\/[^\s/:]+(:\d+)?(\/\S*)?$/;

/**
 * NodeId text per OPC UA Part 6 §5.3.1.10: an optional `ns=<index>;` or `nsu=<namespace URI>;`
 * (the URI is looked up in the server's NamespaceArray at each connect, so it survives a server
 * that renumbers its namespaces), then i=, s=, g= or b=.
 */
export const NODE_ID_RE =
  /^(ns=\d+;|nsu=[^;]+;)?(i=\d+|s=.+|g=[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|b=[A-Za-z0-9+/=]+)$/;

/** A tag name: slash-separated levels that bindings match like MQTT topics. */
const TAG_NAME_RE = /^[^/\s#+{}]+(\/[^/\s#+{}]+)*$/;

export const OPCUA_SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export const OPCUA_SECURITY_POLICIES = [
  'None',
  'Basic256Sha256',
  'Aes128_Sha256_RsaOaep',
  'Aes256_Sha256_RsaPss',
] as const;

const deadbandSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({
      type: z.literal('absolute'),
      value: z
        .number()
        .min(0)
        .describe('Smallest change, in the unit of the value, that is reported.'),
    }),
    z.strictObject({
      type: z.literal('percent'),
      value: z
        .number()
        .min(0)
        .max(100)
        .describe(
          'Smallest change, in percent of the EURange of the variable, that is reported (the server needs an EURange).',
        ),
    }),
  ])
  .default({ type: 'none' })
  .describe(
    'Data change filter (OPC UA Part 4 §7.22.2): `none`, `absolute` or `percent` with its `value`.',
  )
  .meta({ examples: [{ type: 'absolute', value: 0.5 }] });

const tagSchema = z
  .strictObject({
    name: z
      .string()
      .regex(TAG_NAME_RE, {
        error:
          'expected slash-separated levels without spaces, "+", "#", "{" or "}" (e.g. "line1/filler/state")',
      })
      .describe(
        'Name of the tag, matched by the `topic` patterns of bindings (levels separated by "/").',
      )
      .meta({ examples: ['plant1/packaging/line1/filler/state'] }),
    nodeId: z
      .string()
      .regex(NODE_ID_RE, {
        error:
          'expected an OPC UA NodeId like "ns=2;s=Line1.Filler.State", "ns=3;i=1001" or "nsu=urn:acme:plc;s=Filler.State"',
      })
      .describe('NodeId of the variable on the server.')
      .meta({ examples: ['ns=2;s=Line1.Filler.State'] }),
    samplingInterval: durationSchema
      .optional()
      .describe(
        'How often the server samples the variable; defaults to the publishing interval. "0ms": as fast as the server can.',
      )
      .meta({ examples: ['250ms'] }),
    queueSize: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(1)
      .describe(
        'Values the server keeps between two publishes; above 1, fast changes between publishes are not lost.',
      ),
    deadband: deadbandSchema,
    publishingInterval: durationSchema
      .optional()
      .describe(
        "Publishing interval of this tag's subscription; defaults to the connection's. Tags with the same interval share one subscription.",
      )
      .meta({ examples: ['5s'] }),
  })
  .describe('A variable of the server read through a monitored item.');

const authSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('anonymous') }),
    z.strictObject({
      type: z.literal('username'),
      username: z.string().min(1).describe('User name; may be "${ENV_NAME}".'),
      password: z
        .string()
        .describe('Password; write "${ENV_NAME}" to keep it out of the file.')
        .meta({ examples: ['${PLC_PASSWORD}'] }),
    }),
    z.strictObject({
      type: z.literal('certificate'),
      cert: z
        .string()
        .describe('X.509 user certificate file (PEM or DER), relative to the config file.')
        .meta({ examples: ['pki/operator.pem'] }),
      key: z
        .string()
        .describe('PEM private key file of the user certificate, relative to the config file.')
        .meta({ examples: ['pki/operator.key'] }),
    }),
  ])
  .default({ type: 'anonymous' })
  .describe(
    'User identity of the session: `anonymous`, `username` (with `username`, `password`) or `certificate` (X.509, with `cert`, `key`).',
  )
  .meta({ examples: [{ type: 'username', username: 'mes', password: '${OPCUA_PASSWORD}' }] });

export const opcuaConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['line1-plc'] }),
    type: z.literal('opcua'),
    endpoint: z
      .string()
      .regex(ENDPOINT_RE, { error: 'expected an endpoint URL like "opc.tcp://host:4840"' })
      .describe(
        'Endpoint URL of the OPC UA server. The hub asks it for its endpoints and picks the one with the configured security mode and policy.',
      )
      .meta({ examples: ['opc.tcp://10.0.1.20:4840'] }),
    securityMode: z
      .enum(OPCUA_SECURITY_MODES)
      .default('SignAndEncrypt')
      .describe(
        'Message security mode: None, Sign or SignAndEncrypt. With Sign and SignAndEncrypt the server certificate must be trusted explicitly (`millwright opcua trust`).',
      ),
    securityPolicy: z
      .enum(OPCUA_SECURITY_POLICIES)
      .optional()
      .describe('Security policy. Defaults to Basic256Sha256, or None when `securityMode` is None.')
      .meta({ examples: ['Aes256_Sha256_RsaPss'] }),
    auth: authSchema,
    publishingInterval: durationSchema
      .default(1000)
      .describe('Publishing interval of the subscriptions (how often changes are sent).')
      .meta({ examples: ['1s'] }),
    maxKeepAliveCount: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(10)
      .describe(
        'Publishing intervals without a change after which the server sends a keep-alive. The watchdog expects one of the two within `watchdogFactor` × this × the publishing interval.',
      ),
    lifetimeCount: z
      .number()
      .int()
      .min(3)
      .default(60)
      .describe(
        'Publishing intervals without a publish request after which the server drops a subscription (at least 3 × maxKeepAliveCount; raised to that when lower).',
      ),
    watchdogFactor: z
      .number()
      .min(1.5)
      .max(100)
      .default(3)
      .describe(
        'A subscription that sent neither a change nor a keep-alive for this many keep-alive intervals is deemed silent: it is deleted and created again (counted in health errors).',
      ),
    dateTime: z
      .enum(['iso', 'ms'])
      .default('iso')
      .describe('How DateTime values are handed to the hub: ISO 8601 text, or epoch milliseconds.'),
    sessionTimeout: durationSchema
      .default(60_000)
      .describe(
        'Requested session timeout: how long the server keeps the session while the connection is down.',
      )
      .meta({ examples: ['60s'] }),
    requestTimeout: durationSchema
      .default(10_000)
      .describe('Time allowed for one request (read, write, browse, connect).')
      .meta({ examples: ['10s'] }),
    reconnect: reconnectSchema.prefault({}),
    tags: z
      .array(tagSchema)
      .default([])
      .superRefine((tags, ctx) => {
        const seen = new Set<string>();
        tags.forEach((t, i) => {
          if (seen.has(t.name))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'name'],
              message: `duplicate tag name "${t.name}"`,
            });
          seen.add(t.name);
        });
      })
      .describe('Variables to monitor, each with the tag name that bindings match.'),
  })
  .superRefine((c, ctx) => {
    const policy = c.securityPolicy;
    if (c.securityMode === 'None' && policy !== undefined && policy !== 'None')
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: `securityMode None needs securityPolicy None (or leave it out), not ${policy}`,
      });
    if (c.securityMode !== 'None' && policy === 'None')
      ctx.addIssue({
        code: 'custom',
        path: ['securityPolicy'],
        message: `securityMode ${c.securityMode} needs a security policy other than None`,
      });
  })
  .describe(
    'An OPC UA client connection: monitors the variables of `tags` through subscriptions and writes back.',
  );

export type OpcuaConnectionInput = z.input<typeof opcuaConnectionSchema>;
