/** `millwright tags` against a running hub: one listing, and --watch redrawing as values change. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import {
  adminHeaders,
  call,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';
import { exited } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';
import { runCli as run } from '../helpers/cli.ts';

const BIN = path.resolve('src/cli/bin.ts');

const YAML = `${PLANT_YAML}
connections: [{ id: line-mqtt, type: mqtt }]
bindings:
  - { connection: line-mqtt, topic: 't/{site}/{area}/{line}/{unit}/good', meaning: counter.good }
`;

describe('millwright tags', () => {
  let hub: TestHub;
  let device: MqttClient;
  let token: string;

  before(async () => {
    hub = await startTestHub(testConfig(YAML));
    const admin = await adminHeaders(hub);
    const created = await call(hub, 'POST', '/api/v1/tokens', {
      headers: admin,
      body: { name: 'tags cli', permissions: ['connections.read'] },
    });
    token = created.body.token as string;
    device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await device.publishAsync('t/plant1/packaging/line1/filler/good', '41', { qos: 1 });
  });
  after(async () => {
    await device?.endAsync();
    await hub?.dispose();
  });

  it('lists every tag with value, quality and age', async () => {
    const r = await run(['tags', '--url', hub.url!], { MILLWRIGHT_TOKEN: token });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^CONNECTION +TAG +VALUE +QUALITY +AGE$/m);
    assert.match(
      r.stdout,
      /^line-mqtt +t\/plant1\/packaging\/line1\/filler\/good +41 +good +[\d.]+ s ago$/m,
    );
    assert.match(r.stdout, /^1 tag\(s\)$/m);
  });

  it('refuses without a token, naming what to set', async () => {
    const r = await run(['tags', '--url', hub.url!], { MILLWRIGHT_TOKEN: '' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /set MILLWRIGHT_TOKEN/);
  });

  it('--watch redraws with new values', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', BIN, 'tags', '--url', hub.url!, '--watch', '--interval', '0.2'],
      { env: { ...process.env, MILLWRIGHT_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor(() => out.includes('---'), { what: 'a first screen', timeoutMs: 15_000 });
      await device.publishAsync('t/plant1/packaging/line1/filler/good', '42', { qos: 1 });
      await waitFor(() => / 42 +good/.test(out), { what: 'the new value', timeoutMs: 10_000 });
    } finally {
      child.kill('SIGTERM');
      await exited(child);
    }
  });
});
