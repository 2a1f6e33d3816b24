/**
 * A small client of a running hub's HTTP API for commands such as `tags` and `explain`: the
 * hub's address from the configuration (or --url) and a token from MILLWRIGHT_TOKEN.
 */
import { loadConfigFile } from '../config/load.ts';
import { UsageError } from './prompt.ts';

export interface HubAddress {
  config?: string;
  url?: string;
}

export function hubToken(permission: string): string {
  const token = process.env.MILLWRIGHT_TOKEN;
  if (token === undefined || token === '') {
    throw new UsageError(
      `set MILLWRIGHT_TOKEN to an API token or session with the permission ${permission} (POST /api/v1/tokens)`,
    );
  }
  return token;
}

export async function getJson<T>(url: string, token: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new UsageError(`cannot reach the hub at ${url}: ${cause ?? (err as Error).message}`);
  }
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new UsageError(
      `${url}: ${res.status} ${body.error?.code ?? ''} ${body.error?.message ?? ''}`.trim(),
    );
  }
  return body;
}

export function baseUrl(opts: HubAddress): string {
  if (opts.url !== undefined) return opts.url.replace(/\/+$/, '');
  if (opts.config === undefined) throw new UsageError('give -c CONFIG or --url URL of the hub');
  const { config } = loadConfigFile(opts.config);
  const host = ['0.0.0.0', '::'].includes(config.http.host) ? '127.0.0.1' : config.http.host;
  return `${config.http.tls === undefined ? 'http' : 'https'}://${host}:${config.http.port}`;
}

/**
 * The token for a command that also takes `--token`: the option when given, else
 * MILLWRIGHT_TOKEN (as hubToken).
 */
export function hubTokenOrOption(given: string | undefined, permission: string): string {
  return given !== undefined && given !== '' ? given : hubToken(permission);
}

/**
 * An error answer of the hub: its status, code, message and details as the hub sent them. The
 * message holds each detail on a line of its own, so the command line prints them all.
 */
export class HubError extends UsageError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly hubMessage: string,
    readonly details: readonly string[],
    where: string,
  ) {
    super(
      [
        `${where}: ${[status, code, hubMessage].filter((part) => part !== '').join(' ')}`,
        ...details.map((d) => `  ${d}`),
      ].join('\n'),
    );
  }
}

export interface HubRequest {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array<ArrayBuffer>;
}

export interface HubAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The body as sent, byte for byte. */
  readonly body: Buffer;
}

/** Characters shown, at most, of an error answer that is not the hub's JSON error. */
const ERROR_TEXT_CHARS = 200;

/**
 * One request to a running hub with any method, headers and body (the text of a file with its
 * content type, say), answered with status, headers and the body's bytes. An answer other than
 * 2xx throws a HubError with the hub's error code, message and details.
 */
export async function hubRequest(
  url: string,
  token: string,
  request: HubRequest = {},
): Promise<HubAnswer> {
  const method = request.method ?? 'GET';
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...request.headers, authorization: `Bearer ${token}` },
      ...(request.body === undefined ? {} : { body: request.body }),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new UsageError(`cannot reach the hub at ${url}: ${cause ?? (err as Error).message}`);
  }
  const body = Buffer.from(await res.arrayBuffer());
  if (res.ok) return { status: res.status, headers: res.headers, body };
  const where = `${method} ${url}`;
  const text = body.toString('utf8');
  let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not the hub's JSON error (a proxy's page, say): shown as text below
  }
  if (error === undefined || typeof error.code !== 'string') {
    const shown = text.trim().slice(0, ERROR_TEXT_CHARS);
    throw new HubError(res.status, '', shown === '' ? res.statusText : shown, [], where);
  }
  const details = Array.isArray(error.details) ? error.details.map(String) : [];
  throw new HubError(res.status, error.code, String(error.message ?? ''), details, where);
}

/** The JSON answer of a GET; errors as hubRequest (with the hub's details). */
export async function hubGetJson<T>(url: string, token: string): Promise<T> {
  const answer = await hubRequest(url, token, { headers: { accept: 'application/json' } });
  return JSON.parse(answer.body.toString('utf8')) as T;
}
