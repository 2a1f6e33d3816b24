/**
 * HTTP wiring: `buildServer` builds the fastify app (tests use `inject()` or a real socket on
 * port 0); `listenServer` binds it. Routes call the hub's core objects; every error is JSON
 * `{error: {code, message, path?}}` from the error registry.
 */
import tls from 'node:tls';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isMwError, MwError } from '../errors.ts';
import type { HubView } from '../hub-view.ts';
import { buildOpenApi } from './openapi.ts';
import { registerLotRoutes } from './lot-routes.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import { registerBindingRoutes } from './binding-routes.ts';
import { registerConnectionRoutes } from './connection-routes.ts';
import { registerDowntimeRoutes } from './downtime-routes.ts';
import { registerKpiRoutes } from './kpi-routes.ts';
import { registerMappingRoutes } from './mapping-routes.ts';
import { registerOrderRoutes } from './order-routes.ts';
import { buildMetrics } from './metrics.ts';
import { registerAuth } from './auth.ts';
import { registerIdentityRoutes } from './identity-routes.ts';
import { registerRoutes } from './routes.ts';
import { registerWebUi } from './web.ts';

export interface ServerOptions {
  readonly hub: HubView;
  readonly logger: Logger;
  /** Serve HTTPS with this PEM certificate (chain) and key (see `readTlsFiles`). */
  readonly https?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  /** Browser origins allowed to call the API cross-site (CORS); none when empty or unset. */
  readonly corsOrigins?: readonly string[] | undefined;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Normal operation is quiet: no line per request (STYLE.md rule 13).
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { maxParamLength: 1000 },
    https:
      options.https === undefined ? null : { cert: options.https.cert, key: options.https.key },
  });
  await registerCors(app, options.corsOrigins ?? []);
  const routeAccess = registerAuth(app, options.hub.identity);

  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('cross-origin-opener-policy', 'same-origin');
    // The UI page at `/` sets its own policy; everything else is data, never a document.
    if (!reply.hasHeader('content-security-policy'))
      reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    if (options.https !== undefined) reply.header('strict-transport-security', 'max-age=31536000');
  });

  app.setErrorHandler((err, request, reply) => {
    if (isMwError(err)) {
      if (err.status >= 500 && err.code !== 'MW_ERR_AUTH_NO_ADMIN')
        request.log.error({ err }, err.message);
      if (err.status === 401) reply.header('www-authenticate', 'Bearer realm="millwright"');
      if (err.code === 'MW_ERR_AUTH_RATE_LIMITED')
        reply.header('retry-after', String(err.params.seconds));
      return reply.status(err.status).send({ error: err.toJSON() });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // fastify's own client errors (bad JSON body, wrong content type …)
      const e = new MwError(
        'MW_ERR_API_VALIDATION',
        { path: 'request', rule: (err as Error).message },
        { path: 'request' },
      );
      return reply.status(status).send({ error: e.toJSON() });
    }
    request.log.error({ err }, 'request failed');
    const e = new MwError('MW_ERR_INTERNAL_ERROR', { reason: (err as Error).message });
    return reply.status(500).send({ error: e.toJSON() });
  });

  app.setNotFoundHandler((request, reply) => {
    const e = new MwError('MW_ERR_API_NOT_FOUND', {
      method: request.method,
      url: request.url.split('?')[0] ?? '',
    });
    return reply.status(404).send({ error: e.toJSON() });
  });

  registerRoutes(app, options.hub);
  registerIdentityRoutes(app, options.hub);
  registerAuditRoutes(app, options.hub);
  registerConnectionRoutes(app, options.hub);
  registerBindingRoutes(app, options.hub);
  registerDowntimeRoutes(app, options.hub);
  registerKpiRoutes(app, options.hub);
  await registerOrderRoutes(app, options.hub);
  await registerLotRoutes(app, options.hub);
  await registerMappingRoutes(app, options.hub);
  const metrics = buildMetrics(options.hub);
  app.get('/metrics', { config: { access: 'metrics.read' } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.scrape()),
  );
  const openApi = buildOpenApi(routeAccess);
  app.get('/api/openapi.json', { config: { access: 'public' } }, async () => openApi);
  // The browser UI at `/` (web/, with its own CSP) and its libraries under /vendor/.
  await registerWebUi(app);
  await app.ready();
  return app;
}

/**
 * CORS, closed unless `http.corsOrigins` lists the origin: a listed origin gets its preflight
 * answered and `access-control-allow-origin` echoed; any other origin gets no CORS header at all,
 * and its preflight is a 404. Registered before every other `onRequest` hook, so a preflight
 * (which carries no credentials) is answered before authentication.
 */
async function registerCors(app: FastifyInstance, corsOrigins: readonly string[]): Promise<void> {
  if (corsOrigins.length === 0) return;
  // A configured "https://mes.example.com/" still matches the browser's "https://mes.example.com".
  const allowed = new Set(corsOrigins.map((o) => new URL(o).origin).filter((o) => o !== 'null'));
  await app.register(cors, {
    // false: no CORS headers for this request, and OPTIONS falls through to the 404 handler.
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ['GET', 'POST', 'PATCH', 'DELETE'],
    allowedHeaders: ['authorization', 'content-type'],
    credentials: true,
  });
}

/** Listen and return the base URL; a taken port is a clear error naming it. */
export async function listenServer(
  app: FastifyInstance,
  host: string,
  port: number,
): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new MwError('MW_ERR_HTTP_PORT_IN_USE', { port, host }, { cause: err });
    }
    throw err;
  }
  const address = app.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost =
    host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const scheme = app.server instanceof tls.Server ? 'https' : 'http';
  return `${scheme}://${shownHost}:${actualPort}`;
}
