/**
 * Authentication and authorisation of HTTP requests, in one hook.
 *
 * Every `/api` route declares what it needs in its config: a permission (checked by
 * `authorize`, the same check the CLI's services make), `'authenticated'` (any logged-in user
 * or token) or `'public'` (health, login). A route that declares nothing fails the start of
 * the server, so no route can be left open by forgetting.
 *
 * Credentials: `Authorization: Bearer <session or API token>`, or the `mw_session` cookie the
 * login sets for the browser UI. Requests that change something with the cookie must come from
 * the hub's own origin (the cookie is SameSite=Strict too): a defence against cross-site
 * request forgery that bearer headers do not need.
 */
import { parse as parseCookie, serialize as serializeCookie } from 'cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IdentityService } from '../compliance/identity.ts';
import { authorize, type Permission, type Principal } from '../compliance/roles.ts';
import { MwError } from '../errors.ts';

export type RouteAccess = Permission | 'authenticated' | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export const SESSION_COOKIE = 'mw_session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The principal of a request whose route is not public (set by the hook). */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) {
    throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: 'no credentials' });
  }
  return request.principal;
}

export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string,
  maxAgeMs: number,
): void {
  reply.header(
    'set-cookie',
    serializeCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      path: '/',
      maxAge: Math.floor(maxAgeMs / 1000),
    }),
  );
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.header(
    'set-cookie',
    serializeCookie(SESSION_COOKIE, '', {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.protocol === 'https',
      path: '/',
      maxAge: 0,
    }),
  );
}

function credentialOf(request: FastifyRequest): { bearer: string; cookie: boolean } | null {
  const header = request.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (m === null) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'the Authorization header must be "Bearer <session or API token>"',
      });
    }
    return { bearer: m[1]!, cookie: false };
  }
  const cookies = request.headers.cookie;
  const session = cookies === undefined ? undefined : parseCookie(cookies)[SESSION_COOKIE];
  return session === undefined || session === '' ? null : { bearer: session, cookie: true };
}

/** A browser request with the cookie that changes something must come from our own origin. */
function checkOrigin(request: FastifyRequest): void {
  const origin = request.headers.origin;
  const own = `${request.protocol}://${request.headers.host ?? ''}`;
  if (origin !== undefined && origin !== own) {
    throw new MwError('MW_ERR_AUTH_REQUIRED', {
      reason: `a cookie session cannot be used from another site (${origin}); send a bearer token`,
    });
  }
}

/**
 * Install the hook. Returns the access of every `/api` route (`METHOD /url` → access), filled
 * in as routes are added, for the OpenAPI document.
 */
export function registerAuth(
  app: FastifyInstance,
  identity: IdentityService,
): Map<string, RouteAccess> {
  const routes = new Map<string, RouteAccess>();
  app.decorateRequest('principal', null);

  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    const access = route.config?.access;
    if (access === undefined) {
      throw new Error(`route ${route.method} ${route.url} declares no access (config.access)`);
    }
    for (const method of [route.method].flat()) routes.set(`${method} ${route.url}`, access);
  });

  app.addHook('onRequest', async (request) => {
    const access = request.routeOptions.config.access;
    if (access === undefined || access === 'public') return;
    if (!(await identity.hasAdmin())) throw new MwError('MW_ERR_AUTH_NO_ADMIN');
    const credential = credentialOf(request);
    if (credential === null) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'no credentials; send "Authorization: Bearer <session or API token>"',
      });
    }
    if (credential.cookie && !SAFE_METHODS.has(request.method)) checkOrigin(request);
    request.principal = await identity.authenticate(credential.bearer);
    if (access !== 'authenticated') authorize(request.principal, access);
  });
  return routes;
}
