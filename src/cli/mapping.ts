/**
 * `millwright mapping list|export|import`: the identity mapping tables of a running hub
 * (docs/mapping.md), read and replaced through its HTTP API (GET and PUT
 * /api/v1/mappings/{system}/{kind}) with an API token or session from MILLWRIGHT_TOKEN or
 * --token. The hub validates a table and names the line of each problem; the command prints
 * them all.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import {
  MAPPING_KINDS,
  parseCsv,
  parseYaml,
  SYSTEM_ID_RE,
  SYSTEM_ID_RULE,
  tableId,
} from '../core/mapping.ts';
import {
  baseUrl,
  hubGetJson,
  hubRequest,
  hubTokenOrOption,
  type HubAddress,
} from './hub-client.ts';
import { UsageError } from './prompt.ts';
import { columns } from './columns.ts';

export const MAPPING_FILE_FORMATS = ['csv', 'yaml', 'json'] as const;
export type MappingFileFormat = (typeof MAPPING_FILE_FORMATS)[number];

/** What the hub writes on export (docs/mapping.md "Formats"); it reads all three. */
const EXPORT_FORMATS = ['csv', 'yaml'] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

const FORMAT_OF_EXTENSION: Readonly<Record<string, MappingFileFormat>> = {
  '.csv': 'csv',
  '.yaml': 'yaml',
  '.yml': 'yaml',
  '.json': 'json',
};

/** The Content-Type a file of each format is sent with (the hub decides the format by it). */
const CONTENT_TYPES: Readonly<Record<MappingFileFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  yaml: 'application/yaml; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** A table as GET /api/v1/mappings lists it. */
export interface TableSummary {
  system: string;
  kind: string;
  count: number;
  version: number;
  updatedAt: string;
}

/** The answer of a PUT. */
interface Replaced extends TableSummary {
  changes: { added: number; removed: number; changed: number };
}

interface HubOptions extends HubAddress {
  token?: string;
}

interface ExportOptions extends HubOptions {
  format?: ExportFormat;
  out?: string;
}

interface ImportOptions extends HubOptions {
  format?: MappingFileFormat;
  ifVersion?: number;
  reason?: string;
}

/** The format a file name says by its extension, if it says one. */
export function formatOfFile(file: string): MappingFileFormat | undefined {
  return FORMAT_OF_EXTENSION[path.extname(file).toLowerCase()];
}

const entries = (n: number): string => `${n} ${n === 1 ? 'entry' : 'entries'}`;

/** The tables, a line each, aligned. */
export function renderTables(tables: readonly TableSummary[]): string {
  const header = ['SYSTEM', 'KIND', 'ENTRIES', 'VERSION', 'UPDATED'];
  const lines = tables.map((t) => [
    t.system,
    t.kind,
    String(t.count),
    String(t.version),
    t.updatedAt,
  ]);
  return [...columns(header, lines), `${tables.length} table(s)`].join('\n');
}

const tableUrl = (base: string, system: string, kind: string): string =>
  `${base}/api/v1/mappings/${encodeURIComponent(system)}/${encodeURIComponent(kind)}`;

/** The version in an ETag of the hub (`"3"`). */
function etagVersion(headers: Headers): string {
  return /^(?:W\/)?"?(\d+)"?$/.exec(headers.get('etag') ?? '')?.[1] ?? '?';
}

/**
 * The `version` a JSON or YAML file carries (a GET answer saved as it is, or a version written
 * in by hand): the hub checks it like If-Match. Undefined when the file names none, or cannot be
 * read (the hub then says why).
 */
function versionInFile(format: MappingFileFormat, text: string): unknown {
  if (format === 'yaml') return parseYaml(text).version;
  if (format !== 'json') return undefined;
  try {
    const doc = JSON.parse(text) as unknown;
    return doc !== null && typeof doc === 'object'
      ? (doc as { version?: unknown }).version
      : undefined;
  } catch {
    return undefined;
  }
}

function parseSystem(value: string): string {
  if (!SYSTEM_ID_RE.test(value)) throw new InvalidArgumentError(SYSTEM_ID_RULE);
  return value;
}

function parseVersion(value: string): number {
  if (!/^\d{1,15}$/.test(value))
    throw new InvalidArgumentError('expected the table version, an integer ≥ 0 (0: a new table)');
  return Number(value);
}

const tableArguments = (cmd: Command): Command =>
  cmd
    .addArgument(
      new Argument('<system>', 'the external system, e.g. erp, lims, erp-plant2').argParser(
        parseSystem,
      ),
    )
    .addArgument(new Argument('<kind>', 'what the table maps').choices(MAPPING_KINDS));

const hubOptions = (cmd: Command): Command =>
  cmd
    .option(
      '-c, --config <file>',
      'configuration file (YAML): the hub’s address is taken from http',
    )
    .option('--url <url>', 'base URL of the hub instead of -c, e.g. http://127.0.0.1:8080')
    .option(
      '--token <token>',
      'API token or session (default: MILLWRIGHT_TOKEN, which, unlike an argument, other users of the machine cannot see in the process list)',
    );

async function listTables(opts: HubOptions): Promise<void> {
  const token = hubTokenOrOption(opts.token, 'config.read');
  const { items } = await hubGetJson<{ items: TableSummary[] }>(
    `${baseUrl(opts)}/api/v1/mappings`,
    token,
  );
  console.log(renderTables(items));
}

