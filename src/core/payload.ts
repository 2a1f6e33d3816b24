/**
 * Reading a value (and optional timestamp and reason) out of a message payload, by the rules of
 * a binding's `payload` block. Every failure names the field and the rule.
 */
import { MwError } from '../errors.ts';
import type { TagValue } from '../model/index.ts';

export interface PayloadSpec {
  readonly format: 'auto' | 'json' | 'number' | 'string';
  readonly valuePath?: string | undefined;
  readonly timestampPath?: string | undefined;
  readonly reasonPath?: string | undefined;
  readonly materialPath?: string | undefined;
}

export interface DecodedPayload {
  readonly value: TagValue;
  readonly sourceTs: number | undefined;
  readonly reason: string | undefined;
  /** The material code at `materialPath`, when the spec has one. */
  readonly material?: string | undefined;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function at(obj: unknown, dotPath: string): unknown {
  let cur: unknown = obj;
  for (const key of dotPath.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return `${typeof v} ${String(v)}`;
}

function toTagValue(v: unknown, field: string): TagValue {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
    return v;
  throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
    field,
    expected: 'a number, string, boolean or null',
    actual: describe(v),
  });
}

function toTimestamp(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v;
  if (typeof v === 'string') {
    const ms = Date.parse(v);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
    field,
    expected: 'an ISO 8601 time or epoch milliseconds',
    actual: describe(v),
  });
}

export function decodePayload(payload: Buffer, spec: PayloadSpec): DecodedPayload {
  const text = payload.toString('utf8');
  let parsed: unknown;
  let isJson = false;
  if (spec.format === 'json' || spec.format === 'auto') {
    try {
      parsed = JSON.parse(text);
      isJson = true;
    } catch (err) {
      if (spec.format === 'json') {
        throw new MwError('MW_ERR_INGEST_PAYLOAD_INVALID', {
          format: 'JSON',
          reason: (err as Error).message,
        });
      }
    }
  }
  if (!isJson) {
    // A binding that reads fields of the payload expects JSON: plain text is not that value.
    const path = spec.valuePath ?? spec.timestampPath ?? spec.reasonPath ?? spec.materialPath;
    if (spec.format === 'auto' && path !== undefined) {
      throw new MwError('MW_ERR_INGEST_PAYLOAD_INVALID', {
        format: 'JSON',
        reason: `the binding reads "${path}" from a JSON payload, got ${describe(text)}`,
      });
    }
    if (spec.format === 'string') return { value: text, sourceTs: undefined, reason: undefined };
    const trimmed = text.trim();
    const n = Number(trimmed);
    if (trimmed !== '' && Number.isFinite(n))
      return { value: n, sourceTs: undefined, reason: undefined };
    if (spec.format === 'number') {
      throw new MwError('MW_ERR_INGEST_PAYLOAD_INVALID', {
        format: 'number',
        reason: `got ${describe(text)}`,
      });
    }
    // auto: plain text that is not JSON and not a number
    return { value: text, sourceTs: undefined, reason: undefined };
  }
  const value = spec.valuePath === undefined ? parsed : at(parsed, spec.valuePath);
  if (value === undefined) {
    throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
      field: spec.valuePath ?? '<payload>',
      expected: 'a value',
      actual: 'nothing at that path',
    });
  }
  const tsRaw = spec.timestampPath === undefined ? undefined : at(parsed, spec.timestampPath);
  const reasonRaw = spec.reasonPath === undefined ? undefined : at(parsed, spec.reasonPath);
  if (
    reasonRaw !== undefined &&
    reasonRaw !== null &&
    typeof reasonRaw !== 'string' &&
    typeof reasonRaw !== 'number'
  ) {
    throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
      field: spec.reasonPath ?? 'reason',
      expected: 'a reason code (string or number)',
      actual: describe(reasonRaw),
    });
  }
  // Codes become keys and database text: no control characters (PostgreSQL cannot hold U+0000).
  for (const [raw, field] of [
    [reasonRaw, spec.reasonPath],
    [
      spec.materialPath === undefined ? undefined : at(parsed, spec.materialPath),
      spec.materialPath,
    ],
  ] as const) {
    if (typeof raw === 'string' && CONTROL.test(raw)) {
      throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
        field: field ?? 'code',
        expected: 'a code without control characters',
        actual: describe(raw),
      });
    }
  }
  const materialRaw = spec.materialPath === undefined ? undefined : at(parsed, spec.materialPath);
  if (
    spec.materialPath !== undefined &&
    !(typeof materialRaw === 'string' && materialRaw !== '') &&
    typeof materialRaw !== 'number'
  ) {
    throw new MwError('MW_ERR_INGEST_VALUE_TYPE', {
      field: spec.materialPath,
      expected: 'a material code (string or number)',
      actual: materialRaw === undefined ? 'nothing at that path' : describe(materialRaw),
    });
  }
  return {
    value: toTagValue(value, spec.valuePath ?? '<payload>'),
    material: materialRaw === undefined ? undefined : String(materialRaw),
    sourceTs:
      tsRaw === undefined || tsRaw === null
        ? undefined
        : toTimestamp(tsRaw, spec.timestampPath ?? 'timestamp'),
    reason: reasonRaw === undefined || reasonRaw === null ? undefined : String(reasonRaw),
  };
}
