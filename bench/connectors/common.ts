/**
 * What the connector benchmarks share: flags, the benchmark plant and its bindings, an
 * in-process hub on SQLite in a temp folder, a meter of committed samples, peers in child
 * processes, peak RSS, and the result lines `<what>: <figure> (<ceiling>, <ratio>% of ceiling)`.
 *
 * Every peer, hub, temp folder and client a benchmark opens is registered with `onCleanup`, and
 * `finish()` (or Ctrl-C, or an error) runs the clean-ups in reverse order.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { startHub, type Hub } from '../../src/hub.ts';
import { plantYaml } from '../ingest/config.ts';

export const logger = pino({ level: process.env.MW_BENCH_LOG ?? 'warn' });

// ---------------------------------------------------------------------------------------------
// Flags

export function numArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n)) throw new Error(`--${name} expects a number`);
  return n;
}

export function strArg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}

// ---------------------------------------------------------------------------------------------
// Output

export const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
export const mb = (bytes: number): string => `${Math.round(bytes / 1048576)} MB`;

export function header(name: string, what: string): void {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log(
    `${name}: ${what}\n  ${os.cpus().length} cores, node ${process.version}, load average ${load} (before the run)`,
  );
}

/** A progress line every `everyMs` while a long phase runs; call the result to stop it. */
export function progress(label: string, line: () => string, everyMs = 5000): () => void {
  const t0 = Date.now();
  const timer = setInterval(
    () => console.log(`  … ${label} ${((Date.now() - t0) / 1000).toFixed(0)} s: ${line()}`),
    everyMs,
  );
  return () => clearInterval(timer);
}

/** `<what>: <figure> (<ceiling figure>, <ratio>% of ceiling)`, aligned. */
export function result(what: string, figure: string, ceiling: string, ratio: number): void {
  console.log(
    `  ${`${what}:`.padEnd(34)} ${figure.padStart(22)}  (${ceiling}, ${(ratio * 100).toFixed(0)}% of ceiling)`,
  );
}

/** A figure without a ceiling of its own (latency, loss), aligned with `result`. */
export function note(what: string, figure: string): void {
  console.log(`  ${`${what}:`.padEnd(34)} ${figure.padStart(22)}`);
}

export const pct = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

// ---------------------------------------------------------------------------------------------
// Peak RSS of this process, sampled every 50 ms

let peakRss = 0;
const rssTimer = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
rssTimer.unref();

export const rss = {
  reset(): void {
    global.gc?.();
    peakRss = process.memoryUsage().rss;
  },
  get peak(): number {
    return Math.max(peakRss, process.memoryUsage().rss);
  },
};

// ---------------------------------------------------------------------------------------------
// Clean-up

const cleanups: (() => Promise<void> | void)[] = [];

export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop() as () => Promise<void> | void;
    try {
      await fn();
    } catch (err) {
      console.error(`  clean-up failed: ${(err as Error).message}`);
    }
  }
}

/** Run the clean-ups and exit (0, or 1 after an error). */
export async function finish(err?: unknown): Promise<never> {
  if (err !== undefined) console.error(err);
  await runCleanups();
  clearInterval(rssTimer);
  process.exit(err === undefined ? 0 : 1);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void finish(new Error(`interrupted (${signal}, pid ${process.pid})`)));

// ---------------------------------------------------------------------------------------------
// Ports, temp folders, peers

/** A TCP port free on 127.0.0.1 right now (for a peer that must be told its port up front). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Peer<M> {
  readonly child: ChildProcess;
  /** The peer's first message (its port, …). */
  readonly ready: M;
  send(message: unknown): void;
  /** Resolves with the next message `accept` takes. */
  next<T>(accept: (m: unknown) => T | undefined): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Fork a peer script of this folder (run with tsx) and wait for its first IPC message. The peer
 * is killed at clean-up if it is still running.
 */
export async function forkPeer<M>(script: string, args: readonly string[]): Promise<Peer<M>> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [...args], {
    execArgv: ['--import', 'tsx'],
    stdio: 'inherit',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  onCleanup(stop);
  const listeners = new Set<(m: unknown) => void>();
  child.on('message', (m) => {
    for (const l of [...listeners]) l(m);
  });
  const next = <T>(accept: (m: unknown) => T | undefined): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null): void => {
        listeners.delete(listener);
        reject(new Error(`${script} exited (${code}) before it answered`));
      };
      const listener = (m: unknown): void => {
        const v = accept(m);
        if (v === undefined) return;
        listeners.delete(listener);
        child.off('exit', onExit);
        resolve(v);
      };
      listeners.add(listener);
      child.once('exit', onExit);
    });
  const ready = await next((m) => m as M);
  return {
    child,
    ready,
    send: (message) => {
      if (child.connected) child.send(message as object);
    },
    next,
    stop,
  };
}

// ---------------------------------------------------------------------------------------------
// The benchmark plant: units of ten per line, each with three counters and a state

export const COUNTERS = ['good', 'scrap', 'total'] as const;
export const STATE_MAP = { 1: 'running', 2: 'idle', 3: 'down' } as const;

/** Line and unit of unit number `i` (ten units a line). */
export function unitOf(i: number): { line: string; unit: string } {
  return { line: `line${Math.floor(i / 10)}`, unit: `unit${i % 10}` };
}

