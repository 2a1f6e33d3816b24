/**
 * PostgreSQL schema migrations: ordered, named, recorded in `schema_migrations`, each in its own
 * transaction, all under one advisory lock (STYLE.md rule 4). `sqlite/migrations.ts` holds the
 * same list for SQLite; keep the two in step (same names, same tables and columns).
 */
import pg from 'pg';
import { MwError } from '../../errors.ts';
import { reasonOf } from '../common.ts';
import { kpiCacheSql } from '../kpi-cache.ts';
import {
  kpiFigureViewSql,
  kpiQuarterFillSql,
  kpiReasonCodesSql,
  kpiTablesSql,
  kpiViewsSql,
} from '../kpi-common.ts';
import type { MigrationStatus } from '../types.ts';

export interface Migration {
  readonly name: string;
  /** The statements, given the quoted schema name that qualifies every object. */
  readonly sql: (schema: string) => string;
}

/** Advisory lock classes (first key of the two-int form); the second key is hashtext(schema). */
export const LOCK_CLASS = {
  migrate: 0x4d570001,
  journal: 0x4d570002,
  /** Writes that add genealogy links: their cycle check must see every other hub's links. */
  genealogy: 0x4d570003,
} as const;

/** The migration that adds the KPI buckets: the store fills them once it has run. */
export const KPI_MIGRATION = '008_kpi_buckets';

