/**
 * What the HTTP-family targets (webhook, odata, soap) share: the `auth`, `tls` and `timeout`
 * config fields (one field name for one idea, STYLE.md rule 8), one HTTP client over node:http /
 * node:https (a private CA needs an https.Agent; fetch would need the undici package for that,
 * which is not installed), and one rule for which answers are worth a retry:
 *
 * - no answer (refused, reset, DNS, TLS, timeout), HTTP 408, 425, 429 and 5xx: temporary, with
 *   the receiver's `Retry-After` (RFC 9110 §10.2.3) in `DeliveryError.retryAfterMs`;
 * - any other status outside 2xx (4xx, and 3xx: redirects are not followed): permanent, quoting
 *   the status and the start of the response body.
 *
 * Not a target: targets import this, never each other.
 */
import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { durationSchema } from '../../config/common.ts';
import { readTlsFiles } from '../../config/tls-files.ts';
import { DeliveryError } from '../types.ts';

export const HTTP_DEFAULTS = {
  timeoutMs: 30_000,
  /** A larger response is cut here (only $batch answers are read in full; they are small). */
  maxResponseBytes: 16 * 1024 * 1024,
  /** Characters of a refusing answer's body quoted in the DeliveryError. */
  quotedBodyChars: 500,
} as const;

export const httpAuthSchema = z
  .strictObject({
    bearer: z
      .string()
      .min(1)
      .optional()
      .describe('Token sent as `Authorization: Bearer <token>`; write "${ENV_NAME}".')
      .meta({ examples: ['${ERP_TOKEN}'] }),
    username: z
      .string()
      .min(1)
      .optional()
      .describe('User for HTTP basic authentication (with `password`).')
      .meta({ examples: ['MES_RFC'] }),
    password: z
      .string()
      .optional()
      .describe('Password for HTTP basic authentication; write "${ENV_NAME}".')
      .meta({ examples: ['${ERP_PASSWORD}'] }),
  })
  .refine(
    (a) =>
      a.bearer === undefined
        ? a.username !== undefined && a.password !== undefined
        : a.username === undefined && a.password === undefined,
    { error: 'expected either `bearer` or both `username` and `password`' },
  )
  .describe('Credentials: `bearer`, or `username` and `password` (HTTP basic).');

export type HttpAuth = z.infer<typeof httpAuthSchema>;

export const httpTlsSchema = z
  .strictObject({
    ca: z
      .string()
      .optional()
      .describe('PEM file of the CA that signed the receiver’s certificate (else the system CAs).')
      .meta({ examples: ['tls/erp-ca.crt'] }),
    cert: z
      .string()
      .optional()
      .describe('PEM client certificate, for receivers that authenticate clients by certificate.')
      .meta({ examples: ['tls/millwright.crt'] }),
    key: z
      .string()
      .optional()
      .describe('PEM private key of the client certificate.')
      .meta({ examples: ['tls/millwright.key'] }),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe('Refuse a receiver certificate that does not verify. Keep true outside tests.'),
  })
  .describe('TLS settings for an https:// URL (files relative to the config file).');

export type HttpTls = z.infer<typeof httpTlsSchema>;

