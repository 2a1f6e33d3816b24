/** The audit hash chain: a chain verifies; any single change, removal or reordering is found at its row. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  canonicalJson,
  chainEntries,
  GENESIS_HASH,
  verifyAuditChain,
  type AuditEntry,
  type AuditRecord,
} from '../../src/compliance/audit.ts';

const entryArb: fc.Arbitrary<AuditEntry> = fc.record({
  at: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
  actor: fc.constantFrom('user:alice', 'token:erp', 'connection:plant-mqtt', 'system'),
  action: fc.constantFrom('create', 'update', 'delete'),
  entityType: fc.constantFrom('user', 'equipment-state', 'config'),
  entityId: fc.string({ minLength: 1, maxLength: 20 }),
  changes: fc.dictionary(
    fc.string({ minLength: 1, maxLength: 8 }),
    fc.record({ old: fc.jsonValue(), new: fc.jsonValue() }),
    { maxKeys: 4 },
  ),
  reason: fc.option(fc.string({ maxLength: 30 }), { nil: null }),
});

async function* pages(rows: readonly AuditRecord[], size = 3): AsyncIterable<AuditRecord[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

describe('audit hash chain', () => {
  it('canonical JSON does not depend on key order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }),
      '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}',
    );
  });

  it('chains from the genesis hash and continues across appends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { minLength: 1, maxLength: 12 }),
        fc.array(entryArb, { maxLength: 12 }),
        async (first, second) => {
          const a = chainEntries(null, first);
          const b = chainEntries(a[a.length - 1] ?? null, second);
          assert.equal(a[0]?.prevHash, GENESIS_HASH);
          assert.deepEqual(
            [...a, ...b].map((r) => r.seq),
            Array.from({ length: a.length + b.length }, (_, i) => i + 1),
          );
          assert.deepEqual(await verifyAuditChain(pages([...a, ...b])), {
            ok: true,
            count: a.length + b.length,
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('finds a changed field at its row', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { minLength: 2, maxLength: 15 }),
        fc.nat(),
        fc.constantFrom('actor', 'action', 'entityId', 'at', 'reason', 'changes'),
        async (entries, pick, field) => {
          const rows = chainEntries(null, entries);
          const i = pick % rows.length;
          const row = rows[i] as AuditRecord;
          const changed: Record<string, unknown> = { ...row };
          changed[field] =
            field === 'at'
              ? row.at + 1
              : field === 'changes'
                ? { ...row.changes, forged: { old: null, new: 1 } }
                : `${String(row[field as keyof AuditRecord])}x`;
          const tampered = rows.map((r, k) => (k === i ? (changed as unknown as AuditRecord) : r));
          const result = await verifyAuditChain(pages(tampered));
          assert.equal(result.ok, false);
          assert.equal(result.ok ? -1 : result.seq, row.seq);
          assert.equal(result.count, i);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('finds a removed row, a swapped pair and a forged row', async () => {
    const rows = chainEntries(
      null,
      Array.from({ length: 10 }, (_, i) => ({
        at: 1_700_000_000_000 + i,
        actor: 'system',
        action: 'update',
        entityType: 't',
        entityId: `e${i}`,
        changes: {},
        reason: null,
      })),
    );
    const removed = await verifyAuditChain(pages(rows.filter((r) => r.seq !== 4)));
    assert.deepEqual(removed, {
      ok: false,
      count: 3,
      seq: 5,
      reason: 'row 4 is missing (deleted)',
    });

    const swapped = [...rows];
    [swapped[5], swapped[6]] = [swapped[6] as AuditRecord, swapped[5] as AuditRecord];
    const swap = await verifyAuditChain(pages(swapped));
    assert.equal(swap.ok ? -1 : swap.seq, 7);

    const last = rows[rows.length - 1] as AuditRecord;
    const forged = {
      ...last,
      seq: 11,
      prevHash: last.hash,
      entityId: 'forged',
      hash: 'f'.repeat(64),
    };
    const forgery = await verifyAuditChain(pages([...rows, forged]));
    assert.deepEqual(forgery, {
      ok: false,
      count: 10,
      seq: 11,
      reason: 'its content does not match its hash (the row was changed)',
    });
  });
});
