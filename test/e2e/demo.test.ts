/**
 * The demo plant end to end over real sockets: simulator → MQTT (embedded broker) → pipeline →
 * SQLite → HTTP API. Then a restart on the same data folder continues the counters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { DEMO_CONFIG } from '../../src/cli/main.ts';
import { waitFor } from '../helpers/services.ts';
import { adminHeaders, startTestHub, tempDir, type TestHub } from '../helpers/hub.ts';

interface Unit {
  id: string;
  level: string;
  status: { state: string; reasonCode: string | null } | null;
  counters: Record<'good' | 'scrap' | 'total', { total: number }> | null;
}

function demoConfig(): Config {
  const { config } = loadConfigFile(DEMO_CONFIG);
  return {
    ...config,
    broker: { ...config.broker, port: 0 },
    http: { ...config.http, port: 0 },
    // Twenty times faster, so states and counters move within the test's time.
    connections: config.connections.map((c) =>
      c.type === 'simulator' ? { ...c, speed: 20, seed: 7 } : c,
    ),
  };
}

let auth: { authorization: string } | undefined;
const getJson = async <T>(url: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(url, { headers: auth ?? {} });
  return { status: res.status, body: (await res.json()) as T };
};

describe('the demo plant', () => {
  const data = tempDir('mw-demo-');
  let hub: TestHub;
  let units: () => Promise<Unit[]>;

  before(async () => {
    hub = await startTestHub(demoConfig(), { dataDir: data.dir });
    auth = await adminHeaders(hub);
    units = async () =>
      (await getJson<{ items: Unit[] }>(`${hub.url}/api/v1/equipment`)).body.items.filter(
        (e) => e.level === 'workUnit',
      );
  });
  after(async () => {
    await hub.stop();
    data.remove();
  });

  it('reports health of the store, broker and connections', async () => {
    type Health = {
      status: string;
      store: { kind: string; ok: boolean };
      broker: { url: string };
      connections: { id: string; status: string }[];
    };
    // The simulator connects to the broker asynchronously after start.
    const { status, body } = await waitFor(
      async () => {
        const h = await getJson<Health>(`${hub.url}/api/v1/health`);
        return h.body.connections.every((c) => c.status === 'connected') ? h : null;
      },
      { what: 'all connections connected' },
    );
    assert.equal(body.status, 'ok');
    assert.equal(status, 200);
    assert.equal(body.store.kind, 'sqlite');
    assert.equal(body.store.ok, true);
    assert.match(body.broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    assert.deepEqual(body.connections.map((c) => [c.id, c.status]).sort(), [
      ['plant-mqtt', 'connected'],
      ['sim', 'connected'],
    ]);
  });

  it('shows units whose states and counters change', async () => {
    const first = await waitFor(
      async () => {
        const u = await units();
        return u.filter((x) => (x.counters?.total.total ?? 0) > 0).length >= 3 ? u : null;
      },
      { timeoutMs: 15_000, what: 'three units counting' },
    );
    assert.equal(first.length, 7);
    const seen = new Set<string>();
    const later = await waitFor(
      async () => {
        const u = await units();
        for (const x of u) seen.add(x.status?.state ?? 'none');
        const grown = u.filter(
          (x) =>
            (x.counters?.total.total ?? 0) >
            (first.find((f) => f.id === x.id)?.counters?.total.total ?? 0),
        );
        return grown.length >= 3 && seen.size >= 2 ? u : null;
      },
      { timeoutMs: 15_000, what: 'counters growing and states changing' },
    );
    for (const u of later) {
      const c = u.counters;
      assert.ok(c !== null);
      assert.ok(c.good.total + c.scrap.total <= c.total.total + 1, `${u.id}: good + scrap ≤ total`);
    }
  });

  it('serves one unit by its path, with slashes or URL-encoded', async () => {
    const id = 'acme/plant1/packaging/line1/filler';
    const plain = await getJson<{ id: string; level: string }>(`${hub.url}/api/v1/equipment/${id}`);
    assert.equal(plain.status, 200);
    assert.equal(plain.body.level, 'workUnit');
    const encoded = await getJson<{ id: string }>(
      `${hub.url}/api/v1/equipment/${encodeURIComponent(id)}`,
    );
    assert.equal(encoded.body.id, id);
    const line = await getJson<{ childIds: string[] }>(
      `${hub.url}/api/v1/equipment/acme/plant1/packaging/line1`,
    );
    assert.equal(line.body.childIds.length, 4);
  });

  it('pages the events of a line with a cursor, oldest first, without gaps or repeats', async () => {
    const base = `${hub.url}/api/v1/equipment/acme/plant1/packaging/line1/events`;
    await waitFor(
      async () =>
        (await getJson<{ items: unknown[] }>(`${base}?limit=1000`)).body.items.length >= 6,
      { what: 'events' },
    );
    const all = (
      await getJson<{ items: { seq: number }[] }>(`${base}?limit=1000`)
    ).body.items.slice(0, 6);
    const seqs: number[] = [];
    let cursor: string | null = null;
    do {
      const page: {
        body: { items: { seq: number; equipmentId: string }[]; nextCursor: string | null };
      } = await getJson(`${base}?limit=2${cursor === null ? '' : `&cursor=${cursor}`}`);
      for (const e of page.body.items) {
        assert.ok(e.equipmentId.startsWith('acme/plant1/packaging/line1/'));
        seqs.push(e.seq);
      }
      cursor = page.body.nextCursor;
    } while (cursor !== null && seqs.length < 6);
    assert.deepEqual(
      seqs.slice(0, 6),
      all.map((e) => e.seq),
    );
  });

  it('filters events by time', async () => {
    const base = `${hub.url}/api/v1/equipment/acme/plant1/packaging/line1/filler/events`;
    const future = await getJson<{ items: unknown[] }>(`${base}?from=2999-01-01T00:00:00Z`);
    assert.equal(future.body.items.length, 0);
    const past = await getJson<{ items: { ts: string }[] }>(
      `${base}?to=${Date.now() + 60_000}&limit=5`,
    );
    assert.ok(past.body.items.length > 0);
  });

  it('answers bad requests with JSON errors naming the field', async () => {
    const bad = await getJson<{ error: { code: string; message: string; path: string } }>(
      `${hub.url}/api/v1/equipment/acme/plant1/packaging/line1/events?limit=0`,
    );
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'MW_ERR_API_VALIDATION');
    assert.equal(bad.body.error.path, 'query.limit');
    const when = await getJson<{ error: { message: string } }>(
      `${hub.url}/api/v1/equipment/acme/plant1/events?from=yesterday`,
    );
    assert.match(when.body.error.message, /query\.from: expected an ISO 8601 time/);
    const unknown = await getJson<{ error: { code: string } }>(
      `${hub.url}/api/v1/equipment/acme/nowhere`,
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'MW_ERR_EQUIPMENT_NOT_FOUND');
    const route = await getJson<{ error: { code: string } }>(`${hub.url}/api/v2/nothing`);
    assert.equal(route.body.error.code, 'MW_ERR_API_NOT_FOUND');
  });

  it('publishes an OpenAPI document with every route', async () => {
    const { body } = await getJson<{ openapi: string; paths: Record<string, unknown> }>(
      `${hub.url}/api/openapi.json`,
    );
    assert.equal(body.openapi, '3.1.0');
    for (const p of [
      '/api/v1/health',
      '/api/v1/equipment',
      '/api/v1/equipment/{id}',
      '/api/v1/equipment/{id}/events',
      '/api/v1/quarantine',
    ]) {
      assert.ok(p in body.paths, p);
    }
  });

  it('lists the stops of a unit with reasons from the demo reason tree', async () => {
    type Stop = { reason: { code: string } | null; reasonSource: string | null };
    const stops = async (): Promise<Stop[]> => {
      const all: Stop[] = [];
      for (const u of await units()) {
        const r = await getJson<{ items: Stop[] }>(`${hub.url}/api/v1/equipment/${u.id}/downtimes`);
        all.push(...r.body.items);
      }
      return all;
    };
    await waitFor(async () => (await stops()).some((s) => s.reasonSource === 'plc'), {
      what: 'a stop whose PLC code maps into the reason tree',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
  });

  it('serves the live view', async () => {
    const res = await fetch(`${hub.url}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<title>Millwright<\/title>/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });

  it('continues the counters after a restart on the same data folder', async () => {
    const beforeStop = await units();
    await hub.stop();
    const stored = new Map(
      (
        await (
          await import('../../src/store/index.ts')
        )
          .openStore(
            { type: 'sqlite', synchronous: 'FULL' },
            {
              dataDir: data.dir,
              quarantineMaxEntries: 10,
              quarantinePayloadBytes: 10,
            },
          )
          .then(async (s) => {
            const u = await s.loadUnits();
            await s.close();
            return u;
          })
      ).map((u) => [u.equipmentId, u.counters.total.total]),
    );
    for (const u of beforeStop)
      assert.ok(
        (stored.get(u.id) ?? -1) >= (u.counters?.total.total ?? 0),
        `${u.id} kept its count`,
      );
    hub = await startTestHub(demoConfig(), { dataDir: data.dir });
    const afterRestart = await units();
    for (const u of afterRestart)
      assert.equal(u.counters?.total.total, stored.get(u.id), `${u.id} continues from the store`);
    await waitFor(
      async () => {
        const u = await units();
        return u.some((x) => (x.counters?.total.total ?? 0) > (stored.get(x.id) ?? 0));
      },
      { what: 'counting on after the restart' },
    );
    await hub.pipeline.flush();
    // The simulated PLCs resume their counters (retentive memory): the restart is no counter reset.
    const counted = await hub.store.listEvents({ equipmentId: 'acme', limit: 100_000 });
    const resets = counted.filter((e) => e.type === 'counted' && e.data.anomaly === 'reset');
    assert.deepEqual(resets, [], 'no counter reset across the restart');
  });
});
