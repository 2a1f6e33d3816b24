/**
 * Work orders and the ERP outbox (issue #10), on SQLite (synchronous FULL) in a temp folder, the
 * HTTP API on 127.0.0.1 port 0. The ERP — a load client and a recording webhook receiver — runs
 * in a process of its own (client.ts).
 *
 *   1. order imports over REST: `--count` orders (1–3 operations each) POSTed to
 *      /api/v1/orders with an API token of the integration role, `--concurrency` requests at
 *      once, one order per request (the usual ERP pattern) and `--batch` orders per request;
 *      in the hub's own codes, and through a mapping system of 1,000 materials and 1,000
 *      equipment codes (and every unit of the catalog: it has 47); orders/s, request latency
 *      p50 / p99, peak RSS. Ceilings: the same number of bare Store.writeRecords of one
 *      order-sized record with its audit row, and a bare fastify echo of the same bodies at the
 *      same concurrency.
 *   2. realtime delivery: a webhook target to the recording server; `--realtime-count` orders
 *      driven through dispatch → start → complete at `--rate` orders/s; latency from a
 *      message's commit (its `at`) to the ERP receiving it, duplicates by Idempotency-Key and
 *      missing messages, and the dispatcher's own figures from GET /api/v1/targets. Ceiling:
 *      bare HTTP POSTs to the same server at the dispatcher's concurrency.
 *
 * Usage: npm run bench:orders [-- --count 20000 --concurrency 16 --batch 100 --mapped | --own
 *        --realtime-count 500 --rate 10 --phase all|imports|hub|realtime --max-seconds 1800]
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import Fastify from 'fastify';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { localPrincipal } from '../../src/compliance/identity.ts';
import { openConfiguredStore, startHub, type Hub } from '../../src/hub.ts';
import { UNITS } from '../../src/model/uom-catalog.ts';
import type { AuditEntry, RecordWrite } from '../../src/store/types.ts';
import {
  deadline,
  finish,
  flag,
  fmt,
  forkPeer,
  header,
  logger,
  mb,
  note,
  numArg,
  onCleanup,
  pct,
  progress,
  rss,
  sleep,
  strArg,
  tempDir,
} from '../connectors/common.ts';
import type { Codes, Command, LoadCommand, LoadResult, Progress, Received } from './client.ts';

const COUNT = numArg('count', 20_000);
const CONCURRENCY = numArg('concurrency', 16);
const BATCH = numArg('batch', 100);
const REALTIME_COUNT = numArg('realtime-count', 500);
const RATE = numArg('rate', 10);
const PHASE = strArg('phase', 'all');
const MODES: readonly ('own' | 'mapped')[] = flag('mapped')
  ? ['mapped']
  : flag('own')
    ? ['own']
    : ['own', 'mapped'];
/** The dispatcher's orders in flight per realtime target (OutboxDispatcher's default). */
const DISPATCH_CONCURRENCY = 8;
/** Messages an order sends through dispatch → start → complete with no counts on its line. */
const MESSAGES_PER_ORDER = [
  'order.started',
  'operation.confirmed',
  'goods.receipt',
  'order.completed',
];
const MAPPED_ENTRIES = 1000;
const LINES = 100;
const UNITS_PER_LINE = 9; // 100 lines + 900 units: 1,000 equipment ids to map
const ADMIN = { username: 'admin', password: 'correct horse battery staple' };

deadline(1800);

// ---------------------------------------------------------------------------------------------
// The plant, its codes and the ERP's

const lineId = (l: number): string => `acme/plant1/area1/line${l}`;
const EQUIPMENT = Array.from({ length: LINES }, (_, l) => [
  lineId(l),
  ...Array.from({ length: UNITS_PER_LINE }, (_, u) => `${lineId(l)}/unit${u}`),
]).flat();
const MATERIALS = Array.from(
  { length: MAPPED_ENTRIES },
  (_, i) => `FG-${String(i).padStart(4, '0')}`,
);
/** Units orders are in: count units mostly, some mass and volume. */
const ORDER_UOMS = ['H87', 'H87', 'H87', 'C62', 'KGM', 'LTR'];
const theirs = {
  material: (ours: string): string => `0000000000004${ours.slice(3)}`,
  equipment: (ours: string): string => `WC-${String(EQUIPMENT.indexOf(ours)).padStart(4, '0')}`,
  uom: (ours: string): string => `U-${ours}`,
};
const OWN_CODES: Codes = { materials: MATERIALS, equipment: EQUIPMENT, uoms: ORDER_UOMS };
const MAPPED_CODES: Codes = {
  materials: MATERIALS.map(theirs.material),
  equipment: EQUIPMENT.map(theirs.equipment),
  uoms: ORDER_UOMS.map(theirs.uom),
};

