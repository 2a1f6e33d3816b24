/**
 * Routes of issue #3's identity services: login and sessions, users and roles, API tokens and
 * electronic signatures. Each only parses input and calls the service, which checks the
 * permission (../compliance/roles.ts) and writes the audit row.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TokenView, UserView } from '../compliance/identity.ts';
import { ALL_PERMISSIONS, PERMISSIONS, ROLES, ROLE_NAMES } from '../compliance/roles.ts';
import { SIGNATURE_MEANINGS, type SignatureView } from '../compliance/signatures.ts';
import type { HubView } from '../hub-view.ts';
import { parseInput } from './input.ts';
import { clearSessionCookie, principalOf, setSessionCookie } from './auth.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const name = z.string().min(1, { error: 'must not be empty' }).max(200);
const secret = z.string().min(1, { error: 'must not be empty' }).max(1024);
const reason = z.string().max(2000).optional().describe('Why (recorded in the audit trail).');

export const loginBody = z.strictObject({ username: name, password: secret });
export const passwordChangeBody = z.strictObject({
  username: name,
  currentPassword: secret,
  newPassword: secret,
});
export const userCreateBody = z.strictObject({
  username: name,
  fullName: name.describe('Printed with the user’s electronic signatures.'),
  roles: z.array(z.enum(ROLE_NAMES)).min(1, { error: 'at least one role is needed' }),
  password: secret.describe('Initial password; the user must change it at first login.'),
  reason,
});
export const userUpdateBody = z.strictObject({
  fullName: name.optional(),
  roles: z.array(z.enum(ROLE_NAMES)).min(1, { error: 'at least one role is needed' }).optional(),
  disabled: z.boolean().optional().describe('Users are never deleted, only disabled.'),
  reason,
});
export const userPasswordBody = z.strictObject({ password: secret });
export const reasonBody = z.strictObject({ reason });
export const tokenCreateBody = z.strictObject({
  name: name.describe('What the token is for, e.g. "line 3 PLC gateway".'),
  role: z.enum(ROLE_NAMES).optional().describe('Grant the permissions of this role.'),
  permissions: z.array(z.enum(ALL_PERMISSIONS)).optional().describe('Grant these permissions.'),
  expiresAt: z.iso
    .datetime({ error: 'expected an ISO 8601 time like 2027-01-01T00:00:00Z' })
    .optional(),
});
export const signBody = z.strictObject({
  entityType: name.describe('Type of the record to sign, e.g. "user".'),
  entityId: name,
  meaning: z.enum(SIGNATURE_MEANINGS).describe('What the signature means (21 CFR 11.50).'),
  username: name.describe('Both components again (21 CFR 11.200): your user name …'),
  password: secret.describe('… and your password.'),
  reason,
});
export const signaturesQuery = z.strictObject({ entityType: name, entityId: name });

function userJson(u: UserView) {
  return {
    ...u,
    lockedUntil: iso(u.lockedUntil),
    passwordSetAt: iso(u.passwordSetAt),
    createdAt: iso(u.createdAt),
    updatedAt: iso(u.updatedAt),
  };
}

function tokenJson(t: TokenView) {
  return {
    ...t,
    createdAt: iso(t.createdAt),
    expiresAt: iso(t.expiresAt),
    revokedAt: iso(t.revokedAt),
    lastUsedAt: iso(t.lastUsedAt),
  };
}

function signatureJson(s: SignatureView) {
  return { ...s, at: iso(s.at) };
}

const userParam = (params: unknown): string => (params as { name: string }).name;

export function registerIdentityRoutes(app: FastifyInstance, hub: HubView): void {
  const { identity, signatures } = hub;
  const sessionMax = hub.config.security.sessionMax;

  app.post('/api/v1/auth/login', { config: { access: 'public' } }, async (request, reply) => {
    const body = parseInput(loginBody, request.body, 'body');
    const session = await identity.login(body.username, body.password, request.ip);
    setSessionCookie(request, reply, session.token, sessionMax);
    return {
      token: session.token,
      expiresAt: iso(session.expiresAt),
      user: userJson(session.user),
    };
  });

  app.post(
    '/api/v1/auth/logout',
    { config: { access: 'authenticated' } },
    async (request, reply) => {
      await identity.logout(principalOf(request));
      clearSessionCookie(request, reply);
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/auth/me', { config: { access: 'authenticated' } }, async (request) => {
    const p = principalOf(request);
    return {
      actor: p.actor,
      kind: p.kind,
      username: p.username,
      permissions: [...p.permissions],
    };
  });

  // Open: an expired password must be changeable without a session (it proves the old one).
  app.post('/api/v1/auth/password', { config: { access: 'public' } }, async (request, reply) => {
    const body = parseInput(passwordChangeBody, request.body, 'body');
    await identity.changeOwnPassword(
      body.username,
      body.currentPassword,
      body.newPassword,
      request.ip,
    );
    return reply.status(204).send();
  });

  app.get('/api/v1/roles', { config: { access: 'users.read' } }, async () => ({
    roles: Object.entries(ROLES).map(([id, r]) => ({
      id,
      description: r.description,
      permissions: [...r.permissions],
    })),
    permissions: Object.entries(PERMISSIONS).map(([id, description]) => ({ id, description })),
  }));

  app.get('/api/v1/users', { config: { access: 'users.read' } }, async (request) => ({
    items: (await identity.listUsers(principalOf(request))).map(userJson),
  }));

  app.post('/api/v1/users', { config: { access: 'users.manage' } }, async (request, reply) => {
    const body = parseInput(userCreateBody, request.body, 'body');
    const user = await identity.createUser(principalOf(request), body);
    return reply.status(201).send(userJson(user));
  });

  app.get('/api/v1/users/:name', { config: { access: 'authenticated' } }, async (request) =>
    userJson(await identity.getUser(principalOf(request), userParam(request.params))),
  );

  app.patch('/api/v1/users/:name', { config: { access: 'users.manage' } }, async (request) => {
    const body = parseInput(userUpdateBody, request.body, 'body');
    const { reason: why, ...change } = body;
    return userJson(
      await identity.updateUser(principalOf(request), userParam(request.params), change, why),
    );
  });

  app.post(
    '/api/v1/users/:name/password',
    { config: { access: 'users.manage' } },
    async (request) => {
      const body = parseInput(userPasswordBody, request.body, 'body');
      return userJson(
        await identity.setPassword(principalOf(request), userParam(request.params), body.password),
      );
    },
  );

  app.post(
    '/api/v1/users/:name/unlock',
    { config: { access: 'users.manage' } },
    async (request) => {
      const body = parseInput(reasonBody, request.body, 'body');
      return userJson(
        await identity.unlock(principalOf(request), userParam(request.params), body.reason),
      );
    },
  );

  app.get('/api/v1/tokens', { config: { access: 'tokens.manage' } }, async (request) => ({
    items: (await identity.listTokens(principalOf(request))).map(tokenJson),
  }));

  app.post('/api/v1/tokens', { config: { access: 'tokens.manage' } }, async (request, reply) => {
    const body = parseInput(tokenCreateBody, request.body, 'body');
    const created = await identity.createToken(principalOf(request), {
      name: body.name,
      role: body.role,
      permissions: body.permissions,
      expiresAt: body.expiresAt === undefined ? null : Date.parse(body.expiresAt),
    });
    // The secret is shown here once; the hub keeps only its hash.
    return reply.status(201).send({ token: created.token, ...tokenJson(created.view) });
  });

  app.delete('/api/v1/tokens/:id', { config: { access: 'tokens.manage' } }, async (request) => {
    const body = parseInput(reasonBody, request.body, 'body');
    const id = (request.params as { id: string }).id;
    return tokenJson(await identity.revokeToken(principalOf(request), id, body.reason));
  });

  app.post(
    '/api/v1/signatures',
    { config: { access: 'signatures.sign' } },
    async (request, reply) => {
      const body = parseInput(signBody, request.body, 'body');
      const signature = await signatures.sign(principalOf(request), body, request.ip);
      return reply.status(201).send(signatureJson(signature));
    },
  );

  app.get('/api/v1/signatures', { config: { access: 'signatures.read' } }, async (request) => {
    const q = parseInput(signaturesQuery, request.query, 'query');
    return {
      items: (await signatures.list(principalOf(request), q.entityType, q.entityId)).map(
        signatureJson,
      ),
    };
  });
}
