/**
 * The genealogy part of the Store (issue #12; LotLink in ../model/lot.ts), written once for both
 * backends: the `lot_links` row shape, the cycle rule and the level-by-level walks of a trace.
 *
 * A walk is a generator: it yields what it needs from the links table (one query a level, the
 * whole frontier as one parameter) and is resumed with the answer. `walkSync` answers from
 * better-sqlite3 inside the caller's transaction; `walkAsync` from a PostgreSQL transaction's
 * client. So the rules (visited sets, depths, truncation, which link closes a cycle) cannot drift
 * between the two stores; each store only has its SQL (sqlite/genealogy.ts,
 * postgres/genealogy.ts).
 */
import { MwError } from '../errors.ts';
import type { LinkKind, LotLink, TraceDirection } from '../model/index.ts';
import type { LotTrace, LotTraceQuery, StoredRecord } from './types.ts';

/**
 * A `lot_links` row as both backends return it for a trace: an array in LINK_SELECT order, not
 * an object (a trace reads thousands of rows; in bench/genealogy's traces, better-sqlite3 took
 * 40–75 % longer to return them as objects).
 */
export type LinkRow = [
  id: number,
  from: string,
  to: string,
  quantity: string,
  uom: string,
  kind: string,
  order: string | null,
  operation: string | null,
  equipment: string | null,
  at: number,
  actor: string,
];

/** The columns an insert gives, in the order of `linkValues`. */
export const LINK_COLUMNS = [
  'from_lot',
  'to_lot',
  'quantity',
  'uom',
  'kind',
  'order_id',
  'operation',
  'equipment_id',
  'at',
  'actor',
] as const;

/** The columns a trace reads, in LinkRow order. */
export const LINK_SELECT = ['id', ...LINK_COLUMNS].join(', ');

export function linkValues(l: LotLink): (string | number | null)[] {
  return [
    l.from,
    l.to,
    l.quantity,
    l.uom,
    l.kind,
    l.order,
    l.operation,
    l.equipment,
    l.at,
    l.actor,
  ];
}

type TracedLink = LotTrace['links'][number];

function tracedLink(row: LinkRow, depth: number): TracedLink {
  return {
    id: Number(row[0]),
    from: row[1],
    to: row[2],
    quantity: row[3],
    uom: row[4],
    kind: row[5] as LinkKind,
    order: row[6],
    operation: row[7],
    equipment: row[8],
    at: Number(row[9]),
    actor: row[10],
    depth,
  };
}

/** What a walk asks of the links table; each method is one statement over the whole frontier. */
export interface LinkReads {
  /** [from, to] of the links leaving `lots`: read from the index on (from, to) alone. */
  edges(lots: readonly string[]): readonly (readonly [string, string])[];
  /** The links leaving (forward) or entering (backward) `lots`, at most `limit`, in any order. */
  links(lots: readonly string[], direction: TraceDirection, limit: number): readonly LinkRow[];
  /** Whether any of `lots` has a link in `direction`. */
  anyLink(lots: readonly string[], direction: TraceDirection): boolean;
}

/** LinkReads of a backend whose statements are asynchronous. */
export type AsyncLinkReads = {
  [K in keyof LinkReads]: (...args: Parameters<LinkReads[K]>) => Promise<ReturnType<LinkReads[K]>>;
};

type Ask = {
  [K in keyof LinkReads]: { readonly kind: K; readonly args: Parameters<LinkReads[K]> };
}[keyof LinkReads];

/** A walk over the links: yields its statements, returns R. */
export type Walk<R> = Generator<Ask, R, unknown>;

function* ask<K extends keyof LinkReads>(
  kind: K,
  ...args: Parameters<LinkReads[K]>
): Generator<Ask, ReturnType<LinkReads[K]>, unknown> {
  // The drivers answer each question with reads[kind](...args): the cast is that pairing.
  return (yield { kind, args } as Ask) as ReturnType<LinkReads[K]>;
}

function answer(reads: LinkReads | AsyncLinkReads, q: Ask): unknown {
  return (reads[q.kind] as (...args: readonly unknown[]) => unknown)(...q.args);
}

/** Run a walk on a synchronous backend (inside the caller's transaction). */
export function walkSync<R>(walk: Walk<R>, reads: LinkReads): R {
  for (let step = walk.next(); ; step = walk.next(answer(reads, step.value)))
    if (step.done === true) return step.value;
}

