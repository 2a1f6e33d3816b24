/**
 * Replaying quarantined input once the configuration is fixed: a state message with no
 * binding is quarantined, the hub restarts with the binding, and the replay applies it — once,
 * audited; a cut payload or a viewer is refused.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import mqtt from 'mqtt';
import {
  adminHeaders,
  call,
  createTestUser,
  login,
  PLANT_YAML,
  startTestHub,
  tempDir,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';

const FILLER = 'acme/plant1/packaging/line1/filler';
const BASE = `${PLANT_YAML}
quarantine: { payloadBytes: 40 }
connections: [{ id: line, type: mqtt, subscribe: ['t/#'] }]
`;
const FIXED = `${BASE}bindings:
  - { connection: line, topic: 't/{site}/{area}/{line}/{unit}/state', meaning: state, payload: { valuePath: v } }
`;

describe('replaying the quarantine', () => {
  const data = tempDir('mw-replay-');
  let hub: TestHub | undefined;
  after(async () => {
    await hub?.stop();
    data.remove();
  });

  it('applies a quarantined message once its binding exists, once only, audited', async () => {
    hub = await startTestHub(testConfig(BASE), { dataDir: data.dir });
    const device = await mqtt.connectAsync(hub.broker!.url, { reconnectPeriod: 0 });
    await device.publishAsync('t/plant1/packaging/line1/filler/state', '{"v":"down"}', { qos: 1 });
    await device.publishAsync(
      't/plant1/packaging/line1/filler/state',
      JSON.stringify({ v: 'running', note: 'a long payload that the quarantine cuts' }),
      { qos: 1 },
    );
    await device.endAsync();
    const [cut, whole] = await hub.store.listQuarantine({ limit: 10 });
    assert.equal(whole?.code, 'MW_ERR_INGEST_NO_BINDING');
    await hub.stop();

    hub = await startTestHub(testConfig(FIXED), { dataDir: data.dir });
    const admin = await adminHeaders(hub);
    const res = await call(hub, 'POST', `/api/v1/quarantine/${whole!.id}/replay`, {
      headers: admin,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, true);
    assert.equal(hub.runtime.get(FILLER)?.status.state, 'down');
    const rows = await hub.store.listAudit({ entityType: 'quarantine', limit: 10 });
    assert.deepEqual(
      rows.map((r) => [r.action, r.entityId, r.changes.result?.new]),
      [['replay', String(whole!.id), 'accepted']],
    );
    const listed = await call(hub, 'GET', '/api/v1/quarantine?limit=10', { headers: admin });
    assert.ok(
      listed.body.items.some(
        (q: { id: number; replayedAt: string | null }) =>
          q.id === whole!.id && q.replayedAt !== null,
      ),
    );

    const again = await call(hub, 'POST', `/api/v1/quarantine/${whole!.id}/replay`, {
      headers: admin,
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'MW_ERR_QUARANTINE_REPLAYED');

    const truncated = await call(hub, 'POST', `/api/v1/quarantine/${cut!.id}/replay`, {
      headers: admin,
    });
    assert.equal(truncated.status, 400);
    assert.match(truncated.body.error.message, /kept only 40 of its \d+ bytes/);

    const password = await createTestUser(hub, 'vera', ['viewer']);
    const viewer = await login(hub.url!, 'vera', password);
    const denied = await call(hub, 'POST', `/api/v1/quarantine/${cut!.id}/replay`, {
      headers: viewer,
    });
    assert.equal(denied.status, 403);
    assert.match(denied.body.error.message, /config\.write/);
  });
});
