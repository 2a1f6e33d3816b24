/**
 * The `webhook` target: each message (or each batch, rendered as one body) is one HTTP request
 * to `url`, in the target's format (JSON by default, B2MML or CSV).
 *
 * Headers of every request:
 * - `Content-Type` of the format;
 * - `Idempotency-Key: "<message id>"` (draft-ietf-httpapi-idempotency-key-header §2: an
 *   sf-string, so quoted); for a batch of n messages `"<first id>+<n>"`;
 * - `X-Millwright-Event: <message type>` (`batch` when a batch mixes types);
 * - `X-Millwright-Order: <ERP order number>` (left out when a batch spans several orders);
 * - `X-Millwright-Timestamp: <unix seconds>` of the request;
 * - with `secret`: `X-Millwright-Signature: sha256=<hex>` where <hex> is the lower-case hex
 *   HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the bytes of
 *   `<X-Millwright-Timestamp value>` + "." + `<raw request body>` (the Stripe / GitHub scheme).
 *   The receiver recomputes it over the body as received, compares in constant time, and
 *   rejects a timestamp older than its tolerance (a few minutes) so a captured request cannot
 *   be replayed later.
 *
 * 2xx is delivered; the rest is classified by shared/http.ts (5xx, 408, 425, 429 and network
 * errors are retried, honouring Retry-After; other answers go to the dead letters).
 */
import { createHmac } from 'node:crypto';
import { renderMessages } from '../formats.ts';
import { authHeaders, HttpClient, refusal, sfString } from '../shared/http.ts';
import type { OutboundMessage, TargetContext, TargetDefinition, TargetInstance } from '../types.ts';
import { webhookTargetSchema, type WebhookTargetConfig } from './config.ts';

/** The X-Millwright-Signature value of a body sent at `timestampS` (see above). */
export function webhookSignature(secret: string, timestampS: number, body: Buffer): string {
  const hmac = createHmac('sha256', secret);
  hmac.update(`${timestampS}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

/** The value every message of a batch shares, or undefined. */
function shared(values: readonly string[]): string | undefined {
  return values.every((v) => v === values[0]) ? values[0] : undefined;
}

class WebhookTarget implements TargetInstance {
  private readonly http: HttpClient;
  private readonly what: string;

  constructor(
    private readonly config: WebhookTargetConfig,
    private readonly ctx: TargetContext,
  ) {
    this.http = new HttpClient({
      timeoutMs: config.timeout,
      tls: config.tls,
      configDir: ctx.configDir,
      where: `targets.${config.id}`,
    });
    this.what = `webhook ${config.id}: ${config.method} ${config.url}`;
  }

  async deliver(messages: readonly OutboundMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const { config } = this;
    const rendered = renderMessages(messages, config, this.ctx.render);
    const first = messages[0]!;
    const timestampS = Math.floor(Date.now() / 1000);
    const event = shared(messages.map((m) => m.type)) ?? 'batch';
    const order = shared(messages.map((m) => m.orderId));
    const headers: Record<string, string> = {};
    // The configured headers first, lower-cased, so the target's own below replace them.
    for (const [name, value] of Object.entries(config.headers)) headers[name.toLowerCase()] = value;
    Object.assign(headers, authHeaders(config.auth), {
      'content-type': rendered.contentType,
      'idempotency-key': sfString(
        messages.length === 1 ? first.id : `${first.id}+${messages.length}`,
      ),
      'x-millwright-event': event,
      'x-millwright-timestamp': String(timestampS),
    });
    if (order !== undefined) headers['x-millwright-order'] = order;
    else delete headers['x-millwright-order'];
    if (config.secret !== undefined)
      headers['x-millwright-signature'] = webhookSignature(
        config.secret,
        timestampS,
        rendered.body,
      );
    else delete headers['x-millwright-signature'];
    const res = await this.http.request(
      config.url,
      { method: config.method, headers, body: rendered.body },
      this.what,
    );
    const refused = refusal(res, this.what);
    if (refused !== null) throw refused;
  }

  /** A HEAD request: any HTTP answer (even 404 or 405) proves the receiver is reachable. */
  async connectionTest(): Promise<void> {
    await this.http.request(
      this.config.url,
      { method: 'HEAD', headers: authHeaders(this.config.auth) },
      `webhook ${this.config.id}: HEAD ${this.config.url}`,
    );
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

export const webhookTarget: TargetDefinition<WebhookTargetConfig> = {
  type: 'webhook',
  summary: 'HTTP POST/PUT of each message to a URL, with Idempotency-Key and HMAC signature',
  configSchema: webhookTargetSchema,
  create: (config, ctx) => new WebhookTarget(config, ctx),
};
