/**
 * Transport security of the embedded broker (issue #3): mqtts from `broker.tls`, logins through
 * the `authenticate` callback when `authentication: hub` (refused with a CONNACK return code,
 * fail closed without a callback), and the rule that off loopback the broker needs both, checked
 * by `check-config` and again when the broker starts. Certificates are made with the openssl CLI
 * in a temp folder at test time and removed after.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { isLoopbackHost } from '../../src/config/cross-references.ts';
import { parseConfig } from '../../src/config/load.ts';
import { EmbeddedBroker } from '../../src/connectors/mqtt/embedded-broker.ts';
import { isMwError, type MwError } from '../../src/errors.ts';
import { readTlsFiles, type TlsFiles } from '../../src/server/tls.ts';
import { PLANT_YAML, tempDir } from '../helpers/hub.ts';
import { makeCertificate } from '../helpers/tls.ts';

const logger = pino({ level: 'silent' });

/** A throwaway self-signed P-256 certificate for 127.0.0.1, read as the broker would. */
function makeBrokerCertificate(dir: string): TlsFiles {
  makeCertificate(dir, 'broker');
  return readTlsFiles('broker.tls', { cert: 'broker.crt', key: 'broker.key' }, dir);
}

/** Connect once (no reconnects); resolves with the client, or with the CONNACK refusal. */
function connect(
  url: string,
  options: IClientOptions,
): Promise<{ client: mqtt.MqttClient; refusal: (Error & { code?: number }) | null }> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  return new Promise((resolve) => {
    client.once('connect', () => resolve({ client, refusal: null }));
    client.once('error', (err) => resolve({ client, refusal: err as Error & { code?: number } }));
  });
}

describe('embedded broker over mqtts with authentication: hub', () => {
  const tmp = tempDir('mw-broker-tls-');
  const logins: { username: string; password: string; clientAddress: string }[] = [];
  const received: { topic: string; payload: string }[] = [];
  let files: TlsFiles;
  let broker: EmbeddedBroker;

  before(async () => {
    files = makeBrokerCertificate(tmp.dir);
    broker = await EmbeddedBroker.start({
      host: '127.0.0.1',
      port: 0,
      logger,
      tls: files,
      authentication: 'hub',
      authenticate: async (username, password, clientAddress) => {
        logins.push({ username, password, clientAddress });
        return username === 'line-gateway' && password === 'correct horse';
      },
    });
    broker.addListener(['plant/#'], async (topic, payload) => {
      received.push({ topic, payload: payload.toString('utf8') });
    });
  });
  after(async () => {
    await broker?.close();
    tmp.remove();
  });

  it('has an mqtts URL', () => {
    assert.equal(broker.url, `mqtts://127.0.0.1:${broker.port}`);
  });

  it('refuses a wrong password with CONNACK 4 (bad user name or password)', async () => {
    const { client, refusal } = await connect(broker.url, {
      ca: files.cert,
      username: 'line-gateway',
      password: 'wrong',
    });
    try {
      assert.ok(refusal !== null, 'connected with a wrong password');
      assert.equal(refusal.code, 4, refusal.message);
      assert.equal(logins.at(-1)?.password, 'wrong');
    } finally {
      await client.endAsync(true);
    }
  });

  it('refuses a client without credentials with CONNACK 5 (not authorized), without asking the callback', async () => {
    const before = logins.length;
    const { client, refusal } = await connect(broker.url, { ca: files.cert });
    try {
      assert.ok(refusal !== null, 'connected without credentials');
      assert.equal(refusal.code, 5, refusal.message);
      assert.equal(logins.length, before);
    } finally {
      await client.endAsync(true);
    }
  });

  it('lets the right login publish QoS 1 into the in-process listener', async () => {
    const { client, refusal } = await connect(broker.url, {
      ca: files.cert,
      username: 'line-gateway',
      password: 'correct horse',
    });
    try {
      assert.equal(refusal, null);
      assert.match(logins.at(-1)?.clientAddress ?? '', /^(::ffff:)?127\.0\.0\.1$/);
      // The PUBACK comes after the listener's promise: received is already filled.
      await client.publishAsync('plant/line1/filler/state', '{"v":1}', { qos: 1 });
      assert.deepEqual(received.at(-1), { topic: 'plant/line1/filler/state', payload: '{"v":1}' });
    } finally {
      await client.endAsync();
    }
  });

  it('does not speak plain MQTT on the TLS port', async () => {
    const plain = broker.url.replace(/^mqtts:/, 'mqtt:');
    const client = mqtt.connect(plain, {
      reconnectPeriod: 0,
      username: 'line-gateway',
      password: 'correct horse',
    });
    // The TLS server drops the plain CONNECT: an error or a close, never a CONNACK.
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', () => resolve('error'));
      client.once('close', () => resolve('closed'));
    });
    await client.endAsync(true);
    assert.notEqual(outcome, 'connected');
  });
});

