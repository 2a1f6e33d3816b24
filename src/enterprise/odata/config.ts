/** Config of the `odata` target: messages created as entities of an OData v4 service. */
import { z } from 'zod';
import { ENTITY_MESSAGE_TYPES, targetFields } from '../target-config.ts';
import { HTTP_URL_RE, httpFields } from '../shared/http.ts';

/**
 * The entity set each message type is created in when `entitySet` is not given. The status
 * changes (order.started, order.closed, order.cancelled) have none: OData services model them
 * as bound actions rather than entities, so they are skipped until configured. The quality
 * messages (lot.held, lot.released, inspection.recorded) have none either: a QMS service names
 * its own entity sets, and the configuration check refuses a target that lists one of them
 * without its entity set (config/cross-references.ts).
 */
export const DEFAULT_ENTITY_SETS = {
  'operation.confirmed': 'ProductionOrderConfirmations',
  'goods.receipt': 'GoodsMovements',
  'goods.issue': 'GoodsMovements',
  'order.completed': 'ProductionOrderCompletions',
} as const;

export const odataTargetSchema = z
  .strictObject({
    ...targetFields,
    type: z.literal('odata'),
    serviceUrl: z
      .string()
      .regex(HTTP_URL_RE, { error: 'expected an http:// or https:// URL' })
      .describe('Root URL of the OData v4 service (its service document).')
      .meta({
        examples: [
          'https://erp.example.com/sap/opu/odata4/sap/zmes_confirmation/srvd/sap/zmes/0001/',
        ],
      }),
    entitySet: z
      .partialRecord(
        z.enum(ENTITY_MESSAGE_TYPES),
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an entity set name' }),
      )
      .default({ ...DEFAULT_ENTITY_SETS })
      .describe(
        'Entity set each message type is POSTed to (docs/erp.md lists the properties). A type not in the map is not sent (it counts as delivered); giving the map replaces the default one. A quality message (`lot.held`, `lot.released`, `inspection.recorded`) listed in `messages` needs its entry.',
      )
      .meta({
        examples: [{ 'operation.confirmed': 'ProdnOrdConf2', 'goods.receipt': 'GoodsMovements' }],
      }),
    csrf: z
      .boolean()
      .default(true)
      .describe(
        'Fetch an `x-csrf-token` (GET of the service root with `x-csrf-token: Fetch`) and send it, with the session cookies, on every change, as SAP Gateway requires.',
      ),
    batch: z
      .boolean()
      .default(false)
      .describe(
        'Send the messages of one delivery (a batch) in one `$batch` request (OData 4.01 JSON batch) instead of one request each.',
      ),
    ...httpFields,
  })
  .describe('Messages created as entities of an OData v4 service (e.g. SAP Gateway).');

export type ODataTargetConfig = z.infer<typeof odataTargetSchema>;
