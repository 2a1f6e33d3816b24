/**
 * The ERP side of bench/orders, in a process of its own (an ERP is another machine: its client
 * and its receiver must not share the hub's event loop). Driven over IPC by run.ts:
 *
 * - `load`: POST `count` orders to a URL, `batch` orders a request (one order JSON, or
 *   `{ orders: [...] }`), `concurrency` requests at once on keep-alive connections; answers
 *   each request's latency and the status codes seen;
 * - `erp-start` / `erp-report`: a recording HTTP server (node:http) answering 200 at once, as
 *   the webhook target's receiver; the report has one row per request: Idempotency-Key, time
 *   received, the message's `at` (its commit time in the hub) and type;
 * - `drive`: one order every 1/`rate` s through dispatch → start → complete, each order's
 *   actions one after the other, the orders overlapping;
 * - `stop`: close the server and the connections, and exit.
 */
import http from 'node:http';

export interface Codes {
  /** Codes the client sends, as the ERP knows them (the hub's own, or the mapped ones). */
  readonly materials: readonly string[];
  readonly equipment: readonly string[];
  readonly uoms: readonly string[];
}

export interface LoadCommand {
  readonly cmd: 'load';
  readonly id: number;
  readonly url: string;
  readonly authorization: string | null;
  readonly count: number;
  readonly concurrency: number;
  readonly batch: number;
  readonly prefix: string;
  readonly codes: Codes;
}

export interface DriveCommand {
  readonly cmd: 'drive';
  readonly id: number;
  /** Base URL of the hub. */
  readonly url: string;
  readonly authorization: string;
  readonly orderIds: readonly string[];
  /** Orders started per second. */
  readonly rate: number;
}

export type Command =
  | LoadCommand
  | DriveCommand
  | { readonly cmd: 'erp-start'; readonly id: number }
  | { readonly cmd: 'erp-report'; readonly id: number }
  | { readonly cmd: 'stop'; readonly id: number };

export interface LoadResult {
  readonly id: number;
  readonly seconds: number;
  /** Request latencies, ms. */
  readonly latencies: number[];
  readonly statuses: Record<string, number>;
  readonly firstError: string | null;
}

/** One request the recording server took: [Idempotency-Key, received ms, body.at ms, type]. */
export type Received = [key: string, receivedMs: number, atMs: number, type: string];

export interface Progress {
  readonly id: number;
  readonly progress: number;
}

const send = (m: object): void => {
  process.send?.(m);
};

// ---------------------------------------------------------------------------------------------
// Requests

let agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function post(
  url: URL,
  body: string,
  authorization: string | null,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    };
    if (authorization !== null) headers.authorization = authorization;
    const req = http.request(url, { method: 'POST', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Order `i` of a run as the ERP sends it: 1–3 operations, codes picked round the lists. */
function order(prefix: string, i: number, codes: Codes): Record<string, unknown> {
  const ops = 1 + (i % 3);
  return {
    externalId: `${prefix}${i}`,
    material: codes.materials[i % codes.materials.length],
    quantity: String(100 + (i % 900)),
    uom: codes.uoms[i % codes.uoms.length],
    operations: Array.from({ length: ops }, (_, k) => ({
      id: String((k + 1) * 10).padStart(4, '0'),
      equipment: codes.equipment[(i * 7 + k * 13) % codes.equipment.length],
      description: `step ${k + 1}`,
    })),
    plannedStart: new Date(Date.UTC(2026, 11, 1, 6) + i * 60_000).toISOString(),
    plannedEnd: new Date(Date.UTC(2026, 11, 1, 14) + i * 60_000).toISOString(),
    priority: i % 5,
    description: `bench order ${i}`,
  };
}

function body(c: LoadCommand, first: number): string {
  const n = Math.min(c.batch, c.count - first);
  if (c.batch === 1) return JSON.stringify(order(c.prefix, first, c.codes));
  return JSON.stringify({
    orders: Array.from({ length: n }, (_, k) => order(c.prefix, first + k, c.codes)),
  });
}

async function load(c: LoadCommand): Promise<LoadResult> {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: c.concurrency });
  const url = new URL(c.url);
  const requests = Math.ceil(c.count / c.batch);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let firstError: string | null = null;
  let next = 0;
  let done = 0;
  const timer = setInterval(() => send({ id: c.id, progress: done * c.batch }), 1000);
  const worker = async (): Promise<void> => {
    while (next < requests) {
      const r = next++;
      const text = body(c, r * c.batch);
      const t0 = performance.now();
      try {
        const res = await post(url, text, c.authorization);
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 300 && firstError === null) firstError = `${res.status} ${res.text}`;
      } catch (err) {
        statuses.error = (statuses.error ?? 0) + 1;
        firstError ??= (err as Error).message;
      }
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: c.concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  return { id: c.id, seconds, latencies, statuses, firstError };
}

async function drive(c: DriveCommand): Promise<LoadResult> {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let firstError: string | null = null;
  let done = 0;
  const timer = setInterval(() => send({ id: c.id, progress: done }), 1000);
  const one = async (orderId: string): Promise<void> => {
    for (const action of ['dispatch', 'start', 'complete']) {
      const t0 = performance.now();
      try {
        const res = await post(
          new URL(`/api/v1/orders/${encodeURIComponent(orderId)}/${action}`, c.url),
          '{}',
          c.authorization,
        );
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status !== 200) {
          firstError ??= `${action} ${orderId}: ${res.status} ${res.text}`;
          return;
        }
      } catch (err) {
        statuses.error = (statuses.error ?? 0) + 1;
        firstError ??= (err as Error).message;
        return;
      }
    }
    done++;
  };
  const t0 = performance.now();
  const running: Promise<void>[] = [];
  for (const [i, orderId] of c.orderIds.entries()) {
    // A steady rate: order i starts at t0 + i / rate, whatever the answers before it.
    const wait = t0 + (i * 1000) / c.rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    running.push(one(orderId));
  }
  await Promise.all(running);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(timer);
  return { id: c.id, seconds, latencies, statuses, firstError };
}

// ---------------------------------------------------------------------------------------------
// The recording server

const received: Received[] = [];
let server: http.Server | null = null;

async function erpStart(): Promise<string> {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const now = Date.now();
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      const key = String(req.headers['idempotency-key'] ?? '');
      let at = NaN;
      let type = '';
      try {
        const m = JSON.parse(Buffer.concat(chunks).toString()) as { at?: string; type?: string };
        at = Date.parse(m.at ?? '');
        type = m.type ?? '';
      } catch {
        // not a message (the bare round trip of the ceiling): no commit time
      }
      received.push([key, now, at, type]);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

async function stop(): Promise<void> {
  agent.destroy();
  if (server !== null) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  }
}

process.on('message', (m: Command) => {
  const reply = async (): Promise<object> => {
    switch (m.cmd) {
      case 'load':
        return load(m);
      case 'drive':
        return drive(m);
      case 'erp-start':
        return { id: m.id, url: await erpStart() };
      case 'erp-report':
        return { id: m.id, received: received.splice(0) };
      case 'stop':
        await stop();
        return { id: m.id, stopped: true };
    }
  };
  reply().then(
    (r) => {
      send(r);
      if (m.cmd === 'stop') process.disconnect();
    },
    (err: unknown) => send({ id: m.id, error: String(err) }),
  );
});
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
send({ ready: true });
