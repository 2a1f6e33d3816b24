/**
 * The TLS files a configuration names (CA, client certificate, key), read relative to the
 * configuration file's folder. A file that cannot be read is MW_ERR_TLS_CONFIG naming the
 * config field and the file. Shared by the broker connectors and the enterprise targets.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MwError } from '../errors.ts';

export interface TlsFiles {
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly rejectUnauthorized: boolean;
}

/** `where` is the config path of the owner, e.g. `connections.line-mqtt` or `targets.sap`. */
export function readTlsFiles(
  tls: TlsFiles | undefined,
  configDir: string,
  where: string,
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
        where: `${where}.tls.${what}`,
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
