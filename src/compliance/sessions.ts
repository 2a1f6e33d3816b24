/**
 * Login sessions (21 CFR 11.10(d), 11.300). A session is a `session` record keyed by the hash
 * of its bearer secret (the secret itself is never stored); its start and its end (logout,
 * expiry, or the user disabled or their password set) commit together with an audit row
 * against the user. Idle and maximum time both apply; the last request is kept in memory, so
 * that a busy session does not write on every request.
 */
import { randomBytes } from 'node:crypto';
import { MwError } from '../errors.ts';
import type { RecordWrite } from '../store/types.ts';
import type { Credentials } from './credentials.ts';
import {
  diffFields,
  sha256,
  userWrite,
  type IdentityRecords,
  type SessionData,
  type SessionInfo,
  type UserData,
} from './identity-records.ts';
import type { Principal } from './roles.ts';

export const SESSION_PREFIX = 'mws_';
/** Session last-seen times are written at most this often (the idle check uses memory). */
const TOUCH_EVERY_MS = 60_000;

export class Sessions {
  /** Last request per session id, for the idle check between writes. */
  private readonly lastSeen = new Map<string, number>();

  constructor(
    private readonly records: IdentityRecords,
    private readonly credentials: Credentials,
  ) {}

  /** Log in: check the password and open a session. */
  async login(username: string, password: string, address: string): Promise<SessionInfo> {
    const record = await this.credentials.check(username, password, address, 'login');
    const user = record.data as unknown as UserData;
    const at = this.records.now();
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    const sessionId = sha256(token);
    const session: SessionData = { username, createdAt: at, lastSeenAt: at, address };
    const reset: UserData = { ...user, failedLogins: 0, lockedUntil: null };
    const writes: RecordWrite[] = [
      { entityType: 'session', entityId: sessionId, expectedVersion: 0, data: { ...session } },
    ];
    if (user.failedLogins !== 0 || user.lockedUntil !== null) writes.push(userWrite(record, reset));
    const stored = await this.records.store.writeRecords(writes, [
      this.records.audit(
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
      expiresAt: this.expiry(session, at),
      user: this.records.userView(userRecord),
    };
  }

  /** End the sessions whose idle or maximum time has passed; returns how many. */
  async purgeExpired(): Promise<number> {
    const at = this.records.now();
    const expired: string[] = [];
    for await (const r of this.records.allRecords('session')) {
      const session = r.data as unknown as SessionData;
      const lastSeen = Math.max(this.lastSeen.get(r.entityId) ?? 0, session.lastSeenAt);
      if (at >= this.expiry(session, lastSeen)) expired.push(r.entityId);
    }
    for (const id of expired) await this.end(id, 'system', 'session-expired');
    return expired.length;
  }

  /** End the session behind a principal (logout). */
  async logout(principal: Principal): Promise<void> {
    if (principal.sessionId === undefined) return;
    await this.end(principal.sessionId, `user:${principal.username}`, 'logout');
  }

  /** The principal behind a session's bearer secret, or MW_ERR_AUTH_REQUIRED saying why not. */
  async principal(bearer: string): Promise<Principal> {
    const sessionId = sha256(bearer);
    const record = await this.records.store.getRecord('session', sessionId);
    if (record === undefined) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'the session has ended (logged out or expired); log in again',
      });
    }
    const session = record.data as unknown as SessionData;
    const at = this.records.now();
    const lastSeen = Math.max(this.lastSeen.get(sessionId) ?? 0, session.lastSeenAt);
    if (at >= this.expiry(session, lastSeen)) {
      await this.end(sessionId, 'system', 'session-expired');
      throw new MwError('MW_ERR_AUTH_REQUIRED', {
        reason: 'the session has expired; log in again',
      });
    }
    this.lastSeen.set(sessionId, at);
    if (at - session.lastSeenAt >= TOUCH_EVERY_MS) {
      // A bookkeeping stamp, not a change anyone made: no audit row.
      await this.records.store
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
    const principal = await this.records.userPrincipal(
      await this.records.userRecord(session.username),
    );
    return { ...principal, sessionId };
  }

  /** End every session of a user (disabled, or their password set by someone else). */
  async endAllOf(username: string): Promise<void> {
    const ended: string[] = [];
    for await (const r of this.records.allRecords('session')) {
      if ((r.data as unknown as SessionData).username === username) ended.push(r.entityId);
    }
    for (const id of ended) await this.end(id, 'system', 'session-ended');
  }

  private expiry(session: SessionData, lastSeen: number): number {
    return Math.min(
      lastSeen + this.records.security.sessionIdle,
      session.createdAt + this.records.security.sessionMax,
    );
  }

  private async end(sessionId: string, actor: string, action: string): Promise<void> {
    this.lastSeen.delete(sessionId);
    const record = await this.records.store.getRecord('session', sessionId);
    if (record === undefined) return;
    const session = record.data as unknown as SessionData;
    await this.records.store
      .writeRecords(
        [
          {
            entityType: 'session',
            entityId: sessionId,
            expectedVersion: record.version,
            data: null,
          },
        ],
        [this.records.audit({ actor }, action, 'user', session.username, {}, null)],
      )
      .catch((err: unknown) => {
        if (!(err instanceof MwError && err.code === 'MW_ERR_STORE_CONFLICT')) throw err;
      });
  }
}