function hubYaml(targetUrl: string | null): string {
  const lines = Array.from(
    { length: LINES },
    (_, l) =>
      `          - { id: line${l}, units: [${Array.from({ length: UNITS_PER_LINE }, (_, u) => `{ id: unit${u} }`).join(', ')}] }`,
  ).join('\n');
  const targets =
    targetUrl === null
      ? ''
      : `targets:
  - id: erp
    type: webhook
    url: ${targetUrl}/confirmations
    secret: a-shared-secret-of-the-erp
`;
  return `enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: UTC
    areas:
      - id: area1
        lines:
${lines}
broker: { port: 0 }
http: { host: 127.0.0.1, port: 0 }
store: { type: sqlite, synchronous: FULL }
${targets}`;
}

const config = (targetUrl: string | null): Config => parseConfig(hubYaml(targetUrl), '<bench>');

// ---------------------------------------------------------------------------------------------
// The ERP process and HTTP helpers

const erp = await forkPeer<{ ready: true }>('../orders/client.ts', []);
let commandId = 0;
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** The answer to command `id` (progress messages carry the id too). */
const answerTo = (id: number, m: unknown): object | undefined =>
  typeof m === 'object' && m !== null && (m as { id?: number }).id === id && !('progress' in m)
    ? m
    : undefined;
let onProgress: ((p: Progress) => void) | null = null;
erp.child.on('message', (m: unknown) => {
  if (typeof m === 'object' && m !== null && 'progress' in m) onProgress?.(m as Progress);
});
onCleanup(async () => {
  if (!erp.child.connected) return;
  const id = ++commandId;
  erp.send({ cmd: 'stop', id } satisfies Command);
  await Promise.race([erp.next((m) => answerTo(id, m)), sleep(3000)]);
});

/** Send a command to the ERP process and wait for its answer (progress lines meanwhile). */
async function ask<T>(command: WithoutId<Command>, label?: string, total?: number): Promise<T> {
  const id = ++commandId;
  let done = 0;
  onProgress = (p) => {
    if (p.id === id) done = p.progress;
  };
  const stop =
    label === undefined
      ? () => undefined
      : progress(label, () => `${fmt(done)} / ${fmt(total ?? 0)}`);
  erp.send({ ...command, id });
  try {
    const answer = await erp.next((m) => answerTo(id, m));
    if ('error' in (answer as object))
      throw new Error(`ERP process: ${(answer as { error: string }).error}`);
    return answer as T;
  } finally {
    stop();
    onProgress = null;
  }
}

