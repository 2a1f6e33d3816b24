/**
 * Transport security of the HTTP API (issue #3): HTTPS from `http.tls` with HSTS, a clear
 * MW_ERR_TLS_CONFIG for a bad certificate or key, CORS closed unless `http.corsOrigins` lists the
 * origin, and a CSP on API responses. Certificates are made with the openssl CLI in a temp folder
 * at test time and removed after.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMwError } from '../../src/errors.ts';
import { readTlsFiles } from '../../src/server/tls.ts';
import { PLANT_YAML, startTestHub, tempDir, testConfig, type TestHub } from '../helpers/hub.ts';
import { makeCertificate, makeKey } from '../helpers/tls.ts';

/** A throwaway self-signed P-256 certificate for 127.0.0.1, plus a key that does not match it. */
function makeCertificates(dir: string): void {
  mkdirSync(path.join(dir, 'tls'), { recursive: true });
  makeCertificate(path.join(dir, 'tls'), 'hub');
  makeKey(path.join(dir, 'tls/other.key'));
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** One request on its own connection (no keep-alive handle left behind). */
function request(
  url: string,
  options: { method?: string; headers?: Record<string, string>; ca?: Buffer } = {},
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const done = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    };
    const common = { method: options.method ?? 'GET', headers: options.headers, agent: false };
    const req =
      u.protocol === 'https:'
        ? https.request(u, { ...common, ca: options.ca }, done)
        : http.request(u, common, done);
    req.on('error', reject);
    req.end();
  });
}

const corsHeaders = (headers: http.IncomingHttpHeaders): string[] =>
  Object.keys(headers).filter((h) => h.startsWith('access-control-'));

const API_CSP = "default-src 'none'; frame-ancestors 'none'";