export const HTTP_URL_RE = /^https?:\/\/[^\s/?#]+[^\s]*$/;

/** `auth`, `tls` and `timeout`: the fields every HTTP-family target has. */
export const httpFields = {
  auth: httpAuthSchema.optional(),
  tls: httpTlsSchema.optional(),
  timeout: durationSchema
    .default(HTTP_DEFAULTS.timeoutMs)
    .describe(
      'Longest wait for one request (connect, send, answer); then the delivery fails as temporary.',
    )
    .meta({ examples: ['10s'] }),
};

/** The `Authorization` header of `auth` (none without it). */
export function authHeaders(auth: HttpAuth | undefined): Record<string, string> {
  if (auth === undefined) return {};
  if (auth.bearer !== undefined) return { authorization: `Bearer ${auth.bearer}` };
  const basic = Buffer.from(`${auth.username ?? ''}:${auth.password ?? ''}`).toString('base64');
  return { authorization: `Basic ${basic}` };
}

/**
 * A value as a Structured Field sf-string (RFC 8941 §3.3.3): the form the Idempotency-Key
 * header takes (draft-ietf-httpapi-idempotency-key-header §2: "Its value MUST be a String").
 */
export function sfString(value: string): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '_');
  return `"${printable.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface HttpRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/** One header of a response as a string (the first, if repeated). */
export function headerOf(res: HttpResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date, as milliseconds from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The start of a body, for an error message. */
export function quoteBody(body: Buffer): string {
  const text = body.toString('utf8', 0, Math.min(body.length, HTTP_DEFAULTS.quotedBodyChars * 4));
  const cut = text.length > HTTP_DEFAULTS.quotedBodyChars;
  const shown = text.slice(0, HTTP_DEFAULTS.quotedBodyChars).replace(/\s+/g, ' ').trim();
  return shown === '' ? '' : `: ${shown}${cut ? '…' : ''}`;
}

export function isTemporaryStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/** The DeliveryError for an answer outside 2xx (see the rule above), or null for 2xx. */
export function refusal(res: HttpResponse, what: string): DeliveryError | null {
  if (res.status >= 200 && res.status < 300) return null;
  const temporary = isTemporaryStatus(res.status);
  const redirect =
    res.status >= 300 && res.status < 400
      ? ` (redirects are not followed: point the URL at ${headerOf(res, 'location') ?? 'the final address'})`
      : '';
  return new DeliveryError(
    `${what}: HTTP ${res.status}${redirect}${quoteBody(res.body)}`,
    !temporary,
    {
      retryAfterMs: temporary ? parseRetryAfter(headerOf(res, 'retry-after')) : undefined,
    },
  );
}

/** The TLS options of `tls`, its files read relative to the config folder. */
export function tlsOptions(
  tls: HttpTls | undefined,
  configDir: string,
  where: string,
): https.AgentOptions {
  return readTlsFiles(tls, configDir, where);
}

/**
 * Requests to one receiver: keep-alive agents of its own (so close() leaves no socket behind),
 * a timeout per request, errors without an answer turned into temporary DeliveryErrors.
 * Throws MW_ERR_TLS_CONFIG at construction when a `tls` file cannot be read.
 */
export class HttpClient {
  readonly httpAgent = new http.Agent({ keepAlive: true });
  readonly httpsAgent: https.Agent;

  constructor(
    private readonly options: {
      readonly timeoutMs: number;
      readonly tls: HttpTls | undefined;
      readonly configDir: string;
      /** The config path of the target, e.g. `targets.sap` (for TLS file errors). */
      readonly where: string;
    },
  ) {
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      ...tlsOptions(options.tls, options.configDir, options.where),
    });
  }

  /** Resolves with any HTTP answer; rejects with a temporary DeliveryError when there is none. */
  request(url: string, req: HttpRequest, what: string): Promise<HttpResponse> {
    const { timeoutMs } = this.options;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    return new Promise<HttpResponse>((resolve, reject) => {
      const fail = (err: unknown): void => {
        const e = err as NodeJS.ErrnoException;
        const reason = timedOut
          ? `no answer within ${timeoutMs} ms`
          : `${e.code === undefined ? '' : `${e.code} `}${e.message}`;
        reject(new DeliveryError(`${what}: ${reason}`, false, { cause: err }));
      };
      let request: http.ClientRequest;
      try {
        const target = new URL(url);
        const lib = target.protocol === 'https:' ? https : http;
        const headers: Record<string, string> = { ...req.headers };
        if (req.body !== undefined) headers['content-length'] = String(req.body.length);
        request = lib.request(target, {
          method: req.method,
          headers,
          agent: target.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          signal: abort.signal,
        });
      } catch (err) {
        // An invalid URL or header value: retrying cannot help.
        reject(new DeliveryError(`${what}: ${(err as Error).message}`, true, { cause: err }));
        return;
      }
      request.on('error', fail);
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= HTTP_DEFAULTS.maxResponseBytes) chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      request.end(req.body);
    }).finally(() => clearTimeout(timer));
  }

  /** Closes the kept-alive sockets. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
