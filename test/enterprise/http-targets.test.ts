/**
 * The HTTP-family enterprise targets (webhook, odata, soap) against real peers on loopback:
 * servers on port 0 standing in for the ERP (erp-peers.ts): a webhook receiver, a SAP-Gateway-like
 * OData service that demands its CSRF token and session cookie, a SOAP service from soap.listen.
 * Issue: work-order sync with ERP.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { jsonMessage } from '../../src/enterprise/formats.ts';
import { odataTarget } from '../../src/enterprise/odata/index.ts';
import { parseRetryAfter } from '../../src/enterprise/shared/http.ts';
import { soapTarget } from '../../src/enterprise/soap/index.ts';
import {
  DeliveryError,
  type ErpMessage,
  type TargetContext,
  type TargetInstance,
} from '../../src/enterprise/types.ts';
import { webhookTarget } from '../../src/enterprise/webhook/index.ts';
import { makeCa, makeSigned } from '../helpers/tls.ts';
import { erpService, gateway, peer, rawPost, type Peer, type SoapCall } from './erp-peers.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mw-http-targets-'));
const ctx: TargetContext = {
  logger: pino({ level: 'silent' }),
  configDir: dir,
  dataDir: dir,
  render: { toTheirs: (_k, c) => c },
};

// ---------------------------------------------------------------------------------------------
// Helpers

let seq = 0;
function confirmed(orderId = '4711'): ErpMessage {
  seq += 1;
  return {
    id: `msg-${seq}`,
    type: 'operation.confirmed',
    orderId,
    seq: 1,
    at: Date.UTC(2026, 2, 3, 8, 0, seq),
    data: {
      id: '0010',
      equipment: 'ACME/berlin/packing/line-1',
      workUnit: 'ACME/berlin/packing/line-1/filler',
      yield: '1200',
      scrap: '12.5',
      uom: 'PCE',
      startedAt: Date.UTC(2026, 2, 3, 6, 0, 0),
      endedAt: Date.UTC(2026, 2, 3, 8, 0, 0),
      runTimeMs: 6_600_000,
      final: true,
    },
  };
}

function receipt(material = 'MAT-100', orderId = '4711'): ErpMessage {
  seq += 1;
  return {
    id: `msg-${seq}`,
    type: 'goods.receipt',
    orderId,
    seq: 1,
    at: Date.UTC(2026, 2, 3, 8, 5, seq),
    data: { material, quantity: '1200', uom: 'PCE', lot: 'L-0815', equipment: 'line-1' },
  };
}

/** Runs `body` with a target and its peer, closing both whatever happens. */
async function withTarget(
  target: TargetInstance,
  server: Peer,
  body: () => Promise<void>,
): Promise<void> {
  try {
    await body();
  } finally {
    await target.close();
    await server.close();
  }
}

async function rejectsWith(p: Promise<unknown>, permanent: boolean): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DeliveryError, `expected a DeliveryError, got ${String(err)}`);
    assert.equal(err.permanent, permanent, `permanent should be ${permanent}: ${err.message}`);
    return err;
  }
  throw new assert.AssertionError({ message: 'expected a rejection' });
}

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  // STYLE.md rule 16: no sockets, servers or timers left behind.
  const left = (): string[] =>
    process.getActiveResourcesInfo().filter((r) => /TCP|TLS|Timeout/.test(r));
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(), [], 'handles left open');
});

// ---------------------------------------------------------------------------------------------
// webhook

