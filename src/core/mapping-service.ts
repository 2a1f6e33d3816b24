/**
 * The mapping tables as records (issue #5): one record per table, entity type `mapping-table`,
 * id `<system>/<kind>`, data `{ system, kind, entries }`. A table is replaced whole; the record
 * and its audit row commit together (Store.writeRecords), and the audit row lists only the
 * entries added, removed or changed, old → new (`entries.<ours>`: their code, `notes.<ours>`: the
 * note; 21 CFR 11.10(e)).
 *
 * Lookups answer from memory: every table is loaded when the hub starts and its index rebuilt
 * after each change, so `toTheirs` / `toOurs` never touch the store. The hub process is the
 * writer of its tables; another hub sharing a PostgreSQL store sees a change at its next start
 * (a write that meets another hub's change fails and reloads that table).
 *
 * Reads and writes on behalf of someone check `config.read` / `config.write` here, as the
 * identity services do, so the HTTP routes and a later CLI share one check.
 */
import type { IdentityService } from '../compliance/identity.ts';
import { diffFields } from '../compliance/identity.ts';
import { authorize, type Principal } from '../compliance/roles.ts';
import { isMwError, MwError } from '../errors.ts';
import type { Store, StoredRecord } from '../store/types.ts';
import {
  countChanges,
  flattenEntries,
  isMappingKind,
  MappingIndex,
  noTable,
  SYSTEM_ID_RE,
  SYSTEM_ID_RULE,
  tableId,
  validateTable,
  type EntryCounts,
  type MappingEntry,
  type MappingKind,
  type OursCheck,
  type ParsedTable,
} from './mapping.ts';

export const MAPPING_ENTITY = 'mapping-table';

export interface MappingTableSummary {
  readonly system: string;
  readonly kind: MappingKind;
  readonly count: number;
  readonly version: number;
  readonly updatedAt: number;
}

export interface MappingTableView extends MappingTableSummary {
  readonly entries: readonly MappingEntry[];
}

export interface ReplaceResult {
  readonly table: MappingTableView;
  readonly created: boolean;
  /** Entries added, removed and changed; all 0 when the table sent equals the stored one. */
  readonly changes: EntryCounts;
}

export interface MappingServiceOptions {
  /** Extra checks of `ours` per kind, e.g. that an equipment id is in the hierarchy. */
  readonly checkOurs?: Partial<Record<MappingKind, OursCheck>>;
}

interface Loaded {
  readonly index: MappingIndex;
  readonly version: number;
  readonly updatedAt: number;
}

function checkTableName(system: string, kind: string): asserts kind is MappingKind {
  const table = tableId(system, kind);
  if (!SYSTEM_ID_RE.test(system))
    throw new MwError('MW_ERR_MAPPING_INVALID', { table, first: SYSTEM_ID_RULE, more: '' });
  if (!isMappingKind(kind))
    throw new MwError('MW_ERR_MAPPING_INVALID', {
      table,
      first: `unknown kind ${JSON.stringify(kind)} (kinds: material, equipment, reason, uom)`,
      more: '',
    });
}

