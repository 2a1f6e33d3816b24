/**
 * One change to the genealogy, drafted before it is written: the records it reads and changes
 * (a record changed twice is written once, with the version first read), its audit rows, the
 * links it adds and its outbox rows, then written by one Store.writeRecords (DESIGN.md: a fact,
 * its audit row and its message exist together or not at all).
 */
import type { AuditOf } from '../../compliance/audit.ts';
import { diffFields } from '../../compliance/identity-records.ts';
import type { LotLink } from '../../model/index.ts';
import type {
  AuditEntry,
  OutboxInsert,
  RecordWrite,
  Store,
  StoredRecord,
} from '../../store/types.ts';

type Data = Readonly<Record<string, unknown>>;

interface Entry {
  readonly entityType: string;
  readonly entityId: string;
  /** The version read: 0 for a record created here. */
  readonly version: number;
  data: Data | null;
  ref: string | null;
  changed: boolean;
}

export class Draft {
  private readonly entries = new Map<string, Entry>();
  readonly audit: AuditEntry[] = [];
  readonly outbox: OutboxInsert[] = [];
  readonly links: LotLink[] = [];

  constructor(
    private readonly store: Store,
    private readonly auditOf: AuditOf,
    readonly by: { readonly actor: string },
    readonly reason: string | null,
    readonly at: number,
  ) {}

  /** The record as this draft has it: changed here, or as stored. */
  async get<T>(entityType: string, entityId: string): Promise<T | undefined> {
    const entry = await this.entry(entityType, entityId);
    return (entry.data ?? undefined) as T | undefined;
  }

  /** Create or change a record, with its audit row (action `create` or the one given). */
  async put(
    entityType: string,
    entityId: string,
    content: object,
    action?: string,
    ref?: string | null,
    /** More for the audit row than the fields changed (the link a consumption made). */
    extra?: Record<string, { old: unknown; new: unknown }>,
  ): Promise<void> {
    const entry = await this.entry(entityType, entityId);
    const old = entry.data;
    const data = content as Data;
    entry.data = data;
    if (ref !== undefined) entry.ref = ref;
    entry.changed = true;
    this.audit.push(
      this.auditOf(
        this.by,
        action ?? (old === null ? 'create' : 'update'),
        entityType,
        entityId,
        { ...diffFields(old, data), ...extra },
        this.reason,
      ),
    );
  }

  /** A write the caller made (an electronic signature), with its audit row. */
  addWrite(write: RecordWrite, audit: AuditEntry): void {
    this.remember(write.entityType, write.entityId, undefined);
    const entry = this.entries.get(key(write.entityType, write.entityId))!;
    entry.data = write.data;
    entry.ref = write.ref ?? null;
    entry.changed = true;
    this.audit.push(audit);
  }

  /** Write it all in one transaction; resolves with the records written. */
  async commit(): Promise<Map<string, StoredRecord>> {
    const changed = [...this.entries.values()].filter((e) => e.changed);
    const writes: RecordWrite[] = changed.map((e) => ({
      entityType: e.entityType,
      entityId: e.entityId,
      expectedVersion: e.version,
      data: e.data,
      ref: e.ref,
    }));
    const stored = await this.store.writeRecords(writes, this.audit, this.outbox, this.links);
    const out = new Map<string, StoredRecord>();
    stored.forEach((r) => {
      if (r !== null) out.set(key(r.entityType, r.entityId), r);
    });
    return out;
  }

  private async entry(entityType: string, entityId: string): Promise<Entry> {
    const k = key(entityType, entityId);
    if (!this.entries.has(k))
      this.remember(entityType, entityId, await this.store.getRecord(entityType, entityId));
    return this.entries.get(k)!;
  }

  private remember(entityType: string, entityId: string, rec: StoredRecord | undefined): void {
    const k = key(entityType, entityId);
    if (this.entries.has(k)) return;
    this.entries.set(k, {
      entityType,
      entityId,
      version: rec?.version ?? 0,
      data: rec?.data ?? null,
      ref: rec?.ref ?? null,
      changed: false,
    });
  }
}

export const key = (entityType: string, id: string): string => `${entityType} ${id}`;
