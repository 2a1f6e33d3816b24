/**
 * Every connector the hub knows, listed explicitly in `connectorFor` (no registration by side effect).
 * To write a new one, copy `mqtt/`: its index.ts is the smallest complete definition.
 */
import type { ConnectionConfig } from '../config/schema.ts';
import type { ConnectorContext, ConnectorInstance } from '../core/connector.ts';
import { modbusConnector } from './modbus/index.ts';
import { mqttConnector } from './mqtt/index.ts';
import { opcuaConnector } from './opcua/index.ts';
import { simulatorConnector } from './simulator/index.ts';
import { sparkplugConnector } from './sparkplug/index.ts';
import { sqlConnector } from './sql/index.ts';

/** Create the connector instance for one configured connection. */
export function connectorFor(
  config: ConnectionConfig,
  ctx: Omit<ConnectorContext<ConnectionConfig>, 'config'>,
): ConnectorInstance {
  switch (config.type) {
    case 'mqtt':
      return mqttConnector.create({ ...ctx, config });
    case 'simulator':
      return simulatorConnector.create({ ...ctx, config });
    case 'opcua':
      return opcuaConnector.create({ ...ctx, config });
    case 'sql':
      return sqlConnector.create({ ...ctx, config });
    case 'modbus':
      return modbusConnector.create({ ...ctx, config });
    case 'sparkplug':
      return sparkplugConnector.create({ ...ctx, config });
  }
}
