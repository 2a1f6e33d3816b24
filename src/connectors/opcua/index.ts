/**
 * OPC UA client connector (STYLE.md rule 1): monitored items in subscriptions, endpoint
 * discovery, SignAndEncrypt with explicitly trusted server certificates, writes.
 *
 * node-opcua takes seconds to load, so the connection itself (connector.ts) is loaded when the
 * first OPC UA connection starts: a hub, or a command, without one does not pay for it.
 */
import type { OpcuaConnectionConfig } from '../../config/schema.ts';
import type {
  ConnectionTestResult,
  ConnectorContext,
  ConnectorDefinition,
  ConnectorHealth,
  ConnectorInstance,
  ConnectorMetric,
} from '../../core/connector.ts';
import type { TagValue } from '../../model/index.ts';
import { opcuaConnectionSchema } from './config.ts';
import type { OpcuaConnector } from './connector.ts';

class LazyOpcuaConnector implements ConnectorInstance {
  readonly type = 'opcua';
  private instance: OpcuaConnector | null = null;

  constructor(private readonly ctx: ConnectorContext<OpcuaConnectionConfig>) {}

  get id(): string {
    return this.ctx.config.id;
  }

  private async loaded(): Promise<OpcuaConnector> {
    if (this.instance === null) {
      const { OpcuaConnector } = await import('./connector.ts');
      this.instance = new OpcuaConnector(this.ctx);
    }
    return this.instance;
  }

  async start(): Promise<void> {
    await (await this.loaded()).start();
  }

  async stop(): Promise<void> {
    await this.instance?.stop();
  }

  health(): ConnectorHealth {
    return (
      this.instance?.health() ?? {
        status: 'stopped',
        detail: null,
        lastDataTs: null,
        reconnects: 0,
        errors: 0,
      }
    );
  }

  async connectionTest(): Promise<ConnectionTestResult> {
    return (await this.loaded()).connectionTest();
  }

  async write(tag: string, value: TagValue): Promise<void> {
    return (await this.loaded()).write(tag, value);
  }

  metrics(): readonly ConnectorMetric[] {
    return this.instance?.metrics() ?? [];
  }
}

export const opcuaConnector: ConnectorDefinition<OpcuaConnectionConfig> = {
  type: 'opcua',
  summary:
    'OPC UA client: subscriptions with monitored items, SignAndEncrypt with trusted server certificates, writes.',
  configSchema: opcuaConnectionSchema,
  create: (ctx) => new LazyOpcuaConnector(ctx),
};
