/**
 * The AMQP targets and the AMQP inbound queue against the machine's RabbitMQ
 * (MILLWRIGHT_AMQP_URL): AMQP 0-9-1 with amqplib, AMQP 1.0 with rhea through RabbitMQ's
 * rabbitmq_amqp1_0 plugin, and an in-process rhea peer on port 0 for the outcomes RabbitMQ 3.x
 * never sends (`rejected`, `released`). Connection loss is a TCP proxy cut (test/helpers/proxy.ts),
 * so other users of the shared broker are not disturbed. Every exchange and queue is named per
 * run and deleted after. Issue: work-order sync with ERP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import pino from 'pino';
import rhea, { type EventContext } from 'rhea';
import { amqpInboundSchema, amqpTargetSchema } from '../../src/enterprise/amqp/config.ts';
import { amqpTarget } from '../../src/enterprise/amqp/index.ts';
import { startAmqpInbound } from '../../src/enterprise/amqp/inbound.ts';
import { amqp10TargetSchema } from '../../src/enterprise/amqp10/config.ts';
import { amqp10Target } from '../../src/enterprise/amqp10/index.ts';
import { DeliveryError, type ErpMessage, type TargetContext } from '../../src/enterprise/types.ts';
import { isMwError, MwError } from '../../src/errors.ts';
import { startProxy, type TcpProxy } from '../helpers/proxy.ts';
import { AMQP_URL, serviceSkip, speaksAmqp10, waitFor } from '../helpers/services.ts';

const skip = await serviceSkip('RabbitMQ (AMQP 0-9-1)', AMQP_URL);
const skip10 =
  skip ||
  (await serviceSkip('RabbitMQ AMQP 1.0 (plugin rabbitmq_amqp1_0)', AMQP_URL, speaksAmqp10));

const broker = new URL(AMQP_URL);
const logger = pino({ level: 'silent' });
const ctx: TargetContext = {
  logger,
  configDir: '/',
  dataDir: '/',
  render: { toTheirs: (_k, c) => c },
};
const fast = { initial: '20ms', max: '100ms' };

function receipt(orderId = '4711'): ErpMessage {
  return {
    id: randomUUID(),
    type: 'goods.receipt',
    orderId,
    seq: 1,
    at: Date.UTC(2026, 2, 3, 8, 0, 0),
    data: { material: 'FG-100', quantity: '1200', uom: 'PCE', lot: 'L-1', equipment: 'line-1' },
  };
}

/** A broker URL through `proxy` (same user, password and vhost). */
function via(proxy: TcpProxy): string {
  const u = new URL(AMQP_URL);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
}

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => assert.fail('expected the delivery to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
  return err;
}

let admin: ChannelModel;
let ch: Channel;
const cleanups: (() => Promise<unknown>)[] = [];
const name = (what: string): string => `mwtest-${what}-${randomUUID().slice(0, 8)}`;

/** A durable queue of this run (as the inbound declares it), deleted after the suite. */
async function queue(args: Record<string, unknown> = {}): Promise<string> {
  const q = name('q');
  await ch.assertQueue(q, { durable: true, arguments: args });
  cleanups.push(() => ch.deleteQueue(q));
  return q;
}

