/**
 * Propagation to BI (issue #11): each site's KPIs of each ended shift as one `kpi.shift`
 * message through the outbox. Real peers: a SQLite store file (two Store instances on it for
 * two hubs), the real dispatcher, folder targets writing files (JSON and CSV) and a recording
 * HTTP server behind a webhook target. Time is the exporter's injected clock; the data is
 * committed events (the KPI buckets they keep), so the figures are the KpiService's own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import { pino, type Logger } from 'pino';
import { IdentityService } from '../../src/compliance/identity.ts';
import { hierarchyOf } from '../../src/config/hierarchy.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { DowntimeService } from '../../src/core/downtime-service.ts';
import {
  KPI_EXPORT_ENTITY,
  KpiExporter,
  uuidV5,
  type KpiExporterOptions,
} from '../../src/core/kpi/export.ts';
import { siteCalendars } from '../../src/core/kpi/groups.ts';
import { KpiService } from '../../src/core/kpi/service.ts';
import { CSV_COLUMNS } from '../../src/enterprise/files/csv.ts';
import { jsonMessage, renderMessages } from '../../src/enterprise/formats.ts';
import { createTarget } from '../../src/enterprise/index.ts';
import { OutboxDispatcher } from '../../src/enterprise/outbox.ts';
import { erpEntity } from '../../src/enterprise/shared/entity.ts';
import { DeliveryError, ERP_MESSAGE_TYPES, type KpiMessage } from '../../src/enterprise/types.ts';
import { isMwError } from '../../src/errors.ts';
import {
  ReasonTree,
  type DomainEvent,
  type EquipmentState,
  type KpiEquipmentRow,
} from '../../src/model/index.ts';
import { openSqliteStore } from '../../src/store/index.ts';
import type { Store } from '../../src/store/types.ts';
import { startTestHub, tempDir, testConfig } from '../helpers/hub.ts';
import { waitFor } from '../helpers/services.ts';
import { batch } from '../store/fixtures.ts';
import { peer, type Peer } from './erp-peers.ts';

const tmp = tempDir('mw-kpi-export-');

after(async () => {
  tmp.remove();
  // STYLE.md rule 16: no exporter, dispatcher or HTTP timers left behind.
  const left = (): string[] => process.getActiveResourcesInfo().filter((r) => r === 'Timeout');
  for (let i = 0; i < 50 && left().length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(left(), [], 'timers left open');
});

const SITE = 'acme/plant1';
const AREA = `${SITE}/packaging`;
const LINE = `${AREA}/line1`;
const FILLER = `${LINE}/filler`;
const CAPPER = `${LINE}/capper`;
const H = 3_600_000;

/** 2026-03-<day> <h>:<m> UTC. Berlin is UTC+1 until 2026-03-29: Early is 05:00Z–13:00Z. */
const T = (h: number, m = 0, day = 3): number => Date.UTC(2026, 2, day, h, m);

