/** Start a real hub in-process for a test: temp data dir, port 0 everywhere, silent logs. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { localPrincipal } from '../../src/compliance/identity.ts';
import { startHub, type Hub } from '../../src/hub.ts';

export interface TestHub extends Hub {
  /** Stop the hub and remove its temp folder. */
  dispose(): Promise<void>;
}

export function tempDir(prefix = 'mw-test-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A config from YAML text, with the embedded broker and HTTP API on free ports. */
export function testConfig(yaml: string): Config {
  const config = parseConfig(yaml, '<test>');
  return {
    ...config,
    broker: { ...config.broker, port: config.broker.port ?? 0 },
    http: { ...config.http, port: 0 },
  };
}

export async function startTestHub(
  config: Config,
  options: { dataDir?: string; http?: boolean } = {},
): Promise<TestHub> {
  const tmp = options.dataDir === undefined ? tempDir() : null;
  const dataDir = options.dataDir ?? (tmp as { dir: string }).dir;
  const logger = pino({ level: process.env.MW_TEST_LOG ?? 'silent' });
  let hub: Hub;
  try {
    hub = await startHub({
      config,
      baseDir: dataDir,
      dataDir,
      logger,
      http: options.http ?? true,
    });
  } catch (err) {
    tmp?.remove(); // a hub that failed to start leaves no temp folder behind
    throw err;
  }
  return {
    ...hub,
    async dispose() {
      await hub.stop();
      tmp?.remove();
    },
  };
}

export const PLANT_YAML = `
enterprise: { id: acme }
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units: [{ id: filler, idealCycleTime: 1s }, { id: capper }, { id: labeller }]
`;

export const TEST_ADMIN = { username: 'admin', password: 'correct horse battery staple' };

/**
 * Create a user through the hub's identity service as the local command line would (no forced
 * password change), and return its password.
 */
export async function createTestUser(
  hub: Pick<Hub, 'identity'>,
  username: string,
  roles: string[],
  password = 'plant floor pass phrase 42',
): Promise<string> {
  await hub.identity.createUser(localPrincipal(), {
    username,
    fullName: `Test ${username}`,
    roles,
    password,
  });
  return password;
}

/** Log in over HTTP; returns headers that carry the session. */
export async function login(
  url: string,
  username: string,
  password: string,
): Promise<{ authorization: string }> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200)
    throw new Error(`login as ${username}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string };
  return { authorization: `Bearer ${body.token}` };
}

/** Create the test admin (first call) and log in as it. */
export async function adminHeaders(hub: Hub): Promise<{ authorization: string }> {
  if ((await hub.store.getRecord('user', TEST_ADMIN.username)) === undefined) {
    await createTestUser(hub, TEST_ADMIN.username, ['admin'], TEST_ADMIN.password);
  }
  return login(hub.url!, TEST_ADMIN.username, TEST_ADMIN.password);
}

export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON bodies of many shapes
  readonly body: any;
}

/** One HTTP request to the hub; the body is sent as JSON when given, the answer parsed if JSON. */
export async function call(
  hub: Pick<Hub, 'url'>,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const res = await fetch(`${hub.url!}${path}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, text, body };
}
