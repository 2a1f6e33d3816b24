/**
 * The `odata` target: each message is created as an entity of an OData v4 service (SAP
 * Gateway style): `POST <serviceUrl>/<entitySet>` with the message as a flat entity
 * (shared/entity.ts lists the properties), `Idempotency-Key: "<message id>"`.
 *
 * CSRF (`csrf: true`, SAP Gateway's protection of changes): a `GET <serviceUrl>` with
 * `x-csrf-token: Fetch` returns the token in `x-csrf-token` and a session in cookies; both go
 * with every change. A `403` answering `x-csrf-token: Required` (the token or session expired)
 * fetches a new token (and session) once and sends the request again.
 *
 * `batch: true`: the messages of one delivery go as one `$batch` request in the JSON batch
 * format (OData JSON Format 4.01 §19), one request per message with `id` = the message id and
 * `Prefer: odata.continue-on-error` (OData 4.01 Part 1 §8.2.8.3), so every part is answered;
 * each part's status is checked and the failing ones are named in the DeliveryError. A batch is
 * delivered or retried as a whole; the parts that succeeded are sent again then, which their
 * Idempotency-Key makes harmless for a receiver that honours it.
 *
 * Decimal quantities are JSON strings, so requests say `IEEE754Compatible=true` (OData JSON
 * Format 4.01 §3.2).
 */
import { erpEntity, kpiRefused, type EntityMessage } from '../shared/entity.ts';
import {
  authHeaders,
  headerOf,
  HttpClient,
  isTemporaryStatus,
  quoteBody,
  refusal,
  sfString,
  type HttpResponse,
} from '../shared/http.ts';
import {
  DeliveryError,
  type OutboundMessage,
  type TargetContext,
  type TargetDefinition,
  type TargetInstance,
} from '../types.ts';
import { odataTargetSchema, type ODataTargetConfig } from './config.ts';

export const ODATA_DEFAULTS = {
  contentType: 'application/json;IEEE754Compatible=true',
  odataVersion: '4.0',
  /** The JSON batch format is OData 4.01's. */
  batchOdataVersion: '4.01',
} as const;

interface Part {
  readonly message: EntityMessage;
  readonly entitySet: string;
}

interface BatchResponse {
  readonly id?: unknown;
  readonly status?: unknown;
  readonly body?: unknown;
}

class ODataTarget implements TargetInstance {
  private readonly http: HttpClient;
  /** The service root without a trailing "/". */
  private readonly root: string;
  private token: string | null = null;
  private tokenFetch: Promise<string> | null = null;
  /** The session cookies the service set (name → value). */
  private readonly cookies = new Map<string, string>();

  constructor(
    private readonly config: ODataTargetConfig,
    private readonly ctx: TargetContext,
  ) {
    this.http = new HttpClient({
      timeoutMs: config.timeout,
      tls: config.tls,
      configDir: ctx.configDir,
      where: `targets.${config.id}`,
    });
    this.root = config.serviceUrl.replace(/\/+$/, '');
  }

  async deliver(messages: readonly OutboundMessage[]): Promise<void> {
    const parts: Part[] = [];
    for (const message of messages) {
      // Refused by the configuration check; here only from a store written under another one.
      if (message.type === 'kpi.shift') throw kpiRefused(message, `odata ${this.config.id}`);
      const entitySet = this.config.entitySet[message.type];
      if (entitySet === undefined)
        this.ctx.logger.debug(
          { message: message.id, type: message.type },
          'no entity set: skipped',
        );
      else parts.push({ message, entitySet });
    }
    if (parts.length === 0) return;
    if (this.config.batch && parts.length > 1) return this.postBatch(parts);
    for (const part of parts) await this.postEntity(part);
  }

  private async postEntity({ message, entitySet }: Part): Promise<void> {
    const url = `${this.root}/${entitySet}`;
    const what = `odata ${this.config.id}: POST ${url} (message ${message.id})`;
    const body = Buffer.from(JSON.stringify(erpEntity(message, this.ctx.render)));
    const res = await this.change(
      url,
      { 'content-type': ODATA_DEFAULTS.contentType, 'idempotency-key': sfString(message.id) },
      body,
      what,
    );
    const refused = refusal(res, what);
    if (refused !== null) throw refused;
  }