const PLANT = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    calendar:
      name: 2-shift
      shifts:
        - { name: Early, start: '06:00', end: '14:00', days: [1, 2, 3, 4, 5] }
        - { name: Late, start: '14:00', end: '22:00', days: [1, 2, 3, 4, 5] }
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler, idealCycleTime: 1s }, { id: capper, idealCycleTime: 2s }]
kpi: { exportDelay: 2m }
`;

function change(
  equipmentId: string,
  ts: number,
  previousState: EquipmentState,
  previousDurationMs: number,
  state: EquipmentState,
): DomainEvent {
  return {
    type: 'state.changed',
    equipmentId,
    ts,
    data: {
      state,
      reasonCode: null,
      previousState,
      previousReasonCode: null,
      previousDurationMs,
      previousMicroStop: false,
    },
  };
}

const count = (
  equipmentId: string,
  ts: number,
  counter: 'good' | 'scrap',
  delta: number,
): DomainEvent => ({
  type: 'counted',
  equipmentId,
  ts,
  data: { counter, delta, raw: 0, total: 0, anomaly: null },
});

/**
 * Tuesday 2026-03-03. Early: the filler runs 6 h, is down 2 h (one failure), makes 18,000 good
 * and 100 scrap; the capper runs 8 h and makes 9,000. Late: the filler runs 4 h and idles 4 h
 * (10,000 good), the capper idles.
 */
const HISTORY: DomainEvent[] = [
  count(FILLER, T(8), 'good', 18_000),
  count(FILLER, T(9), 'scrap', 100),
  count(CAPPER, T(10), 'good', 9000),
  change(FILLER, T(11), 'running', 6 * H, 'down'),
  change(FILLER, T(13), 'down', 2 * H, 'running'),
  change(CAPPER, T(13), 'running', 8 * H, 'idle'),
  count(FILLER, T(15), 'good', 10_000),
  change(FILLER, T(17), 'running', 4 * H, 'idle'),
  change(FILLER, T(21), 'idle', 4 * H, 'running'),
  change(CAPPER, T(21), 'idle', 8 * H, 'running'),
];

/** Log lines (their `msg`) of a logger, for the assertions on what the exporter says. */
function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n'))
        if (line !== '') lines.push(String((JSON.parse(line) as { msg: unknown }).msg));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

/**
 * One hub's enterprise side on a store file: its Store, KpiService and (with `dispatch`) the
 * real dispatcher and targets; `exporter()` makes a KpiExporter on the shared clock.
 */
async function hubOn(
  config: Config,
  file: string,
  clock: { now: number },
  dispatch: boolean,
): Promise<{
  store: Store;
  kpi: KpiService;
  exporter(over?: Partial<KpiExporterOptions>): KpiExporter & { lines: string[] };
  close(): Promise<void>;
}> {
  const store = await openSqliteStore({
    path: file,
    synchronous: 'NORMAL',
    quarantineMaxEntries: 10,
    quarantinePayloadBytes: 64,
  });
  await store.migrate();
  const hierarchy = hierarchyOf(config);
  const identity = new IdentityService(store, { security: config.security });
  const downtime = new DowntimeService(
    store,
    identity,
    new Map(config.sites.map((s) => [s.id, new ReasonTree(s.reasons)])),
  );
  const kpi = new KpiService({
    store,
    hierarchy,
    downtime,
    calendars: siteCalendars(config),
    materialIdealMs: new Map(),
  });
  const silent = pino({ level: 'silent' });
  const dispatcher = dispatch
    ? new OutboxDispatcher(
        store,
        config.targets.map((t) => ({
          id: t.id,
          type: t.type,
          mode: t.mode,
          retry: t.retry,
          instance: createTarget(t, {
            logger: silent,
            configDir: tmp.dir,
            dataDir: tmp.dir,
            render: { toTheirs: (_kind, ours) => ours },
          }),
        })),
        { logger: silent, hubId: randomUUID(), pollMs: 50 },
      )
    : null;
  dispatcher?.start();
  const exporters: KpiExporter[] = [];
  return {
    store,
    kpi,
    exporter(over = {}) {
      const { logger, lines } = capture();
      const e = new KpiExporter({
        store,
        kpi,
        hierarchy,
        calendars: siteCalendars(config),
        targets: config.targets,
        exportDelayMs: config.kpi.exportDelay,
        logger,
        onEnqueued: (ids) => dispatcher?.kick(ids),
        now: () => clock.now,
        ...over,
      });
      exporters.push(e);
      return Object.assign(e, { lines });
    },
    async close() {
      for (const e of exporters) await e.stop();
      await dispatcher?.stop();
      await store.close();
    },
  };
}

const near = (actual: number | null, expected: number, what: string): void => {
  assert.ok(
    actual !== null && Math.abs(actual - expected) < 1e-12,
    `${what}: ${actual} ≠ ${expected}`,
  );
};

const files = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => !n.endsWith('.partial'))
    .sort();

describe('KPI export to BI: one message per ended shift, through the outbox', () => {
  const out = path.join(tmp.dir, 'flow');
  for (const d of ['json', 'csv', 'erp']) mkdirSync(path.join(out, d), { recursive: true });
  const clock = { now: T(12, 30) };
  let bi: Peer;
  let config: Config;
  let hub: Awaited<ReturnType<typeof hubOn>>;
  let early: KpiMessage;

  const rowOf = (m: KpiMessage, id: string): KpiEquipmentRow => {
    const row = m.data.equipment.find((e) => e.id === id);
    assert.ok(row, `a row for ${id}`);
    return row;
  };

  after(async () => {
    await hub?.close();
    await bi?.close();
  });

  it('sends the shift that ended, once, with a unit’s own figures and its line’s sums', async () => {
    bi = await peer((_req, res) => res.writeHead(200).end());
    config = testConfig(`${PLANT}
