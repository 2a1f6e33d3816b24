/**
 * The hub's OPC UA PKI folder: a certificate that is both trusted and (by a racing attempt)
 * rejected counts as trusted — the stale copy in rejected/ is removed, nothing else is.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { dropRejectedDuplicates } from '../../src/connectors/opcua/pki.ts';
import { tempDir } from '../helpers/hub.ts';

const pem = (bytes: string) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(bytes).toString('base64')}\n-----END CERTIFICATE-----\n`;

describe('OPC UA PKI folder', () => {
  const tmp = tempDir('mw-pki-');
  after(() => tmp.remove());

  it('removes from rejected/ what is trusted, and only that', () => {
    const trusted = path.join(tmp.dir, 'trusted', 'certs');
    const rejected = path.join(tmp.dir, 'rejected');
    mkdirSync(trusted, { recursive: true });
    mkdirSync(rejected, { recursive: true });
    writeFileSync(path.join(trusted, 'plc1.pem'), pem('plc one'));
    // The same certificate written back by an attempt that was refusing it (another name, and
    // DER instead of PEM: compared by content).
    writeFileSync(path.join(rejected, 'plc1-again.der'), Buffer.from('plc one'));
    writeFileSync(path.join(rejected, 'plc2.pem'), pem('plc two'));
    writeFileSync(path.join(rejected, 'notes.txt'), 'not a certificate');
    assert.deepEqual(dropRejectedDuplicates(tmp.dir), ['plc1-again.der']);
    assert.deepEqual(readdirSync(rejected).sort(), ['notes.txt', 'plc2.pem']);
    assert.deepEqual(readdirSync(trusted), ['plc1.pem']);
    assert.deepEqual(dropRejectedDuplicates(tmp.dir), []);
  });

  it('does nothing without a trusted folder', () => {
    const empty = tempDir('mw-pki-empty-');
    try {
      assert.deepEqual(dropRejectedDuplicates(empty.dir), []);
    } finally {
      empty.remove();
    }
  });
});