describe('embedded broker with authentication: hub and no authenticate callback', () => {
  it('refuses everyone (fail closed)', async () => {
    const broker = await EmbeddedBroker.start({
      host: '127.0.0.1',
      port: 0,
      logger,
      authentication: 'hub',
    });
    try {
      const { client, refusal } = await connect(broker.url, { username: 'admin', password: 'x' });
      await client.endAsync(true);
      assert.equal(refusal?.code, 5, refusal?.message);
    } finally {
      await broker.close();
    }
  });
});

describe('embedded broker off loopback', () => {
  const RULE =
    /listening on 0\.0\.0\.0 \(not loopback\) needs broker\.tls and broker\.authentication: hub/;
  const refusedAtStart = (err: unknown) => {
    assert.ok(isMwError(err), String(err));
    assert.equal(err.code, 'MW_ERR_BROKER_EXPOSED');
    assert.equal(err.path, 'broker.host');
    assert.match(err.message, new RegExp(`^embedded MQTT broker: ${RULE.source}`));
    return true;
  };
  const tmp = tempDir('mw-broker-exposed-');
  let files: TlsFiles;
  before(() => {
    files = makeBrokerCertificate(tmp.dir);
  });
  after(() => tmp.remove());

  it('refuses to start without tls and authentication: hub', async () => {
    await assert.rejects(
      EmbeddedBroker.start({ host: '0.0.0.0', port: 0, logger }),
      refusedAtStart,
    );
    await assert.rejects(
      EmbeddedBroker.start({ host: '0.0.0.0', port: 0, logger, tls: files }),
      refusedAtStart,
    );
    await assert.rejects(
      EmbeddedBroker.start({ host: '0.0.0.0', port: 0, logger, authentication: 'hub' }),
      refusedAtStart,
    );
  });

  it('knows the loopback addresses', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', 'LOCALHOST', '::1', '[::1]'])
      assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['0.0.0.0', '::', '10.1.2.3', '128.0.0.1', 'mes.example.com', ''])
      assert.equal(isLoopbackHost(h), false, h);
  });

  const problems = (broker: string): string[] => {
    try {
      parseConfig(`${PLANT_YAML}\nbroker:\n${broker}`, 'plant.yaml', {});
    } catch (err) {
      assert.ok(isMwError(err), String(err));
      return [...(err as MwError).details];
    }
    return [];
  };

  it('is reported by the configuration check with its line', () => {
    const onlyTls = '  host: 0.0.0.0\n  tls: { cert: tls/hub.crt, key: tls/hub.key }\n';
    const [problem, ...rest] = problems(onlyTls);
    assert.deepEqual(rest, []);
    assert.match(problem ?? '', /^broker\.host \(line 13, col 9\): /);
    assert.match(problem ?? '', RULE);
    assert.deepEqual(problems(`${onlyTls}  authentication: hub\n`), []);
    assert.deepEqual(problems('  host: 127.0.0.1\n'), []);
  });

  it('makes millwright check-config fail, naming the rule', () => {
    const file = path.join(tmp.dir, 'exposed.yaml');
    writeFileSync(file, `${PLANT_YAML}\nbroker:\n  host: 0.0.0.0\n`);
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.resolve('src/cli/bin.ts'), 'check-config', '-c', file],
      { encoding: 'utf8' },
    );
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /exposed\.yaml: 1 error\(s\)/);
    assert.match(result.stderr, new RegExp(`broker\\.host \\(line 13, col 9\\): ${RULE.source}`));
  });
});
