/**
 * Users, sessions and API tokens (issue #3; 21 CFR 11.10(d), (g), 11.100, 11.300).
 *
 * Everything is a record in the store (`user`, `session`, `api-token`), changed only through
 * `Store.writeRecords`, so each change and its audit row commit together. Secrets are never
 * stored: passwords as scrypt hashes (./passwords.ts), session and token secrets as SHA-256 (they
 * are 256 random bits, so a fast hash is enough: there is nothing to guess from it).
 *
 * Who may do what is checked by `authorize` (./roles.ts) at the top of each method that acts on
 * behalf of someone; the HTTP routes and the CLI call these methods and nothing below them.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import os from 'node:os';
import type { SecurityConfig } from '../config/schema.ts';
import { MwError } from '../errors.ts';
import type { RecordWrite, Store, StoredRecord } from '../store/types.ts';
import type { AuditEntry } from './audit.ts';
import {
  hashPassword,
  passwordExpired,
  passwordProblem,
  verifyPassword,
  type PasswordPolicy,
} from './passwords.ts';
import { AttemptLimiter } from './rate-limit.ts';
import {
  ALL_PERMISSIONS,
  authorize,
  isPermission,
  isRole,
  permissionsOf,
  ROLES,
  type Permission,
  type Principal,
  type Role,
} from './roles.ts';

export interface UserData {
  readonly fullName: string;
  readonly roles: readonly Role[];
  readonly disabled: boolean;
  readonly passwordHash: string;
  /** Earlier hashes, newest first (the policy's history). */
  readonly passwordHistory: readonly string[];
  readonly passwordSetAt: number;
  /** Set when someone else set the password: the user must choose their own at next login. */
  readonly mustChangePassword: boolean;
  readonly failedLogins: number;
  readonly lockedUntil: number | null;
}

export interface SessionData {
  readonly username: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly address: string;
}

export interface TokenData {
  readonly name: string;
  /** The user who created it; the token acts as that user, within its scope. */
  readonly owner: string;
  readonly permissions: readonly Permission[];
  readonly secretHash: string;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

/** A user as shown to clients: never the hashes. */
export interface UserView {
  readonly username: string;
  readonly fullName: string;
  readonly roles: readonly Role[];
  readonly permissions: readonly Permission[];
  readonly disabled: boolean;
  readonly locked: boolean;
  readonly lockedUntil: number | null;
  readonly failedLogins: number;
  readonly mustChangePassword: boolean;
  readonly passwordSetAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
}

export interface TokenView {
  readonly id: string;
  readonly name: string;
  readonly owner: string;
  readonly permissions: readonly Permission[];
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface SessionInfo {
  /** The bearer secret: returned once at login, stored only as its hash. */
  readonly token: string;
  readonly expiresAt: number;
  readonly user: UserView;
}

/**
 * The command line on the hub machine: every permission (see `authorize` in ./roles.ts for
 * why), audited as `cli:<os user>`.
 */
export function localPrincipal(): Principal {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry (some containers): keep "unknown"
  }
  return {
    kind: 'local',
    actor: `cli:${user}`,
    username: `cli:${user}`,
    permissions: new Set(ALL_PERMISSIONS),
  };
}

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;

const TOKEN_PREFIX = 'mwt_';
const SESSION_PREFIX = 'mws_';
/** Session last-seen times are written at most this often (the idle check uses memory). */
const TOUCH_EVERY_MS = 60_000;
/** Token last-used times are written at most this often. */
const TOKEN_STAMP_EVERY_MS = 60_000;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

type FieldChanges = Record<string, { old: unknown; new: unknown }>;

/** Old → new of the fields that differ; secrets (hashes) are never written to the trail. */
export function diffFields(
  before: Readonly<Record<string, unknown>> | null,
  after: Readonly<Record<string, unknown>> | null,
  secret: readonly string[] = ['passwordHash', 'passwordHistory', 'secretHash'],
): FieldChanges {
  const out: FieldChanges = {};
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  for (const key of [...keys].sort()) {
    if (secret.includes(key)) continue;
    const old = before?.[key] ?? null;
    const now = after?.[key] ?? null;
    if (JSON.stringify(old) !== JSON.stringify(now)) out[key] = { old, new: now };
  }
  return out;
}

export interface IdentityOptions {
  readonly security: SecurityConfig;
  readonly now?: () => number;
}

export class IdentityService {
  private readonly policy: PasswordPolicy;
  private readonly limiter: AttemptLimiter;
  private readonly now: () => number;
  /** Once an enabled admin exists the API opens; until then it is checked on each request. */
  private adminSeen = false;
  /** Last request per session id, for the idle check between writes. */
  private readonly lastSeen = new Map<string, number>();
  /** A hash to verify against for unknown users, so their answer takes as long. */
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: IdentityOptions,
  ) {
    const p = options.security.passwords;
    this.policy = { minLength: p.minLength, historySize: p.history, maxAgeDays: p.maxAgeDays };
    this.now = options.now ?? Date.now;
    this.limiter = new AttemptLimiter(options.security.loginRateLimit, this.now);
  }

