/**
 * The outbox's guarantees under ERP faults (issue #10), against a real hub and real peers on
 * loopback:
 *
 * - an ERP that answers 500, then hangs past the target's timeout, then recovers, while several
 *   orders run their lifecycle at once: every message is accepted once, in the order it was
 *   written per order, and nothing is left pending or dead;
 * - a refusal (400) makes a message dead and holds the order's later messages behind it until an
 *   operator replays it (after the ERP is fixed) or discards it, both audited;
 * - RabbitMQ both ways: orders from an inbound queue (a bad one quarantined and acked), the
 *   transaction points published to an exchange with the outbox message id as message id.
 *
 * The SIGKILL test of the hub process is outbox-crash.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { after, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { adminHeaders, call, startTestHub, testConfig, type TestHub } from '../helpers/hub.ts';
import { AMQP_URL, serviceSkip, waitFor } from '../helpers/services.ts';
import { peer, type Peer, type Recorded } from './erp-peers.ts';

const LINE = 'acme/plant1/packaging/line1';
const LIFECYCLE = ['dispatch', 'start', 'hold', 'resume', 'complete', 'close'] as const;
/** What the lifecycle above sends for an order without counts (no partial confirmation on hold). */
const MESSAGE_TYPES = [
  'order.started',
  'operation.confirmed',
  'goods.receipt',
  'order.completed',
  'order.closed',
];

function plantYaml(rest: string): string {
  return `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler }, { id: casepacker }]
${rest}`;
}

function webhookYaml(url: string): string {
  return plantYaml(`
targets:
  - id: erp
    type: webhook
    url: ${url}/events
    timeout: 300ms
    retry: { initialDelay: 20ms, maxDelay: 200ms, maxAttempts: 1000 }
`);
}

function orderJson(externalId: string): Record<string, unknown> {
  return {
    externalId,
    material: 'FG-1L',
    quantity: '100',
    uom: 'H87',
    operations: [{ id: '0010', equipment: LINE }],
  };
}

/** One request the ERP stand-in saw, and what it answered ('hang': nothing, ever). */
interface Received {
  readonly seq: number;
  readonly key: string;
  /** The order of the body, and the X-Millwright-Order header. */
  readonly order: string;
  readonly orderHeader: string;
  readonly id: string;
  readonly type: string;
  readonly answer: number | 'hang';
}

interface Erp {
  readonly peer: Peer;
  readonly received: Received[];
  /** Requests that came while another of the same order was still open (not one after another). */
  readonly overlaps: Received[];
  accepted(order?: string): Received[];
}

/** A recording ERP whose answer to each request is `decide`'s. */
async function recordingErp(
  decide: (m: { order: string; id: string; type: string; seq: number }) => number | 'hang',
): Promise<Erp> {
  const received: Received[] = [];
  const overlaps: Received[] = [];
  const open = new Map<string, number>();
  const server = await peer((req: Recorded, res: http.ServerResponse) => {
    const body = JSON.parse(req.body.toString()) as { id: string; type: string; orderId: string };
    const m = { order: body.orderId, id: body.id, type: body.type };
    const seq = received.length + 1;
    const answer = decide({ ...m, seq });
    const key = String(req.headers['idempotency-key']);
    const r = { ...m, seq, key, orderHeader: String(req.headers['x-millwright-order']), answer };
    received.push(r);
    if ((open.get(m.order) ?? 0) > 0) overlaps.push(r);
    open.set(m.order, (open.get(m.order) ?? 0) + 1);
    // Answered, or (a hang) given up by the hub: its timeout closes the connection.
    res.once('close', () => open.set(m.order, open.get(m.order)! - 1));
    if (answer !== 'hang') res.writeHead(answer, { 'content-type': 'application/json' }).end('{}');
  });
  return {
    peer: server,
    received,
    overlaps,
    accepted: (order) =>
      received.filter(
        (r) => typeof r.answer === 'number' && r.answer < 300 && (order ?? r.order) === r.order,
      ),
  };
}

interface OutboxItem {
  id: number;
  messageId: string;
  type: string;
  orderId: string;
  status: string;
  attempts: number;
}

async function outboxOf(hub: TestHub, headers: Record<string, string>) {
  const res = await call(hub, 'GET', '/api/v1/outbox?target=erp&limit=1000', { headers });
  assert.equal(res.status, 200, res.text);
  const items = (res.body.items as OutboxItem[]).sort((a, b) => a.id - b.id);
  const counts = res.body.counts.erp as Record<string, number>;
  const byOrder = new Map<string, OutboxItem[]>();
  for (const item of items) byOrder.set(item.orderId, [...(byOrder.get(item.orderId) ?? []), item]);
  return { items, counts, byOrder };
}