describe('HTTPS from http.tls', () => {
  const tmp = tempDir('mw-https-');
  let hub: TestHub;
  let ca: Buffer;

  before(async () => {
    makeCertificates(tmp.dir);
    ca = readFileSync(path.join(tmp.dir, 'tls/hub.crt'));
    const config = testConfig(`${PLANT_YAML}
http:
  tls: { cert: tls/hub.crt, key: tls/hub.key }
`);
    // The data dir is the base dir: the relative paths above resolve against it.
    hub = await startTestHub(config, { dataDir: tmp.dir });
  });
  after(async () => {
    await hub?.dispose();
    tmp.remove();
  });

  it('serves the API over https with HSTS and an API CSP', async () => {
    assert.match(hub.url ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await request(`${hub.url}/api/v1/health`, { ca });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
    assert.equal(res.headers['content-security-policy'], API_CSP);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  });

  it('keeps the UI page its own CSP', async () => {
    const res = await request(`${hub.url}/`, { ca });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-security-policy']), /^default-src 'self'/);
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000');
  });

  it('is not reachable with plain http or by a client that does not trust the certificate', async () => {
    await assert.rejects(request(`${hub.url}/api/v1/health`), /self[- ]signed/i);
    const plain = (hub.url ?? '').replace(/^https:/, 'http:');
    // Node's TLS server drops a plain HTTP request: a socket error or a 400, never the API.
    const answer = await request(`${plain}/api/v1/health`).catch((err: Error) => err);
    if (!(answer instanceof Error)) assert.notEqual(answer.status, 200);
  });

  it('sends no CORS headers to another origin by default (closed)', async () => {
    const evil = 'https://evil.example';
    const get = await request(`${hub.url}/api/v1/health`, { ca, headers: { origin: evil } });
    assert.equal(get.status, 200);
    assert.deepEqual(corsHeaders(get.headers), []);
    const preflight = await request(`${hub.url}/api/v1/health`, {
      ca,
      method: 'OPTIONS',
      headers: { origin: evil, 'access-control-request-method': 'POST' },
    });
    assert.ok(preflight.status >= 400, `preflight answered ${preflight.status}`);
    assert.deepEqual(corsHeaders(preflight.headers), []);
  });
});

describe('a bad http.tls is MW_ERR_TLS_CONFIG naming the file', () => {
  const tmp = tempDir('mw-https-bad-');
  before(() => makeCertificates(tmp.dir));
  after(() => tmp.remove());

  const expectTlsError = (pattern: RegExp) => (err: unknown) => {
    assert.ok(isMwError(err), String(err));
    assert.equal(err.code, 'MW_ERR_TLS_CONFIG');
    assert.match(err.message, pattern);
    return true;
  };

  it('refuses to start the hub with a key of another certificate', async () => {
    const config = testConfig(`${PLANT_YAML}
http:
  tls: { cert: tls/hub.crt, key: tls/other.key }
`);
    const keyFile = path.join(tmp.dir, 'tls/other.key');
    await assert.rejects(
      startTestHub(config, { dataDir: tmp.dir }),
      expectTlsError(
        new RegExp(
          `^http\\.tls\\.key: cannot use TLS key ${keyFile.replace(/[.\\/]/g, '\\$&')}: the key does not belong to the certificate`,
        ),
      ),
    );
  });

  it('names a missing file and the OS reason', () => {
    const missing = path.join(tmp.dir, 'tls/nope.crt');
    assert.throws(
      () => readTlsFiles('http.tls', { cert: 'tls/nope.crt', key: 'tls/hub.key' }, tmp.dir),
      expectTlsError(/^http\.tls\.cert: cannot use TLS certificate .*: ENOENT: no such file/),
    );
    assert.throws(
      () => readTlsFiles('broker.tls', { cert: missing, key: 'tls/hub.key' }, tmp.dir),
      (err: unknown) => isMwError(err) && err.message.includes(missing),
    );
  });

  it('says when the certificate file is not a certificate', () => {
    assert.throws(
      () => readTlsFiles('http.tls', { cert: 'tls/hub.key', key: 'tls/hub.key' }, tmp.dir),
      expectTlsError(
        /^http\.tls\.cert: cannot use TLS certificate .*hub\.key: not a PEM certificate/,
      ),
    );
  });
});

describe('CORS with http.corsOrigins', () => {
  const allowed = 'https://mes.example.com';
  let hub: TestHub;
  before(async () => {
    hub = await startTestHub(
      testConfig(`${PLANT_YAML}
http:
  corsOrigins: ['${allowed}/']
`),
    );
  });
  after(() => hub?.dispose());

  it('answers a preflight from a listed origin', async () => {
    const res = await request(`${hub.url}/api/v1/health`, {
      method: 'OPTIONS',
      headers: {
        origin: allowed,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], allowed);
    assert.equal(res.headers['access-control-allow-credentials'], 'true');
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, PATCH, DELETE');
    assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type');
    assert.match(res.headers.vary ?? '', /\borigin\b/i);
  });

  it('echoes a listed origin on a request, with vary: origin and no HSTS over http', async () => {
    const res = await request(`${hub.url}/api/v1/health`, { headers: { origin: allowed } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], allowed);
    assert.match(res.headers.vary ?? '', /\borigin\b/i);
    assert.equal(res.headers['strict-transport-security'], undefined);
    assert.equal(res.headers['content-security-policy'], API_CSP);
  });

  it('gives an origin that is not listed nothing', async () => {
    const evil = 'https://evil.example';
    const get = await request(`${hub.url}/api/v1/health`, { headers: { origin: evil } });
    assert.deepEqual(corsHeaders(get.headers), []);
    const preflight = await request(`${hub.url}/api/v1/health`, {
      method: 'OPTIONS',
      headers: { origin: evil, 'access-control-request-method': 'DELETE' },
    });
    assert.ok(preflight.status >= 400, `preflight answered ${preflight.status}`);
    assert.deepEqual(corsHeaders(preflight.headers), []);
  });
});
