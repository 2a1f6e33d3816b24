/**
 * Reading a CSV table (RFC 4180, UTF-8 (a byte order mark is skipped), a header row, `;` or `,`
 * between fields (whichever the header uses more), CRLF, LF or CR between records), with errors
 * that name the line of the file (counting line breaks inside quoted fields) and the column:
 * `line 3, column quantity: expected a decimal number`. Empty lines and rows of only empty
 * fields are skipped. The order import and the quality imports (lots, LIMS results) read
 * their files with it.
 */
import { parse } from 'csv-parse/sync';
import { MwError } from '../../errors.ts';

/** Most problems listed in an error's details. */
const MAX_ISSUES = 50;

export interface Issue {
  readonly line: number;
  readonly column: string | null;
  readonly rule: string;
}
const where = (i: Issue): string =>
  i.column === null ? `line ${i.line}` : `line ${i.line}, column ${i.column}`;

/** Offsets at which lines start (after LF, CRLF or a lone CR). */
function lineStarts(buf: Buffer): number[] {
  const starts = [0];
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0a || (c === 0x0d && buf[i + 1] !== 0x0a)) starts.push(i + 1);
  }
  return starts;
}

/** 1-based line of a byte offset. */
function lineOf(starts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

export function csvInvalid(issues: readonly Issue[]): MwError {
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  return new MwError(
    'MW_ERR_CSV_INVALID',
    { first: `${where(first)}: ${first.rule}`, more, line: first.line, column: first.column ?? '' },
    {
      path: where(first),
      details: issues.slice(0, MAX_ISSUES).map((i) => `${where(i)}: ${i.rule}`),
    },
  );
}

/** The text as UTF-8 without its byte order mark; throws naming the line of a bad byte. */
function utf8(input: string | Buffer): Buffer {
  let buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    const bad = Buffer.from(new TextDecoder('utf-8').decode(buf).split('\uFFFD')[0]!).length;
    throw csvInvalid([
      { line: lineOf(lineStarts(buf), bad), column: null, rule: 'not UTF-8 (save it as UTF-8)' },
    ]);
  }
  return buf;
}

export interface CsvRow<C extends string> {
  readonly line: number;
  /** The cell of a column ('' when the column is absent or the cell empty). */
  readonly cell: (column: C) => string;
}

/**
 * The rows of a table whose header names `columns` (any order, case-insensitive; `required`
 * must be there). A problem with the header or the syntax throws MW_ERR_CSV_INVALID; the
 * caller adds the problems it finds in rows to `issues` and throws csvInvalid if any.
 */
export function readCsvTable<C extends string>(
  input: string | Buffer,
  columns: readonly C[],
  required: readonly C[],
): { rows: CsvRow<C>[]; issues: Issue[] } {
  const buf = utf8(input);
  const starts = lineStarts(buf);
  const firstLine = /^[^\r\n]*/.exec(buf.toString('utf8'))![0];
  const count = (ch: string): number => firstLine.split(ch).length - 1;
  const delimiter = count(';') > count(',') ? ';' : ',';
  let records: { record: string[]; info: { bytes_records: number } }[];
  try {
    // csv-parse's types do not model `info: true`, which wraps each record with its Info.
    records = parse(buf, {
      delimiter,
      info: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as typeof records;
  } catch (err) {
    const e = err as { message: string; bytes_records?: number; lines?: number };
    const line = e.bytes_records === undefined ? (e.lines ?? 1) : recordLine(e.bytes_records);
    throw csvInvalid([{ line, column: null, rule: e.message.replace(/ (at|on) line \d+/, '') }]);
  }
  /** The line a record starts on, from where the one before it ended (blank lines skipped). */
  function recordLine(prevEnd: number): number {
    let at = prevEnd;
    while (buf[at] === 0x0a || buf[at] === 0x0d) at++;
    return lineOf(starts, at);
  }

  const issues: Issue[] = [];
  const header = records[0];
  if (header === undefined) {
    throw csvInvalid([
      { line: 1, column: null, rule: `expected a header row: ${columns.join(',')}` },
    ]);
  }
  const index = new Map<C, number>();
  header.record.forEach((name, i) => {
    const col = columns.find((c) => c === name.toLowerCase());
    if (col === undefined) {
      const rule = `unknown column; the columns are ${columns.join(', ')}`;
      issues.push({ line: 1, column: name, rule });
    } else if (index.has(col)) issues.push({ line: 1, column: name, rule: 'given twice' });
    else index.set(col, i);
  });
  for (const col of required)
    if (!index.has(col)) issues.push({ line: 1, column: col, rule: 'required column missing' });
  if (issues.length > 0) throw csvInvalid(issues);

  const rows: CsvRow<C>[] = [];
  let prevEnd = header.info.bytes_records;
  for (const { record, info } of records.slice(1)) {
    const line = recordLine(prevEnd);
    prevEnd = info.bytes_records;
    if (record.every((v) => v === '')) continue; // `;;;;` lines that spreadsheets leave
    rows.push({ line, cell: (col) => record[index.get(col) ?? -1] ?? '' });
  }
  return { rows, issues };
}