export const MIGRATIONS: readonly Migration[] = [
  {
    name: '001_initial',
    // Timestamps are epoch ms (BIGINT). events.equipment_id is COLLATE "C" (byte order): the
    // prefix range of listEvents needs it, and the (equipment_id, seq) index then serves it.
    sql: (s) => `
      CREATE TABLE ${s}.tag_samples (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        connection_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        equipment_id TEXT,
        value TEXT NOT NULL,
        quality TEXT NOT NULL,
        source_ts BIGINT NOT NULL,
        received_ts BIGINT NOT NULL
      );

      CREATE TABLE ${s}.events (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        type TEXT NOT NULL,
        equipment_id TEXT COLLATE "C" NOT NULL,
        ts BIGINT NOT NULL,
        recorded_at BIGINT NOT NULL,
        data JSONB NOT NULL
      );
      CREATE INDEX events_equipment_seq ON ${s}.events (equipment_id, seq);

      -- DESIGN.md: the journal is append-only and the source of truth.
      CREATE FUNCTION ${s}.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'object_not_in_prerequisite_state';
      END
      $$;
      CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ${s}.events
        FOR EACH ROW EXECUTE FUNCTION ${s}.events_append_only();
      CREATE TRIGGER events_append_only_truncate BEFORE TRUNCATE ON ${s}.events
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.events_append_only();

      -- The projection: one row per work unit, state and counters side by side.
      CREATE TABLE ${s}.unit_state (
        equipment_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        reason_code TEXT,
        since_ms BIGINT NOT NULL,
        last_state_ts BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        good_total BIGINT NOT NULL,
        good_last_raw BIGINT,
        good_last_ts BIGINT NOT NULL,
        scrap_total BIGINT NOT NULL,
        scrap_last_raw BIGINT,
        scrap_last_ts BIGINT NOT NULL,
        total_total BIGINT NOT NULL,
        total_last_raw BIGINT,
        total_last_ts BIGINT NOT NULL
      );

      CREATE TABLE ${s}.quarantine (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        connection_id TEXT NOT NULL,
        source TEXT NOT NULL,
        received_ts BIGINT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        payload BYTEA NOT NULL,
        payload_bytes BIGINT NOT NULL
      );
    `,
  },
  {
    name: '002_audit_log',
    // The audit trail (../../compliance/audit.ts). seq is given by chainEntries, not by an
    // identity: it is part of each row's hash. changes is TEXT, not JSONB: jsonb reorders keys
    // and normalises numbers, and the row must give back the exact canonical JSON that was hashed.
    sql: (s) => `
      CREATE TABLE ${s}.audit_log (
        seq BIGINT PRIMARY KEY,
        at BIGINT NOT NULL,
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
      CREATE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'object_not_in_prerequisite_state';
      END
      $$;
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON ${s}.audit_log
        FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only();
      CREATE TRIGGER audit_log_append_only_truncate BEFORE TRUNCATE ON ${s}.audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_log_append_only();
    `,
  },
  {
    name: '003_records',
    // The hub's own records (users, API tokens, sessions, signatures; see StoredRecord in
    // ../types.ts) and the indexes the audit query uses. data is JSON text, as on SQLite, so
    // both give back the very text written. entity_id is byte-ordered for id paging.
    sql: (s) => `
      CREATE TABLE ${s}.records (
        entity_type TEXT NOT NULL,
        entity_id TEXT COLLATE "C" NOT NULL,
        version BIGINT NOT NULL,
        data TEXT NOT NULL,
        ref TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (entity_type, entity_id)
      );
      CREATE INDEX records_ref ON ${s}.records (entity_type, ref) WHERE ref IS NOT NULL;

      -- User names are never reused; tokens and signatures stay as evidence (common.ts).
      CREATE FUNCTION ${s}.records_never_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' OR OLD.entity_type IN ('user', 'api-token', 'signature') THEN
          RAISE EXCEPTION 'users, API tokens and signatures are never deleted'
            USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN OLD;
      END
      $$;
      CREATE TRIGGER records_never_deleted BEFORE DELETE ON ${s}.records
        FOR EACH ROW EXECUTE FUNCTION ${s}.records_never_deleted();
      CREATE TRIGGER records_never_truncated BEFORE TRUNCATE ON ${s}.records
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.records_never_deleted();

      CREATE INDEX audit_log_entity ON ${s}.audit_log (entity_type, entity_id, seq);
      CREATE INDEX audit_log_actor ON ${s}.audit_log (actor, seq);
      CREATE INDEX audit_log_at ON ${s}.audit_log (at);
    `,
  },
  {
    name: '004_sample_status',
    // The protocol's own status behind a bad or uncertain sample (TagSample.status).
    sql: (s) => `ALTER TABLE ${s}.tag_samples ADD COLUMN status TEXT;`,
  },
  {
    name: '005_quarantine_replayed',
    // When a quarantined input was replayed (it can be replayed once).
    sql: (s) => `ALTER TABLE ${s}.quarantine ADD COLUMN replayed_at BIGINT;`,
  },
  {
    name: '006_unit_consumption',
    // Consumption positions per material of a unit (JSON: material → total, last raw, last ts),
    // so a re-delivered totaliser reading after a restart books nothing twice.
    sql: (s) => `ALTER TABLE ${s}.unit_state ADD COLUMN materials TEXT NOT NULL DEFAULT '{}';`,
  },
  {
    name: '007_outbox',
    // The transactional outbox (OutboxRow in ../types.ts). payload is the message's JSON text.
    // Rows are delivered in id order per (target, ordering_key); the index serves that check.
    sql: (s) => `
      CREATE TABLE ${s}.outbox (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        target TEXT NOT NULL,
        message_id TEXT NOT NULL,
        ordering_key TEXT NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        next_attempt_at BIGINT NOT NULL,
        lease_until BIGINT NOT NULL,
        lease_owner TEXT,
        last_error TEXT,
        created_at BIGINT NOT NULL,
        -- maxAge counts from here: created_at, or the operator's replay of a dead row.
        age_from BIGINT NOT NULL,
        delivered_at BIGINT,
        updated_at BIGINT NOT NULL,
        UNIQUE (target, message_id)
      );
      CREATE INDEX outbox_due ON ${s}.outbox (target, status, next_attempt_at);
      CREATE INDEX outbox_key ON ${s}.outbox (target, ordering_key, id);
    `,
  },
  {
    name: '008_kpi_buckets',
    // A unit's figures per minute and per hour (../kpi-common.ts), kept by commit. The store
    // fills them from the journal once this has run (rebuildKpi). equipment_id byte-ordered as
    // in events. The views are for BI tools (docs/kpi.md).
    sql: (s) =>
      kpiTablesSql(
        (t) => `${s}.${t}`,
        {
          text: 'TEXT COLLATE "C"',
          int: 'BIGINT',
          num: 'DOUBLE PRECISION',
          withoutRowid: '',
        },
        ['minute', 'hour'],
      ) + kpiViewsSql(s),
  },
  {
    name: '009_kpi_quarters',
    // Quarter-hour buckets, so that breaks and shifts at :15, :30 and :45 read no minutes;
    // filled from the minutes already there. And the reason codes each unit had.
    sql: (s) =>
      kpiTablesSql(
        (t) => `${s}.${t}`,
        { text: 'TEXT COLLATE "C"', int: 'BIGINT', num: 'DOUBLE PRECISION', withoutRowid: '' },
        ['quarter'],
      ) +
      kpiQuarterFillSql((t) => `${s}.${t}`) +
      kpiFigureViewSql(s, 'kpi_quarter') +
      kpiReasonCodesSql((t) => `${s}.${t}`, { text: 'TEXT COLLATE "C"', withoutRowid: '' }),
  },
  {
    name: '010_kpi_cache',
    // What reports computed over closed shifts, days and weeks, per unit (../kpi-cache.ts).
    sql: (s) =>
      kpiCacheSql((t) => `${s}.${t}`, {
        text: 'TEXT COLLATE "C"',
        int: 'BIGINT',
        withoutRowid: '',
      }),
  },
  {
    name: '011_genealogy',
    // Links between material lots (LotLink in ../../model/lot.ts; ../genealogy-common.ts walks
    // them). Lot numbers are byte-ordered: a B-tree of "C" text compares with memcmp, not the
    // locale's strcoll. Each index holds both lots, so a step of the cycle check is an
    // index-only scan, forward (from → to) and backward (to → from) alike.
    sql: (s) => `
      CREATE TABLE ${s}.lot_links (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        from_lot TEXT COLLATE "C" NOT NULL,
        to_lot TEXT COLLATE "C" NOT NULL,
        quantity TEXT NOT NULL,
        uom TEXT NOT NULL,
        kind TEXT NOT NULL,
        order_id TEXT,
        operation TEXT,
        equipment_id TEXT,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL
      );
      CREATE INDEX lot_links_from ON ${s}.lot_links (from_lot, to_lot);
      CREATE INDEX lot_links_to ON ${s}.lot_links (to_lot, from_lot);

      -- Which lots went into which is part of the batch record (21 CFR 211.188(b)(3)): never changed.
      CREATE FUNCTION ${s}.lot_links_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'lot_links is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'object_not_in_prerequisite_state';
      END
      $$;
      CREATE TRIGGER lot_links_append_only BEFORE UPDATE OR DELETE ON ${s}.lot_links
        FOR EACH ROW EXECUTE FUNCTION ${s}.lot_links_append_only();
      CREATE TRIGGER lot_links_append_only_truncate BEFORE TRUNCATE ON ${s}.lot_links
        FOR EACH STATEMENT EXECUTE FUNCTION ${s}.lot_links_append_only();
    `,
  },
];

