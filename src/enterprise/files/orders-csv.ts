/**
 * The order import CSV (read by `parseOrdersCsv`, re-exported by csv.ts): RFC 4180, UTF-8 (a
 * byte order mark is skipped), a header row, `;` or `,` between fields (whichever the header
 * uses more), CRLF, LF or CR between records. Empty lines and rows of only empty fields are
 * skipped. Errors name the line (of the file, counting line breaks inside quoted fields) and the
 * column: `line 3, column quantity: expected a decimal number`.
 */
import { Decimal } from 'decimal.js';
import { csvInvalid, readCsvTable, type Issue } from './csv-table.ts';
import type { InboundDocument, InboundOperation, InboundOrder } from '../types.ts';

/** A plain decimal: optional sign, digits with an optional point, optional exponent. */
export const PLAIN_DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Columns of an order import, in any order (a header row names them; `;` or `,` between
 * fields, found from the header). One row per operation: rows with the same order_id are the
 * operations of one order, in file order, and must agree on the order's own fields (all but
 * `operation` and `equipment`). order_id, material, quantity and uom are required; a row with
 * neither operation nor equipment gives the order without adding an operation. planned_start
 * and planned_end are ISO 8601 with `Z` or an offset; quantity a decimal number with a point.
 */
export const ORDER_CSV_COLUMNS = [
  'order_id',
  'material',
  'quantity',
  'uom',
  'operation',
  'equipment',
  'planned_start',
  'planned_end',
  'priority',
  'lot',
  'description',
] as const;
type OrderColumn = (typeof ORDER_CSV_COLUMNS)[number];
const REQUIRED: readonly OrderColumn[] = ['order_id', 'material', 'quantity', 'uom'];
/** The order's own fields, which every row of an order repeats. */
const ORDER_FIELDS = [
  'material',
  'quantity',
  'uom',
  'planned_start',
  'planned_end',
  'priority',
  'lot',
  'description',
] as const satisfies readonly OrderColumn[];
const TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/i;
const TIME_RULE = 'expected an ISO 8601 time with Z or an offset, e.g. 2024-05-01T06:00:00Z';

/** UTC epoch ms of an ISO 8601 time with a zone, or undefined. */
function parseTime(text: string): number | undefined {
  const m = TIME_RE.exec(text);
  if (m === null) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as number[];
  const ms = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3));
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  const offH = Number(m[10] ?? 0);
  const offM = Number(m[11] ?? 0);
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth || h! > 23 || mi! > 59 || s! > 59)
    return undefined;
  if (offH > 14 || offM > 59) return undefined;
  const offset = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM) * 60_000;
  return Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms) - offset;
}

interface ParsedRow {
  readonly line: number;
  readonly orderId: string;
  readonly fields: Partial<Record<(typeof ORDER_FIELDS)[number], string>>;
  readonly order: Omit<InboundOrder, 'externalId' | 'operations'>;
  readonly operation: InboundOperation | null;
}

/**
 * Read an order import CSV (ORDER_CSV_COLUMNS). Throws MW_ERR_CSV_INVALID naming the line and
 * column of the first problem, every problem in its details; nothing is returned then.
 */
export function parseOrdersCsv(input: string | Buffer): InboundDocument {
  const { rows: records, issues } = readCsvTable(input, ORDER_CSV_COLUMNS, REQUIRED);
  const rows: ParsedRow[] = [];
  for (const { line, cell } of records) {
    const row = parseRow(line, cell, issues);
    if (row !== null) rows.push(row);
  }
  if (issues.length === 0) {
    const orders = groupOrders(rows, issues);
    if (issues.length === 0) return { format: 'csv', root: null, orders, materials: [], lots: [] };
  }
  throw csvInvalid(issues);
}