// No leaked handles: every connection and listener of the file has ended.
after(() =>
  waitFor(
    () =>
      process
        .getActiveResourcesInfo()
        .every((r) => !['TCPSocketWrap', 'TCPServerWrap'].includes(r)),
    { what: 'no open sockets' },
  ),
);

describe('an ERP that fails with 500s and timeouts, then recovers', () => {
  const N = 12;
  const M = 8;
  const ORDERS = ['5001', '5002', '5003', '5004', '5005'];
  let erp: Erp;
  let hub: TestHub;
  let admin: { authorization: string };
  let driven = false;
  let served500 = 0;
  let hung = 0;

  before(async () => {
    // 500 until N answered and every order has run its lifecycle (so the orders run while the
    // ERP fails), then M requests left without an answer (the 300 ms timeout fires), then 200.
    erp = await recordingErp(() => {
      if (served500 < N || !driven) return (served500++, 500);
      if (hung < M) return (hung++, 'hang');
      return 200;
    });
    hub = await startTestHub(testConfig(webhookYaml(erp.peer.url)));
    admin = await adminHeaders(hub);
  });

  after(async () => {
    await hub?.dispose();
    await erp?.peer.close();
  });

  it('delivers every message once, in order per order, after the ERP recovers', async () => {
    const imported = await call(hub, 'POST', '/api/v1/orders', {
      headers: admin,
      body: { orders: ORDERS.map(orderJson) },
    });
    assert.equal(imported.status, 201, imported.text);
    // All orders through their lifecycle at once, each action after the one before.
    await Promise.all(
      ORDERS.map(async (id) => {
        for (const action of LIFECYCLE) {
          const res = await call(hub, 'POST', `/api/v1/orders/${id}/${action}`, {
            headers: admin,
            body: {},
          });
          assert.equal(res.status, 200, `${id} ${action}: ${res.text}`);
        }
      }),
    );
    assert.ok(erp.received.length > 0, 'the hub tried to deliver while the orders ran');
    driven = true;

    const total = ORDERS.length * MESSAGE_TYPES.length;
    await waitFor(
      async () => {
        const { counts } = await outboxOf(hub, admin);
        return counts.delivered === total && counts.pending === 0;
      },
      { timeoutMs: 30_000, what: `${total} messages delivered` },
    );
    const { items, counts, byOrder } = await outboxOf(hub, admin);
    assert.deepEqual(counts, { pending: 0, delivered: total, dead: 0, discarded: 0 });
    assert.equal(items.length, total);
    assert.ok(served500 >= N, `${served500} answers 500`);
    assert.equal(hung, M, 'every hang was met (the timeout fired, the message went again)');

    for (const id of ORDERS) {
      const rows = byOrder.get(id) ?? [];
      assert.deepEqual(
        rows.map((r) => r.type),
        MESSAGE_TYPES,
        `order ${id}: the messages its lifecycle wrote`,
      );
      assert.deepEqual(
        erp.accepted(id).map((r) => r.id),
        rows.map((r) => r.messageId),
        `order ${id}: accepted exactly once each, in the order written`,
      );
    }
    assert.deepEqual(erp.overlaps, [], 'one request at a time per order');
    // Every request carried its message's key; de-duplicated they are exactly the outbox.
    for (const r of erp.received) {
      assert.equal(r.key, `"${r.id}"`, 'Idempotency-Key is the message id');
      assert.equal(r.orderHeader, r.order, 'X-Millwright-Order is the order of the body');
    }
    const keys = new Set(erp.received.map((r) => r.key));
    assert.equal(keys.size, total, 'one key per message, none unknown');
    assert.deepEqual(
      [...keys].sort(),
      items.map((r) => `"${r.messageId}"`).sort(),
      'no message missing',
    );
    // Each request was one attempt on the row, and the failures are counted on the target.
    const attempts = items.reduce((n, r) => n + r.attempts, 0);
    assert.equal(attempts, erp.received.length, 'one attempt per request the ERP saw');
    // No message is accepted before the N + M failures are spent, and they fall on the first
    // message of each order: one of those took at least this many attempts.
    const mostAttempts = Math.max(...items.map((r) => r.attempts));
    assert.ok(mostAttempts >= 1 + Math.ceil((N + M) / ORDERS.length), `${mostAttempts} attempts`);
    const targets = await call(hub, 'GET', '/api/v1/targets', { headers: admin });
    const stats = targets.body.items.find((t: { id: string }) => t.id === 'erp');
    assert.equal(stats.delivered, total);
    assert.equal(stats.failedAttempts, erp.received.length - total);
    assert.equal(stats.dead, 0);
    console.log(
      `${total} messages of ${ORDERS.length} orders; ${erp.received.length} requests: ${served500} × 500, ${hung} timeouts, ${erp.accepted().length} × 200; most attempts on one message: ${mostAttempts}`,
    );
  });
});

