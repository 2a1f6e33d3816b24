/**
 * Judging inspection results against their characteristic (issue #12): a numeric value passes
 * when it lies within the specification limits, both inclusive (an absent limit does not
 * bound); an attribute passes when it is `pass`. Exact decimals: 10.05 against USL 10.05
 * passes, whatever binary floating point would say.
 */
import { Decimal } from 'decimal.js';

/** Whether a numeric value lies within [lsl, usl]. */
export function withinLimits(value: Decimal, lsl?: string, usl?: string): boolean {
  if (lsl !== undefined && value.lt(lsl)) return false;
  if (usl !== undefined && value.gt(usl)) return false;
  return true;
}

const PASS = new Set(['pass', 'passed', 'ok', 'true', 'accept', 'accepted']);
const FAIL = new Set(['fail', 'failed', 'nok', 'false', 'reject', 'rejected']);

/** An attribute result as pass (true) or fail (false); null when it is neither. */
export function attributeResult(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return null;
  const v = value.trim().toLowerCase();
  return PASS.has(v) ? true : FAIL.has(v) ? false : null;
}