targets:
  - { id: bi-json, type: folder, path: '${out}/json', format: json, messages: [kpi.shift] }
  - { id: bi-csv, type: folder, path: '${out}/csv', format: csv, messages: [kpi.shift] }
  - { id: bi-hook, type: webhook, url: '${bi.url}/kpi', messages: [kpi.shift] }
  - { id: erp, type: folder, path: '${out}/erp' }
`);
    hub = await hubOn(config, path.join(tmp.dir, 'flow.db'), clock, true);
    const a = hub.exporter();

    // First start, during Early: no history, Early is the first shift exported.
    assert.equal(await a.run(), 0);
    assert.ok(a.lines.some((l) => /KPI export of acme\/plant1 starts: .*no history/.test(l)));
    const first = await hub.store.getRecord(KPI_EXPORT_ENTITY, SITE);
    assert.deepEqual(first?.data, {
      seq: 0,
      doneUntil: T(12, 30),
      lastShift: null,
      lastMessageId: null,
    });
    assert.equal(a.nextDueAt, T(13, 2), 'Early is due at its end + exportDelay');
    assert.equal(a.nextRunAt, T(12, 45), 'sleeps at most 15 minutes (wall clock vs timers)');

    await hub.store.commit(batch({ events: HISTORY }));
    clock.now = T(13, 1);
    assert.equal(await a.run(), 0, 'not before exportDelay has passed');
    clock.now = T(13, 2);
    assert.equal(await a.run(), 1);
    assert.equal(await a.run(), 0, 'a shift goes once');
    assert.ok(a.lines.includes('KPI export: shift Early 2026-03-03 of acme/plant1 → 3 target(s)'));
    assert.equal(a.nextDueAt, T(21, 2));

    // JSON, as the folder target wrote it.
    const json = await waitFor(() => files(path.join(out, 'json'))[0], { what: 'the JSON file' });
    assert.match(json, /^kpi_acme_plant1-000001-kpi\.shift-[0-9a-f-]{36}\.json$/);
    const body = readFileSync(path.join(out, 'json', json), 'utf8');
    const sent = JSON.parse(body) as Omit<KpiMessage, 'at'> & { at: string };
    assert.equal(sent.type, 'kpi.shift');
    assert.equal(sent.orderId, 'kpi:acme/plant1');
    assert.equal(sent.seq, 1);
    assert.equal(sent.at, new Date(T(13)).toISOString());
    assert.match(sent.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(sent.data.shift, {
      name: 'Early',
      day: '2026-03-03',
      crew: null,
      start: '2026-03-03T05:00:00.000Z',
      end: '2026-03-03T13:00:00.000Z',
    });
    assert.deepEqual(sent.data.calendar, { name: '2-shift', timeZone: 'Europe/Berlin' });
    assert.deepEqual(
      sent.data.equipment.map((e) => `${e.level} ${e.id}`),
      [
        `site ${SITE}`,
        `area ${AREA}`,
        `workCenter ${LINE}`,
        `workUnit ${FILLER}`,
        `workUnit ${CAPPER}`,
      ],
    );
    early = { ...sent, at: T(13) };

    const filler = rowOf(early, FILLER);
    assert.equal(filler.name, 'filler');
    assert.equal(filler.totals.plannedBusyTimeMs, 8 * H);
    assert.equal(filler.totals.actualProductionTimeMs, 6 * H);
    assert.equal(filler.totals.producedQuantity, 18_100);
    assert.equal(filler.totals.goodQuantity, 18_000);
    assert.equal(filler.totals.scrapQuantity, 100);
    assert.equal(filler.totals.idealProductionTimeMs, 18_100_000);
    assert.equal(filler.totals.failures, 1);
    assert.equal(filler.totals.failureDownTimeMs, 2 * H);
    assert.equal(filler.kpis.availability, 0.75);
    near(filler.kpis.performance, 18_100 / 21_600, 'filler performance');
    near(filler.kpis.quality, 18_000 / 18_100, 'filler quality');
    near(filler.kpis.oee, (0.75 * 18_100 * 18_000) / (21_600 * 18_100), 'filler OEE');
    near(filler.kpis.teep, filler.kpis.oee!, 'filler TEEP (the shift is all planned)');
    assert.equal(filler.kpis.mtbfMs, 6 * H);
    assert.equal(filler.kpis.mttrMs, 2 * H);
    near(filler.kpis.scrapRatio, 100 / 18_100, 'filler scrap ratio');
    assert.deepEqual(Object.keys(filler.kpis).sort(), [
      'availability',
      'mtbfMs',
      'mttrMs',
      'oee',
      'performance',
      'quality',
      'scrapRatio',
      'teep',
    ]);
    const capper = rowOf(early, CAPPER);
    assert.equal(capper.kpis.availability, 1);
    assert.equal(capper.kpis.mtbfMs, null, 'no failure: null, not 0');

    // The line: sums of its units' times and counts, KPIs of the sums (never averages).
    const line = rowOf(early, LINE);
    assert.equal(line.totals.plannedBusyTimeMs, 16 * H);
    assert.equal(line.totals.actualProductionTimeMs, 14 * H);
    assert.equal(line.totals.producedQuantity, 27_100);
    assert.equal(line.totals.goodQuantity, 27_000);
    assert.equal(line.totals.idealProductionTimeMs, 36_100_000);
    assert.equal(line.kpis.availability, 0.875);
    near(line.kpis.performance, 36_100 / 50_400, 'line performance');
    near(line.kpis.quality, 27_000 / 27_100, 'line quality');
    near(line.kpis.oee, (36_100 / 57_600) * (27_000 / 27_100), 'line OEE');
    assert.equal(line.kpis.mtbfMs, 14 * H);
    const mean = (filler.kpis.performance! + capper.kpis.performance!) / 2;
    assert.ok(Math.abs(line.kpis.performance! - mean) > 0.01, 'not the mean of the units');
    for (const id of [AREA, SITE]) assert.deepEqual(rowOf(early, id).totals, line.totals);

    // CSV: one row per equipment, the KPI columns filled, the order columns empty.
    const csvName = await waitFor(() => files(path.join(out, 'csv'))[0], { what: 'the CSV file' });
    const text = readFileSync(path.join(out, 'csv', csvName), 'utf8');
    assert.ok(text.startsWith(`${CSV_COLUMNS.join(',')}\r\n`));
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((r) => `${r.level} ${r.equipment}`),
      sent.data.equipment.map((e) => `${e.level} ${e.id}`),
    );
    const fillerRow = rows.find((r) => r.equipment === FILLER)!;
    assert.equal(fillerRow.message_id, sent.id);
    assert.equal(fillerRow.type, 'kpi.shift');
    assert.equal(fillerRow.order_id, 'kpi:acme/plant1');
    assert.equal(fillerRow.seq, '1');
    assert.equal(fillerRow.at, '2026-03-03T13:00:00.000Z');
    assert.equal(fillerRow.shift, 'Early');
    assert.equal(fillerRow.shift_day, '2026-03-03');
    assert.equal(fillerRow.shift_start, '2026-03-03T05:00:00.000Z');
    assert.equal(fillerRow.shift_end, '2026-03-03T13:00:00.000Z');
    assert.equal(fillerRow.time_zone, 'Europe/Berlin');
    assert.equal(fillerRow.planned_busy_time_ms, String(8 * H));
    assert.equal(fillerRow.good_quantity, '18000');
    assert.equal(fillerRow.scrap_quantity, '100');
    assert.equal(fillerRow.availability, '0.75');
    assert.equal(fillerRow.oee, String(filler.kpis.oee));
    assert.equal(fillerRow.material, '');
    assert.equal(fillerRow.quantity, '');
    const lineRow = rows.find((r) => r.equipment === LINE)!;
    assert.equal(lineRow.planned_busy_time_ms, String(16 * H));
    assert.equal(lineRow.good_quantity, '27000');
    assert.equal(lineRow.availability, '0.875');
    assert.equal(rows.find((r) => r.equipment === CAPPER)!.mtbf_ms, '', 'null is an empty cell');

    // The webhook got the same JSON, keyed by the message id.
    await waitFor(() => bi.requests.length === 1, { what: 'the webhook request' });
    const req = bi.requests[0]!;
    assert.equal(req.headers['idempotency-key'], `"${sent.id}"`);
    assert.equal(req.headers['x-millwright-event'], 'kpi.shift');
    assert.equal(req.headers['x-millwright-order'], 'kpi:acme/plant1');
    assert.deepEqual(JSON.parse(req.body.toString()), JSON.parse(body));

    // The ERP target (default messages) gets none.
    const erp = config.targets.find((t) => t.id === 'erp')!;
    assert.equal(erp.messages.includes('kpi.shift'), false);
    assert.deepEqual(erp.messages, [...ERP_MESSAGE_TYPES]);
    assert.deepEqual(await hub.store.listOutbox({ target: 'erp', limit: 10 }), []);
    assert.deepEqual(files(path.join(out, 'erp')), []);
    await a.stop();
  });

  it('after a restart catches up every missed shift in order and sends none twice', async () => {
    // Thursday 07:00 in Berlin: Late of Tuesday, Early and Late of Wednesday were missed.
    clock.now = Date.UTC(2026, 2, 5, 6, 0);
    const b = hub.exporter();
    assert.equal(await b.run(), 3);
    assert.equal(await b.run(), 0);
    assert.ok(
      b.lines.some((l) => /catching up 3 shift\(s\) that ended since 2026-03-03T13:00/.test(l)),
    );
    const rows = (await hub.store.listOutbox({ target: 'bi-json', limit: 100 })).reverse();
    const sent = rows.map((r) => r.payload as unknown as KpiMessage);
    assert.deepEqual(
      sent.map((m) => `${m.seq} ${m.data.shift.name} ${m.data.shift.day}`),
      ['1 Early 2026-03-03', '2 Late 2026-03-03', '3 Early 2026-03-04', '4 Late 2026-03-04'],
    );
    assert.equal(sent[0]!.id, early.id);
    assert.equal(new Set(sent.map((m) => m.id)).size, 4);
    // Late of Tuesday: the filler ran 4 of 8 hours, the capper idled.
    const late = sent[1]!;
    assert.equal(rowOf(late, FILLER).kpis.availability, 0.5);
    assert.equal(rowOf(late, CAPPER).kpis.availability, 0);
    assert.equal(rowOf(late, LINE).kpis.availability, 0.25);
    for (const t of ['bi-csv', 'bi-hook'])
      assert.deepEqual(
        (await hub.store.listOutbox({ target: t, limit: 100 })).map((r) => r.messageId).reverse(),
        sent.map((m) => m.id),
      );
    await waitFor(() => files(path.join(out, 'json')).length === 4 && bi.requests.length === 4, {
      what: 'the three caught-up shifts delivered',
    });
    assert.deepEqual(
      bi.requests.map((r) => (JSON.parse(r.body.toString()) as KpiMessage).seq),
      [1, 2, 3, 4],
    );

    // Down for two weeks, catching up at most 3 days back: the older shifts are skipped (one
    // line), the rest go on with the next seq.
    clock.now = Date.UTC(2026, 2, 18, 6, 0);
    const c = hub.exporter({ maxCatchUpMs: 3 * 24 * H });
    assert.equal(await c.run(), 4);
    assert.ok(
      c.lines.some((l) =>
        /skipped 14 shift\(s\) that ended between 2026-03-04T21:00:00.000Z and 2026-03-15T06:00:00.000Z/.test(
          l,
        ),
      ),
      c.lines.join('\n'),
    );
    const all = (await hub.store.listOutbox({ target: 'bi-json', limit: 100 }))
      .map((r) => r.payload as unknown as KpiMessage)
      .reverse();
    assert.deepEqual(
      all.slice(4).map((m) => `${m.seq} ${m.data.shift.name} ${m.data.shift.day}`),
      ['5 Early 2026-03-16', '6 Late 2026-03-16', '7 Early 2026-03-17', '8 Late 2026-03-17'],
    );
    const record = await hub.store.getRecord(KPI_EXPORT_ENTITY, SITE);
    assert.equal(record?.data.seq, 8);
    assert.equal(record?.data.lastShift, '2026-03-17/Late');
    await b.stop();
    await c.stop();
  });

  it('refuses kpi.shift in formats and on targets that have no place for it', () => {
    const ctx = { toTheirs: (_kind: string, ours: string) => ours };
    assert.deepEqual(jsonMessage(early), { ...early, at: '2026-03-03T13:00:00.000Z' });
    const refused = (fn: () => unknown): boolean => {
      try {
        fn();
      } catch (err) {
        return err instanceof DeliveryError && err.permanent && /kpi\.shift/.test(err.message);
      }
      return false;
    };
    assert.ok(
      refused(() => renderMessages([early], { format: 'b2mml', b2mmlVersion: 'V0701' }, ctx)),
    );
    assert.ok(
      refused(() => erpEntity(early, ctx)),
      'OData / SOAP entity',
    );
  });
});

describe('KPI export: two hubs on one store', () => {
  const file = path.join(tmp.dir, 'shared.db');
  const clock = { now: T(12) };
  let config: Config;
  let one: Awaited<ReturnType<typeof hubOn>>;
  let two: Awaited<ReturnType<typeof hubOn>>;

  after(async () => {
    await one?.close();
    await two?.close();
  });

  it('enqueue each shift once per target, with seq 1, 2, 3 … without gaps', async () => {
    config = testConfig(`${PLANT}