async function api(
  hub: Hub,
  method: string,
  path: string,
  body: unknown,
  authorization?: string,
): Promise<unknown> {
  const res = await fetch(`${hub.url!}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(authorization === undefined ? {} : { authorization }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text === '' ? null : JSON.parse(text);
}

interface BenchHub {
  readonly hub: Hub;
  /** The admin's session, for actions and setup. */
  readonly admin: string;
  /** An API token of the integration role, as an ERP has. */
  readonly token: string;
  stop(): Promise<void>;
}

async function startBenchHub(targetUrl: string | null): Promise<BenchHub> {
  const dir = tempDir('mw-bench-orders-');
  const hub = await startHub({ config: config(targetUrl), baseDir: dir, dataDir: dir, logger });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await hub.stop();
  };
  onCleanup(stop);
  // The first admin, as `millwright user create` makes it; then a session and an ERP's token.
  await hub.identity.createUser(localPrincipal(), {
    username: ADMIN.username,
    fullName: 'Bench admin',
    roles: ['admin'],
    password: ADMIN.password,
  });
  const login = (await api(hub, 'POST', '/api/v1/auth/login', ADMIN)) as { token: string };
  const admin = `Bearer ${login.token}`;
  const created = (await api(
    hub,
    'POST',
    '/api/v1/tokens',
    { name: 'bench ERP', role: 'integration' },
    admin,
  )) as { token: string };
  return { hub, admin, token: `Bearer ${created.token}`, stop };
}

/** The mapping system `sap`: 1,000 materials, 1,000 equipment ids, every catalog unit. */
async function mapTables(b: BenchHub): Promise<void> {
  const tables = {
    material: MATERIALS.map((ours) => ({ ours, theirs: theirs.material(ours) })),
    equipment: EQUIPMENT.map((ours) => ({ ours, theirs: theirs.equipment(ours) })),
    uom: UNITS.map((u) => ({ ours: u.code, theirs: theirs.uom(u.code) })),
  };
  for (const [kind, entries] of Object.entries(tables))
    await api(b.hub, 'PUT', `/api/v1/mappings/sap/${kind}`, { entries, reason: 'bench' }, b.admin);
}

const statusLine = (s: Record<string, number>): string =>
  Object.entries(s)
    .map(([k, v]) => `${fmt(v)}× ${k}`)
    .join(', ');

function checkStatuses(r: LoadResult, ok: readonly string[], what: string): void {
  const bad = Object.keys(r.statuses).filter((s) => !ok.includes(s));
  if (bad.length > 0)
    throw new Error(`${what}: answers ${statusLine(r.statuses)}; first: ${r.firstError ?? '?'}`);
}

const ms = (n: number): string => `${n < 10 ? n.toFixed(1) : fmt(n)} ms`;
const latencyText = (sorted: readonly number[]): string =>
  `p50 ${ms(pct(sorted, 50))} / p99 ${ms(pct(sorted, 99))}`;
const sorted = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

// ---------------------------------------------------------------------------------------------
// 1. Imports and their ceilings

/** An order's record as the order service writes it (2 operations), with its audit row. */
function orderWrite(i: number, at: number): { write: RecordWrite; audit: AuditEntry } {
  const id = `CEIL-${i}`;
  const content = {
    externalId: id,
    material: MATERIALS[i % MATERIALS.length]!,
    quantity: String(100 + (i % 900)),
    uom: 'H87',
    operations: [0, 1].map((k) => ({
      id: String((k + 1) * 10).padStart(4, '0'),
      equipment: EQUIPMENT[(i * 7 + k * 13) % EQUIPMENT.length]!,
      description: `step ${k + 1}`,
    })),
    plannedStart: at,
    plannedEnd: at + 8 * 3_600_000,
    priority: i % 5,
    lot: null,
    description: `bench order ${i}`,
  };
  const data = {
    content,
    status: 'released',
    operations: content.operations.map((op) => ({
      id: op.id,
      status: 'waiting',
      countingUnit: `${op.equipment}/unit8`,
      periods: [],
      confirmedGood: '0',
      confirmedScrap: '0',
      startedAt: null,
      completedAt: null,
    })),
    source: { id: 'rest', system: null, format: 'json' },
    startedAt: null,
    completedAt: null,
    statusChangedAt: at,
  };
  const flat: Record<string, unknown> = {
    ...content,
    operations: content.operations.map((o) => `${o.id}@${o.equipment}`).join(', '),
  };
  return {
    write: { entityType: 'order', entityId: id, expectedVersion: 0, data },
    audit: {
      at,
      actor: 'token:0123456789abcdef',
      action: 'create',
      entityType: 'order',
      entityId: id,
      changes: Object.fromEntries(
        Object.entries(flat)
          .filter(([, v]) => v !== null)
          .map(([k, v]) => [k, { old: null, new: v }]),
      ),
      reason: 'imported from rest (json)',
    },
  };
}

/** Orders/s of bare Store.writeRecords, `perCall` orders (and audit rows) a transaction. */
async function storeCeiling(count: number, perCall: number): Promise<number> {
  const dir = tempDir('mw-bench-orders-store-');
  const { store } = await openConfiguredStore({ config: config(null), baseDir: dir, dataDir: dir });
  await store.migrate();
  const t0 = performance.now();
  for (let i = 0; i < count; i += perCall) {
    const items = Array.from({ length: Math.min(perCall, count - i) }, (_, k) =>
      orderWrite(i + k, Date.now()),
    );
    await store.writeRecords(
      items.map((x) => x.write),
      items.map((x) => x.audit),
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return count / seconds;
}

/** A bare fastify app answering each POST with its parsed body. */
async function echoCeiling(batch: number): Promise<{ ordersPerS: number; latencies: number[] }> {
  const app = Fastify({ bodyLimit: 10 * 1024 * 1024 });
  app.post('/echo', async (request) => request.body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    const { port } = app.server.address() as { port: number };
    const r = await ask<LoadResult>(
      {
        cmd: 'load',
        url: `http://127.0.0.1:${port}/echo`,
        authorization: null,
        count: COUNT,
        concurrency: CONCURRENCY,
        batch,
        prefix: 'ECHO-',
        codes: OWN_CODES,
      } satisfies Omit<LoadCommand, 'id'>,
      `fastify echo, ${batch} a request`,
      COUNT,
    );
    checkStatuses(r, ['200'], 'fastify echo');
    return { ordersPerS: COUNT / r.seconds, latencies: sorted(r.latencies) };
  } finally {
    await app.close();
  }
}