  private async postBatch(parts: readonly Part[]): Promise<void> {
    const url = `${this.root}/$batch`;
    const what = `odata ${this.config.id}: POST ${url} (${parts.length} messages)`;
    const requests = parts.map(({ message, entitySet }) => ({
      id: message.id,
      method: 'POST',
      // Relative to the $batch URL, i.e. to the service root (OData JSON Format 4.01 §19.1).
      url: entitySet,
      headers: {
        'content-type': ODATA_DEFAULTS.contentType,
        'idempotency-key': sfString(message.id),
      },
      body: erpEntity(message, this.ctx.render),
    }));
    const first = parts[0]!.message;
    const res = await this.change(
      url,
      {
        'content-type': 'application/json',
        'odata-version': ODATA_DEFAULTS.batchOdataVersion,
        prefer: 'odata.continue-on-error',
        'idempotency-key': sfString(`${first.id}+${parts.length}`),
      },
      Buffer.from(JSON.stringify({ requests })),
      what,
    );
    const refused = refusal(res, what);
    if (refused !== null) throw refused;
    let responses: readonly BatchResponse[];
    try {
      const parsed = JSON.parse(res.body.toString('utf8')) as { responses?: unknown };
      if (!Array.isArray(parsed.responses)) throw new Error('no "responses" array');
      responses = parsed.responses as BatchResponse[];
    } catch (err) {
      throw new DeliveryError(
        `${what}: the answer is not an OData JSON batch response (${(err as Error).message})${quoteBody(res.body)}`,
        true,
        { cause: err },
      );
    }
    const byId = new Map(responses.map((r) => [String(r.id), r]));
    const failed: { readonly part: Part; readonly temporary: boolean; readonly why: string }[] = [];
    for (const part of parts) {
      const r = byId.get(part.message.id);
      const status = typeof r?.status === 'number' ? r.status : undefined;
      if (status !== undefined && status >= 200 && status < 300) continue;
      const why =
        status === undefined
          ? 'no response (not processed)'
          : `HTTP ${status}${quoteBody(Buffer.from(JSON.stringify(r?.body ?? '')))}`;
      failed.push({ part, temporary: status === undefined || isTemporaryStatus(status), why });
    }
    if (failed.length === 0) return;
    const list = failed.map(
      ({ part: { message: m }, why }) => `message ${m.id} (${m.type}, order ${m.orderId}): ${why}`,
    );
    throw new DeliveryError(
      `${what}: ${failed.length} of ${parts.length} part(s) failed: ${list.join('; ')}`,
      failed.every((f) => !f.temporary),
    );
  }

  /** A POST with the CSRF token and session cookies; a 403 "Required" refetches them once. */
  private async change(
    url: string,
    headers: Readonly<Record<string, string>>,
    body: Buffer,
    what: string,
  ): Promise<HttpResponse> {
    const send = async (): Promise<{ res: HttpResponse; token: string | null }> => {
      const token = this.config.csrf ? await this.csrfToken() : null;
      const res = await this.http.request(
        url,
        {
          method: 'POST',
          headers: {
            ...this.baseHeaders(),
            ...headers,
            ...(token === null ? {} : { 'x-csrf-token': token }),
          },
          body,
        },
        what,
      );
      this.keepCookies(res);
      return { res, token };
    };
    const first = await send();
    const expired =
      this.config.csrf &&
      first.res.status === 403 &&
      headerOf(first.res, 'x-csrf-token')?.toLowerCase() === 'required';
    if (!expired) return first.res;
    // Unless a concurrent request already fetched a new one.
    if (this.token === first.token) {
      this.token = null;
      this.cookies.clear();
    }
    this.ctx.logger.debug('CSRF token expired: fetching a new one');
    return (await send()).res;
  }

  private baseHeaders(): Record<string, string> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    return {
      ...authHeaders(this.config.auth),
      accept: 'application/json',
      'odata-version': ODATA_DEFAULTS.odataVersion,
      ...(cookie === '' ? {} : { cookie }),
    };
  }

  /** Keeps the cookies an answer set (RFC 6265 §5.2: name=value before the first ";"). */
  private keepCookies(res: HttpResponse): void {
    for (const line of res.headers['set-cookie'] ?? []) {
      const pair = line.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === '' || /;\s*max-age=0\s*(;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private csrfToken(): Promise<string> {
    if (this.token !== null) return Promise.resolve(this.token);
    this.tokenFetch ??= this.fetchToken().finally(() => {
      this.tokenFetch = null;
    });
    return this.tokenFetch;
  }

  private async fetchToken(): Promise<string> {
    const what = `odata ${this.config.id}: CSRF token fetch (GET ${this.config.serviceUrl})`;
    const res = await this.http.request(
      this.config.serviceUrl,
      { method: 'GET', headers: { ...this.baseHeaders(), 'x-csrf-token': 'Fetch' } },
      what,
    );
    this.keepCookies(res);
    const refused = refusal(res, what);
    if (refused !== null) throw refused;
    const token = headerOf(res, 'x-csrf-token');
    if (token === undefined || token === '' || token.toLowerCase() === 'required')
      throw new DeliveryError(
        `${what}: the answer has no x-csrf-token header (set \`csrf: false\` for a service without CSRF protection)`,
        true,
      );
    this.token = token;
    return token;
  }

  /** The service root must answer 2xx (with `csrf`, with a token): proves URL and credentials. */
  async connectionTest(): Promise<void> {
    if (this.config.csrf) {
      this.token = null;
      await this.csrfToken();
      return;
    }
    const what = `odata ${this.config.id}: GET ${this.config.serviceUrl}`;
    const res = await this.http.request(
      this.config.serviceUrl,
      { method: 'GET', headers: this.baseHeaders() },
      what,
    );
    const refused = refusal(res, what);
    if (refused !== null) throw refused;
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export const odataTarget: TargetDefinition<ODataTargetConfig> = {
  type: 'odata',
  summary: 'OData v4 entities (SAP Gateway style: CSRF token, session cookies, $batch)',
  configSchema: odataTargetSchema,
  create: (config, ctx) => new ODataTarget(config, ctx),
};