export class MappingService {
  private readonly tables = new Map<string, Loaded>();
  /** Writes one after another, so the in-memory index follows the store's order. */
  private writing: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private readonly identity: IdentityService,
    private readonly options: MappingServiceOptions,
  ) {}

  /** The service with every stored table loaded. */
  static async open(
    store: Store,
    identity: IdentityService,
    options: MappingServiceOptions = {},
  ): Promise<MappingService> {
    const service = new MappingService(store, identity, options);
    let afterId: string | undefined;
    for (;;) {
      const page = await store.listRecords({ entityType: MAPPING_ENTITY, afterId, limit: 500 });
      for (const record of page) service.load(record);
      if (page.length < 500) break;
      afterId = page.at(-1)!.entityId;
    }
    return service;
  }

  private load(record: StoredRecord): void {
    const data = record.data as { system: string; kind: MappingKind; entries: MappingEntry[] };
    this.tables.set(record.entityId, {
      index: new MappingIndex({ system: data.system, kind: data.kind, entries: data.entries }),
      version: record.version,
      updatedAt: record.updatedAt,
    });
  }

  private view(loaded: Loaded): MappingTableView {
    const { system, kind, entries } = loaded.index.table;
    return {
      system,
      kind,
      count: entries.length,
      version: loaded.version,
      updatedAt: loaded.updatedAt,
      entries,
    };
  }

  // ---------------------------------------------------------------- lookups (the hub itself)

  /** Their code for ours; MW_ERR_MAPPING_UNKNOWN_CODE or MW_ERR_MAPPING_NO_TABLE, never `ours`. */
  toTheirs(system: string, kind: MappingKind, ours: string): string {
    const loaded = this.tables.get(tableId(system, kind));
    if (loaded === undefined) throw noTable(system, kind, 'ours', ours);
    return loaded.index.toTheirs(ours);
  }

  /** Our code for theirs; MW_ERR_MAPPING_UNKNOWN_CODE or MW_ERR_MAPPING_NO_TABLE, never `theirs`. */
  toOurs(system: string, kind: MappingKind, theirs: string): string {
    const loaded = this.tables.get(tableId(system, kind));
    if (loaded === undefined) throw noTable(system, kind, 'theirs', theirs);
    return loaded.index.toOurs(theirs);
  }

  // ---------------------------------------------------------------- on behalf of someone

  list(by: Principal): MappingTableSummary[] {
    authorize(by, 'config.read');
    return [...this.tables.keys()].sort().map((id) => {
      const { entries: _entries, ...summary } = this.view(this.tables.get(id)!);
      return summary;
    });
  }

  get(by: Principal, system: string, kind: string): MappingTableView {
    authorize(by, 'config.read');
    checkTableName(system, kind);
    const loaded = this.tables.get(tableId(system, kind));
    if (loaded === undefined)
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', {
        entity: 'mapping table',
        id: tableId(system, kind),
      });
    return this.view(loaded);
  }

  /** The entry of one code, looked up from our side or theirs. */
  lookup(
    by: Principal,
    system: string,
    kind: string,
    code: { readonly ours: string } | { readonly theirs: string },
  ): MappingEntry {
    authorize(by, 'config.read');
    checkTableName(system, kind);
    if ('ours' in code) {
      const theirs = this.toTheirs(system, kind, code.ours);
      return this.tables.get(tableId(system, kind))!.index.findByTheirs(theirs)!;
    }
    const ours = this.toOurs(system, kind, code.theirs);
    return this.tables.get(tableId(system, kind))!.index.findByOurs(ours)!;
  }

  /**
   * Replace a table (create it when new) with the rows given, validated whole: any problem
   * refuses the whole table (MW_ERR_MAPPING_INVALID). `expectedVersion` is the version the
   * writer read (0: the table must not exist yet); a different stored version is
   * MW_ERR_MAPPING_VERSION_MISMATCH. A table equal to the stored one writes nothing.
   */
  async replace(
    by: Principal,
    system: string,
    kind: string,
    input: ParsedTable,
    options: { readonly expectedVersion?: number | undefined; readonly reason?: string | null },
  ): Promise<ReplaceResult> {
    authorize(by, 'config.write');
    checkTableName(system, kind);
    const entries = validateTable(system, kind, input, this.options.checkOurs?.[kind]);
    const run = this.writing.then(() => this.write(by, system, kind, entries, options));
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async write(
    by: Principal,
    system: string,
    kind: MappingKind,
    entries: MappingEntry[],
    options: { readonly expectedVersion?: number | undefined; readonly reason?: string | null },
  ): Promise<ReplaceResult> {
    const id = tableId(system, kind);
    const current = this.tables.get(id);
    const version = current?.version ?? 0;
    const expected = options.expectedVersion;
    if (expected !== undefined && expected !== version) {
      throw new MwError('MW_ERR_MAPPING_VERSION_MISMATCH', {
        table: id,
        found: version,
        expected,
      });
    }
    const before = current?.index.table.entries;
    const changes = countChanges(before, entries);
    // The order of entries means nothing: the same entries in another order change nothing.
    if (current !== undefined && changes.added + changes.removed + changes.changed === 0) {
      return { table: this.view(current), created: false, changes };
    }
    const audit = this.identity.audit(
      by,
      current === undefined ? 'create' : 'update',
      MAPPING_ENTITY,
      id,
      diffFields(flattenEntries(before), flattenEntries(entries), []),
      options.reason,
    );
    let stored: StoredRecord | null | undefined;
    try {
      [stored] = await this.store.writeRecords(
        [
          {
            entityType: MAPPING_ENTITY,
            entityId: id,
            expectedVersion: version,
            data: { system, kind, entries },
          },
        ],
        [audit],
      );
    } catch (err) {
      if (isMwError(err) && err.code === 'MW_ERR_STORE_CONFLICT') {
        // Another hub sharing the store changed the table: take its version.
        const fresh = await this.store.getRecord(MAPPING_ENTITY, id);
        if (fresh === undefined) this.tables.delete(id);
        else this.load(fresh);
        if (expected !== undefined) {
          throw new MwError(
            'MW_ERR_MAPPING_VERSION_MISMATCH',
            { table: id, found: fresh?.version ?? 0, expected },
            { cause: err },
          );
        }
      }
      throw err;
    }
    if (stored === null || stored === undefined) throw new Error(`store did not return ${id}`);
    this.load(stored);
    return { table: this.view(this.tables.get(id)!), created: current === undefined, changes };
  }
}