/** A topic exchange of this run with a queue bound for `pattern`. */
async function exchangeWithQueue(pattern = '#'): Promise<{ exchange: string; q: string }> {
  const exchange = name('x');
  await ch.assertExchange(exchange, 'topic', { durable: false });
  cleanups.push(() => ch.deleteExchange(exchange));
  const q = await queue();
  await ch.bindQueue(q, exchange, pattern);
  return { exchange, q };
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

describe('AMQP on RabbitMQ', { skip: skip || undefined }, () => {
  before(async () => {
    admin = await amqp.connect(AMQP_URL);
    ch = await admin.createChannel();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await admin.close();
  });

  describe('0-9-1 target', () => {
    it('publishes persistent JSON with message id, type and idempotency headers, confirmed by the broker', async () => {
      const { exchange, q } = await exchangeWithQueue('mes.#');
      const config = amqpTargetSchema.parse({
        id: 'erp-bus',
        type: 'amqp',
        url: AMQP_URL,
        exchange,
        routingKey: 'mes.{type}.{orderId}',
      });
      const target = amqpTarget.create(config, ctx);
      try {
        await target.connectionTest();
        const m = receipt('4711');
        await target.deliver([m]);
        // Resolved only after the confirm, which RabbitMQ sends once the queue has the message.
        assert.equal((await ch.checkQueue(q)).messageCount, 1);
        const got = await ch.get(q, { noAck: true });
        assert.ok(got !== false);
        assert.equal(got.fields.routingKey, 'mes.goods.receipt.4711');
        assert.equal(got.properties.messageId, m.id);
        assert.equal(got.properties.type, 'goods.receipt');
        assert.equal(got.properties.contentType, 'application/json');
        assert.equal(got.properties.deliveryMode, 2);
        assert.deepEqual(got.properties.headers, { 'idempotency-key': m.id, 'x-order-id': '4711' });
        const body = JSON.parse(got.content.toString()) as Record<string, unknown>;
        assert.equal(body.id, m.id);
        assert.equal(body.orderId, '4711');
        assert.equal(target.health().status, 'connected');
      } finally {
        await target.close();
      }
    });

    it('fails temporarily on a nack, an unroutable message and a missing exchange, then delivers once fixed', async () => {
      const full = await queue({ 'x-max-length': 0, 'x-overflow': 'reject-publish' });
      const nacking = amqpTarget.create(
        amqpTargetSchema.parse({
          id: 't1',
          type: 'amqp',
          url: AMQP_URL,
          exchange: '',
          routingKey: full,
        }),
        ctx,
      );
      const exchange = name('x');
      const unbound = amqpTarget.create(
        amqpTargetSchema.parse({
          id: 't2',
          type: 'amqp',
          url: AMQP_URL,
          exchange,
          reconnect: fast,
        }),
        ctx,
      );
      try {
        const nack = await rejection(nacking.deliver([receipt()]));
        assert.equal(nack.permanent, false);
        assert.match(nack.message, /not confirmed: message nacked/);

        const missing = await rejection(unbound.deliver([receipt()]));
        assert.equal(missing.permanent, false);
        assert.match(missing.message, /NOT_FOUND - no exchange/);
        await assert.rejects(unbound.connectionTest(), (e: unknown) => {
          assert.ok(isMwError(e) && e.code === 'MW_ERR_AMQP_NOT_FOUND', String(e));
          return true;
        });

        // The operator declares the exchange: still no binding, so the message comes back.
        await ch.assertExchange(exchange, 'topic', { durable: false });
        cleanups.push(() => ch.deleteExchange(exchange));
        const unroutable = await rejection(unbound.deliver([receipt()]));
        assert.equal(unroutable.permanent, false);
        assert.match(unroutable.message, /unroutable, returned by the broker \(312 NO_ROUTE\)/);

        // … and binds a queue: the retry goes through on the same target.
        const q = await queue();
        await ch.bindQueue(q, exchange, 'millwright.#');
        await unbound.deliver([receipt()]);
        assert.equal((await ch.checkQueue(q)).messageCount, 1);
      } finally {
        await nacking.close();
        await unbound.close();
      }
    });

    it('fails temporarily when the connection is cut mid-delivery, backs off while the broker is away, and reconnects', async () => {
      const { exchange, q } = await exchangeWithQueue();
      const proxy = await startProxy(broker.hostname, Number(broker.port || 5672));
      const target = amqpTarget.create(
        amqpTargetSchema.parse({
          id: 'cut',
          type: 'amqp',
          url: via(proxy),
          exchange,
          reconnect: { initial: '300ms', max: '300ms', jitter: 0 },
        }),
        ctx,
      );
      try {
        await target.deliver([receipt()]);
        const inFlight = target.deliver([receipt(), receipt()]);
        await proxy.cut(); // before the confirms can come back
        assert.equal((await rejection(inFlight)).permanent, false);

        // The broker stays away: the reconnect fails, and the next attempt waits for the backoff.
        const refused = await rejection(target.deliver([receipt()]));
        assert.equal(refused.permanent, false);
        assert.match(target.health().detail ?? '', /next attempt in \d+ ms \(failure 1\)/);
        const held = await rejection(target.deliver([receipt()]));
        assert.match(held.message, /not connected .*; next attempt in \d+ ms/);
        assert.equal(target.health().status, 'disconnected');

        await proxy.restore();
        const last = receipt();
        await waitFor(() => target.deliver([last]).then(() => true), {
          what: 'a delivery after the broker came back',
        });
        assert.equal(target.health().status, 'connected');
        assert.equal(target.health().reconnects, 1);
        const ids: unknown[] = [];
        for (
          let got = await ch.get(q, { noAck: true });
          got;
          got = await ch.get(q, { noAck: true })
        )
          ids.push(got.properties.messageId);
        assert.equal(ids.at(-1), last.id);
      } finally {
        await target.close();
        await proxy.close();
      }
    });

    it('connectionTest names the broker it cannot reach', async () => {
      const proxy = await startProxy(broker.hostname, Number(broker.port || 5672));
      await proxy.cut();
      const target = amqpTarget.create(
        amqpTargetSchema.parse({ id: 'gone', type: 'amqp', url: via(proxy), exchange: 'x' }),
        ctx,
      );
      await assert.rejects(target.connectionTest(), (e: unknown) => {
        assert.ok(e instanceof MwError && e.code === 'MW_ERR_AMQP_CONNECT', String(e));
        assert.match(
          e.message,
          /target gone: cannot connect to the AMQP broker amqp:\/\/guest:\*\*\*@/,
        );
        return true;
      });
      await target.close();
    });
  });

  describe('0-9-1 inbound', () => {
    type Call = { body: string; contentType: string | undefined; settle: Deferred };
    interface Deferred {
      resolve(): void;
      reject(err: unknown): void;
    }

    /** An inbound on `q` whose imports wait for the test to settle them. */
    async function inbound(q: string, url = AMQP_URL) {
      const calls: Call[] = [];
      const consumer = startAmqpInbound(
        amqpInboundSchema.parse({ id: 'erp-orders', type: 'amqp', url, queue: q, reconnect: fast }),
        {
          logger,
          importDocument: (body, contentType) =>
            new Promise<void>((resolve, reject) => {
              calls.push({ body: body.toString(), contentType, settle: { resolve, reject } });
            }),
        },
      );
      await waitFor(() => consumer.health().status === 'connected', {
        what: 'consuming',
      }).catch(async (err: unknown) => {
        await consumer.stop();
        throw err;
      });
      return { consumer, calls };
    }

    it('acks only after the import resolved; content type from the message or sniffed', async () => {
      const q = await queue();
      const { consumer, calls } = await inbound(q);
      ch.sendToQueue(q, Buffer.from('{"orders":[]}'), { contentType: 'application/json' });
      ch.sendToQueue(q, Buffer.from('\uFEFF <ProductionSchedule/>'));
      await waitFor(() => calls.length === 2, { what: 'both imports' });
      assert.deepEqual(
        calls.map((c) => c.contentType),
        ['application/json', 'application/xml'],
      );
      calls[0]!.settle.resolve();
      calls[1]!.settle.resolve();
      await consumer.stop(); // waits for the acks; an unacked message would now be requeued
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
      assert.equal(consumer.health().status, 'stopped');
    });

    it('keeps a message unacked while its import is pending: a lost connection redelivers it', async () => {
      const q = await queue();
      const proxy = await startProxy(broker.hostname, Number(broker.port || 5672));
      const { consumer, calls } = await inbound(q, via(proxy));
      try {
        ch.sendToQueue(q, Buffer.from('{"n":1}'));
        await waitFor(() => calls.length === 1, { what: 'the import' });
        const queued = await ch.checkQueue(q);
        assert.deepEqual([queued.messageCount, queued.consumerCount], [0, 1]); // out, not acked
        await proxy.cut();
        // The broker requeued the unacked message; nobody consumes while the proxy is cut.
        await waitFor(async () => (await ch.checkQueue(q)).messageCount === 1, {
          what: 'the message back in the queue',
        });
        calls[0]!.settle.resolve(); // too late: its channel is gone, and nothing throws
        await proxy.restore();
        await waitFor(() => calls.length === 2, { what: 'the redelivery after the reconnect' });
        assert.equal(calls[1]!.body, '{"n":1}');
        assert.equal(consumer.health().reconnects, 1);
        calls[1]!.settle.resolve();
      } finally {
        await consumer.stop();
        await proxy.close();
      }
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
    });

    it('acks a message refused for its content (4xx: kept by the importer); redelivers after any other failure', async () => {
      const q = await queue();
      const { consumer, calls } = await inbound(q);
      ch.sendToQueue(q, Buffer.from('<bad'));
      await waitFor(() => calls.length === 1, { what: 'the first import' });
      const refused = new MwError('MW_ERR_CSV_INVALID', { first: 'line 2: bad', more: '' });
      calls[0]!.settle.reject(refused);

      ch.sendToQueue(q, Buffer.from('{"n":2}'));
      await waitFor(() => calls.length === 2, { what: 'the second import' });
      calls[1]!.settle.reject(new MwError('MW_ERR_STORE_UNAVAILABLE', { store: 's', reason: 'r' }));
      await waitFor(() => calls.length === 3, { what: 'the redelivery after a 503' });
      calls[2]!.settle.reject(new Error('disk full'));
      await waitFor(() => calls.length === 4, { what: 'the redelivery after a plain error' });
      assert.deepEqual(
        calls.slice(1).map((c) => c.body),
        ['{"n":2}', '{"n":2}', '{"n":2}'],
      );
      calls[3]!.settle.resolve();
      await consumer.stop();
      // Acked, not requeued: it came once, and nothing unacked went back to the queue at stop.
      assert.equal(calls.filter((c) => c.body === '<bad').length, 1, 'the refused one came once');
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
    });
  });

  describe('AMQP 1.0 target', { skip: skip10 || undefined }, () => {
    const base = {
      type: 'amqp10',
      host: broker.hostname,
      port: Number(broker.port || 5672),
      username: decodeURIComponent(broker.username),
      password: decodeURIComponent(broker.password),
    };

    it('sends durable messages through RabbitMQ, read back over AMQP 0-9-1', async () => {
      const q = await queue();
      const target = amqp10Target.create(
        amqp10TargetSchema.parse({ ...base, id: 'bus', address: `/amq/queue/${q}` }),
        ctx,
      );
      try {
        await target.connectionTest();
        const m = receipt('4711');
        await target.deliver([m]);
        const got = await ch.get(q, { noAck: true });
        assert.ok(got !== false);
        assert.equal(got.properties.messageId, m.id);
        assert.equal(got.properties.contentType, 'application/json');
        assert.equal(got.properties.deliveryMode, 2);
        assert.equal((JSON.parse(got.content.toString()) as { id: string }).id, m.id);
        // RabbitMQ 3.x keeps the application properties AMQP 1.0-encoded in this header.
        const props = String(got.properties.headers?.['x-amqp-1.0-app-properties']);
        for (const s of ['type', 'goods.receipt', 'orderId', '4711', 'idempotencyKey', m.id])
          assert.ok(props.includes(s), `application properties hold ${s}`);
      } finally {
        await target.close();
      }
    });

    it('fails temporarily when RabbitMQ refuses the link (no such exchange), and after a cut connection', async () => {
      const missing = amqp10Target.create(
        amqp10TargetSchema.parse({ ...base, id: 'nx', address: `/exchange/${name('nx')}/k` }),
        ctx,
      );
      try {
        const err = await rejection(missing.deliver([receipt()]));
        assert.equal(err.permanent, false);
        assert.match(err.message, /amqp:not-found: NOT_FOUND - no exchange/);
        await assert.rejects(missing.connectionTest(), (e: unknown) => {
          assert.ok(isMwError(e) && e.code === 'MW_ERR_AMQP_NOT_FOUND', String(e));
          return true;
        });
      } finally {
        await missing.close();
      }

      const q = await queue();
      const proxy = await startProxy(broker.hostname, base.port);
      const target = amqp10Target.create(
        amqp10TargetSchema.parse({
          ...base,
          id: 'cut10',
          port: proxy.port,
          host: '127.0.0.1',
          address: `/amq/queue/${q}`,
          reconnect: fast,
        }),
        ctx,
      );
      try {
        await target.deliver([receipt()]);
        const inFlight = target.deliver([receipt()]);
        await proxy.cut();
        assert.equal((await rejection(inFlight)).permanent, false);
        await proxy.restore();
        await waitFor(() => target.deliver([receipt()]).then(() => true), {
          what: 'a delivery after the reconnect',
        });
        assert.equal(target.health().reconnects, 1);
      } finally {
        await target.close();
        await proxy.close();
      }
    });
  });
});

describe('AMQP 1.0 outcomes (in-process rhea peer)', () => {
  let server: Server;
  let outcome: 'accept' | 'reject' | 'release' = 'accept';
  const peer = rhea.create_container({ id: 'mwtest-peer' });
  const received: EventContext['message'][] = [];
  before(async () => {
    peer.on('message', (c: EventContext) => {
      received.push(c.message);
      if (outcome === 'accept') c.delivery?.accept();
      else if (outcome === 'release') c.delivery?.release();
      else
        c.delivery?.reject({
          condition: 'amqp:precondition-failed',
          description: 'order 4711 is closed',
        });
    });
    server = peer.listen({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', resolve));
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('accepted delivers, rejected is permanent with the condition, released is temporary', async () => {
    const target = amqp10Target.create(
      amqp10TargetSchema.parse({
        id: 'peer',
        type: 'amqp10',
        host: '127.0.0.1',
        port: (server.address() as AddressInfo).port,
        address: 'erp.confirmations',
      }),
      ctx,
    );
    try {
      const m = receipt();
      await target.deliver([m]);
      const msg = received[0];
      assert.equal(msg?.message_id, m.id);
      assert.equal(msg?.durable, true);
      assert.equal(msg?.subject, 'goods.receipt');
      assert.deepEqual(msg?.application_properties, {
        type: 'goods.receipt',
        orderId: '4711',
        idempotencyKey: m.id,
      });
      outcome = 'reject';
      const rejected = await rejection(target.deliver([receipt()]));
      assert.equal(rejected.permanent, true);
      assert.match(rejected.message, /rejected: amqp:precondition-failed: order 4711 is closed/);
      outcome = 'release';
      const released = await rejection(target.deliver([receipt()]));
      assert.equal(released.permanent, false);
    } finally {
      outcome = 'accept';
      await target.close();
    }
  });
});