interface ImportFigures {
  readonly mode: 'own' | 'mapped';
  readonly batch: number;
  readonly ordersPerS: number;
  readonly latencies: number[];
}

async function importRuns(
  mode: 'own' | 'mapped',
): Promise<{ runs: ImportFigures[]; peakRss: number }> {
  rss.reset();
  const b = await startBenchHub(null);
  if (mode === 'mapped') await mapTables(b);
  const codes = mode === 'mapped' ? MAPPED_CODES : OWN_CODES;
  const url = `${b.hub.url!}/api/v1/orders${mode === 'mapped' ? '?system=sap' : ''}`;
  const load = (
    count: number,
    batch: number,
    prefix: string,
    label?: string,
  ): Promise<LoadResult> =>
    ask<LoadResult>(
      {
        cmd: 'load',
        url,
        authorization: b.token,
        count,
        concurrency: CONCURRENCY,
        batch,
        prefix,
        codes,
      } satisfies Omit<LoadCommand, 'id'>,
      label,
      count,
    );
  // Warm-up (JIT, statement cache), not counted.
  checkStatuses(await load(Math.min(1000, COUNT), 1, 'WARM-'), ['201'], 'warm-up');
  const runs: ImportFigures[] = [];
  for (const [run, batch] of [1, BATCH].entries()) {
    const r = await load(COUNT, batch, `R${run}-`, `hub, ${mode} codes, ${batch} a request`);
    checkStatuses(r, ['201'], `import (${mode} codes, ${batch} a request)`);
    runs.push({ mode, batch, ordersPerS: COUNT / r.seconds, latencies: sorted(r.latencies) });
  }
  // Spot check: the last order is in the store, in the hub's codes.
  const last = (await api(b.hub, 'GET', `/api/v1/orders/R1-${COUNT - 1}`, undefined, b.admin)) as {
    material: string;
  };
  if (last.material !== MATERIALS[(COUNT - 1) % MATERIALS.length])
    throw new Error(`order R1-${COUNT - 1} has material ${last.material}`);
  const peakRss = rss.peak;
  await b.stop();
  return { runs, peakRss };
}

async function imports(): Promise<void> {
  console.log(
    `\n1. order imports over REST: ${fmt(COUNT)} orders (1–3 operations), ${CONCURRENCY} requests at once`,
  );
  // --phase hub: the hub's runs only (a profiling aid).
  const ceilings = PHASE !== 'hub';
  const store1 = ceilings ? await storeCeiling(COUNT, 1) : NaN;
  const storeN = ceilings ? await storeCeiling(COUNT, BATCH) : NaN;
  const echo1 = ceilings ? await echoCeiling(1) : { ordersPerS: NaN, latencies: [] };
  const echoN = ceilings ? await echoCeiling(BATCH) : { ordersPerS: NaN, latencies: [] };
  if (ceilings) {
    note('ceiling: writeRecords, 1 a txn', `${fmt(store1)} orders/s`);
    note(`ceiling: writeRecords, ${BATCH} a txn`, `${fmt(storeN)} orders/s`);
    note(
      'ceiling: fastify echo, 1 a req.',
      `${fmt(echo1.ordersPerS)} orders/s  ${latencyText(echo1.latencies)}`,
    );
    note(
      `ceiling: fastify echo, ${BATCH} a req.`,
      `${fmt(echoN.ordersPerS)} orders/s  ${latencyText(echoN.latencies)}`,
    );
  }
  const results: string[] = [];
  for (const mode of MODES) {
    const { runs, peakRss } = await importRuns(mode);
    for (const r of runs) {
      const store = r.batch === 1 ? store1 : storeN;
      const echo = r.batch === 1 ? echo1.ordersPerS : echoN.ordersPerS;
      const per = r.batch === 1 ? '1 a txn' : `${r.batch} a txn`;
      const what = `${mode} codes, ${r.batch === 1 ? '1 order' : `${r.batch} orders`} a req.`;
      note(what, `${fmt(r.ordersPerS)} orders/s  ${latencyText(r.latencies)}`);
      if (ceilings)
        console.log(
          `      = ${((r.ordersPerS / store) * 100).toFixed(0)}% of bare writeRecords (${per}, ${fmt(store)}/s), ${((r.ordersPerS / echo) * 100).toFixed(0)}% of the fastify echo (${fmt(echo)}/s)`,
        );
      results.push(
        `${mode}_b${r.batch}_orders_s=${Math.round(r.ordersPerS)} ${mode}_b${r.batch}_p50_ms=${pct(r.latencies, 50).toFixed(1)} ${mode}_b${r.batch}_p99_ms=${pct(r.latencies, 99).toFixed(1)}`,
      );
    }
    note(`peak RSS (${mode} codes hub run)`, mb(peakRss));
    results.push(`${mode}_peak_rss_mb=${Math.round(peakRss / 1048576)}`);
  }
  console.log('  target: ≥ 1,000 orders/s imported over REST on SQLite');
  console.log(
    `RESULT store_ceiling_1=${Math.round(store1)} store_ceiling_${BATCH}=${Math.round(storeN)} echo_1=${Math.round(echo1.ordersPerS)} echo_${BATCH}=${Math.round(echoN.ordersPerS)} ${results.join(' ')}`,
  );
}

