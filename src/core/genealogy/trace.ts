/**
 * Traces of the genealogy (issue #12): backward ("where from") and forward ("where used") to
 * any depth, as a graph (nodes and edges, for the lot page) or a tree (JSON, for people and
 * QMS), and the recall: every finished lot made from a lot, and the orders that made them.
 * The store follows the links level by level, each lot once (Store.traceLots), so a trace
 * ends on any graph, and a lot reached by several paths is one node.
 */
import { authorize, type Principal } from '../../compliance/roles.ts';
import { MwError } from '../../errors.ts';
import type { LotData, StoredLotLink, TraceDirection } from '../../model/index.ts';
import type { LotTrace } from '../../store/types.ts';
import type { GenealogyService } from './service.ts';
import {
  LOT_ENTITY,
  type Recall,
  type TraceEdge,
  type TraceGraph,
  type TraceNode,
  type TreeNode,
} from './types.ts';

/** The deepest a recall follows (a guard, not a limit of the genealogy). */
const RECALL_DEPTH = 1000;

export class TraceService {
  constructor(
    private readonly lots: GenealogyService,
    /** Materials that are finished goods (config `materials[].finished`). */
    private readonly finished: ReadonlySet<string>,
  ) {}

  async graph(
    by: Principal,
    lot: string,
    direction: TraceDirection | 'both',
    depth: number,
  ): Promise<TraceGraph> {
    authorize(by, 'orders.read');
    const root = await this.root(lot);
    const dirs: TraceDirection[] = direction === 'both' ? ['backward', 'forward'] : [direction];
    const traces = await Promise.all(dirs.map((d) => this.trace(lot, d, depth)));
    const levels = new Map<string, number>([[lot, 0]]);
    const edges: TraceEdge[] = [];
    traces.forEach((t, i) => {
      const sign = dirs[i] === 'backward' ? -1 : 1;
      for (const l of t.links) {
        const reached = dirs[i] === 'backward' ? l.from : l.to;
        if (!levels.has(reached)) levels.set(reached, sign * l.depth);
        edges.push(edgeOf(l));
      }
    });
    return {
      lot,
      direction,
      depth: Math.max(0, ...traces.map((t) => t.depth)),
      truncated: traces.some((t) => t.truncated),
      nodes: await this.nodes(levels, root),
      edges,
    };
  }

  async tree(by: Principal, lot: string, direction: TraceDirection, depth: number) {
    authorize(by, 'orders.read');
    const root = await this.root(lot);
    const t = await this.trace(lot, direction, depth);
    const levels = new Map<string, number>([[lot, 0]]);
    const sign = direction === 'backward' ? -1 : 1;
    const next = new Map<string, StoredLotLink[]>();
    for (const l of t.links) {
      const [here, there] = direction === 'backward' ? [l.to, l.from] : [l.from, l.to];
      if (!levels.has(there)) levels.set(there, sign * l.depth);
      next.set(here, [...(next.get(here) ?? []), l]);
    }
    const nodes = new Map((await this.nodes(levels, root)).map((n) => [n.id, n]));
    const shown = new Set<string>();
    const build = (id: string, link: TraceEdge | null): TreeNode => {
      if (shown.has(id) && link !== null) return { id, link, repeated: true };
      shown.add(id);
      const children = (next.get(id) ?? []).map((l) =>
        build(direction === 'backward' ? l.from : l.to, edgeOf(l)),
      );
      return { ...nodes.get(id)!, link, children };
    };
    return { lot, direction, depth: t.depth, truncated: t.truncated, tree: build(lot, null) };
  }

  /**
   * Every finished lot made from `lot` and the orders that made them and the lots between. A
   * finished lot: of a material marked finished, or, where none is, one nothing was made from.
   */
  async recall(by: Principal, lot: string): Promise<Recall> {
    authorize(by, 'orders.read');
    const root = await this.root(lot);
    const t = await this.trace(lot, 'forward', RECALL_DEPTH);
    const levels = new Map<string, number>([[lot, 0]]);
    const used = new Set<string>();
    for (const l of t.links) {
      if (!levels.has(l.to)) levels.set(l.to, l.depth);
      used.add(l.from);
    }
    levels.delete(lot);
    const nodes = await this.nodes(levels, root);
    const byMaterial = this.finished.size > 0;
    const finished = nodes.filter((n) =>
      byMaterial ? this.finished.has(n.material) : !used.has(n.id),
    );
    const orders = new Set<string>();
    for (const n of nodes) if (n.order !== null) orders.add(n.order);
    for (const l of t.links) if (l.order !== null) orders.add(l.order);
    return {
      lot,
      finished: finished.sort((a, b) => (a.id < b.id ? -1 : 1)),
      orders: [...orders].sort(),
      lots: nodes.length,
      truncated: t.truncated,
    };
  }

  private async root(lot: string): Promise<LotData> {
    const rec = await this.lots.store.getRecord(LOT_ENTITY, lot);
    if (rec === undefined) throw new MwError('MW_ERR_LOT_NOT_FOUND', { id: lot, context: '' });
    return rec.data as unknown as LotData;
  }

  private trace(lot: string, direction: TraceDirection, depth: number): Promise<LotTrace> {
    return this.lots.store.traceLots({
      lots: [lot],
      direction,
      maxDepth: depth,
      maxLinks: this.lots.options.config.maxTraceLinks,
    });
  }

  /** The lots of a trace with what the lot page shows of each, in level order. */
  private async nodes(levels: Map<string, number>, root: LotData): Promise<TraceNode[]> {
    const ids = [...levels.keys()];
    const recs = await this.lots.store.getRecords(LOT_ENTITY, ids);
    return ids
      .map((id, i): TraceNode => {
        const d = recs[i]?.data as unknown as LotData | undefined;
        const level = levels.get(id)!;
        const lot = level === 0 ? root : d;
        return {
          id,
          material: lot?.material ?? '',
          quantity: lot?.quantity ?? '',
          uom: lot?.uom ?? '',
          status: lot?.status ?? 'unknown',
          order: lot?.order ?? null,
          origin: lot?.origin ?? null,
          holds: lot?.holds.length ?? 0,
          level,
        };
      })
      .sort((a, b) => a.level - b.level || (a.id < b.id ? -1 : 1));
  }
}

function edgeOf(l: StoredLotLink): TraceEdge {
  return {
    from: l.from,
    to: l.to,
    quantity: l.quantity,
    uom: l.uom,
    kind: l.kind,
    order: l.order,
    operation: l.operation,
    equipment: l.equipment,
    at: l.at,
  };
}
