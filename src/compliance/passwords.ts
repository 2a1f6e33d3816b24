/**
 * Password hashing and policy (issue #3; 21 CFR 11.300 controls for identification codes and
 * passwords). scrypt from node:crypto — memory-hard, no native dependency. A stored hash is
 * self-describing (`scrypt$N$r$p$salt$hash`, base64url), so the cost can be raised later and
 * old hashes still verify (and can be re-hashed at the next login: `needsRehash`).
 */
import {
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto';

/** Cost parameters. N = 2^15 with r = 8 needs 32 MiB per hash (OWASP's scrypt baseline is 2^17 at r = 8, p = 1; 2^15 keeps a verification near 150 ms on this 2-core machine; measured 144 ms). */
export const SCRYPT_DEFAULTS = {
  N: 2 ** 15,
  r: 8,
  p: 1,
  keyBytes: 32,
  saltBytes: 16,
} as const;

function scrypt(
  password: string,
  salt: Buffer,
  keyBytes: number,
  options: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCallback(password.normalize('NFC'), salt, keyBytes, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** 128 × N × r bytes of memory, plus headroom; node's default maxmem (32 MiB) is exactly too small. */
const maxmem = (N: number, r: number): number => 128 * N * r * 2;

export async function hashPassword(password: string, params = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(params.saltBytes);
  const key = await scrypt(password, salt, params.keyBytes, {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: maxmem(params.N, params.r),
  });
  return [
    'scrypt',
    params.N,
    params.r,
    params.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

interface ParsedHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

function parseHash(stored: string): ParsedHash | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return null;
  return {
    N,
    r,
    p,
    salt: Buffer.from(parts[4] as string, 'base64url'),
    key: Buffer.from(parts[5] as string, 'base64url'),
  };
}

/** Whether `password` matches `stored`. Constant-time comparison; a malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const h = parseHash(stored);
  if (h === null || h.key.length === 0) return false;
  const key = await scrypt(password, h.salt, h.key.length, {
    N: h.N,
    r: h.r,
    p: h.p,
    maxmem: maxmem(h.N, h.r),
  });
  return timingSafeEqual(key, h.key);
}

/** A hash made with weaker parameters than today's defaults. */
export function needsRehash(stored: string, params = SCRYPT_DEFAULTS): boolean {
  const h = parseHash(stored);
  return (
    h === null ||
    h.N < params.N ||
    h.r < params.r ||
    h.p < params.p ||
    h.key.length < params.keyBytes
  );
}

export interface PasswordPolicy {
  readonly minLength: number;
  /** A new password must differ from this many previous ones. */
  readonly historySize: number;
  /** Days after which a password must be changed; 0 for never. */
  readonly maxAgeDays: number;
}

export const PASSWORD_POLICY_DEFAULTS: PasswordPolicy = {
  minLength: 12,
  historySize: 5,
  maxAgeDays: 90,
};

/**
 * Why a new password is not acceptable, or null. `previousHashes` are the user's last hashes,
 * newest first; only the first `historySize` are checked.
 */
export async function passwordProblem(
  password: string,
  username: string,
  policy: PasswordPolicy,
  previousHashes: readonly string[] = [],
): Promise<string | null> {
  if ([...password].length < policy.minLength)
    return `must be at least ${policy.minLength} characters long`;
  if (password.toLowerCase().includes(username.toLowerCase()))
    return 'must not contain the user name';
  for (const previous of previousHashes.slice(0, policy.historySize)) {
    if (await verifyPassword(password, previous))
      return `must differ from the last ${policy.historySize} passwords`;
  }
  return null;
}

/** Whether a password set at `setAtMs` has expired at `nowMs` under the policy. */
export function passwordExpired(setAtMs: number, nowMs: number, policy: PasswordPolicy): boolean {
  return policy.maxAgeDays > 0 && nowMs - setAtMs > policy.maxAgeDays * 86_400_000;
}
