/**
 * What a report keeps in the store's KPI cache (src/store/kpi-cache.ts): the key and range of
 * a group part that is over. Used by service.ts, which also fingerprints each unit's numbers.
 */
import { createHash } from 'node:crypto';
import { MINUTE_MS } from '../../model/index.ts';
import type { GroupPart } from './groups.ts';
import type { Resume } from './resume.ts';

export interface CacheSlot {
  readonly key: string;
  /** Every minute the part's totals read (its intervals, resume minutes and gaps). */
  readonly lo: number;
  readonly hi: number;
}

export const digest = (text: string): string => createHash('sha1').update(text).digest('base64url');

/** A part's cache key and range, when it ended by the start of now's minute; else null. */
export function cacheSlot(p: GroupPart, resumes: readonly Resume[], now: number): CacheSlot | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const list of [
    p.planned,
    p.outside,
    resumes.map((r) => r.minute),
    resumes.map((r) => r.gap),
  ])
    for (const [a, b] of list) {
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
  if (lo >= hi) return null;
  lo = Math.floor(lo / MINUTE_MS) * MINUTE_MS;
  hi = Math.ceil(hi / MINUTE_MS) * MINUTE_MS;
  if (hi > Math.floor(now / MINUTE_MS) * MINUTE_MS) return null;
  return { key: digest(JSON.stringify([p.planned, p.outside, p.productIdealMs])), lo, hi };
}
