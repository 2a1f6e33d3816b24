/**
 * Electronic signatures (21 CFR 11.50, 11.70, 11.100, 11.200): a shared service later issues use
 * to release quality holds, approve configuration and close batch records.
 *
 * - Signing re-authenticates with both components, user name and password (11.200(a)(1)), and
 *   only as oneself: the name must be that of the logged-in user (11.200(a)(2)); API tokens
 *   cannot sign. A wrong password is refused, audited and counts towards lockout.
 * - The signature shows the signer's full name, the UTC time and the meaning (11.50).
 * - It is bound to the exact content signed (11.70): it stores the SHA-256 of the record's
 *   canonical content, so it cannot be moved to another record, and a record whose content
 *   changed after signing lists the signature as no longer valid.
 */
import { createHash, randomBytes } from 'node:crypto';
import { MwError } from '../errors.ts';
import type { AuditEntry, RecordWrite, Store, StoredRecord } from '../store/types.ts';
import { canonicalJson } from './audit.ts';
import type { IdentityService, UserData } from './identity.ts';
import { authorize, type Principal } from './roles.ts';

export const SIGNATURE_MEANINGS = [
  'authored',
  'reviewed',
  'approved',
  'verified',
  'released',
  'rejected',
] as const;
export type SignatureMeaning = (typeof SIGNATURE_MEANINGS)[number];

/**
 * Record types that can be signed, each with the fields a signature covers; later issues add
 * theirs (orders, lots, batch records …). Bookkeeping a person does not sign (a user's count of
 * failed logins, a token's last use) is left out, so it can change without voiding signatures.
 */
export const SIGNED_FIELDS = {
  user: ['fullName', 'roles', 'disabled'],
  'api-token': ['name', 'owner', 'permissions', 'expiresAt', 'revokedAt'],
  // A lot's identity and make-up, not its bookkeeping (quantity left, status, holds), so a
  // release stays valid while the lot is used afterwards.
  'material-lot': [
    'material',
    'initialQuantity',
    'uom',
    'origin',
    'order',
    'operation',
    'parent',
    'properties',
    'at',
  ],
} as const satisfies Record<string, readonly string[]>;

export const SIGNABLE_TYPES = Object.keys(SIGNED_FIELDS) as (keyof typeof SIGNED_FIELDS)[];

/** The part of a record a signature covers. */
export function signedContent(record: StoredRecord): Record<string, unknown> {
  const fields = (SIGNED_FIELDS as Record<string, readonly string[]>)[record.entityType];
  if (fields === undefined) return { ...record.data };
  return Object.fromEntries(fields.map((f) => [f, record.data[f] ?? null]));
}

export interface SignatureData {
  readonly signer: string;
  readonly fullName: string;
  readonly meaning: SignatureMeaning;
  /** UTC epoch ms, the hub's clock. */
  readonly at: number;
  readonly entityType: string;
  readonly entityId: string;
  /** Version of the record when signed (for people; the binding is the hash). */
  readonly recordVersion: number;
  readonly contentHash: string;
  readonly reason: string | null;
}

export interface SignatureView extends SignatureData {
  readonly id: string;
  /** Whether the record still has the content that was signed. */
  readonly valid: boolean;
  readonly invalidReason: string | null;
}

/** The hash a signature binds to: type, id and signed content of the record, canonical JSON. */
export function contentHash(record: StoredRecord): string {
  return createHash('sha256')
    .update(
      canonicalJson({
        entityType: record.entityType,
        entityId: record.entityId,
        data: signedContent(record),
      }),
    )
    .digest('hex');
}

const refOf = (entityType: string, entityId: string): string => `${entityType}/${entityId}`;

export interface SignInput {
  readonly meaning: SignatureMeaning;
  readonly username: string;
  readonly password: string;
  readonly reason?: string | null | undefined;
}

export class SignatureService {
  constructor(
    private readonly store: Store,
    private readonly identity: IdentityService,
  ) {}