describe('webhook target', () => {
  const webhook = (url: string, extra: Record<string, unknown> = {}): TargetInstance =>
    webhookTarget.create(
      webhookTarget.configSchema.parse({ id: 'erp', type: 'webhook', url, ...extra }),
      ctx,
    );

  it('POSTs the message JSON with its headers and a signature that verifies', async () => {
    const server = await peer((_req, res) => res.writeHead(204).end());
    const secret = 'whsec-0123456789abcdef';
    const target = webhook(`${server.url}/mes/events`, {
      secret,
      auth: { bearer: 'tok-1' },
      headers: { 'X-Plant': 'berlin', 'Content-Type': 'text/plain' },
    });
    await withTarget(target, server, async () => {
      const m = confirmed();
      const before = Math.floor(Date.now() / 1000);
      await target.deliver([m]);
      assert.equal(server.requests.length, 1);
      const req = server.requests[0]!;
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/mes/events');
      assert.deepEqual(JSON.parse(req.body.toString()), jsonMessage(m));
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers['idempotency-key'], `"${m.id}"`);
      assert.equal(req.headers['x-millwright-event'], 'operation.confirmed');
      assert.equal(req.headers['x-millwright-order'], '4711');
      assert.equal(req.headers['x-plant'], 'berlin');
      assert.equal(req.headers.authorization, 'Bearer tok-1');
      const ts = Number(req.headers['x-millwright-timestamp']);
      assert.ok(ts >= before && ts <= before + 5, `timestamp ${ts}`);
      // What a receiver does: HMAC-SHA256 over "<timestamp>.<raw body>", constant-time compare.
      const expected = createHmac('sha256', secret)
        .update(Buffer.concat([Buffer.from(`${ts}.`), req.body]))
        .digest('hex');
      const got = String(req.headers['x-millwright-signature']);
      assert.match(got, /^sha256=[0-9a-f]{64}$/);
      assert.ok(timingSafeEqual(Buffer.from(got.slice(7)), Buffer.from(expected)));
    });
  });

  it('a 500 is temporary and the retry with the same Idempotency-Key succeeds', async () => {
    let calls = 0;
    const server = await peer((_req, res) => {
      calls += 1;
      res.writeHead(calls === 1 ? 500 : 200).end(calls === 1 ? 'database locked' : 'ok');
    });
    const target = webhook(server.url);
    await withTarget(target, server, async () => {
      const m = receipt();
      const err = await rejectsWith(target.deliver([m]), false);
      assert.match(err.message, /HTTP 500: database locked/);
      await target.deliver([m]);
      assert.equal(server.requests.length, 2);
      assert.equal(server.requests[0]!.headers['idempotency-key'], `"${m.id}"`);
      assert.equal(server.requests[1]!.headers['idempotency-key'], `"${m.id}"`);
    });
  });

  it('a 400 is permanent and quotes the status and the body', async () => {
    const body = JSON.stringify({ error: 'material MAT-100 unknown', pad: 'x'.repeat(2000) });
    const server = await peer((_req, res) =>
      res.writeHead(400, { 'content-type': 'application/json' }).end(body),
    );
    const target = webhook(server.url);
    await withTarget(target, server, async () => {
      const err = await rejectsWith(target.deliver([receipt()]), true);
      assert.match(
        err.message,
        /webhook erp: POST .* HTTP 400: \{"error":"material MAT-100 unknown"/,
      );
      assert.ok(err.message.length < 800, 'the body is cut');
    });
  });

  it('a 429 is temporary and carries Retry-After', async () => {
    const server = await peer((_req, res) => res.writeHead(429, { 'retry-after': '7' }).end());
    const target = webhook(server.url);
    await withTarget(target, server, async () => {
      const err = await rejectsWith(target.deliver([receipt()]), false);
      assert.equal(err.retryAfterMs, 7000);
    });
    const now = Date.parse('2026-03-03T08:00:00Z');
    assert.equal(parseRetryAfter('Tue, 03 Mar 2026 08:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });

  it('a receiver that does not answer fails as temporary within the timeout', async () => {
    const server = await peer(() => {}); // never answers
    const target = webhook(server.url, { timeout: '200ms' });
    await withTarget(target, server, async () => {
      const started = Date.now();
      const err = await rejectsWith(target.deliver([receipt()]), false);
      const took = Date.now() - started;
      assert.ok(took >= 190 && took < 2000, `took ${took} ms`);
      assert.match(err.message, /no answer within 200 ms/);
    });
  });

  it('a batch of 3 is one request (PUT) with the rendered batch', async () => {
    const server = await peer((_req, res) => res.writeHead(200).end());
    const target = webhook(server.url, { method: 'PUT' });
    await withTarget(target, server, async () => {
      const batch = [confirmed(), receipt(), receipt()];
      await target.deliver(batch);
      assert.equal(server.requests.length, 1);
      const req = server.requests[0]!;
      assert.equal(req.method, 'PUT');
      assert.deepEqual(JSON.parse(req.body.toString()), {
        messages: batch.map((m) => jsonMessage(m)),
      });
      assert.equal(req.headers['idempotency-key'], `"${batch[0]!.id}+3"`);
      assert.equal(req.headers['x-millwright-event'], 'batch');
      assert.equal(req.headers['x-millwright-order'], '4711');
      assert.equal(req.headers['x-millwright-signature'], undefined);
    });
  });

  it('https to a receiver with a private CA: trusted by `tls.ca`, refused without', async () => {
    const ca = makeCa(dir, 'erp-ca');
    const cert = makeSigned(dir, 'erp', ca);
    const server = await peer((_req, res) => res.writeHead(200).end(), cert);
    const trusting = webhook(server.url, { tls: { ca: 'erp-ca.crt' } });
    const plain = webhook(server.url);
    try {
      await trusting.deliver([receipt()]);
      assert.equal(server.requests.length, 1);
      const err = await rejectsWith(plain.deliver([receipt()]), false);
      assert.match(err.message, /certificate/i);
    } finally {
      await trusting.close();
      await plain.close();
      await server.close();
    }
  });

  it('connectionTest: any HTTP answer proves reachability, no answer fails', async () => {
    const server = await peer((_req, res) => res.writeHead(405).end());
    const target = webhook(server.url);
    await withTarget(target, server, async () => {
      await target.connectionTest();
      assert.equal(server.requests[0]!.method, 'HEAD');
    });
    const gone = webhook(server.url); // the server is closed now
    try {
      await rejectsWith(gone.connectionTest(), false);
    } finally {
      await gone.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// odata

describe('odata target', () => {
  const odata = (serviceUrl: string, extra: Record<string, unknown> = {}): TargetInstance =>
    odataTarget.create(
      odataTarget.configSchema.parse({
        id: 'sap',
        type: 'odata',
        serviceUrl,
        auth: { username: 'MES', password: 'secret' },
        ...extra,
      }),
      ctx,
    );

  it('creates the entity with the CSRF token and the session cookie', async () => {
    const server = await gateway();
    const target = odata(server.url);
    await withTarget(target, server, async () => {
      // The service does demand them.
      const bare = await rawPost(`${server.url}GoodsMovements`);
      assert.equal(bare.statusCode, 403);
      assert.equal(bare.headers['x-csrf-token'], 'Required');

      const m = confirmed();
      await target.deliver([
        m,
        {
          id: 'msg-s',
          type: 'order.started',
          orderId: '4711',
          seq: 1,
          at: 0,
          data: { operation: null, equipment: null },
        },
      ]);
      assert.equal(server.created.length, 1, 'order.started has no entity set: not sent');
      const req = server.created[0]!;
      assert.equal(req.url, '/sap/opu/odata4/zmes/ProductionOrderConfirmations');
      assert.deepEqual(JSON.parse(req.body.toString()), {
        MessageID: m.id,
        MessageType: 'operation.confirmed',
        OrderID: '4711',
        EventTime: new Date(m.at).toISOString(),
        OperationID: '0010',
        Equipment: 'ACME/berlin/packing/line-1',
        WorkUnit: 'ACME/berlin/packing/line-1/filler',
        Yield: '1200',
        Scrap: '12.5',
        UnitOfMeasure: 'PCE',
        StartedAt: '2026-03-03T06:00:00.000Z',
        EndedAt: '2026-03-03T08:00:00.000Z',
        RunTimeMs: 6_600_000,
        Final: true,
      });
      assert.equal(req.headers['x-csrf-token'], 'token-1');
      assert.match(String(req.headers.cookie), /SAP_SESSIONID_MES=session-1/);
      assert.match(String(req.headers.cookie), /sap-usercontext=sap-client=100/);
      assert.equal(req.headers['content-type'], 'application/json;IEEE754Compatible=true');
      assert.equal(req.headers.accept, 'application/json');
      assert.equal(req.headers['odata-version'], '4.0');
      assert.equal(req.headers['idempotency-key'], `"${m.id}"`);
      assert.equal(
        req.headers.authorization,
        `Basic ${Buffer.from('MES:secret').toString('base64')}`,
      );
    });
  });

  it('an expired token is fetched again once and the change succeeds', async () => {
    const server = await gateway();
    const target = odata(server.url);
    await withTarget(target, server, async () => {
      await target.deliver([receipt()]);
      server.expire();
      await target.deliver([receipt()]);
      assert.equal(server.created.length, 2);
      assert.equal(server.created[1]!.headers['x-csrf-token'], 'token-2');
      const fetches = server.requests.filter((r) => r.headers['x-csrf-token'] === 'Fetch');
      assert.equal(fetches.length, 2);
      // The first change, then the refused one and its repetition.
      assert.equal(server.requests.filter((r) => r.method === 'POST').length, 3);
    });
  });

  it('$batch: one request for the batch, a failing part is named', async () => {
    const server = await gateway();
    const target = odata(server.url, { batch: true });
    await withTarget(target, server, async () => {
      const good = [confirmed(), receipt()];
      await target.deliver(good);
      const bad = receipt('BAD');
      const err = await rejectsWith(target.deliver([confirmed(), bad, receipt()]), true);
      assert.match(err.message, /1 of 3 part\(s\) failed/);
      assert.match(
        err.message,
        new RegExp(`message ${bad.id} \\(goods.receipt, order 4711\\): HTTP 400`),
      );
      assert.match(err.message, /material BAD unknown/);
      const batches = server.requests.filter((r) => r.url.endsWith('/$batch'));
      assert.equal(batches.length, 2);
      const sent = JSON.parse(batches[0]!.body.toString()) as {
        requests: { id: string; method: string; url: string; headers: Record<string, string> }[];
      };
      assert.deepEqual(
        sent.requests.map((r) => [r.id, r.method, r.url, r.headers['idempotency-key']]),
        [
          [good[0]!.id, 'POST', 'ProductionOrderConfirmations', `"${good[0]!.id}"`],
          [good[1]!.id, 'POST', 'GoodsMovements', `"${good[1]!.id}"`],
        ],
      );
      assert.equal(batches[0]!.headers.prefer, 'odata.continue-on-error');
      assert.equal(batches[0]!.headers['content-type'], 'application/json');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// soap

describe('soap target', () => {
  const soapOf = (wsdl: string, extra: Record<string, unknown> = {}): TargetInstance =>
    soapTarget.create(
      soapTarget.configSchema.parse({
        id: 'erp-ws',
        type: 'soap',
        wsdl,
        operation: {
          'operation.confirmed': 'ConfirmOperation',
          'goods.receipt': 'PostGoodsReceipt',
        },
        ...extra,
      }),
      ctx,
    );

  it('calls the operation with the message values (basic auth, WS-Security)', async () => {
    const service = await erpService();
    const target = soapOf(`${service.url}/erp/production?wsdl`, {
      auth: { username: 'MES', password: 'secret' },
      wsSecurity: { username: 'MES_WS', password: 'ws-secret' },
    });
    try {
      await target.connectionTest();
      const m = confirmed();
      const r = receipt();
      const started: ErpMessage = {
        id: 'msg-st',
        type: 'order.started',
        orderId: '4711',
        seq: 1,
        at: 0,
        data: { operation: null, equipment: null },
      };
      await target.deliver([m, started, r]);
      assert.deepEqual(
        service.calls.map((c) => c.operation),
        ['ConfirmOperation', 'PostGoodsReceipt'],
        'order.started has no operation: not sent',
      );
      const [confirm, goods] = service.calls as [SoapCall, SoapCall];
      assert.equal(confirm.args.MessageID, m.id);
      assert.equal(confirm.args.OrderID, '4711');
      assert.equal(confirm.args.OperationID, '0010');
      assert.equal(confirm.args.WorkUnit, 'ACME/berlin/packing/line-1/filler');
      assert.equal(String(confirm.args.Yield), '1200');
      assert.equal(String(confirm.args.Scrap), '12.5');
      assert.equal(String(confirm.args.Final), 'true');
      assert.equal(new Date(String(confirm.args.StartedAt)).getTime(), Date.UTC(2026, 2, 3, 6));
      assert.equal(goods.args.Material, 'MAT-100');
      assert.equal(goods.args.Lot, 'L-0815');
      assert.equal(
        confirm.httpHeaders.authorization,
        `Basic ${Buffer.from('MES:secret').toString('base64')}`,
      );
      assert.equal(confirm.httpHeaders['idempotency-key'], `"${m.id}"`);
      const security = confirm.soapHeaders?.Security as { UsernameToken?: { Username?: unknown } };
      assert.equal(security.UsernameToken?.Username, 'MES_WS');
    } finally {
      await target.close();
      await service.close();
    }
  });

  it('a SOAP Fault is permanent and quotes the faultstring', async () => {
    const service = await erpService();
    const target = soapOf(`${service.url}/erp/production?wsdl`);
    try {
      const err = await rejectsWith(target.deliver([receipt('UNKNOWN')]), true);
      assert.match(
        err.message,
        /PostGoodsReceipt .*soap:Client: Material UNKNOWN does not exist in plant 1000/,
      );
    } finally {
      await target.close();
      await service.close();
    }
  });

  it('a 503 without a Fault is temporary; an unknown operation fails the connection test', async () => {
    const service = await erpService();
    const down = soapOf(`${service.url}/erp/production?wsdl`, { endpoint: `${service.url}/down` });
    const wrong = soapOf(`${service.url}/erp/production?wsdl`, {
      operation: { 'goods.issue': 'PostGoodsIssue' },
    });
    try {
      const err = await rejectsWith(down.deliver([confirmed()]), false);
      assert.match(err.message, /HTTP 503: <html>maintenance<\/html>/);
      const test = await rejectsWith(wrong.connectionTest(), true);
      assert.match(
        test.message,
        /no operation PostGoodsIssue \(it has ConfirmOperation, PostGoodsReceipt\)/,
      );
    } finally {
      await down.close();
      await wrong.close();
      await service.close();
    }
  });

  it('an unreachable WSDL is temporary', async () => {
    const service = await erpService();
    await service.close();
    const target = soapOf(`${service.url}/erp/production?wsdl`);
    try {
      const err = await rejectsWith(target.deliver([confirmed()]), false);
      assert.match(err.message, /cannot load the WSDL .*ECONNREFUSED/);
    } finally {
      await target.close();
    }
  });
});
