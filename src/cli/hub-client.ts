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
