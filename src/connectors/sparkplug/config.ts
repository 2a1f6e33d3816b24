/**
 * Configuration of a Sparkplug B host application connection (validated at startup; documented
 * in docs/configuration.md). Broker fields are those of an MQTT connection (`mqttBrokerFields`):
 * one field name for one idea.
 */
import { z } from 'zod';
import {
  durationSchema,
  idSchema,
  mqttBrokerFields as broker,
  reconnectSchema,
} from '../../config/common.ts';

/**
 * A Sparkplug id (group, edge node, device, host): a UTF-8 string of characters MQTT allows in a
 * topic level, without `+`, `/` or `#`.
 * Sparkplug B 3.0 [tck-id-topic-structure-namespace-valid-group-id] [tck-id-intro-group-id-chars]
 */
export const sparkplugIdSchema = z
  .string()
  .min(1)
  .regex(/^[^+/#]+$/, { error: 'expected a Sparkplug id (no "+", "/", "#")' });

export const sparkplugConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['plant-sparkplug'] }),
    type: z.literal('sparkplug'),
    url: broker.url
      .describe(
        "URL of the MQTT broker (MQTT server) the edge nodes publish to. Leave it out to use the hub's embedded broker, which runs when an `mqtt` connection has no `url`.",
      )
      .meta({ examples: ['mqtt://127.0.0.1:1883'] }),
    username: broker.username,
    password: broker.password,
    clientId: z
      .string()
      .optional()
      .describe(
        'MQTT client id; defaults to "millwright-<connection id>". The session is clean (Sparkplug requires it), so it only names the client in the broker\'s logs.',
      ),
    tls: broker.tls,
    protocolVersion: z
      .literal([4, 5])
      .optional()
      .describe(
        'MQTT protocol version: 4 is MQTT 3.1.1, 5 is MQTT 5. Unset: 5 on an external broker, 4 on the embedded one (it speaks 3.1.1).',
      ),
    hostId: sparkplugIdSchema
      .optional()
      .describe(
        'The sparkplug_host_id: the host publishes its STATE on `spBv1.0/STATE/<hostId>`. Unique among all hosts on the broker; edge nodes that name this host as their primary host wait for it to be online. Defaults to "millwright-<connection id>".',
      )
      .meta({ examples: ['millwright-plant1'] }),
    groupIds: z
      .array(sparkplugIdSchema)
      .default([])
      .describe(
        'Sparkplug groups to subscribe to (`spBv1.0/<group>/#` each). Empty: every group (`spBv1.0/#`).',
      )
      .meta({ examples: [['packaging', 'utilities']] }),
    rebirthMinInterval: durationSchema
      .default(5000)
      .describe(
        'Least time between two rebirth requests (NCMD `Node Control/Rebirth`) to the same edge node, so a node that keeps skipping sequence numbers is not flooded.',
      )
      .meta({ examples: ['5s'] }),
    reorderTimeout: durationSchema
      .default(0)
      .describe(
        'Sparkplug Reorder Timeout: a message that arrives after a sequence gap is held this long for the missing one(s) before the gap counts (tags stale, rebirth requested). 0: no waiting. Set it (e.g. `2s`) when messages can arrive out of order: bridged or clustered brokers, shared subscriptions.',
      )
      .meta({ examples: ['2s'] }),
    reconnect: reconnectSchema.prefault({}),
  })
  .describe(
    'A Sparkplug B 3.0 host application: follows the births, data and deaths of edge nodes and devices on an MQTT broker and turns every metric into a tag `<group>/<edge node>[/<device>]/<metric>`.',
  );
