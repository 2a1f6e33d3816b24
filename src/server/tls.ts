/**
 * Reading a TLS certificate and its private key for a listener (`http.tls`, `broker.tls`).
 *
 * Everything is checked at start, so a bad file is one clear error naming the setting and the
 * file instead of a handshake failure seen only by the first client: the files are readable, the
 * certificate parses, the key parses (an encrypted key is refused: the hub has no passphrase to
 * give it), and the key belongs to the certificate.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TlsConfig } from '../config/schema.ts';
import { MwError } from '../errors.ts';

export interface TlsFiles {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * Read and check the PEM certificate (chain) and private key that `tls` names, resolved against
 * `baseDir` (the config file's folder). `where` is the YAML path of the setting, e.g. `http.tls`.
 * Throws MW_ERR_TLS_CONFIG naming the file and the reason.
 */
export function readTlsFiles(where: string, tls: TlsConfig, baseDir: string): TlsFiles {
  const certFile = path.resolve(baseDir, tls.cert);
  const keyFile = path.resolve(baseDir, tls.key);
  const fail = (what: 'certificate' | 'key', reason: string, cause?: unknown): MwError => {
    const field = `${where}.${what === 'certificate' ? 'cert' : 'key'}`;
    const file = what === 'certificate' ? certFile : keyFile;
    return new MwError(
      'MW_ERR_TLS_CONFIG',
      { where: field, what, file, reason },
      { path: field, cause },
    );
  };
  const read = (what: 'certificate' | 'key', file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw fail(what, osReason(err), err);
    }
  };

  const cert = read('certificate', certFile);
  const key = read('key', keyFile);
  let certificate: X509Certificate;
  try {
    // The first certificate of a chain file is the one the key must match.
    certificate = new X509Certificate(cert);
  } catch (err) {
    throw fail('certificate', `not a PEM certificate (${(err as Error).message})`, err);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw fail('key', `not an unencrypted PEM private key (${(err as Error).message})`, err);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw fail(
      'key',
      `the key does not belong to the certificate ${certFile} (subject ${certificate.subject.replace(/\n/g, ', ')})`,
    );
  }
  return { cert, key };
}

/** "ENOENT: no such file or directory" from a fs error, without the repeated path. */
function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = (e.message ?? String(err)).split(', ')[0] ?? '';
  return e.code !== undefined && !text.startsWith(e.code) ? `${e.code}: ${text}` : text;
}