targets:
  - { id: lake, type: folder, path: '${tmp.dir}', format: json, messages: [kpi.shift] }
  - { id: hook, type: webhook, url: 'http://127.0.0.1:9/kpi', format: csv, messages: [kpi.shift] }
`);
    one = await hubOn(config, file, clock, false);
    two = await hubOn(config, file, clock, false);
    await one.store.commit(batch({ events: HISTORY }));
    // Hub two reads the record, then hub one exports before two writes: two's write conflicts.
    let gate: Promise<unknown> = Promise.resolve();
    const a = one.exporter();
    const b = two.exporter({
      kpi: {
        oee: async (by, q) => {
          await gate;
          return two.kpi.oee(by, q);
        },
      },
    });
    await Promise.all([a.run(), b.run()]); // both first starts: one record
    assert.equal((await one.store.getRecord(KPI_EXPORT_ENTITY, SITE))?.version, 1);
    clock.now = T(21, 5);
    const byB = b.run(); // reads the record first …
    gate = a.run(); // … then hub one exports, and only then may hub two go on
    assert.deepEqual(await Promise.all([gate, byB]), [2, 0]);
    assert.ok(
      b.lines.some((l) => /changed meanwhile/.test(l)),
      'hub two met the conflict',
    );
    // And racing freely over the rest of the week.
    for (const day of [4, 5, 6]) {
      clock.now = T(21, 5, day);
      await Promise.all([a.run(), b.run(), a.run(), b.run()]);
    }
    for (const target of ['lake', 'hook']) {
      const sent = (await one.store.listOutbox({ target, limit: 100 }))
        .map((r) => r.payload as unknown as KpiMessage)
        .reverse();
      assert.deepEqual(
        sent.map((m) => m.seq),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      assert.equal(new Set(sent.map((m) => m.id)).size, 8);
      assert.deepEqual(
        sent.map((m) => m.data.shift.start),
        [3, 4, 5, 6]
          .flatMap((d) => [T(5, 0, d), T(13, 0, d)])
          .map((ms) => new Date(ms).toISOString()),
      );
    }
  });
});

describe('KPI export: configuration', () => {
  const problems = (yaml: string): string[] => {
    try {
      parseConfig(yaml);
    } catch (err) {
      if (isMwError(err) && err.code === 'MW_ERR_CONFIG_INVALID') return [...err.details];
      throw err;
    }
    return [];
  };

  it('refuses kpi.shift for format b2mml, odata and soap, naming the path and the rule', () => {
    const found = problems(`${PLANT}
