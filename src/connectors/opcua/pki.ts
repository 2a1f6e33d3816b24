/**
 * The hub's OPC UA PKI under `<dataDir>/pki/opcua` (node-opcua's layout: own/, trusted/,
 * rejected/, issuers/): the application certificate is created there on first use, and server
 * certificates are trusted explicitly — an unknown one lands in `rejected/` and is refused.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { OPCUACertificateManager } from 'node-opcua';
import { MwError } from '../../errors.ts';

export const OPCUA_APPLICATION_NAME = 'Millwright';

/** The PKI folder of the hub's OPC UA client. */
export function opcuaPkiDir(dataDir: string): string {
  return path.join(dataDir, 'pki', 'opcua');
}

/**
 * The certificate manager of the PKI folder. No file watchers (they leave handles open): the
 * trust lists are read again with `reloadCertificates()` before each new connection.
 */
export async function openCertificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  const manager = new OPCUACertificateManager({
    rootFolder: pkiDir,
    automaticallyAcceptUnknownCertificate: false,
    name: 'millwright',
    disableFileWatchers: true,
  });
  await manager.initialize();
  return manager;
}

function pemToDer(text: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text);
  if (m === null) throw new Error('no PEM certificate in the file');
  return Buffer.from((m[1] as string).replace(/\s+/g, ''), 'base64');
}

/** Read a certificate file, PEM or DER. */
export function readCertificate(file: string): Buffer {
  const raw = readFileSync(file);
  return raw.subarray(0, 20).toString('latin1').includes('-----BEGIN')
    ? pemToDer(raw.toString('latin1'))
    : raw;
}

/** Files waiting in the `rejected` folder. */
export function rejectedFiles(pkiDir: string): string[] {
  const dir = path.join(pkiDir, 'rejected');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(pem|der)$/i.test(f))
    .map((f) => path.join(dir, f));
}

/**
 * Remove from `rejected/` every certificate that is also trusted, and return their file names.
 * node-opcua lets a rejection win over a trust, and a connection attempt racing an operator's
 * `opcua trust` (the hub retries every few seconds) can write the certificate back into
 * `rejected/` just after it was moved out: without this the trust would be silently undone.
 * An explicit trust is the newer decision, so it wins.
 */
export function dropRejectedDuplicates(pkiDir: string): string[] {
  const trustedDir = path.join(pkiDir, 'trusted', 'certs');
  if (!existsSync(trustedDir)) return [];
  const der = (file: string): string | null => {
    try {
      return readCertificate(file).toString('base64');
    } catch {
      return null; // not a certificate: not ours to judge
    }
  };
  const trusted = new Set(
    readdirSync(trustedDir)
      .filter((f) => /\.(pem|der)$/i.test(f))
      .map((f) => der(path.join(trustedDir, f))),
  );
  const dropped: string[] = [];
  for (const file of rejectedFiles(pkiDir)) {
    const d = der(file);
    if (d !== null && trusted.has(d)) {
      rmSync(file, { force: true });
      dropped.push(path.basename(file));
    }
  }
  return dropped;
}

/**
 * A certificate file read whole. node-opcua writes a refused certificate into `rejected/`
 * without a rename, at each connection attempt, so a read that meets the rewrite sees an empty
 * file: read again for up to 2 s before calling it empty.
 */
async function readWholeCertificate(file: string): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    let der: Buffer;
    try {
      der = readCertificate(file);
    } catch (err) {
      throw new MwError('MW_ERR_OPCUA_TRUST', {
        reason: `cannot read ${file}: ${(err as Error).message}`,
      });
    }
    if (der.length > 0) return der;
    if (attempt >= 20)
      throw new MwError('MW_ERR_OPCUA_TRUST', { reason: `${file} is empty (not a certificate)` });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Trust server certificates: the given file(s), or every file of the `rejected` folder. A file
 * outside the PKI (a certificate handed over by the server's admin) is trusted the same way.
 * Returns the names of the files trusted.
 */
export async function trustCertificates(
  pkiDir: string,
  which: { allRejected: true } | { file: string },
): Promise<string[]> {
  const files = 'allRejected' in which ? rejectedFiles(pkiDir) : [path.resolve(which.file)];
  if (files.length === 0)
    throw new MwError('MW_ERR_OPCUA_TRUST', {
      reason: `no certificate in ${path.join(pkiDir, 'rejected')}`,
    });
  const manager = await openCertificateManager(pkiDir);
  try {
    for (const file of files) {
      const der = await readWholeCertificate(file);
      // Moves it from rejected/ to trusted/certs when it was rejected.
      await manager.trustCertificate(der);
    }
  } finally {
    await manager.dispose();
  }
  dropRejectedDuplicates(pkiDir);
  return files.map((f) => path.basename(f));
}
