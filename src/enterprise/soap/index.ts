/**
 * The `soap` target: each message is one call of a WSDL operation (the `soap` package), with
 * the message as its arguments: the flat PascalCase record of shared/entity.ts (properties
 * without a value left out; order.completed's Operations and Consumption as repeated elements).
 *
 * The client is made once, on first use, from the WSDL (URL or file) and kept; after a failure
 * that is not the service's own answer (no answer, HTTP error) it is made again, WSDL and all,
 * for the next attempt, so a redeployed service is picked up.
 *
 * Failures: a SOAP Fault is the service refusing the content → permanent, quoting faultcode
 * and faultstring (SOAP 1.1 §4.4; SOAP 1.2 Code and Reason). An HTTP error without a Fault
 * body and no answer at all are classified by shared/http.ts (5xx, 408, 425, 429 and network
 * errors temporary). Every request carries `Idempotency-Key: "<message id>"` as an HTTP header
 * (MessageID is also in the arguments).
 */
import path from 'node:path';
import { createClientAsync, WSSecurity, type Client } from 'soap';
import { erpEntity, kpiRefused, type EntityMessage } from '../shared/entity.ts';
import { authHeaders, HttpClient, refusal, sfString } from '../shared/http.ts';
import {
  DeliveryError,
  type OutboundMessage,
  type TargetContext,
  type TargetDefinition,
  type TargetInstance,
} from '../types.ts';
import { soapTargetSchema, type SoapTargetConfig } from './config.ts';

/** What the soap package rejects with: its own errors carry the HTTP answer and parsed XML. */
interface SoapCallError {
  readonly message: string;
  readonly code?: string;
  readonly root?: { readonly Envelope?: { readonly Body?: { readonly Fault?: unknown } } };
  readonly response?: {
    readonly status?: number;
    readonly data?: unknown;
    readonly headers?: Readonly<Record<string, unknown>>;
  };
}

type Operation = (
  args: unknown,
  options: Record<string, unknown>,
  extraHeaders: Record<string, string>,
) => Promise<unknown>;

function textOf(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && '$value' in v) return String((v as { $value: unknown }).$value);
  return JSON.stringify(v);
}

/** faultcode and faultstring of a SOAP 1.1 Fault, or Code/Value and Reason/Text of SOAP 1.2. */
function faultText(fault: unknown): string {
  const f = (fault ?? {}) as Record<string, unknown>;
  const v12 = (key: string, inner: string): unknown =>
    (f[key] as Record<string, unknown> | undefined)?.[inner];
  const code = textOf(f.faultcode ?? v12('Code', 'Value'));
  const reason = textOf(f.faultstring ?? v12('Reason', 'Text'));
  return `${code === '' ? 'SOAP fault' : code}: ${reason}`;
}

/** The DeliveryError of a failed call (see the rules above). */
export function soapFailure(err: unknown, what: string): DeliveryError {
  const e = (err ?? {}) as SoapCallError;
  const fault = e.root?.Envelope?.Body?.Fault;
  if (fault !== undefined)
    return new DeliveryError(`${what}: ${faultText(fault)}`, true, { cause: err });
  const status = e.response?.status;
  if (typeof status === 'number') {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.response?.headers ?? {}))
      headers[k.toLowerCase()] = String(v);
    const data = e.response?.data;
    const body = Buffer.isBuffer(data) ? data : Buffer.from(typeof data === 'string' ? data : '');
    const refused = refusal({ status, headers, body }, what);
    if (refused !== null) return refused;
  }
  // No answer, or a 2xx that could not be read (e.g. a proxy's HTML page): worth a retry.
  const code = e.code === undefined ? '' : `${e.code} `;
  return new DeliveryError(`${what}: ${code}${e.message ?? String(err)}`, false, { cause: err });
}

/** The operation names of a client's WSDL (every service and port). */
function operationsOf(client: Client): string[] {
  const names = new Set<string>();
  const services = client.describe() as Record<string, Record<string, Record<string, unknown>>>;
  for (const ports of Object.values(services))
    for (const ops of Object.values(ports)) for (const op of Object.keys(ops)) names.add(op);
  return [...names];
}

