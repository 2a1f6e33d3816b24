/**
 * CSV files to and from the ERP: RFC 4180, UTF-8 without a byte order mark, CRLF between
 * records, a header row, fields quoted where they hold a delimiter, a quote or a line break.
 *
 * Outbound (`renderCsv`): one file for one message or a batch, a row per message and, for
 * `order.completed`, a row per operation and per consumed material as well; a `kpi.shift`
 * message is a row per equipment (the site, its areas, lines and units); an
 * `inspection.recorded` message a row for the inspection and one per result. One layout for
 * all: a row leaves empty what does not apply to it. The columns:
 *
 *   message_id   the message's idempotency key (the rows of one message share it)
 *   type         the message type (types.ts OUTBOUND_MESSAGE_TYPES); the detail rows of
 *                order.completed are `order.completed/operation` and `order.completed/consumption`
 *   order_id     the ERP's order number; kpi.shift: the stream key `kpi:<site id>`; quality
 *                messages: the stream key `lot:<lot id>`
 *   seq          the message's position among its order's messages (1, 2, 3 …); kpi.shift:
 *                among the site's exports; quality messages: among the lot's
 *   at           when the fact happened; kpi.shift: the shift's end
 *   operation    order.started (when known), operation.confirmed, goods.issue, operation rows;
 *                inspection.recorded: the operation inspected at, when given
 *   equipment    the equipment of the operation / where material was received or issued;
 *                kpi.shift: the equipment id of the row (`acme/plant1/packaging/line1`)
 *   work_unit    the unit whose counts were attributed to the operation
 *   material     goods.receipt / goods.issue / order.completed (product) / consumption rows;
 *                quality messages: the lot's material
 *   quantity     good quantity (operation rows), received / issued / produced / consumed
 *                quantity; quality messages: what the lot holds
 *   scrap        scrap quantity (operation rows, order.completed)
 *   uom          UN/CEFACT unit of quantity and scrap; inspection result rows: the unit of
 *                the value (empty for an attribute)
 *   lot          goods.receipt, order.completed (the lot the output was received into); the lot
 *                of a quality message (on its result rows too)
 *   started_at   operation rows, order.completed
 *   ended_at     operation rows, order.completed
 *   run_time_s   operation rows: seconds the operation ran (held time excluded), decimal
 *   final        operation.confirmed: `true` when the operation is complete, `false` for a
 *                partial confirmation
 *
 * kpi.shift rows only (docs/kpi.md has the definitions):
 *   shift, shift_day, crew        the shift's name, the local day it starts on, its crew
 *   shift_start, shift_end        the shift, [start, end)
 *   calendar, time_zone           the site calendar's name and the site's IANA zone
 *   level                         site, area, workCenter (a line) or workUnit
 *   equipment_name                the equipment's name
 *   calendar_time_ms … scrap_quantity
 *                                 the totals, in the order of model/erp.ts KPI_SHIFT_TOTALS in
 *                                 snake case: calendar_time_ms, planned_operation_time_ms,
 *                                 planned_down_time_ms, planned_busy_time_ms,
 *                                 actual_production_time_ms, running_ms, micro_stop_ms,
 *                                 micro_stops, unplanned_stop_ms, changeover_ms, changeovers,
 *                                 failures, failure_down_time_ms, ideal_production_time_ms,
 *                                 pieces_without_ideal_time, produced_quantity, good_quantity,
 *                                 scrap_quantity (times whole ms, counts); a line, area or site
 *                                 row holds the sums of its units
 *   availability, performance, quality, oee, teep, mtbf_ms, mttr_ms, scrap_ratio
 *                                 the KPIs of the row's totals (never averages), decimal; empty
 *                                 where a denominator is zero
 *
 * Quality messages only (issue #12, docs/quality.md), after the kpi.shift columns:
 *   status        the lot's status after the fact (`on-hold`, `available` …)
 *   hold          lot.held, lot.released: the quality hold's id
 *   reason        lot.held: why it was held; lot.released: why it was released
 *   origin        lot.held: manual, inspection (a failed result) or propagated
 *   root_lot      lot.held with origin propagated: the lot whose hold was propagated
 *   by            the user who held, released or inspected
 *   full_name     lot.released: the signer's full name
 *   signature     lot.released: the electronic signature's id (meaning "released")
 *   inspection    inspection.recorded (and its result rows): the inspection's id
 *   plan          inspection.recorded: the inspection plan
 *   disposition   inspection.recorded: accepted (every result passed) or rejected
 *   sample_size   inspection.recorded: the number of samples
 *   characteristic, kind, value, lsl, usl, target, pass
 *                 one row per result, type `inspection.recorded/result`: the characteristic,
 *                 numeric or attribute, the value (decimal, or pass / fail), the limits and
 *                 target where the plan has them, and `true` / `false`
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
import {
  KPI_SHIFT_KPIS,
  KPI_SHIFT_TOTALS,
  type KpiMessage,
  type OperationReport,
  type OutboundMessage,
  type QualityMessage,
  type RenderedMessage,
} from '../types.ts';
import { PLAIN_DECIMAL } from './orders-csv.ts';

export { ORDER_CSV_COLUMNS, parseOrdersCsv } from './orders-csv.ts';

/** The column of each total and KPI of a kpi.shift row: its name in snake case. */
const KPI_COLUMN = {
  calendarTimeMs: 'calendar_time_ms',
  plannedOperationTimeMs: 'planned_operation_time_ms',
  plannedDownTimeMs: 'planned_down_time_ms',
  plannedBusyTimeMs: 'planned_busy_time_ms',
  actualProductionTimeMs: 'actual_production_time_ms',
  runningMs: 'running_ms',
  microStopMs: 'micro_stop_ms',
  microStops: 'micro_stops',
  unplannedStopMs: 'unplanned_stop_ms',
  changeoverMs: 'changeover_ms',
  changeovers: 'changeovers',
  failures: 'failures',
  failureDownTimeMs: 'failure_down_time_ms',
  idealProductionTimeMs: 'ideal_production_time_ms',
  piecesWithoutIdealTime: 'pieces_without_ideal_time',
  producedQuantity: 'produced_quantity',
  goodQuantity: 'good_quantity',
  scrapQuantity: 'scrap_quantity',
  availability: 'availability',
  performance: 'performance',
  quality: 'quality',
  oee: 'oee',
  teep: 'teep',
  mtbfMs: 'mtbf_ms',
  mttrMs: 'mttr_ms',
  scrapRatio: 'scrap_ratio',
} as const satisfies Record<
  (typeof KPI_SHIFT_TOTALS)[number] | (typeof KPI_SHIFT_KPIS)[number],
  string
