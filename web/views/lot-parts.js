/**
 * What the modules of the Lots page (lots.js, lot-page.js, lot-holds.js) share: the lot
 * statuses, the hash that shows a lot and a link to it, a status badge, a time to the minute and
 * a count in words.
 */
import { h } from '../lib/dom.js';
import { at } from '../lib/format.js';

/** LotView.status (src/model/lot.ts LOT_STATUSES). */
export const STATUSES = ['available', 'on-hold', 'consumed', 'shipped', 'scrapped'];

/** The hash that shows a lot. */
export const lotHash = (id) => `#lots/${encodeURIComponent(id)}`;

/** The lot a hash shows (`#lots/<encoded lot number>`), or null for the list. */
export function lotFromHash(hash) {
  const m = /^#lots\/(.+)$/.exec(hash);
  if (m === null) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

export const statusBadge = (status) => h('span', { class: `status status-${status}` }, status);
export const lotLink = (id) => h('a', { href: lotHash(id), 'data-lot-link': id }, id);
/** A time to the minute, in this browser's zone. */
export const minute = (ms) => (ms === null || ms === undefined ? '' : at(ms).slice(0, 16));
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
