/**
 * The PostgreSQL Store: a `pg` Pool, every object qualified by the configured schema, and
 * multi-row statements (`INSERT ... SELECT FROM unnest($1::text[], ...)`) so a commit of
 * thousands of samples is a handful of round trips, not one per row.
 */
import pg from 'pg';
import { MwError } from '../../errors.ts';
import {
  bucketDeltas,
  type BucketDelta,
  type JournalEvent,
  type LotLink,
} from '../../model/index.ts';
import type { AuditEntry, AuditRecord, AuditVerification } from '../../compliance/audit.ts';
import {
  AUDIT_COLUMNS,
  auditFilter,
  auditRows,
  planRecordWrite,
  toStoredRecord,
  type RecordRow,
  cutPayload,
  eventBounds,
  MAX_KEY,
  ms,
  reasonOf,
  toAuditRecord,
  toJournalEvent,
  toStoredQuarantine,
  toStoredSample,
  toUnitProjections,
  UNIT_COLUMNS,
  UNIT_TEXT_COLUMNS,
  unitValues,
  uniqueUnits,
  verifyAuditTrail,
  type AuditRow,
  type EventRow,
  type QuarantineRow,
  type SampleRow,
  type UnitRow,
} from '../common.ts';
import type {
  AuditQuery,
  EventQuery,
  IngestBatch,
  KpiCacheRead,
  KpiCacheRow,
  KpiSum,
  KpiSumQuery,
  LotTrace,
  LotTraceQuery,
  MigrationStatus,
  OutboxCounts,
  OutboxInsert,
  OutboxLease,
  OutboxQuery,
  OutboxRow,
  OutboxSettlement,
  OutboxSettleItem,
  QuarantineQuery,
  RecordQuery,
  RecordWrite,
  SampleQuery,
  Store,
  StoredRecord,
  StoredQuarantineEntry,
  StoredSample,
  StoreOptions,
  UnitProjection,
} from '../types.ts';
import { KPI_MIGRATION, LOCK_CLASS, runMigrations } from './migrations.ts';
import * as outbox from './outbox.ts';
import * as kpi from './kpi.ts';
import * as genealogy from './genealogy.ts';
import { KpiCacheGuard } from '../kpi-cache.ts';

/**
 * The SQL of the store for one schema. The hot-path statements are named, so each pooled
 * connection parses and plans them once.
 */