>;

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
  'shift',
  'shift_day',
  'crew',
  'shift_start',
  'shift_end',
  'calendar',
  'time_zone',
  'level',
  'equipment_name',
  ...KPI_SHIFT_TOTALS.map((k) => KPI_COLUMN[k]),
  ...KPI_SHIFT_KPIS.map((k) => KPI_COLUMN[k]),
  'status',
  'hold',
  'reason',
  'origin',
  'root_lot',
  'by',
  'full_name',
  'signature',
  'inspection',
  'plan',
  'disposition',
  'sample_size',
  'characteristic',
  'kind',
  'value',
  'lsl',
  'usl',
  'target',
  'pass',
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

/** A kpi.shift message: one row per equipment, the shift's columns on each. */
function kpiRows(m: KpiMessage, head: Row): Row[] {
  const { shift, calendar } = m.data;
  const common: Row = {
    ...head,
    shift: shift.name,
    shift_day: shift.day,
    crew: shift.crew ?? '',
    shift_start: shift.start,
    shift_end: shift.end,
    calendar: calendar.name,
    time_zone: calendar.timeZone,
  };
  return m.data.equipment.map((e) => {
    const row: Row = { ...common, equipment: e.id, level: e.level, equipment_name: e.name };
    for (const k of KPI_SHIFT_TOTALS) row[KPI_COLUMN[k]] = String(e.totals[k]);
    for (const k of KPI_SHIFT_KPIS) {
      const v = e.kpis[k];
      row[KPI_COLUMN[k]] = v === null ? '' : String(v);
    }
    return row;
  });
}

/** A quality message: its row, then (inspection.recorded) one per result. */
function qualityRows(m: QualityMessage, head: Row): Row[] {
  const d = m.data;
  const lot: Row = {
    ...head,
    lot: d.lot,
    material: d.material,
    quantity: d.quantity,
    uom: d.uom,
    status: d.status,
    by: d.by,
  };
  switch (m.type) {
    case 'lot.held': {
      const { hold, reason, origin, rootLot } = m.data;
      return [{ ...lot, hold, reason, origin, root_lot: rootLot ?? '' }];
    }
    case 'lot.released': {
      const { hold, reason, fullName, signature } = m.data;
      return [{ ...lot, hold, reason, full_name: fullName, signature }];
    }
    case 'inspection.recorded': {
      const { inspection, plan, operation, disposition, sampleSize, results } = m.data;
      return [
        {
          ...lot,
          inspection,
          plan,
          operation: operation ?? '',
          disposition,
          sample_size: String(sampleSize),
        },
        ...results.map((r) => ({
          ...head,
          type: 'inspection.recorded/result',
          lot: m.data.lot,
          inspection,
          characteristic: r.characteristic,
          kind: r.kind,
          value: r.value,
          uom: r.uom ?? '',
          lsl: r.lsl ?? '',
          usl: r.usl ?? '',
          target: r.target ?? '',
          pass: String(r.pass),
        })),
      ];
    }
  }
}

/**
 * The rows of one message: its own, then (order.completed) its operations and consumption,
 * (inspection.recorded) its results; kpi.shift: one per equipment.
 */
function messageRows(m: OutboundMessage): Row[] {
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
    case 'kpi.shift':
      return kpiRows(m, head);
    case 'lot.held':
    case 'lot.released':
    case 'inspection.recorded':
      return qualityRows(m, head);
  }
}

/** One CSV file holding the messages (codes already the receiver's: formats.ts). */
export function renderCsv(messages: readonly OutboundMessage[]): RenderedMessage {
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