describe('a refused message is dead and holds its order until replayed or discarded', () => {
  const refuse = new Set<string>();
  let erp: Erp;
  let hub: TestHub;
  let admin: { authorization: string };
  const act = async (id: string, action: string): Promise<void> => {
    const res = await call(hub, 'POST', `/api/v1/orders/${id}/${action}`, {
      headers: admin,
      body: {},
    });
    assert.equal(res.status, 200, `${id} ${action}: ${res.text}`);
  };
  const run = async (id: string): Promise<void> => {
    for (const action of LIFECYCLE) await act(id, action);
  };
  const decide = async (
    id: number,
    decision: 'replay' | 'discard',
    body: Record<string, unknown>,
  ) => call(hub, 'POST', `/api/v1/outbox/${id}/${decision}`, { headers: admin, body });
  const row = async (order: string, type: string): Promise<OutboxItem> => {
    const found = (await outboxOf(hub, admin)).byOrder.get(order)?.find((r) => r.type === type);
    assert.ok(found, `outbox row ${type} of ${order}`);
    return found;
  };
  const auditOf = async (id: number) =>
    (await call(hub, 'GET', `/api/v1/audit?entity=outbox&id=${id}`, { headers: admin })).body
      .items as { action: string; actor: string; reason: string | null }[];

  before(async () => {
    // 6001's confirmation and 6002's start are refused (an unknown work center, say).
    refuse.add('6001/operation.confirmed').add('6002/order.started');
    erp = await recordingErp((m) => (refuse.has(`${m.order}/${m.type}`) ? 400 : 200));
    hub = await startTestHub(testConfig(webhookYaml(erp.peer.url)));
    admin = await adminHeaders(hub);
    const res = await call(hub, 'POST', '/api/v1/orders', {
      headers: admin,
      body: { orders: ['6001', '6002', '6003'].map(orderJson) },
    });
    assert.equal(res.status, 201, res.text);
  });

  after(async () => {
    await hub?.dispose();
    await erp?.peer.close();
  });

  it('a 400 makes the message dead at once; the order’s later messages wait', async () => {
    await Promise.all([run('6001'), run('6002')]);
    await waitFor(async () => (await outboxOf(hub, admin)).counts.dead === 2, {
      what: 'two dead messages',
    });
    // Another order run afterwards goes through: the dispatcher has passed over the waiting rows
    // (they are older, so they would have been leased first).
    await run('6003');
    await waitFor(() => erp.accepted('6003').length === MESSAGE_TYPES.length, {
      what: 'order 6003 delivered',
    });
    const { byOrder, counts } = await outboxOf(hub, admin);
    assert.deepEqual(counts, { pending: 7, delivered: 6, dead: 2, discarded: 0 });
    assert.deepEqual(
      byOrder.get('6001')!.map((r) => [r.type, r.status, r.attempts]),
      [
        ['order.started', 'delivered', 1],
        ['operation.confirmed', 'dead', 1],
        ['goods.receipt', 'pending', 0],
        ['order.completed', 'pending', 0],
        ['order.closed', 'pending', 0],
      ],
    );
    assert.deepEqual(
      byOrder.get('6002')!.map((r) => [r.status, r.attempts]),
      [['dead', 1], ...Array(4).fill(['pending', 0])],
    );
    const sent = (order: string) =>
      erp.received.filter((r) => r.order === order).map((r) => [r.type, r.answer]);
    assert.deepEqual(
      sent('6001'),
      [
        ['order.started', 200],
        ['operation.confirmed', 400],
      ],
      'nothing behind the dead confirmation was sent',
    );
    assert.deepEqual(sent('6002'), [['order.started', 400]], 'nothing behind the dead start');
    const dead = await row('6001', 'operation.confirmed');
    const full = await call(hub, 'GET', `/api/v1/outbox/${dead.id}`, { headers: admin });
    assert.match(full.body.lastError, /400/);
    assert.equal(full.body.payload.id, dead.messageId);
  });

  it('replay needs a reason and a dead message; once the ERP is fixed it goes, then the rest in order', async () => {
    const dead = await row('6001', 'operation.confirmed');
    const noReason = await decide(dead.id, 'replay', {});
    assert.equal(noReason.status, 400, noReason.text);
    assert.equal(noReason.body.error.code, 'MW_ERR_API_VALIDATION');
    const delivered = await row('6001', 'order.started');
    const notDead = await decide(delivered.id, 'replay', { reason: 'again' });
    assert.equal(notDead.status, 409, notDead.text);
    assert.equal(notDead.body.error.code, 'MW_ERR_OUTBOX_NOT_DEAD');
    assert.deepEqual(await auditOf(dead.id), [], 'a refused decision leaves no audit row');

    refuse.delete('6001/operation.confirmed'); // the ERP team fixed the master data
    const seqBefore = erp.received.length;
    const replayed = await decide(dead.id, 'replay', { reason: 'work center WC-7 created in ERP' });
    assert.equal(replayed.status, 200, replayed.text);
    assert.equal(replayed.body.status, 'pending');
    await waitFor(() => erp.accepted('6001').length === MESSAGE_TYPES.length, {
      what: 'order 6001 delivered after the replay',
    });
    const rows = (await outboxOf(hub, admin)).byOrder.get('6001')!;
    assert.deepEqual(
      erp.accepted('6001').map((r) => r.id),
      rows.map((r) => r.messageId),
      'accepted once each, in the order written',
    );
    assert.deepEqual(
      erp.received.slice(seqBefore).map((r) => [r.order, r.type, r.answer]),
      [
        ['6001', 'operation.confirmed', 200],
        ['6001', 'goods.receipt', 200],
        ['6001', 'order.completed', 200],
        ['6001', 'order.closed', 200],
      ],
      'the replayed message first, then the ones behind it',
    );
    const trail = await auditOf(dead.id);
    assert.equal(trail.length, 1);
    assert.equal(trail[0]!.action, 'outbox.replay');
    assert.equal(trail[0]!.actor, 'user:admin');
    assert.match(trail[0]!.reason ?? '', /work center WC-7 created in ERP/);
  });

  it('discard lets the rest go without the discarded message', async () => {
    const dead = await row('6002', 'order.started');
    const seqBefore = erp.received.length;
    const discarded = await decide(dead.id, 'discard', { reason: 'start posted by hand in ERP' });
    assert.equal(discarded.status, 200, discarded.text);
    assert.equal(discarded.body.status, 'discarded');
    await waitFor(() => erp.accepted('6002').length === MESSAGE_TYPES.length - 1, {
      what: 'order 6002 delivered after the discard',
    });
    const rows = (await outboxOf(hub, admin)).byOrder.get('6002')!;
    assert.deepEqual(
      erp.accepted('6002').map((r) => r.id),
      rows.filter((r) => r.status !== 'discarded').map((r) => r.messageId),
    );
    assert.deepEqual(
      erp.received.slice(seqBefore).map((r) => r.type),
      MESSAGE_TYPES.slice(1),
      'the discarded message is not sent again',
    );
    const trail = await auditOf(dead.id);
    assert.deepEqual(
      trail.map((a) => a.action),
      ['outbox.discard'],
    );
    const { counts } = await outboxOf(hub, admin);
    assert.deepEqual(counts, { pending: 0, delivered: 14, dead: 0, discarded: 1 });
    const replayTwice = await decide(dead.id, 'replay', { reason: 'changed my mind' });
    assert.equal(replayTwice.status, 409, 'a discarded message cannot be replayed');
  });
});

