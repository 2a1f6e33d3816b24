/**
 * User accounts (21 CFR 11.10(d), (g), 11.100, 11.300): creating, changing, disabling and
 * unlocking them, and setting passwords. Each changed field is audited old → new, never a hash.
 * A password someone else chose must be replaced by its user at their next login; the last
 * active administrator cannot be disabled or lose the role, so someone can always manage users.
 */
import { MwError } from '../errors.ts';
import type { StoredRecord } from '../store/types.ts';
import type { Credentials } from './credentials.ts';
import {
  diffFields,
  userWrite,
  type IdentityRecords,
  type UserData,
  type UserView,
} from './identity-records.ts';
import { hashPassword, passwordProblem } from './passwords.ts';
import { authorize, isRole, ROLES, type Principal, type Role } from './roles.ts';
import type { Sessions } from './sessions.ts';

export const USERNAME_RE = /^[a-z0-9][a-z0-9._-]{1,63}$/;

export interface NewUser {
  username: string;
  fullName: string;
  roles: readonly string[];
  password: string;
  reason?: string | null | undefined;
}

export interface UserChange {
  fullName?: string | undefined;
  roles?: readonly string[] | undefined;
  disabled?: boolean | undefined;
}

export class Users {
  /** Once an enabled admin exists the API opens; until then it is checked on each request. */
  private adminSeen = false;

  constructor(
    private readonly records: IdentityRecords,
    private readonly credentials: Credentials,
    private readonly sessions: Sessions,
  ) {}

  /** Whether an enabled administrator exists (the API stays closed until one does). */
  async hasAdmin(): Promise<boolean> {
    if (this.adminSeen) return true;
    for await (const r of this.records.allRecords('user')) {
      const u = r.data as unknown as UserData;
      if (!u.disabled && u.roles.includes('admin')) {
        this.adminSeen = true;
        return true;
      }
    }
    return false;
  }

  async list(by: Principal): Promise<UserView[]> {
    authorize(by, 'users.read');
    const out: UserView[] = [];
    for await (const r of this.records.allRecords('user')) out.push(this.records.userView(r));
    return out;
  }

  async get(by: Principal, username: string): Promise<UserView> {
    if (by.username !== username) authorize(by, 'users.read');
    return this.records.userView(await this.records.userRecord(username));
  }

  async create(by: Principal, input: NewUser): Promise<UserView> {
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
    const at = this.records.now();
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
    const existing = await this.records.store.getRecord('user', username);
    if (existing !== undefined) throw new MwError('MW_ERR_AUTH_USER_EXISTS', { user: username });
    const [stored] = await this.records.store
      .writeRecords(
        [{ entityType: 'user', entityId: username, expectedVersion: 0, data: { ...data } }],
        [
          this.records.audit(
            by,
            'create',
            'user',
            username,
            diffFields(null, { ...data }),
            input.reason,
          ),
        ],
      )
      .catch((err: unknown) => {
        if (err instanceof MwError && err.code === 'MW_ERR_STORE_CONFLICT')
          throw new MwError('MW_ERR_AUTH_USER_EXISTS', { user: username });
        throw err;
      });
    if (roles.includes('admin')) this.adminSeen = true;
    return this.records.userView(stored!);
  }

  /** Change name, roles or the disabled flag; each changed field is audited old → new. */
  async update(
    by: Principal,
    username: string,
    change: UserChange,
    reason?: string | null,
  ): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.records.userRecord(username);
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
    const stored = await this.write(by, record, after, action, reason ?? null);
    if (after.disabled) await this.sessions.endAllOf(username);
    return stored;
  }

  /** An administrator sets someone's password (it must be changed at their next login). */
  async setPassword(by: Principal, username: string, password: string): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.records.userRecord(username);
    const before = record.data as unknown as UserData;
    const after = await this.withNewPassword(before, username, password);
    // Whoever knew the old password is logged out.
    await this.sessions.endAllOf(username);
    return this.write(
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
    const record = await this.credentials.check(username, current, address, 'change-password');
    const before = record.data as unknown as UserData;
    const after = await this.withNewPassword(before, username, next);
    return this.write(
      { actor: `user:${username}` },
      record,
      { ...after, mustChangePassword: false, failedLogins: 0, lockedUntil: null },
      'change-password',
      null,
    );
  }

  async unlock(by: Principal, username: string, reason?: string | null): Promise<UserView> {
    authorize(by, 'users.manage');
    const record = await this.records.userRecord(username);
    const before = record.data as unknown as UserData;
    return this.write(
      by,
      record,
      { ...before, failedLogins: 0, lockedUntil: null },
      'unlock',
      reason ?? null,
    );
  }

  private async write(
    by: { readonly actor: string },
    record: StoredRecord,
    after: UserData,
    action: string,
    reason: string | null,
  ): Promise<UserView> {
    const changes = diffFields(record.data, { ...after });
    const [stored] = await this.records.store.writeRecords(
      [userWrite(record, after)],
      [this.records.audit(by, action, 'user', record.entityId, changes, reason)],
    );
    return this.records.userView(stored!);
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
      passwordHistory: previous.slice(0, Math.max(0, this.records.policy.historySize - 1)),
      passwordSetAt: this.records.now(),
    };
  }

  private async checkPassword(
    password: string,
    username: string,
    previous: readonly string[],
  ): Promise<void> {
    const problem = await passwordProblem(password, username, this.records.policy, previous);
    if (problem !== null)
      throw new MwError('MW_ERR_AUTH_PASSWORD_POLICY', { rule: problem }, { path: 'password' });
  }

  private async otherAdminExists(username: string): Promise<boolean> {
    for await (const r of this.records.allRecords('user')) {
      const u = r.data as unknown as UserData;
      if (r.entityId !== username && !u.disabled && u.roles.includes('admin')) return true;
    }
    return false;
  }
}

export function checkRoles(roles: readonly string[]): Role[] {
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
