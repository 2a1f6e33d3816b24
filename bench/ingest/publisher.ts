/**
 * Load generator for bench/ingest: publishes PLC-style tag changes (absolute counters and state
 * codes) from N simulated units over MQTT QoS 1, at full speed or at a fixed rate, with a bounded
 * window of unacknowledged messages. Runs as its own process so it does not share the hub's CPU
 * time slice. Usage (by run.ts): publisher.ts URL COUNT UNITS RATE WINDOW
 */
import mqtt from 'mqtt';

const [url = '', countArg = '0', unitsArg = '200', rateArg = '0', windowArg = '1000'] =
  process.argv.slice(2);
const count = Number(countArg);
const units = Number(unitsArg);
const rate = Number(rateArg);
const window = Number(windowArg);

const client = await mqtt.connectAsync(url, {
  clientId: `bench-pub-${process.pid}`,
  reconnectPeriod: 0,
});
const counters = new Array<number>(units).fill(0);
const topics = Array.from({ length: units }, (_, u) => {
  const line = Math.floor(u / 10);
  return {
    good: `bench/plant1/area1/line${line}/unit${u % 10}/good`,
    state: `bench/plant1/area1/line${line}/unit${u % 10}/state`,
  };
});

let inflight = 0;
let acked = 0;
let release: (() => void) | null = null;
const started = Date.now();
for (let i = 0; i < count; i++) {
  const u = i % units;
  const t = topics[u] as { good: string; state: string };
  // One message in ten is a state change, the rest counter increments.
  const isState = i % 10 === 9;
  const ts = Date.now();
  const payload = isState
    ? `{"v":${(Math.floor(i / units) % 3) + 1},"ts":${ts}}`
    : `{"v":${++(counters[u] as number)},"ts":${ts}}`;
  inflight++;
  client.publish(isState ? t.state : t.good, payload, { qos: 1 }, () => {
    inflight--;
    acked++;
    if (release !== null && inflight < window) {
      const r = release;
      release = null;
      r();
    }
  });
  if (inflight >= window) await new Promise<void>((r) => (release = r));
  if (rate > 0) {
    const due = started + ((i + 1) * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  } else if (i % 500 === 499) {
    // Let the socket drain now and then.
    await new Promise((r) => setImmediate(r));
  }
}
while (inflight > 0) await new Promise<void>((r) => (release = r));
const seconds = (Date.now() - started) / 1000;
process.send?.({ acked, seconds });
await client.endAsync();
