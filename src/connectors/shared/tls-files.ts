/**
 * Helpers shared by connectors (not a connector: connectors import this, never each other).
 * The TLS files of a broker connection (`mqttBrokerFields.tls`: CA, client certificate, key),
 * read relative to the configuration file; a file that cannot be read is MW_ERR_TLS_CONFIG
 * naming the connection field and the file.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MwError } from '../../errors.ts';

export interface BrokerTls {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly rejectUnauthorized: boolean;
}

export function brokerTlsOptions(
  tls: BrokerTls | undefined,
  configDir: string,
  connectionId: string,
): { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized?: boolean } {
  if (tls === undefined) return {};
  const read = (what: 'ca' | 'cert' | 'key'): Buffer | undefined => {
    const file = tls[what];
    if (file === undefined) return undefined;
    const full = path.resolve(configDir, file);
    try {
      return readFileSync(full);
    } catch (err) {
      throw new MwError('MW_ERR_TLS_CONFIG', {
        where: `connections.${connectionId}.tls.${what}`,
        what,
        file: full,
        reason: (err as Error).message,
      });
    }
  };
  const ca = read('ca');
  const cert = read('cert');
  const key = read('key');
  return {
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    rejectUnauthorized: tls.rejectUnauthorized,
  };
}
