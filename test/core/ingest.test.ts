/**
 * Ingest through the embedded broker: a QoS 1 PUBACK means committed; counters are idempotent
 * under re-delivery; bad input is quarantined with its reason and counted per connection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import {
  adminHeaders,
  PLANT_YAML,
  startTestHub,
  testConfig,
  type TestHub,
} from '../helpers/hub.ts';
import { PG_URL, serviceSkip } from '../helpers/services.ts';

const pgClient = pg.Client;

const YAML = `${PLANT_YAML}
connections:
  - id: line-mqtt
    type: mqtt
    maxPayloadBytes: 200
    subscribe: ['t/#']
bindings:
  - connection: line-mqtt
    topic: t/{site}/{area}/{line}/{unit}/state
    meaning: state
    payload: { valuePath: v, timestampPath: ts, reasonPath: reason }
    stateMap: { '1': running, '3': down }
  - connection: line-mqtt
    topic: t/{site}/{area}/{line}/{unit}/good
    meaning: counter.good
    payload: { valuePath: v, timestampPath: ts }
    rolloverAt: 100
  - connection: line-mqtt
    topic: t/{site}/{area}/{line}/{unit}/scrap
    meaning: counter.scrap
`;

const FILLER = 'acme/plant1/packaging/line1/filler';
const T0 = Date.parse('2026-11-25T08:00:00Z');

/** The same scenario on both stores (STYLE.md rule 14). */
const PG_SCHEMA = `mw_ingest_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const stores = [
  { name: 'SQLite', store: '', skip: false as string | false },
  {
    name: 'PostgreSQL',
    store: `store: { type: postgres, url: '${PG_URL}', schema: ${PG_SCHEMA} }\n`,
    skip: await serviceSkip('PostgreSQL', PG_URL),
  },
];

for (const { name, store, skip } of stores)
  describe(`ingest through the embedded broker, ${name} store`, { skip }, () => {
    let hub: TestHub;
    let client: MqttClient;
    let auth: { headers: { authorization: string } };
    const pub = (topic: string, payload: string | Buffer): Promise<unknown> =>
      client.publishAsync(topic, payload, { qos: 1 });
    const counter = (): number => hub.runtime.get(FILLER)?.counters.good.total ?? -1;

    before(async () => {
      hub = await startTestHub(testConfig(YAML + store));
      auth = { headers: await adminHeaders(hub) };
      client = await mqtt.connectAsync(hub.broker?.url ?? '', {
        clientId: 'ingest-test',
        reconnectPeriod: 0,
      });
    });
    after(async () => {
      await client.endAsync();
      await hub.dispose();
      if (name === 'PostgreSQL') {
        const pg = new pgClient({ connectionString: PG_URL });
        await pg.connect();
        await pg.query(`DROP SCHEMA IF EXISTS ${PG_SCHEMA} CASCADE`);
        await pg.end();
      }
    });

    it('commits a state change before the PUBACK reaches the publisher', async () => {
      await pub(
        't/plant1/packaging/line1/filler/state',
        JSON.stringify({ v: 3, reason: 'JAM', ts: new Date(T0).toISOString() }),
      );
      // No waiting: the acknowledgement itself says the event is in the store.
      const events = await hub.store.listEvents({ equipmentId: FILLER, limit: 10 });
      assert.equal(events.length, 1);
      assert.equal(events[0]?.type, 'state.changed');
      assert.deepEqual(events[0]?.data, {
        state: 'down',
        reasonCode: 'JAM',
        previousState: 'unknown',
        previousReasonCode: null,
        previousDurationMs: 0,
        previousMicroStop: false,
      });
      assert.equal(events[0]?.ts, T0);
      const samples = await hub.store.listSamples({
        tag: 't/plant1/packaging/line1/filler/state',
        limit: 10,
      });
      assert.equal(samples.length, 1);
      assert.equal(samples[0]?.equipmentId, FILLER);
      // … and so is its audit row (21 CFR 11.10(e)), in the same transaction.
      const audit = await hub.store.listAudit({ entityType: 'equipment-state', limit: 10 });
      assert.equal(audit.length, 1);
      assert.equal(audit[0]?.actor, 'connection:line-mqtt');
      assert.equal(audit[0]?.entityType, 'equipment-state');
      assert.equal(audit[0]?.entityId, FILLER);
      assert.deepEqual(audit[0]?.changes, {
        state: { old: 'unknown', new: 'down' },
        reasonCode: { old: null, new: 'JAM' },
      });
    });

    it('counts across a rollover and ignores re-delivered values', async () => {
      const good = (v: number, tsOffset: number): Promise<unknown> =>
        pub('t/plant1/packaging/line1/filler/good', JSON.stringify({ v, ts: T0 + tsOffset }));
      await good(97, 1000); // baseline
      await good(99, 2000); // +2
      await good(3, 3000); // rollover at 100: 99 → 100 → 0 … 3 is +5
      assert.equal(counter(), 7);
      await good(99, 2000); // re-delivered, older: ignored
      await good(3, 3000); // re-delivered, same: no delta
      assert.equal(counter(), 7);
      const units = await hub.store.loadUnits();
      const filler = units.find((u) => u.equipmentId === FILLER);
      assert.equal(
        filler?.counters.good.total,
        7,
        'the projection in the store agrees with the runtime',
      );
      assert.equal(filler?.counters.good.lastRaw, 3);
      const counted = (await hub.store.listEvents({ equipmentId: FILLER, limit: 100 })).filter(
        (e) => e.type === 'counted',
      );
      assert.deepEqual(
        counted.map((e) => (e.type === 'counted' ? [e.data.delta, e.data.anomaly] : null)),
        [
          [2, null],
          [5, 'rollover'],
        ],
      );
    });

    it('takes plain numeric payloads without a value path', async () => {
      await pub('t/plant1/packaging/line1/capper/scrap', '10');
      await pub('t/plant1/packaging/line1/capper/scrap', '12');
      assert.equal(hub.runtime.get('acme/plant1/packaging/line1/capper')?.counters.scrap.total, 2);
    });

    it('quarantines bad input with its reason and keeps ingesting', async () => {
      const before = await hub.store.countQuarantine();
      await pub('t/plant1/packaging/line1/filler/state', JSON.stringify({ v: 9 })); // not in the state map
      await pub('t/plant1/packaging/line1/filler/good', '{"v": "many"'); // not JSON, yet the binding reads "v"
      await pub('t/plant1/packaging/line1/filler/good', JSON.stringify({ v: -4 })); // negative counter
      await pub('t/plant1/packaging/line1/filler/state', Buffer.alloc(500, 0x41)); // above maxPayloadBytes
      await pub('t/plant1/packaging/line1/nosuchunit/state', JSON.stringify({ v: 1 })); // unknown unit
      await pub('t/elsewhere', 'hello'); // under `subscribe`, but no binding
      assert.equal(await hub.store.countQuarantine(), before + 6);

      const res = await fetch(`${hub.url}/api/v1/quarantine?limit=6`, auth);
      assert.equal(res.status, 200);
      const body = (await res.json()) as {
        items: {
          code: string;
          source: string;
          message: string;
          payloadBytes: number;
          payload: string;
        }[];
        countsByConnection: Record<string, { quarantined: number; byCode: Record<string, number> }>;
      };
      const codes = body.items.map((i) => i.code).reverse();
      assert.deepEqual(codes, [
        'MW_ERR_INGEST_UNMAPPED_STATE',
        'MW_ERR_INGEST_PAYLOAD_INVALID',
        'MW_ERR_INGEST_VALUE_TYPE',
        'MW_ERR_INGEST_PAYLOAD_TOO_LARGE',
        'MW_ERR_INGEST_UNKNOWN_EQUIPMENT',
        'MW_ERR_INGEST_NO_BINDING',
      ]);
      const large = body.items.find((i) => i.code === 'MW_ERR_INGEST_PAYLOAD_TOO_LARGE');
      assert.equal(large?.payloadBytes, 500);
      assert.match(large?.message ?? '', /500 bytes exceeds the limit of 200/);
      const negative = body.items.find((i) => i.message.includes('-4'));
      assert.match(
        negative?.message ?? '',
        /bindings\[1\] \(good counter\) value: expected a non-negative integer/,
      );
      const notJson = body.items.find((i) => i.code === 'MW_ERR_INGEST_PAYLOAD_INVALID');
      assert.match(notJson?.message ?? '', /the binding reads "v" from a JSON payload/);
      assert.equal(body.countsByConnection['line-mqtt']?.byCode.MW_ERR_INGEST_VALUE_TYPE, 1);
      assert.ok((body.countsByConnection['line-mqtt']?.quarantined ?? 0) >= 6);

      // Bad input changed no record: no audit row for it.
      const deviceRows = async () =>
        (await hub.store.listAudit({ actor: 'connection:line-mqtt', limit: 100 })).length;
      const adminRows = 2; // the test admin's creation and login
      assert.equal(await deviceRows(), 1);
      assert.equal(await hub.store.countAudit(), 1 + adminRows);

      // Still ingesting after the bad input.
      await pub('t/plant1/packaging/line1/filler/state', JSON.stringify({ v: 1, ts: T0 + 10_000 }));
      assert.equal(hub.runtime.get(FILLER)?.status.state, 'running');
      assert.equal(await deviceRows(), 2, 'one audit row per state change');
      const verify = (await (await fetch(`${hub.url}/api/v1/audit/verify`, auth)).json()) as {
        ok: boolean;
        count: number;
      };
      assert.deepEqual([verify.ok, verify.count], [true, 2 + adminRows]);
    });

    it('quarantines a reason code with a control character, which PostgreSQL cannot hold', async () => {
      const stateBefore = hub.runtime.get(FILLER)?.status;
      await pub(
        't/plant1/packaging/line1/filler/state',
        JSON.stringify({ v: 3, reason: 'JA\u0000M', ts: T0 + 20_000 }),
      );
      const res = await fetch(`${hub.url}/api/v1/quarantine?limit=1`, auth);
      const [q] = ((await res.json()) as { items: { code: string; message: string }[] }).items;
      assert.equal(q?.code, 'MW_ERR_INGEST_VALUE_TYPE');
      assert.match(q?.message ?? '', /reason: expected a code without control characters/);
      assert.deepEqual(hub.runtime.get(FILLER)?.status, stateBefore);
      // The store took it, and the next reading: nothing is held up.
      await pub(
        't/plant1/packaging/line1/filler/state',
        JSON.stringify({ v: 3, reason: 'JAM', ts: T0 + 21_000 }),
      );
      assert.equal(hub.runtime.get(FILLER)?.status.reasonCode, 'JAM');
    });

    it('pages the quarantine newest first with a cursor', async () => {
      const first = (await (await fetch(`${hub.url}/api/v1/quarantine?limit=2`, auth)).json()) as {
        items: { id: number }[];
        nextCursor: string;
      };
      assert.equal(first.items.length, 2);
      assert.ok(first.nextCursor);
      const second = (await (
        await fetch(`${hub.url}/api/v1/quarantine?limit=2&cursor=${first.nextCursor}`, auth)
      ).json()) as { items: { id: number }[] };
      assert.ok((second.items[0]?.id ?? Infinity) < (first.items[1]?.id ?? 0));
    });
  });