  async sign(
    by: Principal,
    input: SignInput & { entityType: string; entityId: string },
    address: string,
  ): Promise<SignatureView> {
    authorize(by, 'signatures.sign');
    const record = await this.signable(input.entityType, input.entityId);
    const { write, audit } = await this.prepare(by, record, input, address);
    const [stored] = await this.store.writeRecords([write], [audit]);
    return this.view(stored!, record);
  }

  /**
   * Check the signer (permission, oneself, password: 11.200) and draft the signature of
   * `record` as it is now, for the caller to write in the transaction of what it signs (a hold
   * released and its "released" signature exist together or not at all).
   */
  async prepare(
    by: Principal,
    record: StoredRecord,
    input: SignInput,
    address: string,
  ): Promise<{ write: RecordWrite; audit: AuditEntry; id: string }> {
    authorize(by, 'signatures.sign');
    if (by.kind === 'token') {
      throw new MwError('MW_ERR_AUTH_FORBIDDEN', {
        actor: by.actor,
        permission: 'signatures.sign (API tokens cannot sign; a person signs in a session)',
      });
    }
    if (by.kind === 'user' && input.username !== by.username) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        {
          path: 'username',
          rule: `must be the logged-in user (${by.username}): one signs only as oneself`,
        },
        { path: 'username' },
      );
    }
    const userRecord = await this.identity.checkCredentials(
      input.username,
      input.password,
      address,
      'sign',
    );
    const user = userRecord.data as unknown as UserData;
    const id = randomBytes(12).toString('base64url');
    const data: SignatureData = {
      signer: input.username,
      fullName: user.fullName,
      meaning: input.meaning,
      at: this.identity.clock(),
      entityType: record.entityType,
      entityId: record.entityId,
      recordVersion: record.version,
      contentHash: contentHash(record),
      reason: input.reason ?? null,
    };
    const audit = this.identity.audit(
      { actor: `user:${input.username}` },
      'sign',
      record.entityType,
      record.entityId,
      {
        signature: {
          old: null,
          new: {
            id,
            meaning: data.meaning,
            signer: data.signer,
            fullName: data.fullName,
            contentHash: data.contentHash,
          },
        },
      },
      data.reason,
    );
    const write: RecordWrite = {
      entityType: 'signature',
      entityId: id,
      expectedVersion: 0,
      data: { ...data },
      ref: refOf(record.entityType, record.entityId),
    };
    return { write, audit, id };
  }

  /** The signatures of a record, oldest first, each with whether it still holds. */
  async list(by: Principal, entityType: string, entityId: string): Promise<SignatureView[]> {
    authorize(by, 'signatures.read');
    const record = await this.store.getRecord(entityType, entityId);
    const out: SignatureView[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listRecords({
        entityType: 'signature',
        ref: refOf(entityType, entityId),
        afterId,
        limit: 500,
      });
      for (const s of page) out.push(this.view(s, record));
      if (page.length < 500) break;
      afterId = page.at(-1)!.entityId;
    }
    return out.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
  }

  private async signable(entityType: string, entityId: string): Promise<StoredRecord> {
    if (!(SIGNABLE_TYPES as readonly string[]).includes(entityType)) {
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        { path: 'entityType', rule: `expected one of ${SIGNABLE_TYPES.join(', ')}` },
        { path: 'entityType' },
      );
    }
    const record = await this.store.getRecord(entityType, entityId);
    if (record === undefined) {
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: entityType, id: entityId });
    }
    return record;
  }

  private view(stored: StoredRecord, record: StoredRecord | undefined): SignatureView {
    const s = stored.data as unknown as SignatureData;
    const invalidReason =
      record === undefined
        ? 'the signed record no longer exists'
        : contentHash(record) !== s.contentHash
          ? `the record changed after signing (signed version ${s.recordVersion}, now version ${record.version})`
          : null;
    return { ...s, id: stored.entityId, valid: invalidReason === null, invalidReason };
  }
}
