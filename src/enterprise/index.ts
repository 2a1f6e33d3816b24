/**
 * Every enterprise target and inbound path the hub knows, listed explicitly (no registration by
 * side effect), with the config unions built from their own schemas. To write a new target,
 * copy `webhook/`: its index.ts is the smallest complete definition.
 */
import { amqpTarget } from './amqp/index.ts';
import { amqp10Target } from './amqp10/index.ts';
import { folderTarget } from './folder/index.ts';
import { odataTarget } from './odata/index.ts';
import { soapTarget } from './soap/index.ts';
import type { TargetConfig } from './config.ts';
import type { TargetContext, TargetInstance } from './types.ts';
import { webhookTarget } from './webhook/index.ts';

export { inboundSchema, targetSchema, type InboundConfig, type TargetConfig } from './config.ts';

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
