/**
 * Helpers shared by connectors (not a connector: connectors import this, never each other).
 * The TLS files of a broker connection (`mqttBrokerFields.tls`: CA, client certificate, key),
 * read relative to the configuration file (config/tls-files.ts).
 */
import { readTlsFiles, type TlsFiles } from '../../config/tls-files.ts';

export type BrokerTls = TlsFiles;

export function brokerTlsOptions(
  tls: BrokerTls | undefined,
  configDir: string,
  connectionId: string,
): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  return readTlsFiles(tls, configDir, `connections.${connectionId}`);
}
