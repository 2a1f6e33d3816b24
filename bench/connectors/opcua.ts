/**
 * OPC UA connector benchmark. A node-opcua server in its own process (opcua-server.ts) holds
 * `--variables` UInt32 variables that all change every `--every` ms. Two subscriptions to all
 * of them, security None, same parameters (publishing interval `--publishing`, sampling on each
 * change, queue size 4):
 *
 *   1. ceiling: a bare node-opcua client counting the data change notifications;
 *   2. hub: an in-process hub (SQLite, synchronous FULL) with an opcua connection; data changes
 *      committed per second, and latency from the server's source timestamp to the commit.
 *
 * Usage: npm run bench:opcua [-- --variables 2000 --every 50 --publishing 100 --seconds 15]
 */
import {
  AttributeIds,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
} from 'node-opcua';
import {
  COUNTERS,
  CommitMeter,
  deadline,
  detail,
  finish,
  fmt,
  forkPeer,
  freePort,
  header,
  mb,
  note,
  numArg,
  onCleanup,
  pct,
  progress,
  result,
  rss,
  run,
  sleep,
  startBenchHub,
  tempDir,
  unitOf,
  waitUntil,
} from './common.ts';

const VARIABLES = numArg('variables', 2000);
const EVERY_MS = numArg('every', 50);
const PUBLISHING_MS = numArg('publishing', 100);
const QUEUE_SIZE = 4;
const SECONDS = numArg('seconds', 15);
const CEILING_SECONDS = numArg('ceiling-seconds', Math.min(SECONDS, 10));
const WARMUP_MS = 2000;
const nodeId = (i: number): string => `ns=1;s=V${i}`;
const tagName = (i: number): string => {
  const { line, unit } = unitOf(Math.floor(i / 3));
  return `${line}/${unit}/${COUNTERS[i % 3] as string}`;
};

interface Server {
  endpoint: string;
  /** Values the server has set so far. */
  changes(): Promise<number>;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const peer = await forkPeer<{ port: number }>('./opcua-server.ts', [
    String(port),
    tempDir('mw-bench-opcua-server-'),
    String(VARIABLES),
    String(EVERY_MS),
  ]);
  return {
    endpoint: `opc.tcp://127.0.0.1:${port}`,
    changes: () => {
      const answer = peer.next((m) => (m as { changes?: number }).changes);
      peer.send({ count: true });
      return answer;
    },
  };
}

async function ceiling(server: Server): Promise<{ changesPerS: number; offeredPerS: number }> {
  // The client's own certificate in a temp folder, not in the user's home.
  const clientCertificateManager = new OPCUACertificateManager({
    rootFolder: tempDir('mw-bench-opcua-client-'),
    automaticallyAcceptUnknownCertificate: true,
    disableFileWatchers: true,
  });
  onCleanup(() => clientCertificateManager.dispose());
  const client = OPCUAClient.create({
    clientCertificateManager,
    endpointMustExist: false,
    securityMode: MessageSecurityMode.None,
    securityPolicy: SecurityPolicy.None,
    connectionStrategy: { maxRetry: 2, initialDelay: 200, maxDelay: 1000 },
  });
  await client.connect(server.endpoint);
  onCleanup(() => client.disconnect());
  const session = await client.createSession();
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: PUBLISHING_MS,
    requestedMaxKeepAliveCount: 10,
    requestedLifetimeCount: 60,
    maxNotificationsPerPublish: 1000,
    publishingEnabled: true,
    priority: 1,
  });
  let changes = 0;
  const group = await subscription.monitorItems(
    Array.from({ length: VARIABLES }, (_, i) => ({
      nodeId: nodeId(i),
      attributeId: AttributeIds.Value,
    })),
    { samplingInterval: 0, queueSize: QUEUE_SIZE, discardOldest: true },
    TimestampsToReturn.Both,
  );
  group.on('changed', () => changes++);
  await sleep(1000);
  const stopProgress = progress('bare client', () => `${fmt(changes)} notifications`);
  const c0 = changes;
  const s0 = await server.changes();
  const t0 = performance.now();
  await sleep(CEILING_SECONDS * 1000);
  const ms = performance.now() - t0;
  const offered = ((await server.changes()) - s0) / (ms / 1000);
  const rate = ((changes - c0) / ms) * 1000;
  stopProgress();
  await subscription.terminate();
  await session.close();
  await client.disconnect();
  return { changesPerS: rate, offeredPerS: offered };
}