targets:
  - { id: drop, type: folder, path: out, format: b2mml, messages: [order.started, kpi.shift] }
  - { id: s4, type: odata, serviceUrl: 'https://s4.example.com/odata/', messages: [kpi.shift] }
  - id: pi
    type: soap
    wsdl: erp.wsdl
    operation: { operation.confirmed: Confirm }
    messages: [operation.confirmed, kpi.shift]
  - { id: lake, type: webhook, url: 'https://bi.example.com/in', format: csv, messages: [kpi.shift] }
`);
    assert.equal(found.length, 3, found.join('\n'));
    const expect = [
      ['targets[0].messages[1]', 'kpi.shift cannot be sent in format b2mml'],
      ['targets[1].messages[0]', 'kpi.shift cannot be sent to a odata target'],
      ['targets[2].messages[1]', 'kpi.shift cannot be sent to a soap target'],
    ];
    expect.forEach(([where, rule], i) => {
      assert.ok(found[i]!.startsWith(`${where} (line `), found[i]);
      assert.ok(found[i]!.includes(`: ${rule}`), found[i]);
    });
    for (const p of found)
      assert.match(p, /use a folder, webhook, amqp or amqp10 target with format json or csv/);
  });

  it('keeps the order messages as the default, and exportDelay at 2 minutes', () => {
    const config = parseConfig(`${PLANT.replace('kpi: { exportDelay: 2m }', '')}
targets: [{ id: erp, type: webhook, url: 'https://erp.example.com/in' }]
`);
    assert.deepEqual(config.targets[0]!.messages, [...ERP_MESSAGE_TYPES]);
    assert.equal(config.kpi.exportDelay, 120_000);
  });

  it('derives message ids as RFC 9562 UUID v5', () => {
    // RFC 9562 Appendix A.4: "www.example.com" in the DNS namespace.
    assert.equal(
      uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });
});

describe('KPI export: in a hub', () => {
  it('starts with the hub when a target lists kpi.shift, and stops with it', async () => {
    const drop = path.join(tmp.dir, 'hub-drop');
    mkdirSync(drop);
    const hub = await startTestHub(
      testConfig(`${PLANT}
targets:
  - { id: lake, type: folder, path: '${drop}', messages: [kpi.shift] }
`),
      { http: false },
    );
    try {
      const record = await waitFor(() => hub.store.getRecord(KPI_EXPORT_ENTITY, SITE), {
        what: 'the exporter’s first-start record',
      });
      assert.equal(record.data.seq, 0);
    } finally {
      await hub.dispose();
    }
  });
});