  // ---------------------------------------------------------------- users

  /** Whether an enabled administrator exists (the API stays closed until one does). */
  async hasAdmin(): Promise<boolean> {
    if (this.adminSeen) return true;
    for await (const r of this.allRecords('user')) {
      const u = r.data as unknown as UserData;
      if (!u.disabled && u.roles.includes('admin')) {
        this.adminSeen = true;
        return true;
      }
    }
    return false;
  }

  async listUsers(by: Principal): Promise<UserView[]> {
    authorize(by, 'users.read');
    const out: UserView[] = [];
    for await (const r of this.allRecords('user')) out.push(this.userView(r));
    return out;
  }

  async getUser(by: Principal, username: string): Promise<UserView> {
    if (by.username !== username) authorize(by, 'users.read');
    return this.userView(await this.userRecord(username));
  }

  async createUser(
    by: Principal,
    input: {
      username: string;
      fullName: string;
      roles: readonly string[];
      password: string;
      reason?: string | null | undefined;
    },
  ): Promise<UserView> {
    authorize(by, 'users.manage');
    const username = input.username;
    if (!USERNAME_RE.test(username)) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        {
          path: 'username',
          rule: 'expected 2–64 lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
        },
        { path: 'username' },
      );
    }
    const roles = checkRoles(input.roles);
    await this.checkPassword(input.password, username, []);
    const at = this.now();
    const data: UserData = {
      fullName: input.fullName,
      roles,
      disabled: false,
      passwordHash: await hashPassword(input.password),
      passwordHistory: [],
      passwordSetAt: at,
      // Someone else chose it: the user replaces it at first login (11.300(b)). The local
      // command line creating an account for the person at the console does not force it.
      mustChangePassword: by.kind !== 'local',
      failedLogins: 0,
      lockedUntil: null,
    };
    const existing = await this.store.getRecord('user', username);
    if (existing !== undefined) throw new MwError('MW_ERR_AUTH_USER_EXISTS', { user: username });
    const [stored] = await this.store
      .writeRecords(
        [{ entityType: 'user', entityId: username, expectedVersion: 0, data: { ...data } }],
        [this.audit(by, 'create', 'user', username, diffFields(null, { ...data }), input.reason)],
      )
      .catch((err: unknown) => {
        if (err instanceof MwError && err.code === 'MW_ERR_STORE_CONFLICT')
          throw new MwError('MW_ERR_AUTH_USER_EXISTS', { user: username });
        throw err;
      });
    if (roles.includes('admin')) this.adminSeen = true;
    return this.userView(stored!);
  }

  /** Change name, roles or the disabled flag; each changed field is audited old → new. */
  async updateUser(
    by: Principal,
    username: string,
    change: {
      fullName?: string | undefined;
      roles?: readonly string[] | undefined;
      disabled?: boolean | undefined;
    },
    reason?: string | null,
  ): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.userRecord(username);
    const before = record.data as unknown as UserData;
    const after: UserData = {
      ...before,
      ...(change.fullName === undefined ? {} : { fullName: change.fullName }),
      ...(change.roles === undefined ? {} : { roles: checkRoles(change.roles) }),
      ...(change.disabled === undefined ? {} : { disabled: change.disabled }),
    };
    const wasAdmin = !before.disabled && before.roles.includes('admin');
    const isAdmin = !after.disabled && after.roles.includes('admin');
    if (wasAdmin && !isAdmin && !(await this.otherAdminExists(username))) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        { path: 'roles', rule: `${username} is the last active administrator` },
        { path: 'roles' },
      );
    }
    const action = change.disabled === true && !before.disabled ? 'disable' : 'update';
    const stored = await this.writeUser(by, record, after, action, reason ?? null);
    if (after.disabled) await this.endSessionsOf(username);
    return stored;
  }

  /** An administrator sets someone's password (it must be changed at their next login). */
  async setPassword(by: Principal, username: string, password: string): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.userRecord(username);
    const before = record.data as unknown as UserData;
    const after = await this.withNewPassword(before, username, password);
    // Whoever knew the old password is logged out.
    await this.endSessionsOf(username);
    return this.writeUser(
      by,
      record,
      { ...after, mustChangePassword: by.kind !== 'local', failedLogins: 0, lockedUntil: null },
      'set-password',
      null,
    );
  }

  /** A user changes their own password, proving the current one (works when it has expired). */
  async changeOwnPassword(
    username: string,
    current: string,
    next: string,
    address: string,
  ): Promise<UserView> {
    const record = await this.checkCredentials(username, current, address, 'change-password');
    const before = record.data as unknown as UserData;
    const after = await this.withNewPassword(before, username, next);
    return this.writeUser(
      { actor: `user:${username}` },
      record,
      { ...after, mustChangePassword: false, failedLogins: 0, lockedUntil: null },
      'change-password',
      null,
    );
  }

  async unlock(by: Principal, username: string, reason?: string | null): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.userRecord(username);
    const before = record.data as unknown as UserData;
    return this.writeUser(
      by,
      record,
      { ...before, failedLogins: 0, lockedUntil: null },
      'unlock',
      reason ?? null,
    );
  }

  // ---------------------------------------------------------------- authentication

  /**
   * Check a user name and password (login, signing, password change, MQTT). Rate-limited per
   * user and address; a wrong password counts towards lockout, and every failure is audited.
   * Resolves with the user's record when the password is right and the account usable.
   */
  async checkCredentials(
    username: string,
    password: string,
    address: string,
    purpose: 'login' | 'sign' | 'change-password' | 'mqtt',
  ): Promise<StoredRecord> {
    const limited = this.limiter.take([`user ${username}`, `address ${address}`]);
    if (limited !== null) {
      throw new MwError('MW_ERR_AUTH_RATE_LIMITED', {
        key: limited.key,
        seconds: limited.retryAfterS,
      });
    }
    const at = this.now();
    const failed = `${purpose}.failed`;
    const record = await this.store.getRecord('user', username);
    if (record === undefined) {
      // As long as a wrong password takes, so timing does not tell which names exist.
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.dummyHash);
      await this.store.writeRecords(
        [],
        [this.audit(systemActor(address), failed, 'user', username, {}, 'unknown user')],
      );
      throw new MwError('MW_ERR_AUTH_FAILED');
    }
    const user = record.data as unknown as UserData;
    if (user.lockedUntil !== null && user.lockedUntil > at) {
      await this.store.writeRecords(
        [],
        [this.audit(systemActor(address), failed, 'user', username, {}, 'account locked')],
      );
      throw new MwError('MW_ERR_AUTH_LOCKED', {
        user: username,
        until: new Date(user.lockedUntil).toISOString(),
        attempts: user.failedLogins,
      });
    }
    if (!(await verifyPassword(password, user.passwordHash))) {
      const lockout = this.options.security.lockout;
      const failedLogins = user.failedLogins + 1;
      const locks = failedLogins >= lockout.attempts;
      const after: UserData = {
        ...user,
        failedLogins,
        lockedUntil: locks ? at + lockout.duration : user.lockedUntil,
      };
      await this.store.writeRecords(
        [userWrite(record, after)],
        [
          this.audit(
            systemActor(address),
            failed,
            'user',
            username,
            diffFields({ ...user }, { ...after }),
            locks
              ? `wrong password; account locked after ${failedLogins} consecutive failures`
              : 'wrong password',
          ),
        ],
      );
      throw locks
        ? new MwError('MW_ERR_AUTH_LOCKED', {
            user: username,
            until: new Date(after.lockedUntil!).toISOString(),
            attempts: failedLogins,
          })
        : new MwError('MW_ERR_AUTH_FAILED');
    }
    if (user.disabled) {
      await this.store.writeRecords(
        [],
        [this.audit(systemActor(address), failed, 'user', username, {}, 'account disabled')],
      );
      throw new MwError('MW_ERR_AUTH_DISABLED', { user: username });
    }
    if (purpose !== 'login' && purpose !== 'change-password' && user.failedLogins > 0) {
      // A right password ends a run of failures (lockout counts consecutive ones); a login
      // and a password change write this reset with their own audit row.
      const reset: UserData = { ...user, failedLogins: 0, lockedUntil: null };
      const [stored] = await this.store.writeRecords(
        [userWrite(record, reset)],
        [
          this.audit(
            { actor: `user:${username}` },
            `${purpose}.succeeded`,
            'user',
            username,
            diffFields({ ...user }, { ...reset }),
            'a right password ends the run of failures',
          ),
        ],
      );
      return this.checkUsable(stored!, reset, at, purpose);
    }
    return this.checkUsable(record, user, at, purpose);
  }

  /** The checks after a right password: a password that must change blocks all but changing it. */
  private checkUsable(
    record: StoredRecord,
    user: UserData,
    at: number,
    purpose: 'login' | 'sign' | 'change-password' | 'mqtt',
  ): StoredRecord {
    const username = record.entityId;
    if (purpose !== 'change-password') {
      const reason = user.mustChangePassword
        ? 'it was set by an administrator'
        : passwordExpired(user.passwordSetAt, at, this.policy)
          ? `it is older than ${this.policy.maxAgeDays} days`
          : null;
      if (reason !== null) {
        throw new MwError('MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED', { user: username, reason });
      }
    }
    return record;
  }

  /** Log in: check the password and open a session. */
  async login(username: string, password: string, address: string): Promise<SessionInfo> {
    const record = await this.checkCredentials(username, password, address, 'login');
    const user = record.data as unknown as UserData;
    const at = this.now();
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    const sessionId = sha256(token);
    const session: SessionData = { username, createdAt: at, lastSeenAt: at, address };
    const reset: UserData = { ...user, failedLogins: 0, lockedUntil: null };
    const writes: RecordWrite[] = [
      { entityType: 'session', entityId: sessionId, expectedVersion: 0, data: { ...session } },
    ];
    if (user.failedLogins !== 0 || user.lockedUntil !== null) writes.push(userWrite(record, reset));
    const stored = await this.store.writeRecords(writes, [
      this.audit(
        { actor: `user:${username}` },
        'login',
        'user',
        username,
        diffFields({ ...user }, { ...reset }),
        null,
        `from ${address}`,
      ),
    ]);
    this.lastSeen.set(sessionId, at);
    const userRecord = stored[1] ?? record;
    return {
      token,
      expiresAt: this.sessionExpiry(session, at),
      user: this.userView(userRecord),
    };
  }

  /** End the sessions whose idle or maximum time has passed; returns how many. */
  async purgeExpiredSessions(): Promise<number> {
    const at = this.now();
    const expired: string[] = [];
    for await (const r of this.allRecords('session')) {
      const session = r.data as unknown as SessionData;
      const lastSeen = Math.max(this.lastSeen.get(r.entityId) ?? 0, session.lastSeenAt);
      if (at >= this.sessionExpiry(session, lastSeen)) expired.push(r.entityId);
    }
    for (const id of expired) await this.endSession(id, 'system', 'session-expired');
    return expired.length;
  }

  /** End the session behind a principal (logout). */
  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId === undefined) return;
    await this.endSession(principal.sessionId, `user:${principal.username}`, 'logout');
  }

  /**
   * The principal behind a bearer secret (a session or an API token), or an
   * MW_ERR_AUTH_REQUIRED naming why it is not valid.
   */
  async authenticate(bearer: string): Promise<Principal> {
    if (bearer.startsWith(SESSION_PREFIX)) return this.sessionPrincipal(bearer);
    if (bearer.startsWith(TOKEN_PREFIX)) return this.tokenPrincipal(bearer);
    throw new MwError('MW_ERR_AUTH_REQUIRED', {
      reason: 'the credential is not a session or an API token',
    });
  }

  /** MQTT clients of the embedded broker: a user's password, or an API token as password. */
  async authenticateMqtt(username: string, password: string, address: string): Promise<boolean> {
    try {
      const principal = password.startsWith(TOKEN_PREFIX)
        ? await this.tokenPrincipal(password)
        : await this.userPrincipal(
            await this.checkCredentials(username, password, address, 'mqtt'),
          );
      return principal.permissions.has('mqtt.publish');
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- API tokens

  async createToken(
    by: Principal,
    input: {
      name: string;
      permissions?: readonly string[] | undefined;
      role?: string | undefined;
      expiresAt?: number | null | undefined;
    },
  ): Promise<{ token: string; view: TokenView }> {
    authorize(by, 'tokens.manage');
    const wanted = [
      ...(input.permissions ?? []),
      ...(input.role === undefined
        ? []
        : checkRoles([input.role]).flatMap((r) => ROLES[r].permissions)),
    ];
    if (wanted.length === 0) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        { path: 'permissions', rule: 'a token needs a role or at least one permission' },
        { path: 'permissions' },
      );
    }
    const permissions = [...new Set(wanted)].map((p, i): Permission => {
      if (!isPermission(p)) {
        throw new MwError(
          'MW_ERR_API_VALIDATION',
          { path: `permissions.${i}`, rule: `unknown permission "${p}"` },
          { path: `permissions.${i}` },
        );
      }
      // Nobody hands out more than they have.
      authorize(by, p);
      return p;
    });
    // Hex: the id ends at the first "_" of the token, so it must not contain one.
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const data: TokenData = {
      name: input.name,
      owner: by.username,
      permissions,
      secretHash: sha256(secret),
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
    };
    const [stored] = await this.store.writeRecords(
      [{ entityType: 'api-token', entityId: id, expectedVersion: 0, data: { ...data } }],
      [this.audit(by, 'create', 'api-token', id, diffFields(null, { ...data }), null)],
    );
    return { token: `${TOKEN_PREFIX}${id}_${secret}`, view: tokenView(stored!) };
  }

  async listTokens(by: Principal): Promise<TokenView[]> {
    authorize(by, 'tokens.manage');
    const out: TokenView[] = [];
    for await (const r of this.allRecords('api-token')) out.push(tokenView(r));
    return out;
  }

  async revokeToken(by: Principal, id: string, reason?: string | null): Promise<TokenView> {
    authorize(by, 'tokens.manage');
    const record = await this.store.getRecord('api-token', id);
    if (record === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'API token', id });
    const before = record.data as unknown as TokenData;
    if (before.revokedAt !== null) return tokenView(record);
    const after: TokenData = { ...before, revokedAt: this.now() };
    const [stored] = await this.store.writeRecords(
      [
        {
          entityType: 'api-token',
          entityId: id,
          expectedVersion: record.version,
          data: { ...after },
        },
      ],
      [
        this.audit(
          by,
          'revoke',
          'api-token',
          id,
          diffFields({ ...before }, { ...after }),
          reason ?? null,
        ),
      ],
    );
    return tokenView(stored!);
  }

  // ---------------------------------------------------------------- helpers

  /** The service's clock (UTC epoch ms), for records written alongside its audit rows. */
  clock(): number {
    return this.now();
  }

  /** An audit entry; `by` may be a principal or just an actor. */
  audit(
    by: { readonly actor: string },
    action: string,
    entityType: string,
    entityId: string,
    changes: FieldChanges,
    reason: string | null | undefined,
    note?: string,
  ): AuditEntry {
    const why = [reason ?? null, note ?? null].filter((x) => x !== null).join('; ');
    return {
      at: this.now(),
      actor: by.actor,
      action,
      entityType,
      entityId,
      changes,
      reason: why === '' ? null : why,
    };
  }

  userView(record: StoredRecord): UserView {
    const u = record.data as unknown as UserData;
    return {
      username: record.entityId,
      fullName: u.fullName,
      roles: u.roles,
      permissions: [...permissionsOf(u.roles)],
      disabled: u.disabled,
      locked: u.lockedUntil !== null && u.lockedUntil > this.now(),
      lockedUntil: u.lockedUntil,
      failedLogins: u.failedLogins,
      mustChangePassword: u.mustChangePassword,
      passwordSetAt: u.passwordSetAt,
      createdAt: record.createdAt,
      updatedAt: record.updatedAt,
      version: record.version,
    };
  }

  private async userRecord(username: string): Promise<StoredRecord> {
    const record = await this.store.getRecord('user', username);
    if (record === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'user', id: username });
    return record;
  }

  private async writeUser(
    by: { readonly actor: string },
    record: StoredRecord,
    after: UserData,
    action: string,
    reason: string | null,
  ): Promise<UserView> {
    const changes = diffFields(record.data, { ...after });
    const [stored] = await this.store.writeRecords(
      [userWrite(record, after)],
      [this.audit(by, action, 'user', record.entityId, changes, reason)],
    );
    return this.userView(stored!);
  }

  private async withNewPassword(
    user: UserData,
    username: string,
    password: string,
  ): Promise<UserData> {
    const previous = [user.passwordHash, ...user.passwordHistory];
    await this.checkPassword(password, username, previous);
    return {
      ...user,
      passwordHash: await hashPassword(password),
      passwordHistory: previous.slice(0, Math.max(0, this.policy.historySize - 1)),
      passwordSetAt: this.now(),
    };
  }

  private async checkPassword(
    password: string,
    username: string,
    previous: readonly string[],
  ): Promise<void> {
    const problem = await passwordProblem(password, username, this.policy, previous);
    if (problem !== null)
      throw new MwError('MW_ERR_AUTH_PASSWORD_POLICY', { rule: problem }, { path: 'password' });
  }

  private async otherAdminExists(username: string): Promise<boolean> {
    for await (const r of this.allRecords('user')) {
      const u = r.data as unknown as UserData;
      if (r.entityId !== username && !u.disabled && u.roles.includes('admin')) return true;
    }
    return false;
  }

  private async *allRecords(entityType: string): AsyncGenerator<StoredRecord> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listRecords({ entityType, afterId, limit: 500 });
      yield* page;
      if (page.length < 500) return;
      afterId = page.at(-1)!.entityId;
    }
  }

  private sessionExpiry(session: SessionData, lastSeen: number): number {
    return Math.min(
      lastSeen + this.options.security.sessionIdle,
      session.createdAt + this.options.security.sessionMax,
    );
  }

  private async sessionPrincipal(bearer: string): Promise<Principal> {
    const sessionId = sha256(bearer);
    const record = await this.store.getRecord('session', sessionId);
    if (record === undefined) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'the session has ended (logged out or expired); log in again',
      });
    }
    const session = record.data as unknown as SessionData;
    const at = this.now();
    const lastSeen = Math.max(this.lastSeen.get(sessionId) ?? 0, session.lastSeenAt);
    if (at >= this.sessionExpiry(session, lastSeen)) {
      await this.endSession(sessionId, 'system', 'session-expired');
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'the session has expired; log in again',
      });
    }
    this.lastSeen.set(sessionId, at);
    if (at - session.lastSeenAt >= TOUCH_EVERY_MS) {
      // A bookkeeping stamp, not a change anyone made: no audit row.
      await this.store
        .writeRecords(
          [
            {
              entityType: 'session',
              entityId: sessionId,
              expectedVersion: record.version,
              data: { ...session, lastSeenAt: at },
            },
          ],
          [],
        )
        .catch(() => undefined); // a concurrent request stamped it first
    }
    const principal = await this.userPrincipal(await this.userRecord(session.username));
    return { ...principal, sessionId };
  }

  private async userPrincipal(record: StoredRecord): Promise<Principal> {
    const user = record.data as unknown as UserData;
    if (user.disabled) throw new MwError('MW_ERR_AUTH_DISABLED', { user: record.entityId });
    return {
      kind: 'user',
      actor: `user:${record.entityId}`,
      username: record.entityId,
      permissions: permissionsOf(user.roles),
    };
  }

  private async tokenPrincipal(bearer: string): Promise<Principal> {
    const rest = bearer.slice(TOKEN_PREFIX.length);
    const cut = rest.indexOf('_');
    const id = cut > 0 ? rest.slice(0, cut) : '';
    const record = id === '' ? undefined : await this.store.getRecord('api-token', id);
    const token = record?.data as TokenData | undefined;
    if (
      record === undefined ||
      token === undefined ||
      !sameHash(sha256(rest.slice(cut + 1)), token.secretHash)
    ) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: 'unknown API token' });
    }
    const at = this.now();
    if (token.revokedAt !== null)
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: `API token ${id} was revoked` });
    if (token.expiresAt !== null && token.expiresAt <= at) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: `API token ${id} has expired` });
    }
    const owner = await this.userPrincipal(await this.userRecord(token.owner));
    if (token.lastUsedAt === null || at - token.lastUsedAt >= TOKEN_STAMP_EVERY_MS) {
      // A usage stamp, not a change anyone made: no audit row.
      await this.store
        .writeRecords(
          [
            {
              entityType: 'api-token',
              entityId: id,
              expectedVersion: record.version,
              data: { ...token, lastUsedAt: at },
            },
          ],
          [],
        )
        .catch(() => undefined);
    }
    return {
      kind: 'token',
      actor: `token:${id}`,
      username: token.owner,
      // The scope, and never more than its owner may do today.
      permissions: new Set(token.permissions.filter((p) => owner.permissions.has(p))),
    };
  }

  private async endSession(sessionId: string, actor: string, action: string): Promise<void> {
    this.lastSeen.delete(sessionId);
    const record = await this.store.getRecord('session', sessionId);
    if (record === undefined) return;
    const session = record.data as unknown as SessionData;
    await this.store
      .writeRecords(
        [
          {
            entityType: 'session',
            entityId: sessionId,
            expectedVersion: record.version,
            data: null,
          },
        ],
        [this.audit({ actor }, action, 'user', session.username, {}, null)],
      )
      .catch((err: unknown) => {
        if (!(err instanceof MwError && err.code === 'MW_ERR_STORE_CONFLICT')) throw err;
      });
  }

  private async endSessionsOf(username: string): Promise<void> {
    const ended: string[] = [];
    for await (const r of this.allRecords('session')) {
      if ((r.data as unknown as SessionData).username === username) ended.push(r.entityId);
    }
    for (const id of ended) await this.endSession(id, 'system', 'session-ended');
  }
}

function userWrite(record: StoredRecord, after: UserData): RecordWrite {
  return {
    entityType: 'user',
    entityId: record.entityId,
    expectedVersion: record.version,
    data: { ...after },
  };
}

function systemActor(address: string): { actor: string } {
  return { actor: `address:${address}` };
}

function checkRoles(roles: readonly string[]): Role[] {
  if (roles.length === 0) {
    throw new MwError(
      'MW_ERR_API_VALIDATION',
      { path: 'roles', rule: 'at least one role is needed' },
      { path: 'roles' },
    );
  }
  return [...new Set(roles)].map((r, i) => {
    if (!isRole(r)) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        {
          path: `roles.${i}`,
          rule: `unknown role "${r}" (roles: ${Object.keys(ROLES).join(', ')})`,
        },
        { path: `roles.${i}` },
      );
    }
    return r;
  });
}

function tokenView(record: StoredRecord): TokenView {
  const t = record.data as unknown as TokenData;
  return {
    id: record.entityId,
    name: t.name,
    owner: t.owner,
    permissions: t.permissions,
    createdAt: record.createdAt,
    expiresAt: t.expiresAt,
    revokedAt: t.revokedAt,
    lastUsedAt: t.lastUsedAt,
  };
}
