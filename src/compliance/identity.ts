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
 *
 * `IdentityService` is the one door to all of it, so callers need not know how it is divided:
 * the records and views (./identity-records.ts), the password check with rate limit and lockout
 * (./credentials.ts), users (./users.ts), sessions (./sessions.ts) and API tokens (./tokens.ts).
 */
import os from 'node:os';
import type { SecurityConfig } from '../config/schema.ts';
import { MwError } from '../errors.ts';
import type { Store, StoredRecord } from '../store/types.ts';
import type { AuditEntry } from './audit.ts';
import { Credentials, type CredentialPurpose } from './credentials.ts';
import {
  IdentityRecords,
  type FieldChanges,
  type SessionInfo,
  type TokenView,
  type UserView,
} from './identity-records.ts';
import { ALL_PERMISSIONS, type Principal } from './roles.ts';
import { SESSION_PREFIX, Sessions } from './sessions.ts';
import { TOKEN_PREFIX, Tokens, type NewToken } from './tokens.ts';
import { Users, type NewUser, type UserChange } from './users.ts';

export {
  diffFields,
  type SessionData,
  type SessionInfo,
  type TokenData,
  type TokenView,
  type UserData,
  type UserView,
} from './identity-records.ts';
export { USERNAME_RE } from './users.ts';

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

export interface IdentityOptions {
  readonly security: SecurityConfig;
  readonly now?: () => number;
}

export class IdentityService {
  private readonly records: IdentityRecords;
  private readonly credentials: Credentials;
  private readonly sessions: Sessions;
  private readonly tokens: Tokens;
  private readonly users: Users;

  constructor(store: Store, options: IdentityOptions) {
    this.records = new IdentityRecords(store, options.security, options.now ?? Date.now);
    this.credentials = new Credentials(this.records);
    this.sessions = new Sessions(this.records, this.credentials);
    this.tokens = new Tokens(this.records);
    this.users = new Users(this.records, this.credentials, this.sessions);
  }

  // ---------------------------------------------------------------- users

  /** Whether an enabled administrator exists (the API stays closed until one does). */
  hasAdmin(): Promise<boolean> {
    return this.users.hasAdmin();
  }

  listUsers(by: Principal): Promise<UserView[]> {
    return this.users.list(by);
  }

  getUser(by: Principal, username: string): Promise<UserView> {
    return this.users.get(by, username);
  }

  createUser(by: Principal, input: NewUser): Promise<UserView> {
    return this.users.create(by, input);
  }

  /** Change name, roles or the disabled flag; each changed field is audited old → new. */
  updateUser(
    by: Principal,
    username: string,
    change: UserChange,
    reason?: string | null,
  ): Promise<UserView> {
    return this.users.update(by, username, change, reason);
  }

  /** An administrator sets someone's password (it must be changed at their next login). */
  setPassword(by: Principal, username: string, password: string): Promise<UserView> {
    return this.users.setPassword(by, username, password);
  }

  /** A user changes their own password, proving the current one (works when it has expired). */
  changeOwnPassword(
    username: string,
    current: string,
    next: string,
    address: string,
  ): Promise<UserView> {
    return this.users.changeOwnPassword(username, current, next, address);
  }

  unlock(by: Principal, username: string, reason?: string | null): Promise<UserView> {
    return this.users.unlock(by, username, reason);
  }

  // ---------------------------------------------------------------- authentication

  /**
   * Check a user name and password (login, signing, password change, MQTT). Rate-limited per
   * user and address; a wrong password counts towards lockout, and every failure is audited.
   * Resolves with the user's record when the password is right and the account usable.
   */
  checkCredentials(
    username: string,
    password: string,
    address: string,
    purpose: CredentialPurpose,
  ): Promise<StoredRecord> {
    return this.credentials.check(username, password, address, purpose);
  }

  /** Log in: check the password and open a session. */
  login(username: string, password: string, address: string): Promise<SessionInfo> {
    return this.sessions.login(username, password, address);
  }

  /** End the sessions whose idle or maximum time has passed; returns how many. */
  purgeExpiredSessions(): Promise<number> {
    return this.sessions.purgeExpired();
  }

  /** End the session behind a principal (logout). */
  logout(principal: Principal): Promise<void> {
    return this.sessions.logout(principal);
  }

  /**
   * The principal behind a bearer secret (a session or an API token), or an
   * MW_ERR_AUTH_REQUIRED naming why it is not valid.
   */
  async authenticate(bearer: string): Promise<Principal> {
    if (bearer.startsWith(SESSION_PREFIX)) return this.sessions.principal(bearer);
    if (bearer.startsWith(TOKEN_PREFIX)) return this.tokens.principal(bearer);
    throw new MwError('MW_ERR_AUTH_REQUIRED', {
      reason: 'the credential is not a session or an API token',
    });
  }

  /** MQTT clients of the embedded broker: a user's password, or an API token as password. */
  async authenticateMqtt(username: string, password: string, address: string): Promise<boolean> {
    try {
      const principal = password.startsWith(TOKEN_PREFIX)
        ? await this.tokens.principal(password)
        : await this.records.userPrincipal(
            await this.credentials.check(username, password, address, 'mqtt'),
          );
      return principal.permissions.has('mqtt.publish');
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------- API tokens

  createToken(by: Principal, input: NewToken): Promise<{ token: string; view: TokenView }> {
    return this.tokens.create(by, input);
  }

  listTokens(by: Principal): Promise<TokenView[]> {
    return this.tokens.list(by);
  }

  revokeToken(by: Principal, id: string, reason?: string | null): Promise<TokenView> {
    return this.tokens.revoke(by, id, reason);
  }

  // ---------------------------------------------------------------- helpers

  /** The service's clock (UTC epoch ms), for records written alongside its audit rows. */
  clock(): number {
    return this.records.now();
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
    return this.records.audit(by, action, entityType, entityId, changes, reason, note);
  }

  userView(record: StoredRecord): UserView {
    return this.records.userView(record);
  }
}
