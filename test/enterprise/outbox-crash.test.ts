/**
 * Crash test of the outbox (issue #10): the hub runs as its own process (SQLite store) and sends
 * the transaction points of many orders to a slow ERP; it is killed with SIGKILL twice while
 * deliveries are in flight and restarted on the same data folder each time. Afterwards every
 * outbox row is delivered, every message reached the ERP, per order in the order written; only a
 * message leased at a kill may arrive twice; and the rows leased at a kill go again at once
 * after the restart (the hub voids its own earlier boot's leases), not after the 60 s lease.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, it } from 'node:test';
import Database from 'better-sqlite3';
import { withStore } from '../../src/cli/with-store.ts';
import { IdentityService } from '../../src/compliance/identity.ts';
import { createTestUser, login, tempDir, TEST_ADMIN } from '../helpers/hub.ts';
import { childTracker, exited, hubProcessArgs } from '../helpers/processes.ts';
import { waitFor } from '../helpers/services.ts';
import { peer } from './erp-peers.ts';

const LINE = 'acme/plant1/packaging/line1';
const ORDERS = Array.from({ length: 40 }, (_, i) => String(8001 + i));
const LIFECYCLE = ['dispatch', 'start', 'hold', 'resume', 'complete', 'close'];
const PER_ORDER = 5; // started, confirmed, receipt, completed, closed (no counts: no partial)
const TOTAL = ORDERS.length * PER_ORDER;
/** Kill when this share of the messages has reached the ERP (two kills). */
const KILL_AT = [0.3, 0.65];
const CONCURRENCY = 8; // the dispatcher's default: rows leased at once per realtime target

const data = tempDir('mw-outbox-crash-');
after(() => data.remove());
const track = childTracker();
// No leaked handles: the ERP's listener and every connection to it have ended.
after(() =>
  waitFor(
    () =>
      process
        .getActiveResourcesInfo()
        .every((r) => !['TCPSocketWrap', 'TCPServerWrap'].includes(r)),
    { what: 'no open sockets' },
  ),
);

interface Request {
  readonly id: string;
  readonly order: string;
  readonly key: string;
  /** `dropped`: in flight when its hub was killed, so never answered. */
  state: 'waiting' | 'answered' | 'dropped';
}

interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly headers: { authorization: string };
}

/** `millwright run` as a child process; resolves once it printed its URL and we logged in. */
async function startHub(configFile: string): Promise<Running> {
  const child = track(
    spawn(process.execPath, hubProcessArgs(configFile, '--log-format', 'json'), {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`hub exited ${child.exitCode}: ${output}`);
      return /UI and API\s+(http:\/\/\S+)/.exec(output)?.[1];
    },
    { timeoutMs: 30_000, what: 'the hub to print its URL' },
  );
  const headers = await login(url, TEST_ADMIN.username, TEST_ADMIN.password);
  return { child, url, headers };
}

