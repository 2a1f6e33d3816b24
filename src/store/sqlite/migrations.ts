/**
 * SQLite schema migrations: ordered, named, recorded in `schema_migrations`, each in its own
 * transaction (STYLE.md rule 4). `postgres/migrations.ts` holds the same list for PostgreSQL;
 * keep the two in step (same names, same tables and columns).
 */
import type Database from 'better-sqlite3';
import { MwError } from '../../errors.ts';
import { reasonOf } from '../common.ts';
import { kpiCacheSql } from '../kpi-cache.ts';
import { kpiQuarterFillSql, kpiReasonCodesSql, kpiTablesSql } from '../kpi-common.ts';
import type { MigrationStatus } from '../types.ts';

export interface Migration {
  readonly name: string;
  readonly sql: string;
}

/** The migration that adds the KPI buckets: the store fills them once it has run. */
export const KPI_MIGRATION = '008_kpi_buckets';

export const MIGRATIONS: readonly Migration[] = [
  {
    name: '001_initial',
    // Timestamps are epoch ms (INTEGER). Text columns compare as bytes (BINARY, the default):
    // listEvents relies on that for its prefix range (see eventBounds in ../common.ts).
    sql: `
      CREATE TABLE tag_samples (
        id INTEGER PRIMARY KEY,
        connection_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        equipment_id TEXT,
        value TEXT NOT NULL,
        quality TEXT NOT NULL,
        source_ts INTEGER NOT NULL,
        received_ts INTEGER NOT NULL
      );

      -- The journal. No AUTOINCREMENT (it costs a second write per row): rows are never deleted
      -- (the triggers below), so max(seq) + 1 never hands out a seq twice and the cursor only grows.
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        equipment_id TEXT NOT NULL,
        ts INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE INDEX events_equipment_seq ON events (equipment_id, seq);

      -- DESIGN.md: the journal is append-only and the source of truth.
      CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
      BEGIN SELECT RAISE(ABORT, 'events is append-only: UPDATE is not allowed'); END;
      CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
      BEGIN SELECT RAISE(ABORT, 'events is append-only: DELETE is not allowed'); END;

      -- The projection: one row per work unit, state and counters side by side.
      CREATE TABLE unit_state (
        equipment_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reason_code TEXT,
        since_ms INTEGER NOT NULL,
        last_state_ts INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        good_total INTEGER NOT NULL,
        good_last_raw INTEGER,
        good_last_ts INTEGER NOT NULL,
        scrap_total INTEGER NOT NULL,
        scrap_last_raw INTEGER,
        scrap_last_ts INTEGER NOT NULL,
        total_total INTEGER NOT NULL,
        total_last_raw INTEGER,
        total_last_ts INTEGER NOT NULL
      );

      CREATE TABLE quarantine (
        id INTEGER PRIMARY KEY,
        connection_id TEXT NOT NULL,
        source TEXT NOT NULL,
        received_ts INTEGER NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        payload BLOB NOT NULL,
        payload_bytes INTEGER NOT NULL
      );
    `,
  },
  {
    name: '002_audit_log',
    // The audit trail (../../compliance/audit.ts). seq is given by chainEntries, not by SQLite:
    // it is part of each row's hash. changes is the canonical JSON text that was hashed.
    sql: `
      CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        changes TEXT NOT NULL,
        reason TEXT,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );

      -- 21 CFR 11.10(e): the hub cannot change or delete audit rows; it only appends.
      CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE is not allowed'); END;
      CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
      BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE is not allowed'); END;
    `,
  },
  {
    name: '003_records',
    // The hub's own records (users, API tokens, sessions, signatures; see StoredRecord in
    // ../types.ts) and the indexes the audit query uses. data is JSON text.
    sql: `
      CREATE TABLE records (
        entity_type TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        ref TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (entity_type, entity_id)
      );
      CREATE INDEX records_ref ON records (entity_type, ref) WHERE ref IS NOT NULL;

      -- User names are never reused; tokens and signatures stay as evidence (common.ts).
      CREATE TRIGGER records_never_deleted BEFORE DELETE ON records
        WHEN old.entity_type IN ('user', 'api-token', 'signature')
      BEGIN SELECT RAISE(ABORT, 'users, API tokens and signatures are never deleted'); END;

      CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, seq);
      CREATE INDEX audit_log_actor ON audit_log (actor, seq);
      CREATE INDEX audit_log_at ON audit_log (at);
    `,
  },
  {
    name: '004_sample_status',
    // The protocol's own status behind a bad or uncertain sample (TagSample.status).
    sql: 'ALTER TABLE tag_samples ADD COLUMN status TEXT;',
  },
  {
    name: '005_quarantine_replayed',
    // When a quarantined input was replayed (it can be replayed once).
    sql: 'ALTER TABLE quarantine ADD COLUMN replayed_at INTEGER;',
  },
  {
    name: '006_unit_consumption',
    // Consumption positions per material of a unit (JSON: material → total, last raw, last ts),
    // so a re-delivered totaliser reading after a restart books nothing twice.
    sql: "ALTER TABLE unit_state ADD COLUMN materials TEXT NOT NULL DEFAULT '{}';",
  },
  {
    name: '007_outbox',
    // The transactional outbox (OutboxRow in ../types.ts). payload is the message's JSON text.
    // Rows are delivered in id order per (target, ordering_key); the index serves that check.
    sql: `
      CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        target TEXT NOT NULL,
        message_id TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        lease_until INTEGER NOT NULL,
        lease_owner TEXT,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        -- maxAge counts from here: created_at, or the operator's replay of a dead row.
        age_from INTEGER NOT NULL,
        delivered_at INTEGER,
        updated_at INTEGER NOT NULL,
        UNIQUE (target, message_id)
      );
      CREATE INDEX outbox_due ON outbox (target, status, next_attempt_at);
      CREATE INDEX outbox_key ON outbox (target, ordering_key, id);
    `,
  },
  {
    name: '008_kpi_buckets',
    // A unit's figures per minute and per hour (../kpi-common.ts), kept by commit. The store
    // fills them from the journal once this has run (rebuildKpi).
    sql: kpiTablesSql(
      (t) => t,
      {
        text: 'TEXT',
        int: 'INTEGER',
        num: 'REAL',
        withoutRowid: ' WITHOUT ROWID',
      },
      ['minute', 'hour'],
    ),
  },
  {
    name: '009_kpi_quarters',
    // Quarter-hour buckets, so that breaks and shifts at :15, :30 and :45 read no minutes;
    // filled from the minutes already there. And the reason codes each unit had.
    sql:
      kpiTablesSql(
        (t) => t,
        { text: 'TEXT', int: 'INTEGER', num: 'REAL', withoutRowid: ' WITHOUT ROWID' },
        ['quarter'],
      ) +
      kpiQuarterFillSql((t) => t) +
      kpiReasonCodesSql((t) => t, { text: 'TEXT', withoutRowid: ' WITHOUT ROWID' }),
  },
  {
    name: '010_kpi_cache',
    // What reports computed over closed shifts, days and weeks, per unit (../kpi-cache.ts).
    sql: kpiCacheSql((t) => t, { text: 'TEXT', int: 'INTEGER', withoutRowid: ' WITHOUT ROWID' }),
  },
  {
    name: '011_genealogy',
    // Links between material lots (LotLink in ../../model/lot.ts; ../genealogy-common.ts walks
    // them). No AUTOINCREMENT, as for the journal: rows are never deleted (the triggers), so
    // the rowid never repeats. Each index holds both lots, so a step of the cycle check reads
    // the index alone, forward (from → to) and backward (to → from) alike.
    sql: `
      CREATE TABLE lot_links (
        id INTEGER PRIMARY KEY,
        from_lot TEXT NOT NULL,
        to_lot TEXT NOT NULL,
        quantity TEXT NOT NULL,
        uom TEXT NOT NULL,
        kind TEXT NOT NULL,
        order_id TEXT,
        operation TEXT,
        equipment_id TEXT,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL
      );
      CREATE INDEX lot_links_from ON lot_links (from_lot, to_lot);
      CREATE INDEX lot_links_to ON lot_links (to_lot, from_lot);

      -- Which lots went into which is part of the batch record (21 CFR 211.188(b)(3)): never changed.
      CREATE TRIGGER lot_links_append_only_update BEFORE UPDATE ON lot_links
      BEGIN SELECT RAISE(ABORT, 'lot_links is append-only: UPDATE is not allowed'); END;
      CREATE TRIGGER lot_links_append_only_delete BEFORE DELETE ON lot_links
      BEGIN SELECT RAISE(ABORT, 'lot_links is append-only: DELETE is not allowed'); END;
    `,
  },
];

