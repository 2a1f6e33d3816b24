/**
 * The records behind identity (`user`, `session`, `api-token`) and what every part of it shares:
 * their shapes, the views clients see, the audit entry, and reading and writing them. One place,
 * so that users, credentials, sessions and tokens (./users.ts, ./credentials.ts, ./sessions.ts,
 * ./tokens.ts) read the same data the same way and hashes never reach a view or the trail.
 *
 * Session and token secrets are stored as SHA-256 (they are 256 random bits, so a fast hash is
 * enough: there is nothing to guess from it).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SecurityConfig } from '../config/schema.ts';
import { MwError } from '../errors.ts';
import type { RecordWrite, Store, StoredRecord } from '../store/types.ts';
import type { AuditEntry } from './audit.ts';
import type { PasswordPolicy } from './passwords.ts';
import { permissionsOf, type Permission, type Principal, type Role } from './roles.ts';

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

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export type FieldChanges = Record<string, { old: unknown; new: unknown }>;

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

export function userWrite(record: StoredRecord, after: UserData): RecordWrite {
  return {
    entityType: 'user',
    entityId: record.entityId,
    expectedVersion: record.version,
    data: { ...after },
  };
}

/**
 * The store, clock and settings shared by the parts of identity, with the reads, views and
 * audit entries they all need.
 */
export class IdentityRecords {
  readonly policy: PasswordPolicy;

  constructor(
    readonly store: Store,
    readonly security: SecurityConfig,
    readonly now: () => number,
  ) {
    const p = security.passwords;
    this.policy = { minLength: p.minLength, historySize: p.history, maxAgeDays: p.maxAgeDays };
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

  async userRecord(username: string): Promise<StoredRecord> {
    const record = await this.store.getRecord('user', username);
    if (record === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'user', id: username });
    return record;
  }

  async userPrincipal(record: StoredRecord): Promise<Principal> {
    const user = record.data as unknown as UserData;
    if (user.disabled) throw new MwError('MW_ERR_AUTH_DISABLED', { user: record.entityId });
    return {
      kind: 'user',
      actor: `user:${record.entityId}`,
      username: record.entityId,
      permissions: permissionsOf(user.roles),
    };
  }

  async *allRecords(entityType: string): AsyncGenerator<StoredRecord> {
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listRecords({ entityType, afterId, limit: 500 });
      yield* page;
      if (page.length < 500) return;
      afterId = page.at(-1)!.entityId;
    }
  }
}