// ---------------------------------------------------------------------------------------------
// 2. Realtime delivery

/** Round trips of bare POSTs of a message-sized body to `url`, `concurrency` at once. */
async function postCeiling(
  url: string,
  count: number,
  concurrency: number,
): Promise<{ perS: number; latencies: number[] }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  const body = JSON.stringify({
    id: randomUUID(),
    type: 'operation.confirmed',
    orderId: 'RT-0',
    at: 'not a commit time',
    data: { id: '0010', equipment: EQUIPMENT[0], yield: '0', scrap: '0', uom: 'H87', final: true },
  });
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < count) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const req = http.request(
          target,
          {
            method: 'POST',
            agent,
            headers: {
              'content-type': 'application/json',
              'content-length': String(Buffer.byteLength(body)),
              'idempotency-key': `"${randomUUID()}"`,
            },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve());
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { perS: count / seconds, latencies: sorted(latencies) };
}

async function realtime(): Promise<void> {
  const expected = REALTIME_COUNT * MESSAGES_PER_ORDER.length;
  console.log(
    `\n2. realtime delivery: ${fmt(REALTIME_COUNT)} orders through dispatch → start → complete at ${RATE} orders/s, ${fmt(expected)} messages to a webhook`,
  );
  const { url: erpUrl } = await ask<{ url: string }>({ cmd: 'erp-start' });
  rss.reset();
  const b = await startBenchHub(erpUrl);
  const ids = Array.from({ length: REALTIME_COUNT }, (_, i) => `RT-${i}`);
  checkStatuses(
    await ask<LoadResult>({
      cmd: 'load',
      url: `${b.hub.url!}/api/v1/orders`,
      authorization: b.token,
      count: REALTIME_COUNT,
      concurrency: 4,
      batch: BATCH,
      prefix: 'RT-',
      codes: OWN_CODES,
    } satisfies Omit<LoadCommand, 'id'>),
    ['201'],
    'import of the realtime orders',
  );
  const drive = await ask<LoadResult>(
    { cmd: 'drive', url: b.hub.url!, authorization: b.admin, orderIds: ids, rate: RATE },
    'orders driven',
    REALTIME_COUNT,
  );
  checkStatuses(drive, ['200'], 'order actions');
  // Wait until the outbox is drained (every row delivered), at most 60 s.
  const until = Date.now() + 60_000;
  for (;;) {
    const counts = (await b.hub.store.countOutbox()).erp;
    if (counts !== undefined && counts.pending === 0 && counts.delivered + counts.dead >= expected)
      break;
    if (Date.now() > until)
      throw new Error(`outbox not drained after 60 s: ${JSON.stringify(counts)}`);
    await sleep(50);
  }
  const targets = (await api(b.hub, 'GET', '/api/v1/targets', undefined, b.admin)) as {
    items: {
      id: string;
      delivered: number;
      failedAttempts: number;
      dead: number;
      latencyMs: { p50: number | null; p99: number | null; samples: number };
    }[];
  };
  const outboxIds = new Set<string>();
  for (let before: number | undefined; ;) {
    const rows = await b.hub.store.listOutbox({ target: 'erp', beforeId: before, limit: 1000 });
    for (const r of rows) outboxIds.add(r.messageId);
    if (rows.length < 1000) break;
    before = rows.at(-1)!.id;
  }
  const peakRss = rss.peak;
  await sleep(200); // the last answers are on their way to the ERP process's records
  const { received } = await ask<{ received: Received[] }>({ cmd: 'erp-report' });
  await b.stop();

  const seen = new Map<string, number>();
  for (const [key] of received) seen.set(key, (seen.get(key) ?? 0) + 1);
  const duplicates = [...seen.values()].reduce((s, n) => s + n - 1, 0);
  const keys = new Set([...seen.keys()].map((k) => k.replace(/^"|"$/g, '')));
  const missing =
    [...outboxIds].filter((id) => !keys.has(id)).length + Math.max(0, expected - outboxIds.size);
  const latencies = sorted(received.map(([, rx, at]) => rx - at));
  const first = Math.min(...received.map(([, , at]) => at));
  const last = Math.max(...received.map(([, rx]) => rx));
  const perS = (received.length / (last - first)) * 1000;
  const byType = new Map<string, number>();
  for (const [, , , type] of received) byType.set(type, (byType.get(type) ?? 0) + 1);
  const dispatcher = targets.items.find((t) => t.id === 'erp')!;

  const ceiling = await postCeiling(
    `${erpUrl}/ceiling`,
    Math.max(2000, expected),
    DISPATCH_CONCURRENCY,
  );
  await ask<{ received: Received[] }>({ cmd: 'erp-report' }); // the ceiling's requests: dropped

  const actions = sorted(drive.latencies);
  note(
    'orders driven',
    `${fmt(REALTIME_COUNT)} in ${drive.seconds.toFixed(1)} s (${fmt((REALTIME_COUNT * 3) / drive.seconds)} actions/s), action requests ${latencyText(actions)}`,
  );
  note('commit → ERP received', `${latencyText(latencies)} / max ${ms(latencies.at(-1) ?? NaN)}`);
  note(
    `  ceiling: bare POST, ${DISPATCH_CONCURRENCY} at once`,
    `round trip ${latencyText(ceiling.latencies)}, ${fmt(ceiling.perS)} POSTs/s`,
  );
  note(
    'messages delivered',
    `${fmt(perS)} msgs/s (offered ${fmt(RATE * MESSAGES_PER_ORDER.length)}/s): ${[...byType].map(([t, n]) => `${fmt(n)} ${t}`).join(', ')}`,
  );
  note(
    'dispatcher (GET /api/v1/targets)',
    `p50 ${ms(dispatcher.latencyMs.p50 ?? NaN)} / p99 ${ms(dispatcher.latencyMs.p99 ?? NaN)} of the last ${fmt(dispatcher.latencyMs.samples)}; ${fmt(dispatcher.delivered)} delivered, ${dispatcher.failedAttempts} failed attempts, ${dispatcher.dead} dead`,
  );
  note(
    'duplicates by Idempotency-Key',
    `${duplicates}${duplicates === 0 ? ' (must be 0)' : ' — MUST BE 0'}`,
  );
  note(
    'missing',
    `${missing} of ${fmt(expected)}${missing === 0 ? ' (must be 0)' : ' — MUST BE 0'}`,
  );
  note('peak RSS (realtime hub run)', mb(peakRss));
  console.log('  target: realtime delivery p99 < 100 ms with 0 duplicates');
  console.log(
    `RESULT rt_p50_ms=${pct(latencies, 50)} rt_p99_ms=${pct(latencies, 99)} rt_max_ms=${latencies.at(-1)} rt_msgs_s=${Math.round(perS)} dispatcher_p50_ms=${dispatcher.latencyMs.p50} dispatcher_p99_ms=${dispatcher.latencyMs.p99} duplicates=${duplicates} missing=${missing} ceiling_p50_ms=${pct(ceiling.latencies, 50).toFixed(1)} ceiling_p99_ms=${pct(ceiling.latencies, 99).toFixed(1)} ceiling_posts_s=${Math.round(ceiling.perS)} rt_peak_rss_mb=${Math.round(peakRss / 1048576)}`,
  );
}

// ---------------------------------------------------------------------------------------------

header(
  'bench/orders',
  `work orders over REST and the ERP outbox on SQLite (synchronous FULL), HTTP on 127.0.0.1`,
);
try {
  if (PHASE === 'all' || PHASE === 'imports' || PHASE === 'hub') await imports();
  if (PHASE === 'all' || PHASE === 'realtime') await realtime();
  await finish();
} catch (err) {
  await finish(err);
}