/**
 * Apply the migrations not yet recorded. Each runs in a `BEGIN IMMEDIATE` transaction that
 * first re-reads `schema_migrations`: the write lock is taken before the check, so two hub
 * processes starting on one file cannot both apply a migration (the second waits up to
 * busy_timeout, then sees it recorded).
 */
export function runMigrations(db: Database.Database, store: string): MigrationStatus[] {
  let current = 'schema_migrations';
  try {
    db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)',
    );
    const isApplied = db.prepare<[string], { name: string }>(
      'SELECT name FROM schema_migrations WHERE name = ?',
    );
    const record = db.prepare<[string, number]>(
      'INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)',
    );
    const out: MigrationStatus[] = [];
    for (const m of MIGRATIONS) {
      current = m.name;
      const apply = db.transaction((): MigrationStatus => {
        if (isApplied.get(m.name) !== undefined) return { name: m.name, state: 'already-applied' };
        db.exec(m.sql);
        record.run(m.name, Date.now());
        return { name: m.name, state: 'applied' };
      });
      out.push(apply.immediate());
    }
    return out;
  } catch (err) {
    throw new MwError(
      'MW_ERR_STORE_MIGRATION',
      { store, migration: current, reason: reasonOf(err) },
      { cause: err },
    );
  }
}
