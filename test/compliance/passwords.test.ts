/** Password hashing (scrypt) and policy. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hashPassword,
  needsRehash,
  passwordExpired,
  passwordProblem,
  PASSWORD_POLICY_DEFAULTS,
  SCRYPT_DEFAULTS,
  verifyPassword,
} from '../../src/compliance/passwords.ts';

// Cheaper parameters keep the suite fast; the default parameters are exercised once below.
const FAST = { ...SCRYPT_DEFAULTS, N: 2 ** 10 };

describe('passwords', () => {
  it('verifies the right password and refuses a wrong one, with salted hashes', async () => {
    const a = await hashPassword('correct horse battery', FAST);
    const b = await hashPassword('correct horse battery', FAST);
    assert.notEqual(a, b, 'each hash has its own salt');
    assert.match(a, /^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('correct horse battery', 'not-a-hash'), false);
  });

  it('hashes with the default cost and knows when a hash is weaker than that', async () => {
    const strong = await hashPassword('another long secret');
    assert.equal(await verifyPassword('another long secret', strong), true);
    assert.equal(needsRehash(strong), false);
    assert.equal(needsRehash(await hashPassword('x', FAST)), true);
  });

  it('applies the policy: length, user name, history, age', async () => {
    const policy = { ...PASSWORD_POLICY_DEFAULTS, minLength: 12, historySize: 2 };
    assert.match((await passwordProblem('short', 'alice', policy)) ?? '', /at least 12 characters/);
    assert.match((await passwordProblem('xxALICExx-1234', 'alice', policy)) ?? '', /user name/);
    const old = [
      await hashPassword('first password 1', FAST),
      await hashPassword('second password 2', FAST),
      await hashPassword('third password 3', FAST),
    ];
    assert.match(
      (await passwordProblem('second password 2', 'alice', policy, old)) ?? '',
      /last 2 passwords/,
    );
    assert.equal(
      await passwordProblem('third password 3', 'alice', policy, old),
      null,
      'only the last historySize count',
    );
    assert.equal(passwordExpired(0, 91 * 86_400_000, PASSWORD_POLICY_DEFAULTS), true);
    assert.equal(passwordExpired(0, 89 * 86_400_000, PASSWORD_POLICY_DEFAULTS), false);
    assert.equal(
      passwordExpired(0, 10 ** 12, { ...PASSWORD_POLICY_DEFAULTS, maxAgeDays: 0 }),
      false,
    );
  });
});