const amqpSkip = await serviceSkip('RabbitMQ (AMQP 0-9-1)', AMQP_URL);

describe(
  'orders from a RabbitMQ queue, transaction points to an exchange',
  { skip: amqpSkip || undefined },
  () => {
    const suffix = randomUUID().slice(0, 8);
    const inQueue = `mwtest-orders-${suffix}`;
    const exchange = `mwtest-erp-${suffix}`;
    const outQueue = `mwtest-erp-in-${suffix}`;
    let conn: ChannelModel;
    let ch: Channel;
    let hub: TestHub | undefined;
    let admin: { authorization: string };
    const got: ConsumeMessage[] = [];

    before(async () => {
      conn = await amqp.connect(AMQP_URL);
      ch = await conn.createChannel();
      await ch.assertQueue(inQueue, { durable: true });
      // Declared as the target declares it, so the queue can be bound before the first publish.
      await ch.assertExchange(exchange, 'topic', { durable: true });
      await ch.assertQueue(outQueue, { durable: false, exclusive: true });
      await ch.bindQueue(outQueue, exchange, '#');
      await ch.consume(outQueue, (m) => void (m !== null && got.push(m)), { noAck: true });
      hub = await startTestHub(
        testConfig(
          plantYaml(`
inbound:
  - { id: erp-queue, type: amqp, url: '${AMQP_URL}', queue: ${inQueue}, reconnect: { initial: 50ms, max: 200ms } }
targets:
  - id: bus
    type: amqp
    url: '${AMQP_URL}'
    exchange: ${exchange}
    routingKey: 'mes.{type}.{orderId}'
    declare: { type: topic }
    retry: { initialDelay: 20ms, maxDelay: 200ms }
`),
        ),
      );
      admin = await adminHeaders(hub);
    });

    after(async () => {
      await hub?.dispose();
      await ch.deleteQueue(inQueue).catch(() => undefined);
      await ch.deleteQueue(outQueue).catch(() => undefined);
      await ch.deleteExchange(exchange).catch(() => undefined);
      await conn.close();
    });

    it('imports an order from the queue and quarantines a bad one', async () => {
      ch.sendToQueue(inQueue, Buffer.from(JSON.stringify(orderJson('7001'))), {
        contentType: 'application/json',
        persistent: true,
      });
      const bad = { ...orderJson('7002'), material: undefined, quantity: 'lots' };
      ch.sendToQueue(inQueue, Buffer.from(JSON.stringify(bad)), { persistent: true });
      const order = await waitFor(
        async () => {
          const res = await call(hub!, 'GET', '/api/v1/orders/7001', { headers: admin });
          return res.status === 200 ? res.body : null;
        },
        { what: 'order 7001 imported' },
      );
      assert.equal(order.status, 'released');
      assert.equal(order.material, 'FG-1L');
      const q = await waitFor(
        async () => {
          const res = await call(hub!, 'GET', '/api/v1/quarantine?connection=erp-queue', {
            headers: admin,
          });
          return res.body.items.length > 0 ? res.body.items : null;
        },
        { what: 'the bad order quarantined' },
      );
      assert.equal(q.length, 1);
      assert.equal(q[0].code, 'MW_ERR_ORDER_INVALID');
      assert.match(q[0].message, /body\.material/);
      assert.equal(q[0].source, inQueue);
      assert.match(q[0].payload, /"externalId":"7002"/);
      assert.equal(
        (await call(hub!, 'GET', '/api/v1/orders/7002', { headers: admin })).status,
        404,
      );
    });

    it('publishes started, confirmation, receipt and completed with the outbox message ids', async () => {
      for (const action of ['dispatch', 'start', 'complete']) {
        const res = await call(hub!, 'POST', `/api/v1/orders/7001/${action}`, {
          headers: admin,
          body: {},
        });
        assert.equal(res.status, 200, `${action}: ${res.text}`);
      }
      const expected = ['order.started', 'operation.confirmed', 'goods.receipt', 'order.completed'];
      await waitFor(() => got.length >= expected.length, { what: 'four messages on the exchange' });
      const rows = (await call(hub!, 'GET', '/api/v1/orders/7001/messages', { headers: admin }))
        .body.items as { messageId: string; type: string; status: string }[];
      assert.deepEqual(
        rows.map((r) => [r.type, r.status]),
        expected.map((t) => [t, 'delivered']),
      );
      assert.equal(got.length, expected.length, 'each published once');
      assert.deepEqual(
        got.map((m) => [m.properties.type, m.fields.routingKey, m.properties.messageId]),
        rows.map((r) => [r.type, `mes.${r.type}.7001`, r.messageId]),
      );
      for (const m of got) {
        assert.equal(m.properties.headers?.['idempotency-key'], m.properties.messageId);
        assert.equal(m.properties.deliveryMode, 2, 'persistent');
        assert.equal(
          (JSON.parse(m.content.toString()) as { id: string }).id,
          m.properties.messageId,
        );
      }
    });

    it('acknowledged both inbound messages (none comes back when the hub stops)', async () => {
      await hub!.dispose();
      hub = undefined;
      // An unacknowledged message would be back in the queue once the consumer is gone.
      const q = await ch.checkQueue(inQueue);
      assert.deepEqual([q.messageCount, q.consumerCount], [0, 0]);
    });
  },
);