function statements(schema: string) {
  const s = pg.escapeIdentifier(schema);
  const named = (name: string, text: string) => ({ name: `mw_${name}`, text });
  return {
    /**
     * Commits that write events or audit rows take this transaction lock first. A sequence
     * hands out numbers at insert, not at commit: without the lock a reader paging with
     * afterSeq could see seq 11 of one hub's commit before seq 10 of another's becomes
     * visible, and skip 10 for good. For the audit trail the lock keeps two hubs sharing the
     * database from both chaining onto the same last row (a forked chain).
     */
    beginJournal: `BEGIN; SELECT pg_advisory_xact_lock(${LOCK_CLASS.journal}, hashtext(${pg.escapeLiteral(schema)}))`,
    insertSamples: named(
      'insert_samples',
      `INSERT INTO ${s}.tag_samples (connection_id, tag, equipment_id, value, quality, status, source_ts, received_ts)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])`,
    ),
    // Identity values are drawn in the order rows reach the insert (ORDER BY ord), so the
    // returned seqs, sorted, line up with the input events.
    insertEvents: named(
      'insert_events',
      `INSERT INTO ${s}.events (type, equipment_id, ts, recorded_at, data)
       SELECT type, equipment_id, ts, $4::bigint, data
       FROM unnest($1::text[], $2::text[], $3::bigint[], $5::jsonb[])
         WITH ORDINALITY AS u (type, equipment_id, ts, data, ord)
       ORDER BY ord
       RETURNING seq`,
    ),
    eventsAfter: `SELECT * FROM ${s}.events WHERE seq > $1 ORDER BY seq LIMIT $2`,
    lastAudit: named(
      'last_audit',
      `SELECT seq, hash FROM ${s}.audit_log ORDER BY seq DESC LIMIT 1`,
    ),
    insertAudit: named(
      'insert_audit',
      `INSERT INTO ${s}.audit_log (${AUDIT_COLUMNS.join(', ')})
       SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
    ),
    upsertUnits: named(
      'upsert_units',
      `INSERT INTO ${s}.unit_state (${UNIT_COLUMNS.join(', ')})
       SELECT * FROM unnest(${UNIT_COLUMNS.map(
         (c, i) => `$${i + 1}::${UNIT_TEXT_COLUMNS.has(c) ? 'text' : 'bigint'}[]`,
       ).join(', ')})
       ON CONFLICT (equipment_id) DO UPDATE SET ${UNIT_COLUMNS.slice(1)
         .map((c) => `${c} = EXCLUDED.${c}`)
         .join(', ')}`,
    ),
    insertQuarantine: named(
      'insert_quarantine',
      `INSERT INTO ${s}.quarantine (connection_id, source, received_ts, code, message, payload, payload_bytes)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bigint[])`,
    ),
    // Ids only grow, so "keep the newest N" is one range delete on the primary key.
    trimQuarantine: named(
      'trim_quarantine',
      `DELETE FROM ${s}.quarantine WHERE id <= (SELECT max(id) FROM ${s}.quarantine) - $1`,
    ),
    // One index range [id, id0) on (equipment_id, seq); see eventBounds in ../common.ts.
    lastStateChangeBefore: `SELECT seq, type, equipment_id, ts, recorded_at, data FROM ${s}.events
       WHERE equipment_id = $1 AND type = 'state.changed' AND ts < $2
       ORDER BY seq DESC LIMIT 1`,
    listEvents: `SELECT seq, type, equipment_id, ts, recorded_at, data FROM ${s}.events
       WHERE equipment_id >= $1 AND equipment_id < $2 AND (equipment_id = $1 OR equipment_id >= $3)
         AND ts >= $4 AND ts < $5 AND seq > $6 AND ($8::text IS NULL OR type = $8)
       ORDER BY seq LIMIT $7`,
    listQuarantine: `SELECT * FROM ${s}.quarantine
       WHERE id < $1 AND ($2::text IS NULL OR connection_id = $2)
       ORDER BY id DESC LIMIT $3`,
    countQuarantine: `SELECT count(*) AS n FROM ${s}.quarantine`,
    getQuarantine: `SELECT * FROM ${s}.quarantine WHERE id = $1`,
    markReplayed: `UPDATE ${s}.quarantine SET replayed_at = $1 WHERE id = $2 AND replayed_at IS NULL`,
    listSamples: `SELECT * FROM ${s}.tag_samples
       WHERE id > $1 AND ($2::text IS NULL OR connection_id = $2) AND ($3::text IS NULL OR tag = $3)
       ORDER BY id LIMIT $4`,
    countSamples: `SELECT count(*) AS n FROM ${s}.tag_samples`,
    // One statement, so states and counters come from one snapshot. json_agg turns BIGINT
    // into JSON numbers, exact for the values stored here (below 2^53).
    units: `SELECT * FROM ${s}.unit_state`,
    listAudit: `SELECT ${AUDIT_COLUMNS.join(', ')} FROM ${s}.audit_log
       WHERE seq > $1 AND ($2::text IS NULL OR entity_type = $2)
         AND ($3::text IS NULL OR entity_id = $3) AND ($4::text IS NULL OR actor = $4)
         AND at >= $5 AND at < $6
       ORDER BY seq LIMIT $7`,
    getRecord: `SELECT * FROM ${s}.records WHERE entity_type = $1 AND entity_id = $2`,
    lockRecord: `SELECT version FROM ${s}.records WHERE entity_type = $1 AND entity_id = $2 FOR UPDATE`,
    listRecords: `SELECT * FROM ${s}.records
       WHERE entity_type = $1 AND entity_id > $2 AND ($3::text IS NULL OR ref = $3)
       ORDER BY entity_id LIMIT $4`,
    insertRecord: `INSERT INTO ${s}.records (entity_type, entity_id, version, data, ref, created_at, updated_at)
       VALUES ($1, $2, 1, $3, $4, $5, $5) RETURNING *`,
    updateRecord: `UPDATE ${s}.records SET version = version + 1, data = $3, ref = $4, updated_at = $5
       WHERE entity_type = $1 AND entity_id = $2 RETURNING *`,
    deleteRecord: `DELETE FROM ${s}.records WHERE entity_type = $1 AND entity_id = $2`,
    countAudit: `SELECT count(*) AS n FROM ${s}.audit_log`,
  };
}

type Statements = ReturnType<typeof statements>;

/** A batch as column arrays, built before the transaction opens so it stays short. */
function columns(batch: IngestBatch, payloadBytes: number) {
  const n = batch.samples.length;
  const sm = {
    conn: new Array<string>(n),
    tag: new Array<string>(n),
    eq: new Array<string | null>(n),
  };
  const sv = {
    value: new Array<string>(n),
    quality: new Array<string>(n),
    status: new Array<string | null>(n),
  };
  const sts = { source: new Array<number>(n), received: new Array<number>(n) };
  for (let i = 0; i < n; i++) {
    const x = batch.samples[i]!;
    sm.conn[i] = x.connectionId;
    sm.tag[i] = x.tag;
    sm.eq[i] = x.equipmentId;
    sv.value[i] = JSON.stringify(x.value);
    sv.quality[i] = x.quality;
    sv.status[i] = x.status ?? null;
    sts.source[i] = ms(x.sourceTs);
    sts.received[i] = ms(x.receivedTs);
  }
  const ev = batch.events;
  const units = uniqueUnits(batch.units);
  const unitRows = units.map(unitValues);
  const q = batch.quarantine;
  return {
    samples: [sm.conn, sm.tag, sm.eq, sv.value, sv.quality, sv.status, sts.source, sts.received],
    events: [
      ev.map((e) => e.type),
      ev.map((e) => e.equipmentId),
      ev.map((e) => ms(e.ts)),
      ev.map((e) => JSON.stringify(e.data)),
    ],
    units: UNIT_COLUMNS.map((_c, i) => unitRows.map((row) => row[i])),
    quarantine: [
      q.map((e) => e.connectionId),
      q.map((e) => e.source),
      q.map((e) => ms(e.receivedTs)),
      q.map((e) => e.code),
      q.map((e) => e.message),
      q.map((e) => cutPayload(e, payloadBytes)),
      q.map((e) => e.payloadBytes),
    ],
  };
}

/**
 * A checked-out client whose connection dies emits 'error' besides failing its query; the pool
 * listens only while a client is idle, so without a listener here that event would crash the
 * process. The failed query reports the problem; the event itself is ignored.
 */
function guarded(client: pg.PoolClient): pg.PoolClient {
  if (client.listenerCount('error') === 0) client.on('error', () => undefined);
  return client;
}

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly opts: StoreOptions;
  /** For error messages: kind, location and schema (STYLE.md rule 12). */
  private readonly label: string;
  private readonly sql: Statements;
  private readonly outboxSql: outbox.OutboxSql;
  private readonly kpiSql: kpi.KpiSql;
  private readonly genealogySql: genealogy.GenealogySql;
  private readonly kpiGuard = new KpiCacheGuard();
  private closing: Promise<void> | undefined;

  constructor(pool: pg.Pool, location: string, schema: string, opts: StoreOptions) {
    this.pool = pool;
    this.location = location;
    this.schema = schema;
    this.opts = opts;
    this.label = `postgres ${location} schema ${schema}`;
    this.sql = statements(schema);
    this.outboxSql = outbox.outboxStatements(schema);
    this.kpiSql = kpi.kpiStatements(schema);
    this.genealogySql = genealogy.genealogyStatements(schema);
  }

  async migrate(): Promise<MigrationStatus[]> {
    const client = await this.connect();
    let failed: Error | undefined;
    let status: MigrationStatus[];
    try {
      status = await runMigrations(client, this.schema, this.label);
    } catch (err) {
      // A broken connection may still hold the session lock: destroy it rather than pool it.
      failed = err instanceof Error ? err : new Error(String(err));
      throw err;
    } finally {
      client.release(failed);
    }
    // The KPI buckets are new to a journal that already has events: make them from it (on a
    // connection of its own, after the migration's is back: a pool of one works too).
    if (status.some((m) => m.name === KPI_MIGRATION && m.state === 'applied'))
      await this.rebuildKpi();
    return status;
  }

  async commit(batch: IngestBatch): Promise<JournalEvent[]> {
    const fail = (err: unknown): Error =>
      new MwError(
        'MW_ERR_STORE_COMMIT',
        // The items the sources delivered: they are what gets re-delivered.
        {
          store: this.label,
          count: batch.samples.length + batch.quarantine.length,
          reason: reasonOf(err),
        },
        { cause: err },
      );
    // Built before the transaction opens, so it stays short.
    let c: ReturnType<typeof columns>;
    try {
      c = columns(batch, this.opts.quarantinePayloadBytes);
    } catch (err) {
      throw fail(err);
    }
    const hasEvents = batch.events.length > 0;
    const audit = batch.audit ?? [];
    let touched: { equipmentId: string; bucket: number }[] = [];
    const out = await this.transaction(
      hasEvents || audit.length > 0,
      async (client) => {
        if (batch.samples.length > 0)
          await client.query({ ...this.sql.insertSamples, values: c.samples });
        let events: JournalEvent[] = [];
        if (hasEvents) {
          const recordedAt = Date.now();
          const [type, eq, ts, data] = c.events;
          const r = await client.query<{ seq: number }>({
            ...this.sql.insertEvents,
            values: [type, eq, ts, recordedAt, data],
          });
          const seqs = r.rows.map((row) => row.seq).sort((a, b) => a - b);
          events = batch.events.map((e, i) => ({ ...e, seq: seqs[i]!, recordedAt }));
          touched = await kpi.addKpiDeltas(client, this.kpiSql, bucketDeltas(batch.events));
        }
        await this.appendAudit(client, audit);
        if (batch.units.length > 0) {
          await client.query({ ...this.sql.upsertUnits, values: c.units });
        }
        if (batch.quarantine.length > 0) {
          await client.query({ ...this.sql.insertQuarantine, values: c.quarantine });
          await client.query({
            ...this.sql.trimQuarantine,
            values: [this.opts.quarantineMaxEntries],
          });
        }
        return events;
      },
      fail,
    );
    // After the commit: a report that took its token before it read too old buckets.
    this.kpiGuard.touched(touched);
    return out;
  }

  /**
   * Run `work` in one transaction on a pooled connection: BEGIN (under the journal lock when
   * `lockJournal`: commits that append events or audit rows, see beginJournal), COMMIT, or
   * ROLLBACK on any error, which `fail` turns into the store's error. A connection that could
   * not even roll back is destroyed, not returned to the pool.
   */
  private async transaction<T>(
    lockJournal: boolean,
    work: (client: pg.PoolClient) => Promise<T>,
    fail: (err: unknown) => Error,
  ): Promise<T> {
    let client: pg.PoolClient | undefined;
    let broken: Error | undefined;
    try {
      client = await this.connect();
      await client.query(lockJournal ? this.sql.beginJournal : 'BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client?.query('ROLLBACK').catch((e: unknown) => {
        broken = e instanceof Error ? e : new Error(String(e));
      });
      throw fail(err);
    } finally {
      client?.release(broken);
    }
  }

  /** Chain audit entries onto the trail; call under the journal lock (no other hub appends meanwhile). */
  private async appendAudit(client: pg.PoolClient, audit: readonly AuditEntry[]): Promise<void> {
    if (audit.length === 0) return;
    const last = await client.query<{ seq: number; hash: string }>(this.sql.lastAudit);
    const rows = auditRows(last.rows[0], audit);
    await client.query({
      ...this.sql.insertAudit,
      values: AUDIT_COLUMNS.map((_c, i) => rows.map((row) => row[i])),
    });
  }

  /** The error of a failed read or write other than a commit. */
  private unavailable(err: unknown): Error {
    if (err instanceof MwError) return err;
    return new MwError(
      'MW_ERR_STORE_UNAVAILABLE',
      { store: this.label, reason: reasonOf(err) },
      { cause: err },
    );
  }

  async writeRecords(
    writes: readonly RecordWrite[],
    audit: readonly AuditEntry[],
    outboxRows: readonly OutboxInsert[] = [],
    links: readonly LotLink[] = [],
  ): Promise<(StoredRecord | null)[]> {
    return this.transaction(
      audit.length > 0,
      async (client) => {
        if (links.length > 0) await genealogy.lockGenealogy(client, this.genealogySql);
        const now = Date.now();
        const out: (StoredRecord | null)[] = [];
        for (const w of writes) {
          const key = [w.entityType, w.entityId];
          // FOR UPDATE: a concurrent writer of the same record waits, then sees the new version.
          const locked = await client.query<{ version: number }>(this.sql.lockRecord, key);
          const plan = planRecordWrite(w, Number(locked.rows[0]?.version ?? 0));
          if (plan === 'delete') {
            await client.query(this.sql.deleteRecord, key);
            out.push(null);
            continue;
          }
          const values = [...key, JSON.stringify(w.data), w.ref ?? null, now];
          const r = await client.query<RecordRow>(
            plan === 'insert' ? this.sql.insertRecord : this.sql.updateRecord,
            values,
          );
          out.push(toStoredRecord(r.rows[0]!));
        }
        await genealogy.writeLinks(client, this.genealogySql, links);
        await outbox.insertOutbox(client, this.outboxSql, outboxRows);
        await this.appendAudit(client, audit);
        return out;
      },
      (err) =>
        // Two creators of one record both read "absent"; the second insert meets the key.
        (err as { code?: string }).code === '23505'
          ? new MwError('MW_ERR_STORE_CONFLICT', {
              entity: writes.map((w) => `${w.entityType} ${w.entityId}`).join(', '),
              expected: 0,
              found: 1,
            })
          : this.unavailable(err),
    );
  }

  async traceLots(query: LotTraceQuery): Promise<LotTrace> {
    return this.transaction(
      false,
      (client) => genealogy.traceLots(client, this.genealogySql, query),
      (err) => this.unavailable(err),
    );
  }

  async getRecords(
    entityType: string,
    ids: readonly string[],
  ): Promise<(StoredRecord | undefined)[]> {
    const read = (text: string, values: unknown[]) => this.read<RecordRow>(text, values);
    return genealogy.getRecords(read, this.genealogySql, entityType, ids);
  }

  async sumKpi(query: KpiSumQuery): Promise<KpiSum[]> {
    return kpi.sumKpi((q, values) => this.readArrays(q.text, values), this.kpiSql, query);
  }

  async addKpiDeltas(deltas: readonly BucketDelta[]): Promise<void> {
    const touched = await this.transaction(
      true,
      (client) => kpi.addKpiDeltas(client, this.kpiSql, deltas),
      (err) => this.unavailable(err),
    );
    this.kpiGuard.touched(touched);
  }

  async readKpiCache(keys: readonly string[]): Promise<(KpiCacheRead | undefined)[]> {
    return kpi.readKpiCache((q, values) => this.readArrays(q.text, values), this.kpiSql, keys);
  }

  kpiCacheToken(): number {
    return this.kpiGuard.token();
  }

  releaseKpiCache(token: number): void {
    this.kpiGuard.release(token);
  }

  async writeKpiCache(token: number, rows: readonly KpiCacheRow[]): Promise<number> {
    const allowed = this.kpiGuard.allowed(token);
    if (rows.length === 0) return 0;
    return this.transaction(
      false,
      (client) => kpi.writeKpiCache(client, this.kpiSql, rows, allowed),
      (err) => this.unavailable(err),
    );
  }

  async rebuildKpi(progress?: (eventsRead: number) => void): Promise<number> {
    // Under the journal lock: no commit adds deltas between the clear and the last page.
    return this.transaction(
      true,
      async (client) => {
        await client.query(this.kpiSql.clear);
        let read = 0;
        for (let after = 0; ;) {
          const { rows } = await client.query<EventRow>(this.sql.eventsAfter, [after, 10_000]);
          if (rows.length === 0) break;
          const page = rows.map(toJournalEvent);
          await kpi.addKpiDeltas(client, this.kpiSql, bucketDeltas(page));
          read += page.length;
          after = page.at(-1)!.seq;
          progress?.(read);
        }
        return read;
      },
      (err) => this.unavailable(err),
    );
  }

  async getRecord(entityType: string, entityId: string): Promise<StoredRecord | undefined> {
    const rows = await this.read<RecordRow>(this.sql.getRecord, [entityType, entityId]);
    return rows[0] === undefined ? undefined : toStoredRecord(rows[0]);
  }

  async listRecords(query: RecordQuery): Promise<StoredRecord[]> {
    const rows = await this.read<RecordRow>(this.sql.listRecords, [
      query.entityType,
      query.afterId ?? '',
      query.ref ?? null,
      query.limit,
    ]);
    return rows.map(toStoredRecord);
  }

  async loadUnits(): Promise<UnitProjection[]> {
    return toUnitProjections(await this.read<UnitRow>(this.sql.units));
  }

  async lastStateChangeBefore(equipmentId: string, ts: number): Promise<JournalEvent | undefined> {
    const [row] = await this.read<EventRow>(this.sql.lastStateChangeBefore, [equipmentId, ts]);
    return row === undefined ? undefined : toJournalEvent(row);
  }

  async listEvents(query: EventQuery): Promise<JournalEvent[]> {
    const b = eventBounds(query);
    const rows = await this.read<EventRow>(this.sql.listEvents, [
      b.id,
      b.end,
      b.below,
      b.fromTs,
      b.toTs,
      b.afterSeq,
      b.limit,
      b.type,
    ]);
    return rows.map(toJournalEvent);
  }

  async listQuarantine(query: QuarantineQuery): Promise<StoredQuarantineEntry[]> {
    const rows = await this.read<QuarantineRow>(this.sql.listQuarantine, [
      query.beforeId ?? MAX_KEY,
      query.connectionId ?? null,
      query.limit,
    ]);
    return rows.map(toStoredQuarantine);
  }

  async getQuarantine(id: number): Promise<StoredQuarantineEntry | undefined> {
    const rows = await this.read<QuarantineRow>(this.sql.getQuarantine, [id]);
    return rows[0] === undefined ? undefined : toStoredQuarantine(rows[0]);
  }

  async markQuarantineReplayed(
    id: number,
    at: number,
    audit: readonly AuditEntry[],
  ): Promise<boolean> {
    return this.transaction(
      audit.length > 0,
      async (client) => {
        const r = await client.query(this.sql.markReplayed, [ms(at), id]);
        // Not there, or replayed already: nothing to audit (the empty transaction commits).
        if ((r.rowCount ?? 0) === 0) return false;
        await this.appendAudit(client, audit);
        return true;
      },
      (err) => this.unavailable(err),
    );
  }

  async leaseOutbox(lease: OutboxLease): Promise<OutboxRow[]> {
    return this.transaction(
      false,
      (client) => outbox.leaseOutbox(client, this.outboxSql, lease),
      (err) => this.unavailable(err),
    );
  }

  async settleOutboxMany(items: readonly OutboxSettleItem[]): Promise<boolean[]> {
    return this.transaction(
      false,
      async (client) => {
        const out: boolean[] = [];
        for (const i of items)
          out.push(await outbox.settleOutbox(client, this.outboxSql, i.id, i.owner, i.settlement));
        return out;
      },
      (err) => this.unavailable(err),
    );
  }

  async settleOutbox(id: number, owner: string, settlement: OutboxSettlement): Promise<boolean> {
    return this.outboxRead((q) => outbox.settleOutbox(q, this.outboxSql, id, owner, settlement));
  }

  async releaseOutboxLeases(ownerPrefix: string, keep: string, at: number): Promise<number> {
    return this.outboxRead((q) =>
      outbox.releaseOutboxLeases(q, this.outboxSql, ownerPrefix, keep, at),
    );
  }

  async listOutbox(query: OutboxQuery): Promise<OutboxRow[]> {
    return this.outboxRead((q) => outbox.listOutbox(q, this.outboxSql, query));
  }

  async getOutbox(id: number): Promise<OutboxRow | undefined> {
    return this.outboxRead((q) => outbox.getOutbox(q, this.outboxSql, id));
  }

  async countOutbox(): Promise<OutboxCounts> {
    return this.outboxRead((q) => outbox.countOutbox(q, this.outboxSql));
  }

  async settleDeadOutbox(
    id: number,
    decision: 'replay' | 'discard',
    at: number,
    audit: readonly AuditEntry[],
  ): Promise<OutboxRow | undefined> {
    return this.transaction(
      audit.length > 0,
      async (client) => {
        const row = await outbox.settleDeadOutbox(client, this.outboxSql, id, decision, at);
        if (row !== undefined) await this.appendAudit(client, audit);
        return row;
      },
      (err) => this.unavailable(err),
    );
  }

  /** One outbox statement on the pool; a failure says which store it was. */
  private async outboxRead<T>(fn: (q: pg.Pool) => Promise<T>): Promise<T> {
    try {
      if (this.closing !== undefined) throw new Error('the store is closed');
      return await fn(this.pool);
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  async countQuarantine(): Promise<number> {
    const rows = await this.read<{ n: number }>(this.sql.countQuarantine);
    return rows[0]?.n ?? 0;
  }

  async listSamples(query: SampleQuery): Promise<StoredSample[]> {
    const rows = await this.read<SampleRow>(this.sql.listSamples, [
      query.afterId ?? 0,
      query.connectionId ?? null,
      query.tag ?? null,
      query.limit,
    ]);
    return rows.map(toStoredSample);
  }

  async countSamples(): Promise<number> {
    const rows = await this.read<{ n: number }>(this.sql.countSamples);
    return rows[0]?.n ?? 0;
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const f = auditFilter(query);
    const rows = await this.read<AuditRow>(this.sql.listAudit, [
      f.afterSeq,
      f.entityType,
      f.entityId,
      f.actor,
      f.fromAt,
      f.toAt,
      f.limit,
    ]);
    return rows.map(toAuditRecord);
  }

  async countAudit(): Promise<number> {
    const rows = await this.read<{ n: number }>(this.sql.countAudit);
    return rows[0]?.n ?? 0;
  }

  async verifyAudit(): Promise<AuditVerification> {
    return verifyAuditTrail((query) => this.listAudit(query));
  }

  async ping(): Promise<void> {
    await this.read('SELECT 1');
  }

  async close(): Promise<void> {
    this.closing ??= this.pool.end();
    await this.closing;
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      if (this.closing !== undefined) throw new Error('the store is closed');
      return guarded(await this.pool.connect());
    } catch (err) {
      throw new MwError(
        'MW_ERR_STORE_UNAVAILABLE',
        { store: this.label, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }

  /** Run a read; a failure (closed, unreachable, schema missing) says which store it was. */
  /**
   * A KPI sum's rows as arrays (no object per row: they come in tens of thousands), with JIT off
   * for its read-only transaction: the planner's cost estimates for these statements pass
   * jit_above_cost, and compiling took half their time (bench/kpi: 320 of 595 ms). SET LOCAL,
   * not a connection option, so a pooler in front (PgBouncer) is no problem.
   */
  private async readArrays(text: string, values: unknown[]): Promise<unknown[][]> {
    try {
      if (this.closing !== undefined) throw new Error('the store is closed');
      const client = await this.pool.connect();
      let failed: Error | undefined;
      try {
        await client.query('BEGIN READ ONLY');
        await client.query('SET LOCAL jit = off');
        const rows = (await client.query<unknown[]>({ text, values, rowMode: 'array' })).rows;
        await client.query('COMMIT');
        return rows;
      } catch (err) {
        failed = err as Error;
        throw err;
      } finally {
        client.release(failed); // a connection that failed mid-transaction is not reused
      }
    } catch (err) {
      throw new MwError(
        'MW_ERR_STORE_UNAVAILABLE',
        { store: this.label, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }

  private async read<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[] = [],
  ): Promise<R[]> {
    try {
      if (this.closing !== undefined) throw new Error('the store is closed');
      return (await this.pool.query<R>(text, values)).rows;
    } catch (err) {
      throw new MwError(
        'MW_ERR_STORE_UNAVAILABLE',
        { store: this.label, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }
}
