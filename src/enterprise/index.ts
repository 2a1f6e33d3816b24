/**
 * Every enterprise target and inbound path the hub knows, listed explicitly (no registration by
 * side effect), with the config unions built from their own schemas. To write a new target,
 * copy `webhook/`: its index.ts is the smallest complete definition.
 */
import { z } from 'zod';
import { amqpInboundSchema, amqpTargetSchema } from './amqp/config.ts';
import { amqpTarget } from './amqp/index.ts';
import { amqp10TargetSchema } from './amqp10/config.ts';
import { amqp10Target } from './amqp10/index.ts';
import { dropFolderSchema } from './files/inbound.ts';
import { folderTargetSchema } from './folder/config.ts';
import { folderTarget } from './folder/index.ts';
import { odataTargetSchema } from './odata/config.ts';
import { odataTarget } from './odata/index.ts';
import { soapTargetSchema } from './soap/config.ts';
import { soapTarget } from './soap/index.ts';
import type { TargetContext, TargetInstance } from './types.ts';
import { webhookTargetSchema } from './webhook/config.ts';
import { webhookTarget } from './webhook/index.ts';

export const targetSchema = z
  .discriminatedUnion('type', [
    webhookTargetSchema,
    odataTargetSchema,
    soapTargetSchema,
    folderTargetSchema,
    amqpTargetSchema,
    amqp10TargetSchema,
  ])
  .describe('An enterprise target: where the transaction points of orders are sent (docs/erp.md).');

export type TargetConfig = z.infer<typeof targetSchema>;

export const inboundSchema = z
  .discriminatedUnion('type', [dropFolderSchema, amqpInboundSchema])
  .describe(
    'An inbound path for orders and material data besides the REST API: a drop folder or an AMQP queue (docs/erp.md).',
  );

export type InboundConfig = z.infer<typeof inboundSchema>;

/** Create the instance of one configured target. */
export function createTarget(config: TargetConfig, ctx: TargetContext): TargetInstance {
  switch (config.type) {
    case 'webhook':
      return webhookTarget.create(config, ctx);
    case 'odata':
      return odataTarget.create(config, ctx);
    case 'soap':
      return soapTarget.create(config, ctx);
    case 'folder':
      return folderTarget.create(config, ctx);
    case 'amqp':
      return amqpTarget.create(config, ctx);
    case 'amqp10':
      return amqp10Target.create(config, ctx);
  }
}