function parseRow(
  line: number,
  cell: (c: OrderColumn) => string,
  issues: Issue[],
): ParsedRow | null {
  const before = issues.length;
  const fail = (column: OrderColumn, rule: string): void =>
    void issues.push({ line, column, rule });
  for (const col of REQUIRED) if (cell(col) === '') fail(col, 'required');
  const quantity = cell('quantity');
  if (quantity !== '' && !PLAIN_DECIMAL.test(quantity)) {
    const comma = /^\d+,\d+$/.test(quantity);
    fail(
      'quantity',
      `expected a decimal number${comma ? ' with a point (12.5), not a comma' : ''}`,
    );
  } else if (quantity !== '' && !new Decimal(quantity).gt(0))
    fail('quantity', 'expected a quantity above 0');
  const time = (col: 'planned_start' | 'planned_end'): number | null => {
    const text = cell(col);
    if (text === '') return null;
    const ms = parseTime(text);
    if (ms === undefined) fail(col, TIME_RULE);
    return ms ?? null;
  };
  const plannedStart = time('planned_start');
  const plannedEnd = time('planned_end');
  if (plannedStart !== null && plannedEnd !== null && plannedEnd < plannedStart)
    fail('planned_end', 'is before planned_start');
  const priorityText = cell('priority');
  if (priorityText !== '' && !/^[+-]?\d{1,9}$/.test(priorityText))
    fail('priority', 'expected a whole number');
  const operation = cell('operation');
  const equipment = cell('equipment');
  if (operation !== '' && equipment === '')
    fail('equipment', `required for operation ${operation}`);
  if (operation === '' && equipment !== '')
    fail('operation', `required for equipment ${equipment}`);
  if (issues.length > before) return null;
  const orText = (c: OrderColumn): string | null => (cell(c) === '' ? null : cell(c));
  return {
    line,
    orderId: cell('order_id'),
    fields: Object.fromEntries(ORDER_FIELDS.map((c) => [c, cell(c)])),
    order: {
      material: cell('material'),
      quantity,
      uom: cell('uom'),
      plannedStart,
      plannedEnd,
      priority: priorityText === '' ? 0 : Number(priorityText),
      lot: orText('lot'),
      description: orText('description'),
    },
    operation: operation === '' ? null : { id: operation, equipment, description: null },
  };
}

/** Whether two rows of an order give the same value of an order field. */
function agree(col: (typeof ORDER_FIELDS)[number], a: string, b: string): boolean {
  if (col === 'quantity') return new Decimal(a).eq(b);
  if (col === 'planned_start' || col === 'planned_end') return parseTime(a) === parseTime(b);
  return a === b;
}

/** Rows grouped into orders (first-seen order); rows of one order must agree on its fields. */
function groupOrders(rows: readonly ParsedRow[], issues: Issue[]): InboundOrder[] {
  interface Group {
    readonly first: ParsedRow;
    /** Operation id → the line it was on. */
    readonly lines: Map<string, number>;
    readonly operations: InboundOperation[];
  }
  const groups = new Map<string, Group>();
  for (const row of rows) {
    let g = groups.get(row.orderId);
    if (g === undefined) {
      g = { first: row, lines: new Map(), operations: [] };
      groups.set(row.orderId, g);
    }
    for (const col of ORDER_FIELDS) {
      const a = g.first.fields[col] ?? '';
      const b = row.fields[col] ?? '';
      if (agree(col, a, b)) continue;
      issues.push({
        line: row.line,
        column: col,
        rule: `"${b}" disagrees with "${a}" on line ${g.first.line} (every row of order ${row.orderId} repeats the order's fields)`,
      });
    }
    const op = row.operation;
    if (op === null) continue;
    const seen = g.lines.get(op.id);
    if (seen === undefined) {
      g.lines.set(op.id, row.line);
      g.operations.push(op);
    } else {
      const rule = `operation ${op.id} of order ${row.orderId} is on line ${seen} already`;
      issues.push({ line: row.line, column: 'operation', rule });
    }
  }
  return [...groups.values()].map((g) => ({
    externalId: g.first.orderId,
    ...g.first.order,
    operations: g.operations,
  }));
}
