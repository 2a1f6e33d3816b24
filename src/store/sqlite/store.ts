/**
 * The SQLite Store: one better-sqlite3 connection, statements prepared once. better-sqlite3 is
 * synchronous; the methods are async only to match the Store interface. A commit of ~2000 rows
 * takes a few milliseconds, short enough to run on the event loop without a worker thread.
 */
import type Database from 'better-sqlite3';
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
import type { Checkpointer } from './checkpointer.ts';
import { KPI_MIGRATION, runMigrations } from './migrations.ts';
import * as outbox from './outbox.ts';
import { prepareOutbox } from './outbox.ts';
import * as kpi from './kpi.ts';
import { prepareKpi } from './kpi.ts';
import * as genealogy from './genealogy.ts';
import { prepareGenealogy } from './genealogy.ts';

type Row = Record<string, unknown>;

/** Every statement the store runs, prepared once on first use (the tables must exist by then). */
function prepareStatements(db: Database.Database) {
  return {
    insertSample: db.prepare(
      `INSERT INTO tag_samples (connection_id, tag, equipment_id, value, quality, status, source_ts, received_ts)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertEvent: db.prepare(
      'INSERT INTO events (type, equipment_id, ts, recorded_at, data) VALUES (?, ?, ?, ?, ?)',
    ),
    lastAudit: db.prepare<[], { seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
    ),
    insertAudit: db.prepare(
      `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')})
       VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`,
    ),
    upsertUnit: db.prepare(
      `INSERT INTO unit_state (${UNIT_COLUMNS.join(', ')})
       VALUES (${UNIT_COLUMNS.map(() => '?').join(', ')})
       ON CONFLICT (equipment_id) DO UPDATE SET ${UNIT_COLUMNS.slice(1)
         .map((c) => `${c} = excluded.${c}`)
         .join(', ')}`,
    ),
    insertQuarantine: db.prepare(
      `INSERT INTO quarantine (connection_id, source, received_ts, code, message, payload, payload_bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    // Ids only grow, so "keep the newest N" is one range delete on the primary key.
    trimQuarantine: db.prepare(
      'DELETE FROM quarantine WHERE id <= (SELECT max(id) FROM quarantine) - ?',
    ),
    // One index range [id, id0) on (equipment_id, seq); see eventBounds in ../common.ts.
    listEvents: db.prepare<Row, EventRow>(
      `SELECT seq, type, equipment_id, ts, recorded_at, data FROM events
       WHERE equipment_id >= @id AND equipment_id < @end
         AND (equipment_id = @id OR equipment_id >= @below)
         AND ts >= @fromTs AND ts < @toTs AND seq > @afterSeq AND (@type IS NULL OR type = @type)
       ORDER BY seq LIMIT @limit`,
    ),
    lastStateChangeBefore: db.prepare<[string, number], EventRow>(
      `SELECT seq, type, equipment_id, ts, recorded_at, data FROM events
       WHERE equipment_id = ? AND type = 'state.changed' AND ts < ?
       ORDER BY seq DESC LIMIT 1`,
    ),
    listQuarantine: db.prepare<Row, QuarantineRow>(
      `SELECT * FROM quarantine
       WHERE id < @beforeId AND (@connectionId IS NULL OR connection_id = @connectionId)
       ORDER BY id DESC LIMIT @limit`,
    ),
    countQuarantine: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM quarantine'),
    getQuarantine: db.prepare<[number], QuarantineRow>('SELECT * FROM quarantine WHERE id = ?'),
    markReplayed: db.prepare<[number, number]>(
      'UPDATE quarantine SET replayed_at = ? WHERE id = ? AND replayed_at IS NULL',
    ),
    listSamples: db.prepare<Row, SampleRow>(
      `SELECT * FROM tag_samples
       WHERE id > @afterId AND (@connectionId IS NULL OR connection_id = @connectionId)
         AND (@tag IS NULL OR tag = @tag)
       ORDER BY id LIMIT @limit`,
    ),
    countSamples: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM tag_samples'),
    units: db.prepare<[], UnitRow>('SELECT * FROM unit_state'),
    listAudit: db.prepare<Row, AuditRow>(
      `SELECT ${AUDIT_COLUMNS.join(', ')} FROM audit_log
       WHERE seq > @afterSeq
         AND (@entityType IS NULL OR entity_type = @entityType)
         AND (@entityId IS NULL OR entity_id = @entityId)
         AND (@actor IS NULL OR actor = @actor)
         AND at >= @fromAt AND at < @toAt
       ORDER BY seq LIMIT @limit`,
    ),
    getRecord: db.prepare<[string, string], RecordRow>(
      'SELECT * FROM records WHERE entity_type = ? AND entity_id = ?',
    ),
    listRecords: db.prepare<Row, RecordRow>(
      `SELECT * FROM records
       WHERE entity_type = @entityType AND entity_id > @afterId AND (@ref IS NULL OR ref = @ref)
       ORDER BY entity_id LIMIT @limit`,
    ),
    insertRecord: db.prepare(
      `INSERT INTO records (entity_type, entity_id, version, data, ref, created_at, updated_at)
       VALUES (?, ?, 1, ?, ?, ?, ?)`,
    ),
    updateRecord: db.prepare(
      `UPDATE records SET version = version + 1, data = ?, ref = ?, updated_at = ?
       WHERE entity_type = ? AND entity_id = ?`,
    ),
    deleteRecord: db.prepare('DELETE FROM records WHERE entity_type = ? AND entity_id = ?'),
    countAudit: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM audit_log'),
    outbox: prepareOutbox(db),
    kpi: prepareKpi(db),
    genealogy: prepareGenealogy(db),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * Chain audit entries onto the trail. Call inside an IMMEDIATE transaction: no other writer
 * can append between reading the last row and the inserts.
 */
function appendAudit(s: Statements, audit: readonly AuditEntry[]): void {
  if (audit.length === 0) return;
  for (const row of auditRows(s.lastAudit.get(), audit)) s.insertAudit.run(...row);
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  private readonly db: Database.Database;
  private readonly opts: StoreOptions;
  /** For error messages: kind and location (STYLE.md rule 12). */
  private readonly label: string;
  private stmts: Statements | undefined;
  private closed = false;

  constructor(
    db: Database.Database,
    file: string,
    opts: StoreOptions,
    private readonly checkpointer: Checkpointer | null = null,
  ) {
    this.db = db;
    this.location = file;
    this.opts = opts;
    this.label = `sqlite ${file}`;
  }

  async migrate(): Promise<MigrationStatus[]> {
    this.open();
    const status = runMigrations(this.db, this.label);
    // The KPI buckets are new to a journal that already has events: make them from it.
    if (status.some((m) => m.name === KPI_MIGRATION && m.state === 'applied'))
      await this.rebuildKpi();
    return status;
  }

  async commit(batch: IngestBatch): Promise<JournalEvent[]> {
    try {
      const s = this.statements();
      // IMMEDIATE: take the write lock at BEGIN (waiting up to busy_timeout when another
      // process holds it) rather than failing on upgrade half-way through the batch.
      return this.db.transaction(() => this.write(s, batch)).immediate();
    } catch (err) {
      // db.transaction() has rolled back: nothing of the batch is left (DESIGN.md, data flow).
      throw new MwError(
        'MW_ERR_STORE_COMMIT',
        // The items the sources delivered: they are what gets re-delivered.
        {
          store: this.label,
          count: batch.samples.length + batch.quarantine.length,
          reason: reasonOf(err),
        },
        { cause: err },
      );
    }
  }

  /** The body of a commit; runs inside the transaction, any throw rolls it all back. */
  private write(s: Statements, batch: IngestBatch): JournalEvent[] {
    for (const x of batch.samples) {
      s.insertSample.run(
        x.connectionId,
        x.tag,
        x.equipmentId,
        JSON.stringify(x.value),
        x.quality,
        x.status ?? null,
        ms(x.sourceTs),
        ms(x.receivedTs),
      );
    }
    const recordedAt = Date.now();
    const events: JournalEvent[] = [];
    for (const e of batch.events) {
      const r = s.insertEvent.run(
        e.type,
        e.equipmentId,
        ms(e.ts),
        recordedAt,
        JSON.stringify(e.data),
      );
      events.push({ ...e, seq: Number(r.lastInsertRowid), recordedAt });
    }
    kpi.addKpiDeltas(s.kpi, bucketDeltas(batch.events));
    appendAudit(s, batch.audit ?? []);
    for (const u of uniqueUnits(batch.units)) s.upsertUnit.run(...unitValues(u));
    if (batch.quarantine.length > 0) {
      for (const q of batch.quarantine) {
        const payload = cutPayload(q, this.opts.quarantinePayloadBytes);
        s.insertQuarantine.run(
          q.connectionId,
          q.source,
          ms(q.receivedTs),
          q.code,
          q.message,
          payload,
          q.payloadBytes,
        );
      }
      s.trimQuarantine.run(this.opts.quarantineMaxEntries);
    }
    return events;
  }

  async writeRecords(
    writes: readonly RecordWrite[],
    audit: readonly AuditEntry[],
    outboxRows: readonly OutboxInsert[] = [],
    links: readonly LotLink[] = [],
  ): Promise<(StoredRecord | null)[]> {
    const s = this.statements();
    const now = Date.now();
    const apply = (): (StoredRecord | null)[] => {
      const out = writes.map((w) => {
        const stored = s.getRecord.get(w.entityType, w.entityId);
        const plan = planRecordWrite(w, stored?.version ?? 0);
        const data = w.data === null ? '' : JSON.stringify(w.data);
        const ref = w.ref ?? null;
        if (plan === 'delete') s.deleteRecord.run(w.entityType, w.entityId);
        else if (plan === 'insert')
          s.insertRecord.run(w.entityType, w.entityId, data, ref, now, now);
        else s.updateRecord.run(data, ref, now, w.entityType, w.entityId);
        const row = s.getRecord.get(w.entityType, w.entityId);
        return row === undefined ? null : toStoredRecord(row);
      });
      genealogy.writeLinks(s.genealogy, links);
      outbox.insertOutbox(s.outbox, outboxRows);
      appendAudit(s, audit);
      return out;
    };
    return this.writeTransaction(apply);
  }

  async traceLots(query: LotTraceQuery): Promise<LotTrace> {
    // One read transaction: every level sees the same links.
    return this.read((s) => this.db.transaction(() => genealogy.traceLots(s.genealogy, query))());
  }

  async getRecords(
    entityType: string,
    ids: readonly string[],
  ): Promise<(StoredRecord | undefined)[]> {
    return this.read((s) => genealogy.getRecords(s.genealogy, entityType, ids));
  }

  async sumKpi(query: KpiSumQuery): Promise<KpiSum[]> {
    // One snapshot for every level; the query's temporary tables are written inside it.
    return this.read((s) => this.db.transaction(() => kpi.sumKpi(s.kpi, query))());
  }

  async addKpiDeltas(deltas: readonly BucketDelta[]): Promise<void> {
    const s = this.statements();
    this.writeTransaction(() => kpi.addKpiDeltas(s.kpi, deltas));
  }

  async readKpiCache(keys: readonly string[]): Promise<(KpiCacheRead | undefined)[]> {
    return this.read((s) => this.db.transaction(() => kpi.readKpiCache(s.kpi, keys))());
  }

  kpiCacheToken(): number {
    return this.statements().kpi.cacheGuard.token();
  }

  releaseKpiCache(token: number): void {
    this.statements().kpi.cacheGuard.release(token);
  }

  async writeKpiCache(token: number, rows: readonly KpiCacheRow[]): Promise<number> {
    const s = this.statements();
    const allowed = s.kpi.cacheGuard.allowed(token);
    return this.writeTransaction(() => kpi.writeKpiCache(s.kpi, rows, allowed));
  }

  async rebuildKpi(progress?: (eventsRead: number) => void): Promise<number> {
    const s = this.statements();
    return this.writeTransaction(() => kpi.rebuildKpi(s.kpi, progress));
  }

  async getRecord(entityType: string, entityId: string): Promise<StoredRecord | undefined> {
    return this.read((s) => {
      const row = s.getRecord.get(entityType, entityId);
      return row === undefined ? undefined : toStoredRecord(row);
    });
  }

  async listRecords(query: RecordQuery): Promise<StoredRecord[]> {
    const params = {
      entityType: query.entityType,
      afterId: query.afterId ?? '',
      ref: query.ref ?? null,
      limit: query.limit,
    };
    return this.read((s) => s.listRecords.all(params).map(toStoredRecord));
  }

  async loadUnits(): Promise<UnitProjection[]> {
    return this.read((s) => toUnitProjections(s.units.all()));
  }

  async listEvents(query: EventQuery): Promise<JournalEvent[]> {
    const b = eventBounds(query);
    return this.read((s) => s.listEvents.all({ ...b }).map(toJournalEvent));
  }

  async lastStateChangeBefore(equipmentId: string, ts: number): Promise<JournalEvent | undefined> {
    return this.read((s) => {
      const row = s.lastStateChangeBefore.get(equipmentId, ts);
      return row === undefined ? undefined : toJournalEvent(row);
    });
  }

  async listQuarantine(query: QuarantineQuery): Promise<StoredQuarantineEntry[]> {
    const params = {
      beforeId: query.beforeId ?? MAX_KEY,
      connectionId: query.connectionId ?? null,
      limit: query.limit,
    };
    return this.read((s) => s.listQuarantine.all(params).map(toStoredQuarantine));
  }

  async countQuarantine(): Promise<number> {
    return this.read((s) => s.countQuarantine.get()?.n ?? 0);
  }

  async getQuarantine(id: number): Promise<StoredQuarantineEntry | undefined> {
    return this.read((s) => {
      const row = s.getQuarantine.get(id);
      return row === undefined ? undefined : toStoredQuarantine(row);
    });
  }

  async markQuarantineReplayed(
    id: number,
    at: number,
    audit: readonly AuditEntry[],
  ): Promise<boolean> {
    const s = this.statements();
    return this.writeTransaction(() => {
      if (s.markReplayed.run(ms(at), id).changes === 0) return false;
      appendAudit(s, audit);
      return true;
    });
  }

  /** A write other than a commit, in one IMMEDIATE transaction; store failures say which store. */
  private writeTransaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof MwError) throw err;
      throw new MwError(
        'MW_ERR_STORE_UNAVAILABLE',
        { store: this.label, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }

  async leaseOutbox(lease: OutboxLease): Promise<OutboxRow[]> {
    const s = this.statements();
    return this.writeTransaction(() => outbox.leaseOutbox(s.outbox, lease));
  }

  async settleOutboxMany(items: readonly OutboxSettleItem[]): Promise<boolean[]> {
    const s = this.statements();
    return this.writeTransaction(() =>
      items.map((i) => outbox.settleOutbox(s.outbox, i.id, i.owner, i.settlement)),
    );
  }

  async settleOutbox(id: number, owner: string, settlement: OutboxSettlement): Promise<boolean> {
    const s = this.statements();
    return this.writeTransaction(() => outbox.settleOutbox(s.outbox, id, owner, settlement));
  }

  async releaseOutboxLeases(ownerPrefix: string, keep: string, at: number): Promise<number> {
    const s = this.statements();
    return this.writeTransaction(() => outbox.releaseOutboxLeases(s.outbox, ownerPrefix, keep, at));
  }

  async listOutbox(query: OutboxQuery): Promise<OutboxRow[]> {
    return this.read((s) => outbox.listOutbox(s.outbox, query));
  }

  async getOutbox(id: number): Promise<OutboxRow | undefined> {
    return this.read((s) => outbox.getOutbox(s.outbox, id));
  }

  async countOutbox(): Promise<OutboxCounts> {
    return this.read((s) => outbox.countOutbox(s.outbox));
  }

  async settleDeadOutbox(
    id: number,
    decision: 'replay' | 'discard',
    at: number,
    audit: readonly AuditEntry[],
  ): Promise<OutboxRow | undefined> {
    const s = this.statements();
    return this.writeTransaction(() => {
      const row = outbox.settleDeadOutbox(s.outbox, id, decision, at);
      if (row !== undefined) appendAudit(s, audit);
      return row;
    });
  }

  async listSamples(query: SampleQuery): Promise<StoredSample[]> {
    const params = {
      afterId: query.afterId ?? 0,
      connectionId: query.connectionId ?? null,
      tag: query.tag ?? null,
      limit: query.limit,
    };
    return this.read((s) => s.listSamples.all(params).map(toStoredSample));
  }

  async countSamples(): Promise<number> {
    return this.read((s) => s.countSamples.get()?.n ?? 0);
  }

  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    const params = auditFilter(query);
    return this.read((s) => s.listAudit.all(params).map(toAuditRecord));
  }

  async countAudit(): Promise<number> {
    return this.read((s) => s.countAudit.get()?.n ?? 0);
  }

  async verifyAudit(): Promise<AuditVerification> {
    return verifyAuditTrail((query) => this.listAudit(query));
  }

  async ping(): Promise<void> {
    this.read(() => this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stmts = undefined;
    await this.checkpointer?.stop();
    this.db.close();
  }

  private open(): void {
    if (this.closed) {
      throw new MwError('MW_ERR_STORE_UNAVAILABLE', {
        store: this.label,
        reason: 'the store is closed',
      });
    }
  }

  private statements(): Statements {
    this.open();
    this.stmts ??= prepareStatements(this.db);
    return this.stmts;
  }

  /** Run a read; a failure (closed, file gone, schema missing) says which store it was. */
  private read<T>(fn: (s: Statements) => T): T {
    try {
      return fn(this.statements());
    } catch (err) {
      if (err instanceof MwError) throw err;
      throw new MwError(
        'MW_ERR_STORE_UNAVAILABLE',
        { store: this.label, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }
}
