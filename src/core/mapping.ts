/**
 * Identity mapping (issue #5): cross-reference tables between the hub's codes and those of each
 * external system (`erp`, `lims`, `erp-plant2` …), one table per system and kind:
 * - `material`: our material code ↔ theirs;
 * - `equipment`: our equipment id (its path, acme/plant1/packaging/line1/filler) ↔ their work
 *   center or resource id;
 * - `reason`: our downtime / scrap reason code ↔ theirs;
 * - `uom`: our UN/CEFACT Recommendation 20 unit code ↔ their unit text (KGM ↔ KG, H87 ↔ PC).
 *
 * A table is one-to-one: `ours` is unique and so is `theirs`, so both directions are defined.
 * A code without a row is an error (MW_ERR_MAPPING_UNKNOWN_CODE), never passed through unmapped.
 * Codes compare exactly (case and all); they may not start or end with spaces.
 *
 * Pure: tables, their validation, lookups, and the CSV and YAML file formats. The records and
 * the audit trail are in ./mapping-service.ts.
 */
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { isMap, isSeq, LineCounter, parseDocument, stringify as stringifyYaml } from 'yaml';
import { MwError } from '../errors.ts';

export const MAPPING_KINDS = ['material', 'equipment', 'reason', 'uom'] as const;
export type MappingKind = (typeof MAPPING_KINDS)[number];

export const MAPPING_KIND_DESCRIPTIONS: Readonly<Record<MappingKind, string>> = {
  material: 'our material code ↔ their material number',
  equipment: 'our equipment id (its path) ↔ their work center or resource id',
  reason: 'our reason code ↔ theirs',
  uom: 'our UN/CEFACT Recommendation 20 unit code ↔ their unit text',
};

/** Limits of a table; each is far above real tables and stops a runaway upload. */
export const MAPPING_LIMITS = {
  /** Characters of a code (SAP material numbers have 40). */
  codeLength: 200,
  noteLength: 1000,
  entries: 100_000,
} as const;

/** A system id: lower case letters, digits and `-_.`, starting and ending with a letter or digit. */
export const SYSTEM_ID_RE = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
export const SYSTEM_ID_RULE =
  'a system id is 1 to 64 lower-case letters, digits, "-", "_" or ".", starting and ending with a letter or digit (e.g. erp-plant2)';

export interface MappingEntry {
  readonly ours: string;
  readonly theirs: string;
  readonly note?: string;
}

export interface MappingTable {
  readonly system: string;
  readonly kind: MappingKind;
  readonly entries: readonly MappingEntry[];
}

export const tableId = (system: string, kind: string): string => `${system}/${kind}`;

export function isMappingKind(kind: string): kind is MappingKind {
  return (MAPPING_KINDS as readonly string[]).includes(kind);
}

// ---------------------------------------------------------------------------------------------
// Input: rows as read from a file or a request, each with where it came from

/** One row of input before validation; `at` says where it is (`line 4`, `entries[3]`). */
export interface RowInput {
  readonly at: string;
  readonly ours: unknown;
  readonly theirs: unknown;
  readonly note?: unknown;
}

/** Rows read from a document, the problems met reading it, and its other fields. */
export interface ParsedTable {
  readonly rows: readonly RowInput[];
  readonly issues: readonly string[];
  /** `system` and `kind` when the document names them (they must match the table written). */
  readonly system?: unknown;
  readonly kind?: unknown;
  /** The version the writer read (JSON and YAML documents), like If-Match. */
  readonly version?: unknown;
  readonly reason?: unknown;
}

/** A check of `ours` for one kind (the equipment exists, the unit is in the catalog): a rule or null. */
export type OursCheck = (code: string) => string | null;

const CONTROL_RE = /\p{Cc}/u;

function codeProblem(field: 'ours' | 'theirs', value: unknown): string | null {
  if (typeof value !== 'string') {
    return value === undefined || value === null
      ? `${field} is missing`
      : `${field} must be a string (got ${typeof value} ${JSON.stringify(value)}; quote it)`;
  }
  if (value === '') return `${field} is empty`;
  if (value.trim() !== value)
    return `${field} ${JSON.stringify(value)} starts or ends with a space`;
  if (CONTROL_RE.test(value))
    return `${field} ${JSON.stringify(value)} contains a control character (tab, line break …)`;
  if (value.length > MAPPING_LIMITS.codeLength)
    return `${field} is longer than ${MAPPING_LIMITS.codeLength} characters`;
  return null;
}

function noteProblem(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') return `note must be a string (got ${typeof value})`;
  if (value.length > MAPPING_LIMITS.noteLength)
    return `note is longer than ${MAPPING_LIMITS.noteLength} characters`;
  return null;
}