async function hubRun(server: Server): Promise<{
  changesPerS: number;
  offeredPerS: number;
  latencyMs: number[];
  peakRss: number;
}> {
  rss.reset();
  const tags = Array.from(
    { length: VARIABLES },
    (_, i) =>
      `      - { name: ${tagName(i)}, nodeId: '${nodeId(i)}', samplingInterval: 0ms, queueSize: ${QUEUE_SIZE} }`,
  ).join('\n');
  const connection = `  - id: plc
    type: opcua
    endpoint: ${server.endpoint}
    securityMode: None
    publishingInterval: ${PUBLISHING_MS}ms
    tags:
${tags}`;
  const { hub, stop } = await startBenchHub(Math.ceil(VARIABLES / 3), 'plc', connection, '');
  // Latency of one change in 20: the server's source timestamp → commit.
  const meter = new CommitMeter(hub, (s) => s.sourceTs, 20);
  await waitUntil(hub, () => meter.batches > 0, 'the first commit', 60_000);
  await run(hub, WARMUP_MS);
  meter.reset();
  const s0 = await server.changes();
  const t0 = performance.now();
  const stopProgress = progress(
    'hub',
    () => `${fmt(meter.samples)} data changes committed${detail(hub)}`,
  );
  await run(hub, SECONDS * 1000);
  meter.freeze();
  const offered = ((await server.changes()) - s0) / ((performance.now() - t0) / 1000);
  stopProgress();
  const peakRss = rss.peak;
  const out = {
    changesPerS: meter.rate,
    offeredPerS: offered,
    latencyMs: meter.sortedLatencies(),
    peakRss,
  };
  await stop();
  return out;
}

deadline(180 + SECONDS * 2);
try {
  header(
    'bench/connectors/opcua',
    `${fmt(VARIABLES)} variables changing every ${EVERY_MS} ms, publishing interval ${PUBLISHING_MS} ms, security None, ${SECONDS} s measured`,
  );
  const server = await startServer();
  console.log(`  node-opcua server at ${server.endpoint}`);
  const bare = await ceiling(server);
  note(
    'ceiling: bare node-opcua client',
    `${fmt(bare.changesPerS)} changes/s (server set ${fmt(bare.offeredPerS)}/s)`,
  );
  const hub = await hubRun(server);
  console.log('');
  result(
    'data changes committed/s',
    `${fmt(hub.changesPerS)} changes/s`,
    `bare client ${fmt(bare.changesPerS)} changes/s`,
    hub.changesPerS / bare.changesPerS,
  );
  note('values the server set meanwhile', `${fmt(hub.offeredPerS)}/s`);
  note(
    'source timestamp → committed',
    `p50 ${fmt(pct(hub.latencyMs, 50))} / p99 ${fmt(pct(hub.latencyMs, 99))} ms`,
  );
  note('peak RSS (hub process)', mb(hub.peakRss));
  console.log(
    `RESULT ceiling_changes_s=${Math.round(bare.changesPerS)} hub_changes_s=${Math.round(hub.changesPerS)} ratio=${(hub.changesPerS / bare.changesPerS).toFixed(2)} offered_s=${Math.round(hub.offeredPerS)} latency_p50_ms=${pct(hub.latencyMs, 50)} latency_p99_ms=${pct(hub.latencyMs, 99)} peak_rss_mb=${Math.round(hub.peakRss / 1048576)}`,
  );
  await finish();
} catch (err) {
  await finish(err);
}