/**
 * Apply the migrations not yet recorded. The whole run holds a session advisory lock keyed by
 * the schema, so several hubs starting at once on one database take turns: the first applies,
 * the others wait and then find every migration recorded. Each migration is its own
 * transaction (DDL is transactional in PostgreSQL), so a failure leaves nothing half-applied.
 */
export async function runMigrations(
  client: pg.PoolClient,
  schema: string,
  label: string,
): Promise<MigrationStatus[]> {
  const s = pg.escapeIdentifier(schema);
  let current = 'schema_migrations';
  await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [LOCK_CLASS.migrate, schema]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`,
    );
    const out: MigrationStatus[] = [];
    for (const m of MIGRATIONS) {
      current = m.name;
      await client.query('BEGIN');
      try {
        const seen = await client.query(`SELECT 1 FROM ${s}.schema_migrations WHERE name = $1`, [
          m.name,
        ]);
        if (seen.rowCount === 0) {
          await client.query(m.sql(s));
          await client.query(
            `INSERT INTO ${s}.schema_migrations (name, applied_at) VALUES ($1, $2)`,
            [m.name, Date.now()],
          );
          out.push({ name: m.name, state: 'applied' });
        } else {
          out.push({ name: m.name, state: 'already-applied' });
        }
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    }
    return out;
  } catch (err) {
    throw new MwError(
      'MW_ERR_STORE_MIGRATION',
      { store: label, migration: current, reason: reasonOf(err) },
      { cause: err },
    );
  } finally {
    await client
      .query('SELECT pg_advisory_unlock($1, hashtext($2))', [LOCK_CLASS.migrate, schema])
      .catch(() => undefined);
  }
}