/**
 * Bindings of tags `<prefix><line>/<unit>/{good,scrap,total,state}` of `connection` to the units
 * of the plant (`prefix` may hold `+` levels, e.g. Sparkplug's group, edge node and device).
 */
function bindingsYaml(connection: string, prefix: string): string {
  const equipment = 'acme/plant1/area1/{line}/{unit}';
  const counters = COUNTERS.map(
    (c) =>
      `  - { connection: ${connection}, topic: '${prefix}{line}/{unit}/${c}', equipment: '${equipment}', meaning: counter.${c} }`,
  );
  const stateMap = Object.entries(STATE_MAP)
    .map(([k, v]) => `'${k}': ${v}`)
    .join(', ');
  return `bindings:
${counters.join('\n')}
  - { connection: ${connection}, topic: '${prefix}{line}/{unit}/state', equipment: '${equipment}', meaning: state, stateMap: { ${stateMap} } }
`;
}

export interface BenchHub {
  readonly hub: Hub;
  /** Stop the hub and remove its folder (also done at clean-up). */
  stop(): Promise<void>;
}

/**
 * A hub in this process (as `millwright run` runs it): the plant of `units` units, the one
 * connection `connectionYaml` (a YAML flow mapping or block list item) with its tags bound
 * under `tagPrefix`, SQLite with synchronous FULL in a temp folder, no HTTP API.
 */
export async function startBenchHub(
  units: number,
  connectionId: string,
  connectionYaml: string,
  tagPrefix: string,
): Promise<BenchHub> {
  const dir = tempDir('mw-bench-');
  const yaml = `${plantYaml(units)}connections:
${connectionYaml}
${bindingsYaml(connectionId, tagPrefix)}store: { type: sqlite, synchronous: FULL }
`;
  const hub = await startHub({
    config: parseConfig(yaml, '<bench>'),
    baseDir: dir,
    dataDir: dir,
    logger,
    http: false,
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await hub.stop();
  };
  onCleanup(stop);
  return { hub, stop };
}

/**
 * Counts the samples the hub commits (bound samples only: quarantined input does not count),
 * from the first commit on, and keeps a latency per sample (commit time − `latencyOf(sample)`)
 * for one sample in `latencyEvery`.
 */
export class CommitMeter {
  samples = 0;
  quarantined = 0;
  batches = 0;
  firstTs = 0;
  lastTs = 0;
  readonly latencies: number[] = [];
  private seen = 0;
  private counting = true;

  constructor(
    hub: Hub,
    private readonly latencyOf: ((s: { sourceTs: number; receivedTs: number }) => number) | null,
    private readonly latencyEvery = 1,
  ) {
    hub.pipeline.on('committed', (_events, batch) => {
      if (!this.counting) return;
      const now = Date.now();
      if (this.batches === 0) this.firstTs = now;
      this.batches++;
      this.samples += batch.samples.length;
      this.quarantined += batch.quarantine.length;
      this.lastTs = now;
      if (this.latencyOf !== null)
        for (const s of batch.samples)
          if (this.seen++ % this.latencyEvery === 0) this.latencies.push(now - this.latencyOf(s));
    });
  }

  /** Forget what was counted so far (after a warm-up). */
  reset(): void {
    this.samples = 0;
    this.quarantined = 0;
    this.batches = 0;
    this.firstTs = Date.now();
    this.lastTs = this.firstTs;
    this.latencies.length = 0;
  }

  /** Stop counting (the hub may go on committing while the run is torn down). */
  freeze(): void {
    this.counting = false;
  }

  /** Samples per second from the reset (or the first commit) to the last commit. */
  get rate(): number {
    const ms = this.lastTs - this.firstTs;
    return ms > 0 ? (this.samples / ms) * 1000 : 0;
  }

  sortedLatencies(): number[] {
    return [...this.latencies].sort((a, b) => a - b);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Throws when the hub failed a commit: the figures would mean nothing. */
export function checkCommits(hub: Hub): void {
  const s = hub.pipeline.snapshot();
  if (s.commitErrors > 0)
    throw new Error(`the hub failed ${s.commitErrors} commit(s): ${s.lastCommitError ?? '?'}`);
}

/** Wait for `done`, checking the hub's commits meanwhile; throws after `timeoutMs`. */
export async function waitUntil(
  hub: Hub,
  done: () => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    checkCommits(hub);
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
  checkCommits(hub);
}

/** Let the hub run for `ms`, checking its commits. */
export async function run(hub: Hub, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    checkCommits(hub);
    await sleep(Math.min(200, end - Date.now()));
  }
  checkCommits(hub);
}

/** Give up (cleaning up) when the whole benchmark takes longer than `--max-seconds`. */
export function deadline(defaultSeconds: number): void {
  const seconds = numArg('max-seconds', defaultSeconds);
  setTimeout(
    () => void finish(new Error(`gave up after ${seconds} s (--max-seconds)`)),
    seconds * 1000,
  ).unref();
}

/** `; <connection>: <health detail>` of connections reporting a problem, for progress lines. */
export function detail(hub: Hub): string {
  return hub.connectors
    .map((c) => ({ id: c.id, h: c.health() }))
    .filter(({ h }) => h.detail !== null)
    .map(({ id, h }) => `; ${id}: ${h.status}, ${h.detail ?? ''}`)
    .join('');
}