async function post(hub: Running, route: string, body: unknown): Promise<void> {
  const res = await fetch(`${hub.url}${route}`, {
    method: 'POST',
    headers: { ...hub.headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.ok(res.status === 200 || res.status === 201, `${route}: ${res.status} ${text}`);
}

interface DbRow {
  id: number;
  message_id: string;
  ordering_key: string;
  status: string;
  lease_owner: string | null;
}

/** The outbox rows as the hub left them in its SQLite file (the hub is not running). */
function outboxRows(): DbRow[] {
  const db = new Database(path.join(data.dir, 'data', 'millwright.db'));
  try {
    return db
      .prepare<[], DbRow>(
        'SELECT id, message_id, ordering_key, status, lease_owner FROM outbox ORDER BY id',
      )
      .all();
  } finally {
    db.close();
  }
}

it(
  'delivers every message after two SIGKILLs mid-delivery; only leased ones twice',
  { timeout: 90_000 },
  async () => {
    // The ERP takes 100–200 ms per request and records every one.
    const requests: Request[] = [];
    const erp = await peer((req, res) => {
      const body = JSON.parse(req.body.toString()) as { id: string; orderId: string };
      const r: Request = {
        id: body.id,
        order: body.orderId,
        key: String(req.headers['idempotency-key']),
        state: 'waiting',
      };
      requests.push(r);
      setTimeout(
        () => {
          if (r.state !== 'waiting') return;
          r.state = 'answered';
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        },
        100 + Math.random() * 100,
      );
    });
    try {
      const configFile = path.join(data.dir, 'millwright.yaml');
      writeFileSync(
        configFile,
        `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: casepacker }]
targets:
  - id: erp
    type: webhook
    url: ${erp.url}/events
    timeout: 5s
    retry: { initialDelay: 50ms, maxDelay: 500ms }
http: { port: 0 }
dataDir: ./data
`,
      );
      // The first administrator, created on the hub machine as `millwright users add` does.
      await withStore({ config: configFile }, async (store, config) => {
        const identity = new IdentityService(store, { security: config.security });
        await createTestUser({ identity }, TEST_ADMIN.username, ['admin'], TEST_ADMIN.password);
      });

      let hub = await startHub(configFile);
      const hubId = readFileSync(path.join(data.dir, 'data', 'hub-id'), 'utf8').trim();
      await post(hub, '/api/v1/orders', {
        orders: ORDERS.map((externalId) => ({
          externalId,
          material: 'FG-1L',
          quantity: '100',
          uom: 'H87',
          operations: [{ id: '0010', equipment: LINE }],
        })),
      });
      const drivingStarted = Date.now();
      await Promise.all(
        ORDERS.map(async (id) => {
          for (const action of LIFECYCLE) await post(hub, `/api/v1/orders/${id}/${action}`, {});
        }),
      );
      const drivingMs = Date.now() - drivingStarted;
      const distinct = (): number => new Set(requests.map((r) => r.id)).size;
      // Kill points: shares of the messages at the ERP, and past what it had when the orders ended.
      const atDriven = distinct();
      const killPoints = KILL_AT.map((share) => Math.max(Math.ceil(TOTAL * share), atDriven + 1));
      assert.ok(
        killPoints.at(-1)! < TOTAL - 2 * CONCURRENCY,
        `the orders ran faster than the ERP takes them (${atDriven} received when they ended)`,
      );

      const kills: { received: number; inFlight: string[]; leased: DbRow[] }[] = [];
      for (const point of killPoints) {
        await waitFor(() => distinct() >= point, {
          timeoutMs: 30_000,
          what: `${point} messages at the ERP`,
        });
        // In the same tick as the kill: what is in flight now stays unanswered.
        const inFlight = requests.filter((r) => r.state === 'waiting').map((r) => r.id);
        for (const r of requests) if (r.state === 'waiting') r.state = 'dropped';
        hub.child.kill('SIGKILL');
        await exited(hub.child);
        const leased = outboxRows().filter((r) => r.status === 'pending' && r.lease_owner !== null);
        kills.push({ received: distinct(), inFlight, leased });
        assert.ok(inFlight.length > 0, 'deliveries were in flight at the kill');
        assert.ok(leased.length <= CONCURRENCY, `${leased.length} rows leased at the kill`);
        for (const r of leased) assert.ok(r.lease_owner!.startsWith(`${hubId}:`), r.lease_owner!);
        const leasedIds = new Set(leased.map((r) => r.message_id));
        for (const id of inFlight)
          assert.ok(leasedIds.has(id), `message ${id} in flight at the ERP is leased in the store`);

        const restartedAt = Date.now();
        const from = requests.length;
        hub = await startHub(configFile);
        const startMs = Date.now() - restartedAt;
        // The leases of the killed boot are void: the rows go at once, not after their 60 s.
        await waitFor(
          () =>
            leased.every((l) =>
              requests.slice(from).some((r) => r.id === l.message_id && r.state === 'answered'),
            ),
          { timeoutMs: 15_000, what: 'the rows leased at the kill delivered after the restart' },
        );
        console.log(
          `kill at ${kills.at(-1)!.received}/${TOTAL} messages received: ${inFlight.length} in flight at the ERP, ${leased.length} leased; the hub up again in ${startMs} ms, those ${leased.length} delivered again ${Date.now() - restartedAt} ms after the restart (their lease had 60 s)`,
        );
      }

      await waitFor(() => distinct() === TOTAL && requests.every((r) => r.state !== 'waiting'), {
        timeoutMs: 30_000,
        what: `all ${TOTAL} messages at the ERP`,
      });
      hub.child.kill('SIGTERM');
      await exited(hub.child);
      assert.equal(hub.child.exitCode, 0, 'a SIGTERM stops the hub cleanly');

      const rows = outboxRows();
      assert.equal(rows.length, TOTAL);
      assert.deepEqual(
        rows.filter((r) => r.status !== 'delivered' || r.lease_owner !== null),
        [],
        'every row delivered, no lease left',
      );
      // Every message reached the ERP; per order, first receipts in the order written.
      const first = new Map<string, number>();
      requests.forEach((r, i) => {
        if (!first.has(r.id)) first.set(r.id, i);
        assert.equal(r.key, `"${r.id}"`);
      });
      for (const id of ORDERS) {
        const written = rows.filter((r) => r.ordering_key === id).map((r) => r.message_id);
        assert.equal(written.length, PER_ORDER, `order ${id}`);
        const received = [...written].sort((a, b) => first.get(a)! - first.get(b)!);
        assert.deepEqual(received, written, `order ${id}: first receipts in the order written`);
      }
      // Only a message leased at a kill came twice; every one in flight at the ERP did.
      const times = new Map<string, number>();
      for (const r of requests) times.set(r.id, (times.get(r.id) ?? 0) + 1);
      const twice = [...times].filter(([, n]) => n > 1).map(([id]) => id);
      const leasedAtKills = new Set(kills.flatMap((k) => k.leased.map((r) => r.message_id)));
      for (const id of twice) assert.ok(leasedAtKills.has(id), `${id} twice, not leased at a kill`);
      for (const id of kills.flatMap((k) => k.inFlight))
        assert.ok(twice.includes(id), `${id} was in flight at a kill: sent again`);
      assert.ok(Math.max(...times.values()) <= 1 + kills.length);
      assert.ok(twice.length <= CONCURRENCY * kills.length);
      console.log(
        `${TOTAL} messages of ${ORDERS.length} orders (driven in ${drivingMs} ms, ${atDriven} at the ERP by then), ${requests.length} requests, ${twice.length} duplicate(s) over ${kills.length} kills`,
      );
    } finally {
      await erp.close();
    }
  },
);
