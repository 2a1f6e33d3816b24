/**
 * The one password check behind every way in (login, signing, password change, MQTT), so that
 * rate limiting, lockout and the audit of failures (21 CFR 11.300(d)) cannot differ between them.
 * Failures are audited as `address:<client>`: until the password is right, nobody is known.
 */
import { randomBytes } from 'node:crypto';
import { MwError } from '../errors.ts';
import type { StoredRecord } from '../store/types.ts';
import { diffFields, userWrite, type IdentityRecords, type UserData } from './identity-records.ts';
import { hashPassword, passwordExpired, verifyPassword } from './passwords.ts';
import { AttemptLimiter } from './rate-limit.ts';

export type CredentialPurpose = 'login' | 'sign' | 'change-password' | 'mqtt';

export class Credentials {
  private readonly limiter: AttemptLimiter;
  /** A hash to verify against for unknown users, so their answer takes as long. */
  private dummyHash: Promise<string> | undefined;

  constructor(private readonly records: IdentityRecords) {
    this.limiter = new AttemptLimiter(records.security.loginRateLimit, records.now);
  }

  /**
   * Check a user name and password (login, signing, password change, MQTT). Rate-limited per
   * user and address; a wrong password counts towards lockout, and every failure is audited.
   * Resolves with the user's record when the password is right and the account usable.
   */
  async check(
    username: string,
    password: string,
    address: string,
    purpose: CredentialPurpose,
  ): Promise<StoredRecord> {
    const { store } = this.records;
    const limited = this.limiter.take([`user ${username}`, `address ${address}`]);
    if (limited !== null) {
      throw new MwError('MW_ERR_AUTH_RATE_LIMITED', {
        key: limited.key,
        seconds: limited.retryAfterS,
      });
    }
    const at = this.records.now();
    const failed = `${purpose}.failed`;
    const record = await store.getRecord('user', username);
    if (record === undefined) {
      // As long as a wrong password takes, so timing does not tell which names exist.
      this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await this.dummyHash);
      await store.writeRecords(
        [],
        [this.records.audit(systemActor(address), failed, 'user', username, {}, 'unknown user')],
      );
      throw new MwError('MW_ERR_AUTH_FAILED');
    }
    const user = record.data as unknown as UserData;
    if (user.lockedUntil !== null && user.lockedUntil > at) {
      await store.writeRecords(
        [],
        [this.records.audit(systemActor(address), failed, 'user', username, {}, 'account locked')],
      );
      throw new MwError('MW_ERR_AUTH_LOCKED', {
        user: username,
        until: new Date(user.lockedUntil).toISOString(),
        attempts: user.failedLogins,
      });
    }
    if (!(await verifyPassword(password, user.passwordHash))) {
      const lockout = this.records.security.lockout;
      const failedLogins = user.failedLogins + 1;
      const locks = failedLogins >= lockout.attempts;
      const after: UserData = {
        ...user,
        failedLogins,
        lockedUntil: locks ? at + lockout.duration : user.lockedUntil,
      };
      await store.writeRecords(
        [userWrite(record, after)],
        [
          this.records.audit(
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
      await store.writeRecords(
        [],
        [
          this.records.audit(
            systemActor(address),
            failed,
            'user',
            username,
            {},
            'account disabled',
          ),
        ],
      );
      throw new MwError('MW_ERR_AUTH_DISABLED', { user: username });
    }
    if (purpose !== 'login' && purpose !== 'change-password' && user.failedLogins > 0) {
      // A right password ends a run of failures (lockout counts consecutive ones); a login
      // and a password change write this reset with their own audit row.
      const reset: UserData = { ...user, failedLogins: 0, lockedUntil: null };
      const [stored] = await store.writeRecords(
        [userWrite(record, reset)],
        [
          this.records.audit(
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
    purpose: CredentialPurpose,
  ): StoredRecord {
    const { policy } = this.records;
    const username = record.entityId;
    if (purpose !== 'change-password') {
      const reason = user.mustChangePassword
        ? 'it was set by an administrator'
        : passwordExpired(user.passwordSetAt, at, policy)
          ? `it is older than ${policy.maxAgeDays} days`
          : null;
      if (reason !== null) {
        throw new MwError('MW_ERR_AUTH_PASSWORD_CHANGE_REQUIRED', { user: username, reason });
      }
    }
    return record;
  }
}

function systemActor(address: string): { actor: string } {
  return { actor: `address:${address}` };
}
