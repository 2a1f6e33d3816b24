/** Throwaway TLS material for tests, made with the openssl CLI in a temp folder (never committed). */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const openssl = (...args: string[]): void => {
  execFileSync('openssl', args, { stdio: 'pipe' });
};

/**
 * A self-signed P-256 certificate for 127.0.0.1, valid one day: `<name>.crt` and `<name>.key`
 * in `dir`. Returns the two paths.
 */
export function makeCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'],
    ...['-keyout', key, '-out', cert],
  );
  return { cert, key };
}

/** A P-256 private key that belongs to no certificate. */
export function makeKey(file: string): void {
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', file);
}

/** A throwaway certificate authority: `<name>.crt` and `<name>.key` in `dir`. */
export function makeCa(dir: string, name = 'ca'): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  openssl(
    ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
    ...['-subj', `/CN=${name}`, '-days', '1', '-keyout', key, '-out', cert],
  );
  return { cert, key };
}

/** A certificate for 127.0.0.1 signed by `ca` (server or client use). */
export function makeSigned(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
): { cert: string; key: string } {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', key);
  openssl('req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    ...['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial'],
    ...['-days', '1', '-extfile', ext, '-out', cert],
  );
  return { cert, key };
}
