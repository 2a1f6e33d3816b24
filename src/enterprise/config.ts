/**
 * The config unions of the enterprise targets and inbound paths, built from each one's own
 * schema. Kept apart from index.ts (which creates the instances) so config/schema.ts imports
 * schemas only, not the targets' code.
 */
import { z } from 'zod';
import { amqpInboundSchema, amqpTargetSchema } from './amqp/config.ts';
import { amqp10TargetSchema } from './amqp10/config.ts';
import { dropFolderSchema } from './files/inbound.ts';
import { folderTargetSchema } from './folder/config.ts';
import { odataTargetSchema } from './odata/config.ts';
import { soapTargetSchema } from './soap/config.ts';
import { webhookTargetSchema } from './webhook/config.ts';

export const targetSchema = z
  .discriminatedUnion('type', [
    webhookTargetSchema,
    odataTargetSchema,
    soapTargetSchema,
    folderTargetSchema,
    amqpTargetSchema,
    amqp10TargetSchema,
  ])
  .describe(
    'An enterprise target: where the transaction points of orders (docs/erp.md) and, when it lists `kpi.shift`, each shift’s KPIs (docs/kpi.md) are sent.',
  );

export type TargetConfig = z.infer<typeof targetSchema>;

export const inboundSchema = z
  .discriminatedUnion('type', [dropFolderSchema, amqpInboundSchema])
  .describe(
    'An inbound path for orders and material data besides the REST API: a drop folder or an AMQP queue (docs/erp.md).',
  );

export type InboundConfig = z.infer<typeof inboundSchema>;
