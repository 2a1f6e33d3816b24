/**
 * The quality imports by CSV (docs/quality.md): goods receipts of lots
 * (`lot,material,quantity,uom,location`) and LIMS results
 * (`lot,plan,characteristic,value,uom,operation,sample_size`), read with csv-table.ts. Codes
 * stay the sender's here: the services map them (identity mapping) and check them.
 */
import { csvInvalid, readCsvTable } from './csv-table.ts';
import { PLAIN_DECIMAL } from './orders-csv.ts';

export const LOT_CSV_COLUMNS = ['lot', 'material', 'quantity', 'uom', 'location'] as const;
export const RESULT_CSV_COLUMNS = [
  'lot',
  'plan',
  'characteristic',
  'value',
  'uom',
  'operation',
  'sample_size',
] as const;

export interface CsvLot {
  readonly line: number;
  readonly lot: string | undefined;
  readonly material: string;
  readonly quantity: string;
  readonly uom: string | undefined;
  readonly location: string | undefined;
}

export interface CsvResult {
  readonly line: number;
  readonly lot: string;
  readonly plan: string;
  readonly characteristic: string;
  readonly value: string;
  readonly uom: string | undefined;
  readonly operation: string | undefined;
  readonly sampleSize: number | undefined;
}

const opt = (v: string): string | undefined => (v === '' ? undefined : v);

/** Lots received; throws MW_ERR_CSV_INVALID naming every line and column at fault. */
export function parseLotsCsv(input: string | Buffer): CsvLot[] {
  const { rows, issues } = readCsvTable(input, LOT_CSV_COLUMNS, ['material', 'quantity']);
  const out = rows.map(({ line, cell }): CsvLot => {
    if (cell('material') === '') issues.push({ line, column: 'material', rule: 'required' });
    if (!PLAIN_DECIMAL.test(cell('quantity')))
      issues.push({ line, column: 'quantity', rule: 'expected a decimal number' });
    return {
      line,
      lot: opt(cell('lot')),
      material: cell('material'),
      quantity: cell('quantity'),
      uom: opt(cell('uom')),
      location: opt(cell('location')),
    };
  });
  if (issues.length > 0) throw csvInvalid(issues);
  return out;
}

/** LIMS results, one characteristic per row; rows of one lot and plan are one inspection. */
export function parseResultsCsv(input: string | Buffer): CsvResult[] {
  const required = ['lot', 'plan', 'characteristic', 'value'] as const;
  const { rows, issues } = readCsvTable(input, RESULT_CSV_COLUMNS, required);
  const out = rows.map(({ line, cell }): CsvResult => {
    for (const col of required)
      if (cell(col) === '') issues.push({ line, column: col, rule: 'required' });
    const size = cell('sample_size');
    if (size !== '' && !/^[1-9]\d{0,5}$/.test(size))
      issues.push({ line, column: 'sample_size', rule: 'expected a whole number above 0' });
    return {
      line,
      lot: cell('lot'),
      plan: cell('plan'),
      characteristic: cell('characteristic'),
      value: cell('value'),
      uom: opt(cell('uom')),
      operation: opt(cell('operation')),
      sampleSize: size === '' ? undefined : Number(size),
    };
  });
  if (issues.length > 0) throw csvInvalid(issues);
  return out;
}