class SoapTarget implements TargetInstance {
  /** Holds the agents (keep-alive, `tls`) the soap package's requests go through. */
  private readonly http: HttpClient;
  private client: Promise<Client> | null = null;
  private readonly wsdl: string;

  constructor(
    private readonly config: SoapTargetConfig,
    private readonly ctx: TargetContext,
  ) {
    this.http = new HttpClient({
      timeoutMs: config.timeout,
      tls: config.tls,
      configDir: ctx.configDir,
      where: `targets.${config.id}`,
    });
    this.wsdl = /^https?:\/\//i.test(config.wsdl)
      ? config.wsdl
      : path.resolve(ctx.configDir, config.wsdl);
  }

  /** Options of every request the soap package makes (axios options). */
  private requestOptions(): Record<string, unknown> {
    return {
      timeout: this.config.timeout,
      httpAgent: this.http.httpAgent,
      httpsAgent: this.http.httpsAgent,
    };
  }

  private clientOf(): Promise<Client> {
    this.client ??= this.createClient().catch((err: unknown) => {
      this.client = null;
      throw err;
    });
    return this.client;
  }

  private async createClient(): Promise<Client> {
    const { config } = this;
    let client: Client;
    try {
      client = await createClientAsync(
        this.wsdl,
        {
          // A made-again client reads the WSDL again (the package caches it forever otherwise).
          disableCache: true,
          wsdl_options: this.requestOptions(),
          wsdl_headers: authHeaders(config.auth),
        },
        config.endpoint,
      );
    } catch (err) {
      // Whatever the reason (unreachable, not found, not a WSDL), retry: a fixed WSDL or
      // service is picked up by the next attempt.
      const failure = soapFailure(err, `soap ${config.id}: cannot load the WSDL ${this.wsdl}`);
      throw new DeliveryError(failure.message, false, { cause: err });
    }
    if (config.wsSecurity !== undefined) {
      const ws = config.wsSecurity;
      client.setSecurity(
        new WSSecurity(ws.username, ws.password, {
          passwordType: ws.passwordType,
          hasTimeStamp: ws.timestamp,
        }),
      );
    }
    return client;
  }

  async deliver(messages: readonly OutboundMessage[]): Promise<void> {
    for (const message of messages) {
      // Refused by the configuration check; here only from a store written under another one.
      if (message.type === 'kpi.shift') throw kpiRefused(message, `soap ${this.config.id}`);
      const operation = this.config.operation[message.type];
      if (operation === undefined) {
        this.ctx.logger.debug({ message: message.id, type: message.type }, 'no operation: skipped');
        continue;
      }
      await this.call(operation, message);
    }
  }

  private async call(operation: string, message: EntityMessage): Promise<void> {
    const what = `soap ${this.config.id}: ${operation} (message ${message.id})`;
    const args = erpEntity(message, this.ctx.render, true);
    const client = await this.clientOf();
    const method = (client as unknown as Record<string, unknown>)[`${operation}Async`];
    if (typeof method !== 'function')
      throw new DeliveryError(
        `${what}: the WSDL has no operation ${operation} (it has ${operationsOf(client).join(', ')})`,
        true,
      );
    try {
      await (method as Operation).call(client, args, this.requestOptions(), {
        ...authHeaders(this.config.auth),
        'Idempotency-Key': sfString(message.id),
      });
    } catch (err) {
      const failure = soapFailure(err, what);
      if (!failure.permanent) this.client = null;
      throw failure;
    }
  }

  /** Loads the WSDL and checks that it has every configured operation. */
  async connectionTest(): Promise<void> {
    this.client = null;
    const client = await this.clientOf();
    const known = new Set(operationsOf(client));
    const missing = Object.values(this.config.operation).filter((op) => !known.has(op));
    if (missing.length > 0)
      throw new DeliveryError(
        `soap ${this.config.id}: the WSDL ${this.wsdl} has no operation ${missing.join(', ')} (it has ${[...known].join(', ')})`,
        true,
      );
  }

  async close(): Promise<void> {
    this.client = null;
    this.http.close();
  }
}

export const soapTarget: TargetDefinition<SoapTargetConfig> = {
  type: 'soap',
  summary: 'SOAP web service operations from a WSDL (basic auth or WS-Security UsernameToken)',
  configSchema: soapTargetSchema,
  create: (config, ctx) => new SoapTarget(config, ctx),
};
