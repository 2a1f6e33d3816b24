/**
 * API tokens for machines (ERP, scripts, the MQTT broker's clients). A token acts as the user
 * who created it, within a scope fixed at creation; the scope is checked against the owner's
 * permissions again on every use, so taking a role from a user also takes it from their tokens.
 * The bearer is `mwt_<id>_<secret>`: the id finds the record without a scan, and only the
 * secret's hash is stored.
 */
import { randomBytes } from 'node:crypto';
import { MwError } from '../errors.ts';
import type { StoredRecord } from '../store/types.ts';
import {
  diffFields,
  sameHash,
  sha256,
  type IdentityRecords,
  type TokenData,
  type TokenView,
} from './identity-records.ts';
import { authorize, isPermission, ROLES, type Permission, type Principal } from './roles.ts';
import { checkRoles } from './users.ts';

export const TOKEN_PREFIX = 'mwt_';
/** Token last-used times are written at most this often. */
const TOKEN_STAMP_EVERY_MS = 60_000;

export interface NewToken {
  name: string;
  permissions?: readonly string[] | undefined;
  role?: string | undefined;
  expiresAt?: number | null | undefined;
}

export class Tokens {
  constructor(private readonly records: IdentityRecords) {}

  async create(by: Principal, input: NewToken): Promise<{ token: string; view: TokenView }> {
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
    const [stored] = await this.records.store.writeRecords(
      [{ entityType: 'api-token', entityId: id, expectedVersion: 0, data: { ...data } }],
      [this.records.audit(by, 'create', 'api-token', id, diffFields(null, { ...data }), null)],
    );
    return { token: `${TOKEN_PREFIX}${id}_${secret}`, view: tokenView(stored!) };
  }

  async list(by: Principal): Promise<TokenView[]> {
    authorize(by, 'tokens.manage');
    const out: TokenView[] = [];
    for await (const r of this.records.allRecords('api-token')) out.push(tokenView(r));
    return out;
  }

  async revoke(by: Principal, id: string, reason?: string | null): Promise<TokenView> {
    authorize(by, 'tokens.manage');
    const record = await this.records.store.getRecord('api-token', id);
    if (record === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'API token', id });
    const before = record.data as unknown as TokenData;
    if (before.revokedAt !== null) return tokenView(record);
    const after: TokenData = { ...before, revokedAt: this.records.now() };
    const [stored] = await this.records.store.writeRecords(
      [
        {
          entityType: 'api-token',
          entityId: id,
          expectedVersion: record.version,
          data: { ...after },
        },
      ],
      [
        this.records.audit(
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

  /** The principal behind a token's bearer secret, or MW_ERR_AUTH_REQUIRED saying why not. */
  async principal(bearer: string): Promise<Principal> {
    const rest = bearer.slice(TOKEN_PREFIX.length);
    const cut = rest.indexOf('_');
    const id = cut > 0 ? rest.slice(0, cut) : '';
    const record = id === '' ? undefined : await this.records.store.getRecord('api-token', id);
    const token = record?.data as TokenData | undefined;
    if (
      record === undefined ||
      token === undefined ||
      !sameHash(sha256(rest.slice(cut + 1)), token.secretHash)
    ) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: 'unknown API token' });
    }
    const at = this.records.now();
    if (token.revokedAt !== null)
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: `API token ${id} was revoked` });
    if (token.expiresAt !== null && token.expiresAt <= at) {
      throw new MwError('MW_ERR_AUTH_REQUIRED', { reason: `API token ${id} has expired` });
    }
    const owner = await this.records.userPrincipal(await this.records.userRecord(token.owner));
    if (token.lastUsedAt === null || at - token.lastUsedAt >= TOKEN_STAMP_EVERY_MS) {
      // A usage stamp, not a change anyone made: no audit row.
      await this.records.store
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
