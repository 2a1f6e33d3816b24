/**
 * Talking to the hub: fetch, and the session of the page.
 *
 * Logging in (POST /api/v1/auth/login) sets the HttpOnly session cookie; the page never holds
 * the session secret, it only learns who is logged in (GET /api/v1/auth/me). Every call is
 * same-origin, so the browser sends the cookie, and the Origin header a cookie POST needs.
 */

/** Who is logged in: user name and permissions. */
export const session = { username: null, permissions: new Set() };

/** Thrown by a view's refresh when the hub no longer takes the session: the login form shows. */
export class LoggedOut extends Error {
  /** @param {string | undefined} message shown above the form (undefined: keep the one shown) */
  constructor(message) {
    super(message ?? 'not logged in');
    this.shown = message;
  }
}

export const get = (url) => fetch(url, { headers: { accept: 'application/json' } });

export const post = (url, body) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body ?? {}),
  });

/** A refused answer in the hub's words (`{ error: { message } }`), else its HTTP status. */
export async function problem(res) {
  try {
    const b = await res.json();
    return b.error ? b.error.message : `${res.status} ${res.statusText}`;
  } catch {
    return `${res.status} ${res.statusText}`;
  }
}

/** The code the hub answers for a route it does not have (src/errors.ts). */
const NO_ROUTE = 'MW_ERR_API_NOT_FOUND';

/**
 * A refused answer: the hub's error `code` (null when it sent none) and `message` (else the
 * HTTP status), and `missing` when the hub has no such route at all (an older hub).
 */
export async function refusal(res) {
  const body = await res.json().catch(() => null);
  const error = body?.error;
  return {
    code: error?.code ?? null,
    missing: res.status === 404 && (error === undefined || error?.code === NO_ROUTE),
    message: error?.message ?? `${res.status} ${res.statusText}`,
  };
}

/** The answer, unless it says the session is gone (401): then LoggedOut. */
export function inSession(res) {
  if (res !== null && res.status === 401) throw new LoggedOut(undefined);
  return res;
}

/**
 * Learn who is logged in: `{ ok: true }`, else `{ ok: false, message }` with the hub's reason
 * (undefined for a plain "not logged in").
 */
export async function loadSession() {
  const me = await fetch('/api/v1/auth/me');
  if (!me.ok) {
    endSession();
    return { ok: false, message: me.status === 401 ? undefined : await problem(me) };
  }
  const m = await me.json();
  session.username = m.username;
  session.permissions = new Set(m.permissions);
  return { ok: true };
}

function endSession() {
  session.username = null;
  session.permissions = new Set();
}

/**
 * Log in. `{ ok: true }`, or `{ ok: false, code, message }` with the hub's error code (e.g.
 * MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED).
 */
export async function logIn(username, password) {
  const res = await post('/api/v1/auth/login', { username, password });
  if (res.ok) return { ok: true };
  const b = await res.json().catch(() => ({}));
  return {
    ok: false,
    code: b.error?.code ?? null,
    message: b.error ? b.error.message : res.statusText,
  };
}

/** Change a password before logging in; null when done, else the hub's reason. */
export async function changePassword(username, currentPassword, newPassword) {
  const res = await post('/api/v1/auth/password', { username, currentPassword, newPassword });
  return res.ok ? null : problem(res);
}

export async function logOut() {
  await fetch('/api/v1/auth/logout', { method: 'POST' });
  endSession();
}

/** GET /api/v1/health (public). */
export const health = () => fetch('/api/v1/health').then((r) => r.json());

/** The URL of an equipment id (its "/" stay path separators, as the API's routes have them). */
export const unitPath = (id) =>
  `/api/v1/equipment/${id.split('/').map(encodeURIComponent).join('/')}`;

/** The URL of an order (an ERP order number may contain "/": it is encoded, one segment). */
export const orderPath = (id) => `/api/v1/orders/${encodeURIComponent(id)}`;

/** The URL of a material lot (a lot number may contain "/": it is encoded, one segment). */
export const lotPath = (id) => `/api/v1/lots/${encodeURIComponent(id)}`;

/** A query string of the parameters that are set ('' when none). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}
