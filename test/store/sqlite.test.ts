/** The Store contract on SQLite, on files in a temporary folder, plus what only SQLite has. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { isMwError } from '../../src/errors.ts';
import { openSqliteStore, openStore, type Store } from '../../src/store/index.ts';
import { auditTamperSuite } from './audit-tamper.ts';
import { CONTRACT_OPTIONS, storeContract, type NewStoreTarget } from './contract.ts';
import { genealogyContract } from './genealogy-contract.ts';
import { kpiContract } from './kpi-contract.ts';
import { outboxContract } from './outbox-contract.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mw-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let targets = 0;

/** A fresh database file, in a folder that does not exist yet (the store creates it). */
const newTarget: NewStoreTarget = async (t) => {
  const file = path.join(dir, `t${++targets}`, 'nested', 'millwright.db');
  const opened: Store[] = [];
  t.after(async () => {
    for (const s of opened) await s.close();
  });
  return {
    async open(options) {
      const store = await openSqliteStore({
        ...CONTRACT_OPTIONS,
        ...options,
        path: file,
        synchronous: 'FULL',
      });
      opened.push(store);
      return store;
    },
    async exec(sql) {
      const db = new Database(file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
  };
};

test('Store contract on SQLite', async (t) => {
  await storeContract(t, newTarget);
});

test('Outbox contract on SQLite', async (t) => {
  await outboxContract(t, newTarget);
});

test('KPI bucket contract on SQLite', async (t) => {
  await kpiContract(t, newTarget);
});

test('Genealogy contract on SQLite', async (t) => {
  await genealogyContract(t, newTarget);
});

test('Audit trail tampering on SQLite', async (t) => {
  await auditTamperSuite(
    t,
    newTarget,
    'DROP TRIGGER audit_log_append_only_update; DROP TRIGGER audit_log_append_only_delete',
  );
});

test('SQLite: openStore puts the file in dataDir, in WAL mode', async () => {
  const dataDir = path.join(dir, 'data-dir');
  const store = await openStore(
    { type: 'sqlite', synchronous: 'NORMAL' },
    { dataDir, ...CONTRACT_OPTIONS },
  );
  try {
    const file = path.join(dataDir, 'millwright.db');
    assert.equal(store.kind, 'sqlite');
    assert.equal(store.location, file);
    await store.migrate();
    assert.ok(existsSync(file));
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
  } finally {
    await store.close();
  }
});

test('SQLite: a path that cannot hold a database is MW_ERR_STORE_UNAVAILABLE', async () => {
  const blocker = path.join(dir, 'a-file');
  writeFileSync(blocker, 'not a folder');
  await assert.rejects(
    openSqliteStore({
      ...CONTRACT_OPTIONS,
      path: path.join(blocker, 'millwright.db'),
      synchronous: 'FULL',
    }),
    (err: unknown) =>
      isMwError(err) && err.code === 'MW_ERR_STORE_UNAVAILABLE' && err.message.includes(blocker),
  );
});