async function exportTable(system: string, kind: string, opts: ExportOptions): Promise<void> {
  const fromName = opts.out === undefined ? undefined : formatOfFile(opts.out);
  if (opts.format === undefined && fromName === 'json') {
    throw new UsageError(
      `--out ${opts.out}: the hub exports csv or yaml; name a .csv or .yaml file or give --format`,
    );
  }
  const format: ExportFormat = opts.format ?? (fromName === 'yaml' ? 'yaml' : 'csv');
  const token = hubTokenOrOption(opts.token, 'config.read');
  const answer = await hubRequest(
    `${tableUrl(baseUrl(opts), system, kind)}?format=${format}`,
    token,
  );
  const version = etagVersion(answer.headers);
  const text = answer.body.toString('utf8');
  const count = (format === 'csv' ? parseCsv(text) : parseYaml(text)).rows.length;
  const what = `${entries(count)} of ${tableId(system, kind)} (version ${version})`;
  if (opts.out === undefined) {
    process.stdout.write(answer.body);
    console.error(`exported ${what}`);
    return;
  }
  // Through FILE.partial, renamed when complete: an interrupted export never looks complete.
  const partial = `${opts.out}.partial`;
  try {
    writeFileSync(partial, answer.body);
    renameSync(partial, opts.out);
  } catch (err) {
    rmSync(partial, { force: true });
    throw new UsageError(`cannot write ${opts.out}: ${(err as Error).message}`);
  }
  console.log(`wrote ${what} to ${opts.out}`);
}

async function importTable(
  system: string,
  kind: string,
  file: string,
  opts: ImportOptions,
): Promise<void> {
  const format = opts.format ?? formatOfFile(file);
  if (format === undefined) {
    throw new UsageError(
      `cannot tell the format of ${file} from its extension (.csv, .yaml, .yml, .json): give --format csv, yaml or json`,
    );
  }
  let body: Buffer<ArrayBuffer>;
  try {
    body = readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const token = hubTokenOrOption(opts.token, 'config.write (and config.read)');
  const base = baseUrl(opts);
  const inFile = versionInFile(format, body.toString('utf8'));
  // The version the table must still be at: given, named by the file (the hub checks it), or
  // read now, which detects a change made between this read and the write below.
  let before: number | string;
  let ifMatch: number | undefined;
  if (opts.ifVersion !== undefined) {
    before = opts.ifVersion;
    ifMatch = opts.ifVersion;
  } else if (inFile !== undefined) {
    before = typeof inFile === 'number' ? inFile : '?';
  } else {
    const { items } = await hubGetJson<{ items: TableSummary[] }>(`${base}/api/v1/mappings`, token);
    before = items.find((t) => t.system === system && t.kind === kind)?.version ?? 0;
    ifMatch = before;
  }
  const query = opts.reason === undefined ? '' : `?reason=${encodeURIComponent(opts.reason)}`;
  const answer = await hubRequest(`${tableUrl(base, system, kind)}${query}`, token, {
    method: 'PUT',
    headers: {
      'content-type': CONTENT_TYPES[format],
      accept: 'application/json',
      ...(ifMatch === undefined ? {} : { 'if-match': `"${ifMatch}"` }),
    },
    body,
  });
  const result = JSON.parse(answer.body.toString('utf8')) as Replaced;
  const { added, removed, changed } = result.changes;
  const note =
    answer.status === 201 ? ' (created)' : added + removed + changed === 0 ? ' (no change)' : '';
  console.log(
    `${tableId(result.system, result.kind)}: version ${before} → ${result.version}, +${added} −${removed} ~${changed}${note}`,
  );
}

export function registerMappingCommands(program: Command): void {
  const mapping = program
    .command('mapping')
    .description(
      'the identity mapping tables of a running hub: list, export, import (token in MILLWRIGHT_TOKEN; docs/mapping.md)',
    );

  hubOptions(
    mapping
      .command('list')
      .description(
        'the tables: system, kind, entries, version and when last changed (config.read)',
      ),
  ).action(listTables);

  hubOptions(
    tableArguments(
      mapping
        .command('export')
        .description(
          'write one table as CSV or YAML to standard output or a file, with its version (config.read)',
        ),
    )
      .addOption(
        new Option(
          '--format <format>',
          'csv or yaml (default: by the extension of --out, else csv)',
        ).choices(EXPORT_FORMATS),
      )
      .option(
        '-o, --out <file>',
        'write to this file, through FILE.partial renamed when complete (default: standard output)',
      ),
  ).action(exportTable);

  hubOptions(
    tableArguments(
      mapping
        .command('import')
        .description(
          'replace one table (or create it) with the entries of a CSV, YAML or JSON file, validated whole by the hub: any problem changes nothing and is printed with its line (config.write and config.read)',
        ),
    )
      .argument('<file>', 'the table: .csv, .yaml, .yml or .json (or say which with --format)')
      .addOption(
        new Option('--format <format>', 'the file’s format (default: by its extension)').choices(
          MAPPING_FILE_FORMATS,
        ),
      )
      .option(
        '--if-version <n>',
        'write only if the table is still at this version, the one `mapping export` printed (0: only if the table does not exist yet). Without it the version the file names (JSON or YAML `version:`) is checked, or else the current version is read just before writing: that detects only a change made between the read and the write, not one made since you exported the file',
        parseVersion,
      )
      .option('--reason <text>', 'why (recorded in the audit trail)'),
  ).action(importTable);
}
