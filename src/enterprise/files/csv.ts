/**
 * CSV files to and from the ERP: RFC 4180, UTF-8 without a byte order mark, CRLF between
 * records, a header row, fields quoted where they hold a delimiter, a quote or a line break.
 *
 * Outbound (`renderCsv`): one file for one message or a batch, a row per message and, for
 * `order.completed`, a row per operation and per consumed material as well. The columns:
 *
 *   message_id   the message's idempotency key (the rows of one message share it)
 *   type         the message type (types.ts ERP_MESSAGE_TYPES); the detail rows of
 *                order.completed are `order.completed/operation` and `order.completed/consumption`
 *   order_id     the ERP's order number
 *   seq          the message's position among its order's messages (1, 2, 3 …)
 *   at           when the fact happened
 *   operation    order.started (when known), operation.confirmed, goods.issue, operation rows
 *   equipment    the equipment of the operation / where material was received or issued
 *   work_unit    the unit whose counts were attributed to the operation
 *   material     goods.receipt / goods.issue / order.completed (product) / consumption rows
 *   quantity     good quantity (operation rows), received / issued / produced / consumed quantity
 *   scrap        scrap quantity (operation rows, order.completed)
 *   uom          UN/CEFACT unit of quantity and scrap
 *   lot          goods.receipt, order.completed (the lot the output was received into)
 *   started_at   operation rows, order.completed
 *   ended_at     operation rows, order.completed
 *   run_time_s   operation rows: seconds the operation ran (held time excluded), decimal
 *   final        operation.confirmed: `true` when the operation is complete, `false` for a
 *                partial confirmation
 *
 * Times are ISO 8601 UTC (`2024-05-01T06:00:00.000Z`), quantities decimal text with a point;
 * a cell that does not apply is empty. Not carried (use `format: json` or `b2mml` if needed):
 * the planned quantity of order.completed and the reason of order.cancelled.
 *
 * Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with
 * = + - @ TAB or CR as a formula, and ERP codes come from outside. Such a cell gets a leading
 * apostrophe, unless it is a plain decimal number ("-5", "+1.5e3"), which a spreadsheet reads
 * as a number and cannot run; so negative quantities stay numbers. csv-stringify's own
 * `escape_formulas` exempts only JavaScript numbers, not the decimal text used here.
 *
 * Inbound (`parseOrdersCsv`): an order import, in orders-csv.ts (ORDER_CSV_COLUMNS).
 */
import { stringify } from 'csv-stringify/sync';
import { Decimal } from 'decimal.js';
import { messageFileStem } from '../file-names.ts';
import type { ErpMessage, OperationReport, RenderedMessage } from '../types.ts';
import { PLAIN_DECIMAL } from './orders-csv.ts';

export { ORDER_CSV_COLUMNS, parseOrdersCsv } from './orders-csv.ts';

export const CSV_COLUMNS = [
  'message_id',
  'type',
  'order_id',
  'seq',
  'at',
  'operation',
  'equipment',
  'work_unit',
  'material',
  'quantity',
  'scrap',
  'uom',
  'lot',
  'started_at',
  'ended_at',
  'run_time_s',
  'final',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
type Row = Partial<Record<Column, string>>;

/** OWASP's formula triggers, and their full-width forms (which some spreadsheets accept too). */
const FORMULA_START = /^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/;

/** The cell with a leading apostrophe when a spreadsheet would run it as a formula. */
export function neutraliseFormula(cell: string): string {
  return FORMULA_START.test(cell) && !PLAIN_DECIMAL.test(cell) ? `'${cell}` : cell;
}

const iso = (ms: number | null): string => (ms === null ? '' : new Date(ms).toISOString());

function operationRow(op: OperationReport): Row {
  return {
    operation: op.id,
    equipment: op.equipment,
    work_unit: op.workUnit,
    quantity: op.yield,
    scrap: op.scrap,
    uom: op.uom,
    started_at: iso(op.startedAt),
    ended_at: iso(op.endedAt),
    run_time_s: new Decimal(op.runTimeMs).div(1000).toFixed(),
  };
}

/** The rows of one message: its own, then (order.completed) its operations and consumption. */
function messageRows(m: ErpMessage): Row[] {
  const head = {
    message_id: m.id,
    type: m.type,
    order_id: m.orderId,
    seq: String(m.seq),
    at: iso(m.at),
  };
  switch (m.type) {
    case 'order.started':
      return [{ ...head, operation: m.data.operation ?? '', equipment: m.data.equipment ?? '' }];
    case 'operation.confirmed':
      return [{ ...head, ...operationRow(m.data), final: String(m.data.final) }];
    case 'goods.receipt':
    case 'goods.issue': {
      const d = m.data;
      return [
        {
          ...head,
          ...('operation' in d ? { operation: d.operation } : { lot: d.lot }),
          equipment: d.equipment,
          material: d.material,
          quantity: d.quantity,
          uom: d.uom,
        },
      ];
    }
    case 'order.completed': {
      const d = m.data;
      return [
        {
          ...head,
          material: d.material,
          quantity: d.produced,
          scrap: d.scrap,
          uom: d.uom,
          lot: d.lot,
          started_at: iso(d.startedAt),
          ended_at: iso(d.endedAt),
        },
        ...d.operations.map((op) => ({
          ...head,
          type: 'order.completed/operation',
          ...operationRow(op),
        })),
        ...d.consumed.map((c) => ({
          ...head,
          type: 'order.completed/consumption',
          material: c.material,
          quantity: c.quantity,
          uom: c.uom,
        })),
      ];
    }
    case 'order.closed':
    case 'order.cancelled':
      return [head];
  }
}

/** One CSV file holding the messages (codes already the receiver's: formats.ts). */
export function renderCsv(messages: readonly ErpMessage[]): RenderedMessage {
  const first = messages[0];
  if (first === undefined) throw new Error('renderCsv: no messages');
  const rows = messages
    .flatMap(messageRows)
    .map((row) => CSV_COLUMNS.map((c) => neutraliseFormula(row[c] ?? '')));
  // csv-stringify stops quoting bare \n and \r once record_delimiter is set, unless told to.
  const text = stringify([[...CSV_COLUMNS], ...rows], {
    record_delimiter: 'windows',
    quote_record_delimiter: true,
  });
  return {
    body: Buffer.from(text, 'utf8'),
    contentType: 'text/csv; charset=utf-8; header=present',
    fileName: messages.length === 1 ? `${messageFileStem(first)}.csv` : `batch-${first.id}.csv`,
  };
}