/** Run a walk on an asynchronous backend (on the caller's transaction's connection). */
export async function walkAsync<R>(walk: Walk<R>, reads: AsyncLinkReads): Promise<R> {
  for (let step = walk.next(); ; step = walk.next(await answer(reads, step.value)))
    if (step.done === true) return step.value;
}

/**
 * The cycle rule, run after the write's links are inserted (so it sees them with the stored
 * ones): refuse with MW_ERR_LOT_CYCLE the first link whose `from` lot can be reached from its
 * `to` lot (a self link included), which would make a lot part of its own ancestry.
 *
 * The stored genealogy has no cycle, so a new one runs through a new link. One joint forward
 * walk from all the `to` lots finds the set R of lots reached through at least one link and
 * keeps every edge it read; a link whose `from` is not in R closes nothing. Each remaining one
 * is checked exactly by a walk from its `to` looking for its `from` over the edges already read
 * (every lot reachable from a `to` lot was expanded): no further statements.
 */
export function* refuseCycles(links: readonly LotLink[]): Walk<void> {
  if (links.length === 0) return;
  const out = new Map<string, string[]>();
  const reached = new Set<string>();
  let frontier = [...new Set(links.map((l) => l.to))];
  const expanded = new Set(frontier);
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const [from, to] of yield* ask('edges', frontier)) {
      const targets = out.get(from);
      if (targets === undefined) out.set(from, [to]);
      else targets.push(to);
      reached.add(to);
      if (!expanded.has(to)) {
        expanded.add(to);
        next.push(to);
      }
    }
    frontier = next;
  }
  for (const l of links)
    if (l.from === l.to || (reached.has(l.from) && leadsTo(out, l.to, l.from)))
      throw new MwError('MW_ERR_LOT_CYCLE', { from: l.from, to: l.to });
}

/** Whether `goal` is reachable from `start` along the edges in `out`. */
function leadsTo(
  out: ReadonlyMap<string, readonly string[]>,
  start: string,
  goal: string,
): boolean {
  const seen = new Set([start]);
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    for (const to of out.get(queue[i]!) ?? []) {
      if (to === goal) return true;
      if (!seen.has(to)) {
        seen.add(to);
        queue.push(to);
      }
    }
  }
  return false;
}

/**
 * A trace (LotTraceQuery in types.ts): level k holds the links that touch the lots first
 * reached at level k − 1 (level 1: the starting lots), found by one statement over that
 * frontier. A lot reached through several links of one level gets all of them (each link is
 * found once: only from the lot on its near side, which is expanded once) and is expanded once,
 * at the next level. When `maxLinks` cuts a level, the links kept of it are the first the
 * engine returned.
 */
export function* traceWalk(q: LotTraceQuery): Walk<LotTrace> {
  const backward = q.direction === 'backward';
  const seen = new Set(q.lots);
  let frontier = [...seen];
  const links: TracedLink[] = [];
  let depth = 0;
  for (let level = 1; level <= q.maxDepth && frontier.length > 0; level++) {
    const room = q.maxLinks - links.length;
    // One more than there is room for: whether the cut left any out.
    const rows = yield* ask('links', frontier, q.direction, Math.max(0, room) + 1);
    const kept = [...rows].sort((a, b) => a[0] - b[0]).slice(0, Math.max(0, room));
    const next: string[] = [];
    for (const row of kept) {
      links.push(tracedLink(row, level));
      const lot = backward ? row[1] : row[2];
      if (!seen.has(lot)) {
        seen.add(lot);
        next.push(lot);
      }
    }
    if (kept.length > 0) depth = level;
    if (rows.length > kept.length) return { links, depth, truncated: true };
    frontier = next;
  }
  // Stopped at maxDepth with lots not yet expanded: one cheap look whether they lead on.
  const truncated = frontier.length > 0 && (yield* ask('anyLink', frontier, q.direction));
  return { links, depth, truncated };
}

/** Ids a getRecords statement reads at once. */
export const RECORD_CHUNK = 500;

/** `ids` in chunks of RECORD_CHUNK, without repeats. */
export function recordChunks(ids: readonly string[]): string[][] {
  const unique = [...new Set(ids)];
  const out: string[][] = [];
  for (let i = 0; i < unique.length; i += RECORD_CHUNK) out.push(unique.slice(i, i + RECORD_CHUNK));
  return out;
}

/** Records found, in the order of `ids` (undefined where none). */
export function inIdOrder(
  ids: readonly string[],
  found: readonly StoredRecord[],
): (StoredRecord | undefined)[] {
  const byId = new Map(found.map((r) => [r.entityId, r]));
  return ids.map((id) => byId.get(id));
}
