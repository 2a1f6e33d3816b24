/**
 * Addresses of the real services tests run against, and the rule for when one is missing:
 * the test is skipped with a line naming the service, unless MILLWRIGHT_REQUIRE_SERVICES=1
 * (as in CI), where a missing service fails the test.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import type { TestContext } from 'node:test';

export const PG_URL = process.env.MILLWRIGHT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const MQTT_URL = process.env.MILLWRIGHT_MQTT_URL ?? 'mqtt://127.0.0.1:1883';
export const MARIADB_URL = process.env.MILLWRIGHT_MARIADB_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const AMQP_URL = process.env.MILLWRIGHT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const REQUIRE_SERVICES = process.env.MILLWRIGHT_REQUIRE_SERVICES === '1';

/**
 * Something accepts TCP on the URL's port: three tries, 5 s each, since a loaded 2-core CI
 * machine (the whole suite, a broker starting up) can miss one short connect.
 */
async function tcpReachable(url: string, defaultPort: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++)
    if (await tcpConnects(url, defaultPort)) return true;
  return false;
}

function tcpConnects(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  const port = u.port === '' ? defaultPort : Number(u.port);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port, timeout: 5000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

const DEFAULT_PORTS: Record<string, number> = {
  postgres: 5432,
  mqtt: 1883,
  mysql: 3306,
  amqp: 5672,
};

/** The default check of needService and serviceSkip: something accepts TCP on the URL's port. */
function portOpen(url: string): Promise<boolean> {
  const scheme = new URL(url).protocol.replace(':', '').replace(/ql$/, '');
  return tcpReachable(url, DEFAULT_PORTS[scheme] ?? 0);
}

/**
 * A check for needService / serviceSkip: the URL's port speaks AMQP 1.0. To the AMQP 1.0 SASL
 * header ("AMQP" 3 1 0 0) a 1.0 broker answers with the same header; RabbitMQ 3.x without the
 * rabbitmq_amqp1_0 plugin answers with its 0-9-1 header ("AMQP" 0 0 9 1) instead.
 */
export function speaksAmqp10(url: string): Promise<boolean> {
  const u = new URL(url);
  const port = u.port === '' ? 5672 : Number(u.port);
  return new Promise((resolve) => {
    const socket = net.connect({ host: u.hostname, port, timeout: 2000 });
    let reply = Buffer.alloc(0);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => socket.write(Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0])));
    socket.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length >= 8) done(reply[4] === 3 && reply[5] === 1);
    });
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

/**
 * Resolve to true when the service answers. Otherwise: fail under MILLWRIGHT_REQUIRE_SERVICES=1,
 * else mark the test skipped with a line naming the service, and resolve to false.
 */
export async function needService(
  t: TestContext,
  name: string,
  url: string,
  reachable: (url: string) => Promise<boolean> = portOpen,
): Promise<boolean> {
  if (await reachable(url)) return true;
  const line = `${name} unreachable at ${url.replace(/\/\/[^@/]*@/, '//')}`;
  if (REQUIRE_SERVICES) throw new Error(`${line} (MILLWRIGHT_REQUIRE_SERVICES=1)`);
  console.log(`# skip: ${line}`);
  t.skip(line);
  return false;
}

/**
 * For a whole suite: false when the service answers, else the skip reason (a line naming the
 * service is printed). Throws under MILLWRIGHT_REQUIRE_SERVICES=1. Use as `describe(name, { skip })`.
 */
export async function serviceSkip(
  name: string,
  url: string,
  reachable: (url: string) => Promise<boolean> = portOpen,
): Promise<string | false> {
  if (await reachable(url)) return false;
  const line = `${name} unreachable at ${url.replace(/\/\/[^@/]*@/, '//')}`;
  if (REQUIRE_SERVICES) throw new Error(`${line} (MILLWRIGHT_REQUIRE_SERVICES=1)`);
  console.log(`# skip: ${line}`);
  return line;
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (no sleeps as sync). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 20, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const CHROMIUM = process.env.MILLWRIGHT_CHROMIUM ?? '/usr/bin/chromium';

/** Like serviceSkip, for Debian's chromium (browser tests; never a downloaded browser). */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const line = `chromium not found at ${CHROMIUM} (apt-get install -y chromium)`;
  if (REQUIRE_SERVICES) throw new Error(`${line} (MILLWRIGHT_REQUIRE_SERVICES=1)`);
  console.log(`# skip: ${line}`);
  return line;
}