/**
 * Validate rows into a table's entries, or throw MW_ERR_MAPPING_INVALID listing every problem
 * (the rows' own and `input.issues`), each naming its line or entry and the rule.
 */
export function validateTable(
  system: string,
  kind: MappingKind,
  input: ParsedTable,
  checkOurs?: OursCheck,
): MappingEntry[] {
  const table = tableId(system, kind);
  const issues = [...input.issues];
  if (input.system !== undefined && input.system !== system)
    issues.push(`system is ${JSON.stringify(input.system)}, but the table written is ${table}`);
  if (input.kind !== undefined && input.kind !== kind)
    issues.push(`kind is ${JSON.stringify(input.kind)}, but the table written is ${table}`);
  if (input.rows.length > MAPPING_LIMITS.entries)
    issues.push(
      `the table has ${input.rows.length} entries; at most ${MAPPING_LIMITS.entries} are allowed`,
    );
  const byOurs = new Map<string, string>();
  const byTheirs = new Map<string, string>();
  const entries: MappingEntry[] = [];
  for (const row of input.rows) {
    const problems = [
      codeProblem('ours', row.ours),
      codeProblem('theirs', row.theirs),
      noteProblem(row.note),
    ].filter((p) => p !== null);
    if (problems.length > 0) {
      for (const p of problems) issues.push(`${row.at}: ${p}`);
      continue;
    }
    const ours = row.ours as string;
    const theirs = row.theirs as string;
    const rule = checkOurs?.(ours) ?? null;
    if (rule !== null) issues.push(`${row.at}: ours ${JSON.stringify(ours)} ${rule}`);
    const sameOurs = byOurs.get(ours);
    if (sameOurs !== undefined)
      issues.push(`${row.at}: duplicate ours ${JSON.stringify(ours)} (also on ${sameOurs})`);
    else byOurs.set(ours, row.at);
    const sameTheirs = byTheirs.get(theirs);
    if (sameTheirs !== undefined)
      issues.push(`${row.at}: duplicate theirs ${JSON.stringify(theirs)} (also on ${sameTheirs})`);
    else byTheirs.set(theirs, row.at);
    const note = row.note as string | null | undefined;
    entries.push(
      note === undefined || note === null || note === ''
        ? { ours, theirs }
        : { ours, theirs, note },
    );
  }
  if (issues.length > 0) {
    const more = issues.length - 1;
    throw new MwError(
      'MW_ERR_MAPPING_INVALID',
      {
        table,
        first: issues[0]!,
        more: more === 0 ? '' : ` (and ${more} more problem(s), listed in details)`,
      },
      { details: issues },
    );
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// Lookups

/** One table with its two indexes. */
export class MappingIndex {
  private readonly byOurs = new Map<string, MappingEntry>();
  private readonly byTheirs = new Map<string, MappingEntry>();

  /** `entries` must be valid (see validateTable): unique on both sides. */
  constructor(readonly table: MappingTable) {
    for (const e of table.entries) {
      this.byOurs.set(e.ours, e);
      this.byTheirs.set(e.theirs, e);
    }
  }

  findByOurs(ours: string): MappingEntry | undefined {
    return this.byOurs.get(ours);
  }

  findByTheirs(theirs: string): MappingEntry | undefined {
    return this.byTheirs.get(theirs);
  }

  /** Their code for ours, or MW_ERR_MAPPING_UNKNOWN_CODE. */
  toTheirs(ours: string): string {
    const e = this.byOurs.get(ours);
    if (e === undefined) throw unknownCode(this.table.system, this.table.kind, 'ours', ours);
    return e.theirs;
  }

  /** Our code for theirs, or MW_ERR_MAPPING_UNKNOWN_CODE. */
  toOurs(theirs: string): string {
    const e = this.byTheirs.get(theirs);
    if (e === undefined) throw unknownCode(this.table.system, this.table.kind, 'theirs', theirs);
    return e.ours;
  }
}

export function unknownCode(
  system: string,
  kind: MappingKind,
  side: 'ours' | 'theirs',
  code: string,
): MwError {
  return new MwError('MW_ERR_MAPPING_UNKNOWN_CODE', {
    owner: side === 'ours' ? 'our' : system,
    kind,
    code,
    table: tableId(system, kind),
    system,
  });
}

export function noTable(
  system: string,
  kind: MappingKind,
  side: 'ours' | 'theirs',
  code: string,
): MwError {
  return new MwError('MW_ERR_MAPPING_NO_TABLE', {
    owner: side === 'ours' ? 'our' : system,
    kind,
    code,
    table: tableId(system, kind),
    system,
  });
}

// ---------------------------------------------------------------------------------------------
// Changes, for the audit trail

/**
 * A table flattened for the audit trail's old → new: `entries.<ours>` is their code and
 * `notes.<ours>` the note, so a diff lists only the entries added, removed or changed.
 */
export function flattenEntries(
  entries: readonly MappingEntry[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries ?? []) {
    out[`entries.${e.ours}`] = e.theirs;
    if (e.note !== undefined) out[`notes.${e.ours}`] = e.note;
  }
  return out;
}

export interface EntryCounts {
  readonly added: number;
  readonly removed: number;
  readonly changed: number;
}

/** How many entries (by `ours`) were added, removed and changed (their code or note). */
export function countChanges(
  before: readonly MappingEntry[] | undefined,
  after: readonly MappingEntry[],
): EntryCounts {
  const old = new Map((before ?? []).map((e) => [e.ours, e]));
  let added = 0;
  let changed = 0;
  for (const e of after) {
    const o = old.get(e.ours);
    if (o === undefined) added++;
    else if (o.theirs !== e.theirs || o.note !== e.note) changed++;
    old.delete(e.ours);
  }
  return { added, removed: old.size, changed };
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180, UTF-8): header `ours,theirs,note`, one entry per record

export const CSV_COLUMNS = ['ours', 'theirs', 'note'] as const;

/** The table as CSV: CRLF between records, fields quoted where needed, no byte order mark. */
export function formatCsv(entries: readonly MappingEntry[]): string {
  return stringifyCsv([[...CSV_COLUMNS], ...entries.map((e) => [e.ours, e.theirs, e.note ?? ''])], {
    record_delimiter: 'windows',
    // csv-stringify stops quoting bare \n and \r once record_delimiter is set, unless told to.
    quote_record_delimiter: true,
  });
}

interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/**
 * Split CSV text into records (RFC 4180): fields separated by commas, records by CRLF, LF or CR;
 * a field in double quotes may hold commas, line breaks and doubled quotes. A leading byte order
 * mark is dropped; empty lines are skipped. Each record keeps the line it starts on.
 */
function splitCsv(text: string, issues: string[]): CsvRecord[] {
  const records: CsvRecord[] = [];
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let line = 1;
  let i = 0;
  while (i < s.length) {
    const start = line;
    const fields: string[] = [];
    let field = '';
    let bad = false;
    // One record.
    for (;;) {
      if (s[i] === '"') {
        // A quoted field: up to the closing quote; "" is a quote.
        const open = line;
        i++;
        for (;;) {
          if (i >= s.length) {
            issues.push(`line ${open}: a quoted field is not closed (a " is missing)`);
            bad = true;
            break;
          }
          const c = s[i]!;
          if (c === '"') {
            if (s[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\r' || c === '\n') {
            if (c === '\r' && s[i + 1] === '\n') {
              field += '\r';
              i++;
            }
            line++;
          }
          field += s[i]!;
          i++;
        }
        if (!bad && i < s.length && s[i] !== ',' && s[i] !== '\r' && s[i] !== '\n') {
          issues.push(
            `line ${line}: text after the closing quote of a field (a quote inside a field is written "")`,
          );
          bad = true;
        }
      } else {
        while (i < s.length && s[i] !== ',' && s[i] !== '\r' && s[i] !== '\n') {
          if (s[i] === '"' && !bad) {
            issues.push(
              `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote: "a""b")`,
            );
            bad = true;
          }
          field += s[i]!;
          i++;
        }
      }
      if (bad) {
        // Skip to the end of the line and go on, so that later problems are reported too.
        while (i < s.length && s[i] !== '\r' && s[i] !== '\n') i++;
      }
      fields.push(field);
      field = '';
      if (i < s.length && s[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // End of the record: CRLF, LF, CR or the end of the text.
    if (s[i] === '\r' && s[i + 1] === '\n') i += 2;
    else i++;
    line++;
    if (bad) continue;
    if (fields.length === 1 && fields[0] === '') continue; // an empty line
    records.push({ line: start, fields });
  }
  return records;
}

/** Read a table from CSV text: header `ours,theirs,note` (any order; note may be left out). */
export function parseCsv(text: string): ParsedTable {
  const issues: string[] = [];
  const records = splitCsv(text, issues);
  const header = records.shift();
  if (header === undefined) {
    return {
      rows: [],
      issues: issues.length > 0 ? issues : ['line 1: the header "ours,theirs,note" is missing'],
    };
  }
  const names = header.fields;
  const column = new Map<string, number>();
  names.forEach((name, index) => {
    if (!(CSV_COLUMNS as readonly string[]).includes(name)) {
      const hint = name.includes(';') ? '; the separator is a comma, not a semicolon' : '';
      issues.push(
        `line ${header.line}: unknown column ${JSON.stringify(name)} (the header is "ours,theirs,note"${hint})`,
      );
    } else if (column.has(name)) {
      issues.push(`line ${header.line}: column ${name} appears twice`);
    } else column.set(name, index);
  });
  const missing = ['ours', 'theirs'].filter((name) => !column.has(name));
  if (missing.length > 0) {
    issues.push(
      `line ${header.line}: the header has no column ${missing.join(' or ')} (it must be "ours,theirs,note")`,
    );
    return { rows: [], issues };
  }
  const rows: RowInput[] = [];
  for (const r of records) {
    if (r.fields.length !== names.length) {
      issues.push(
        `line ${r.line}: ${r.fields.length} field(s), but the header has ${names.length} (a comma inside a code must be quoted)`,
      );
      continue;
    }
    const get = (name: string): string | undefined => {
      const index = column.get(name);
      return index === undefined ? undefined : r.fields[index];
    };
    rows.push({
      at: `line ${r.line}`,
      ours: get('ours'),
      theirs: get('theirs'),
      note: get('note'),
    });
  }
  return { rows, issues };
}

// ---------------------------------------------------------------------------------------------
// YAML and JSON documents: { system?, kind?, version?, reason?, entries: [{ ours, theirs, note? }] }

const DOCUMENT_KEYS = ['system', 'kind', 'version', 'updatedAt', 'count', 'reason', 'entries'];
const ENTRY_KEYS = ['ours', 'theirs', 'note'];

/**
 * Read a document (a parsed JSON body, or YAML as JS). `at(i)` names entry i for errors.
 * `updatedAt` and `count` are allowed, and ignored, so that a GET answer can be sent back.
 */
export function readDocument(value: unknown, at: (index: number) => string): ParsedTable {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return {
      rows: [],
      issues: ['the document must be an object with "entries": [{ ours, theirs, note? } …]'],
    };
  }
  const doc = value as Record<string, unknown>;
  const issues: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!DOCUMENT_KEYS.includes(key))
      issues.push(`unknown key ${JSON.stringify(key)} (allowed: ${DOCUMENT_KEYS.join(', ')})`);
  }
  const rows: RowInput[] = [];
  if (!Array.isArray(doc.entries)) {
    issues.push('"entries" must be a list of { ours, theirs, note? }');
  } else {
    doc.entries.forEach((entry: unknown, index) => {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        issues.push(`${at(index)}: an entry must be an object { ours, theirs, note? }`);
        return;
      }
      const e = entry as Record<string, unknown>;
      const unknown = Object.keys(e).filter((k) => !ENTRY_KEYS.includes(k));
      if (unknown.length > 0) {
        issues.push(
          `${at(index)}: unknown key ${JSON.stringify(unknown[0])} (allowed: ${ENTRY_KEYS.join(', ')})`,
        );
        return;
      }
      rows.push({ at: at(index), ours: e.ours, theirs: e.theirs, note: e.note });
    });
  }
  return {
    rows,
    issues,
    system: doc.system,
    kind: doc.kind,
    version: doc.version,
    reason: doc.reason,
  };
}

/**
 * Read a YAML document. Every scalar is read as a string (the YAML failsafe schema), so codes
 * like 0012, 1e3, NO or null stay the text written, never a number, boolean or nothing.
 */
export function parseYaml(text: string): ParsedTable {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    schema: 'failsafe',
  });
  if (doc.errors.length > 0) {
    return {
      rows: [],
      issues: doc.errors.map((e) => {
        const pos = e.linePos?.[0];
        return `line ${pos?.line ?? 0}: YAML syntax error: ${e.message.split('\n')[0] ?? ''}`;
      }),
    };
  }
  const root = doc.contents;
  const entries = isMap(root) ? root.get('entries', true) : undefined;
  const lineOf = (index: number): string => {
    const node = isSeq(entries) ? entries.items[index] : undefined;
    const offset = (node as { range?: [number, number, number] } | undefined)?.range?.[0];
    return offset === undefined ? `entries[${index}]` : `line ${lineCounter.linePos(offset).line}`;
  };
  const parsed = readDocument(doc.toJS(), lineOf);
  // Failsafe reads `version: 3` as "3"; an empty `note:` as "".
  const version =
    typeof parsed.version === 'string' && /^\d+$/.test(parsed.version)
      ? Number(parsed.version)
      : parsed.version;
  return { ...parsed, version };
}

/**
 * The table as YAML. Values are double-quoted, so that readers of YAML 1.1 too keep every code
 * a string (NO, ON, 0012 …).
 */
export function formatYaml(table: MappingTable, version?: number): string {
  const head =
    `# Millwright mapping table ${tableId(table.system, table.kind)}` +
    (version === undefined ? '' : `, version ${version}`) +
    ` (${MAPPING_KIND_DESCRIPTIONS[table.kind]})\n`;
  const body = stringifyYaml(
    {
      system: table.system,
      kind: table.kind,
      entries: table.entries.map((e) => ({ ...e })),
    },
    { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 },
  );
  return head + body;
}
