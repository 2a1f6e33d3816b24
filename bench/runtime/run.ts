/**
 * Runtime benchmark (issue #5): events/s through bindings, expressions and the equipment
 * runtime, with 200 units. Decoded samples go straight into the pipeline (no broker, so the
 * figure is the core's own), committed to SQLite (synchronous FULL) in a temp folder.
 *
 *   1. plain bindings: a state tag per unit (value map) and an absolute counter — the
 *      foundation's bindings, the reference ("ceiling") for the same store and pipeline;
 *   2. expression bindings: the state from two inputs (`fault ? 'down' : running ? …`) and the
 *      counter decoded from a packed register (`(value >>> 16) * 1000 + (value & 0xFFFF)`).
 *
 * Usage: npm run bench:runtime [-- --samples 400000 --units 200]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import { BindingTable } from '../../src/core/bindings.ts';
import type { SampleInput } from '../../src/core/ingest-types.ts';
import { IngestPipeline } from '../../src/core/pipeline.ts';
import { EquipmentRuntime } from '../../src/core/runtime.ts';
import { Hierarchy } from '../../src/model/index.ts';
import { openStore } from '../../src/store/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const SAMPLES = arg('samples', 400_000);
const UNITS = arg('units', 200);
const PER_LINE = 20;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function plantYaml(bindings: string): string {
  const lines = Math.ceil(UNITS / PER_LINE);
  const lineYaml = Array.from({ length: lines }, (_, l) => {
    const units = Array.from(
      { length: Math.min(PER_LINE, UNITS - l * PER_LINE) },
      (_, u) => `{ id: u${u} }`,
    );
    return `          - id: l${l}\n            units: [${units.join(', ')}]`;
  }).join('\n');
  return `enterprise: { id: acme }
sites:
  - id: p1
    timeZone: UTC
    areas:
      - id: a1
        lines:
${lineYaml}
connections: [{ id: plc, type: mqtt }]
bindings:
${bindings}`;
}

const PLAIN = `  - { connection: plc, topic: 'plc/{line}/{unit}/state', equipment: 'acme/p1/a1/{line}/{unit}', meaning: state, stateMap: { '0': idle, '1': running, '2': down } }
  - { connection: plc, topic: 'plc/{line}/{unit}/good', equipment: 'acme/p1/a1/{line}/{unit}', meaning: counter.good }
`;
const EXPRESSIONS = `  - connection: plc
    inputs: { fault: 'plc/{line}/{unit}/fault', running: 'plc/{line}/{unit}/run' }
    equipment: 'acme/p1/a1/{line}/{unit}'
    meaning: state
    expression: "fault ? 'down' : running ? 'running' : 'idle'"
  - connection: plc
    topic: 'plc/{line}/{unit}/packed'
    equipment: 'acme/p1/a1/{line}/{unit}'
    meaning: counter.good
    expression: '(value >>> 16) * 1000 + (value & 0xFFFF)'
`;

/** The i-th sample of a run: per unit, a state-ish tag every 4th reading, a counter otherwise. */
function sampleOf(i: number, expressions: boolean, t0: number): SampleInput {
  const unit = i % UNITS;
  const round = Math.floor(i / UNITS);
  const prefix = `plc/l${Math.floor(unit / PER_LINE)}/u${unit % PER_LINE}`;
  const ts = t0 + round;
  const base = { connectionId: 'plc', quality: 'good' as const, sourceTs: ts, receivedTs: ts };
  if (round % 4 === 0) {
    const phase = Math.floor(round / 4) % 3;
    if (!expressions) return { ...base, tag: `${prefix}/state`, value: phase };
    return {
      ...base,
      tag: `${prefix}/${round % 8 === 0 ? 'fault' : 'run'}`,
      value: phase === 2 ? 1 : phase,
    };
  }
  const count = round;
  if (!expressions) return { ...base, tag: `${prefix}/good`, value: count };
  return {
    ...base,
    tag: `${prefix}/packed`,
    value: (Math.floor(count / 1000) << 16) | (count % 1000),
  };
}

async function run(
  expressions: boolean,
): Promise<{ samples: number; events: number; seconds: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mw-bench-runtime-'));
  try {
    const config = parseConfig(plantYaml(expressions ? EXPRESSIONS : PLAIN), '<bench>');
    const store = await openStore(
      { type: 'sqlite', synchronous: 'FULL', path: path.join(dir, 'b.db') },
      { dataDir: dir, quarantineMaxEntries: 1000, quarantinePayloadBytes: 256 },
    );
    await store.migrate();
    const runtime = new EquipmentRuntime(
      new Hierarchy({ enterprise: config.enterprise, sites: config.sites }),
    );
    const pipeline = new IngestPipeline(
      store,
      runtime,
      new BindingTable(config.bindings, 'acme'),
      {
        batchMaxSize: config.ingest.batchMaxSize,
        batchLingerMs: 0,
        queueMax: config.ingest.queueMax,
        maxPayloadBytes: () => 1_048_576,
        quarantinePayloadBytes: 256,
        auditStateChanges: true,
      },
      pino({ level: 'warn' }),
    );
    const t0 = Date.now();
    const started = process.hrtime.bigint();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      pending.push(pipeline.ingestSample(sampleOf(i, expressions, t0)));
      if (pending.length >= 20_000) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    await pipeline.flush();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const s = pipeline.snapshot();
    const quarantined = await store.countQuarantine();
    if (quarantined > 0) throw new Error(`${quarantined} samples quarantined: the bench is wrong`);
    await pipeline.close();
    await store.close();
    return { samples: s.committedSamples, events: s.committedEvents, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let peakRss = 0;
const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
console.log(
  `runtime benchmark: ${fmt(SAMPLES)} samples over ${UNITS} units, SQLite FULL, ${os.cpus().length} cores`,
);
const plain = await run(false);
console.log(
  `  plain bindings (reference): ${fmt(plain.samples / plain.seconds)} samples/s, ${fmt(plain.events / plain.seconds)} events/s (${fmt(plain.events)} events in ${plain.seconds.toFixed(1)} s)`,
);
const expr = await run(true);
const ratio = (expr.samples / expr.seconds / (plain.samples / plain.seconds)) * 100;
console.log(
  `  expression bindings:        ${fmt(expr.samples / expr.seconds)} samples/s, ${fmt(expr.events / expr.seconds)} events/s (${fmt(expr.events)} events in ${expr.seconds.toFixed(1)} s), ${ratio.toFixed(0)} % of the reference samples/s`,
);
clearInterval(rssTimer);
console.log(`  peak RSS ${(peakRss / 1024 / 1024).toFixed(0)} MB`);
