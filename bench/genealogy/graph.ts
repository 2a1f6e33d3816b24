/**
 * The benchmark's genealogy (bench/genealogy/run.ts): a seeded plant history of material lots
 * in time order, one lot every 30 s, written as the hub writes lots — a `material-lot` record
 * (LotData), its audit row, and the links into it.
 *
 * `levels` production levels: raw-material receipts at level 0, intermediates, finished goods
 * at the top. A produced lot consumes 1–4 lots of the level below (one in seven of them from
 * two levels below: an additive, packaging), each drawn from the `window` lots made last there,
 * so lots made around the same time are consumed together. 3 % of the events split a recent lot
 * into 2–4 sublots (which are consumed later in its place), 1 % merge 2–3 recent lots of one
 * level into one.
 */
import { diffFields } from '../../src/compliance/identity-records.ts';
import type { LinkKind, LotData, LotLink, LotOrigin } from '../../src/model/index.ts';
import type { AuditEntry, RecordWrite } from '../../src/store/types.ts';
import { prng } from '../kpi/plant.ts';

export const LOT_ENTITY = 'material-lot';
const T0 = Date.UTC(2026, 0, 5, 6, 0, 0);
const STEP_MS = 30_000;
const SPLIT_SHARE = 0.03;
const MERGE_SHARE = 0.01;
const SKIP_LEVEL_SHARE = 1 / 7;
const ACTOR = 'user:operator1';
/** The material codes of raw materials start so (and no other). */
const RAW = 'RM';

export interface Batch {
  readonly writes: RecordWrite[];
  readonly audit: AuditEntry[];
  readonly links: LotLink[];
}

export class LotGraph {
  /** Raw-material lots (level 0), in the order they were made. */
  readonly raw: string[] = [];
  /** The ones that went into another lot (a recall starts from one of these). */
  readonly usedRaw = new Set<string>();
  /** Finished lots (the top level). */
  readonly finished: string[] = [];
  made = 0;
  linked = 0;
  private readonly rand: () => number;
  /**
   * The `window` lots made last at each level: all the history needs to remember (the
   * benchmark's heap stays small, so its garbage collector does not weigh on the timings).
   */
  private readonly recentLots: string[][];
  /** Sublots made so far of each lot in a window: they are numbered on. */
  private readonly sublots = new Map<string, number>();

  constructor(
    readonly levels: number,
    private readonly window: number,
    seed: number,
  ) {
    this.recentLots = Array.from({ length: levels }, () => []);
    this.rand = prng(seed);
  }

  /** The history in batches of `size` lots (a split's sublots stay in one batch). */
  *batches(total: number, size: number): Generator<Batch> {
    let b: Batch = { writes: [], audit: [], links: [] };
    while (this.made < total) {
      const r = this.rand();
      if (r < SPLIT_SHARE) this.split(b);
      else if (r < SPLIT_SHARE + MERGE_SHARE) this.merge(b);
      else this.produce(b);
      if (b.writes.length >= size) {
        yield b;
        b = { writes: [], audit: [], links: [] };
      }
    }
    if (b.writes.length > 0) yield b;
  }

  private pick(n: number): number {
    return Math.floor(this.rand() * n);
  }

  /** One of the `window` lots made last at `level`. */
  private recent(level: number): string {
    const lots = this.recentLots[level]!;
    return lots[lots.length - 1 - this.pick(lots.length)]!;
  }

  private produce(b: Batch): void {
    let level = this.pick(this.levels);
    // At the start, the lowest level whose inputs are missing is made instead.
    while (level > 0 && this.recentLots[level - 1]!.length === 0) level--;
    const inputs = new Set<string>();
    if (level > 0) {
      for (let k = 1 + this.pick(4); k > 0; k--) {
        const below = level >= 2 && this.rand() < SKIP_LEVEL_SHARE ? level - 2 : level - 1;
        inputs.add(this.recent(this.recentLots[below]!.length > 0 ? below : level - 1));
      }
    }
    const origin: LotOrigin = level === 0 ? 'received' : 'produced';
    this.add(b, level, this.material(level), origin, null, [...inputs], 'consume');
  }

  private split(b: Batch): void {
    const level = this.pick(this.levels);
    if (this.recentLots[level]!.length === 0) return this.produce(b);
    const parent = this.recent(level);
    const material = parent.slice(0, parent.indexOf('-'));
    const first = this.sublots.get(parent) ?? 0;
    const count = 2 + this.pick(3);
    this.sublots.set(parent, first + count);
    for (let j = first + 1; j <= first + count; j++)
      this.add(b, level, material, 'split', parent, [parent], 'split', `${parent}.${j}`);
  }

  private merge(b: Batch): void {
    const level = this.pick(this.levels);
    if (this.recentLots[level]!.length < 2) return this.produce(b);
    const inputs = new Set<string>();
    for (let k = 2 + this.pick(2); k > 0; k--) inputs.add(this.recent(level));
    const first = [...inputs][0]!;
    this.add(b, level, first.slice(0, first.indexOf('-')), 'merged', null, [...inputs], 'merge');
  }

  private material(level: number): string {
    if (level === 0) return `${RAW}${this.made % 40}`;
    if (level === this.levels - 1) return `FG${this.made % 10}`;
    return `IM${level}`;
  }

  private add(
    b: Batch,
    level: number,
    material: string,
    origin: LotOrigin,
    parent: string | null,
    inputs: readonly string[],
    kind: LinkKind,
    id = `${material}-${String(this.made).padStart(7, '0')}`,
  ): void {
    const at = T0 + this.made * STEP_MS;
    const produced = origin !== 'received';
    const equipment = `acme/plant1/area${level % 4}/line${level}/unit1`;
    const order = produced ? `ORD-${level}-${Math.floor(this.made / 16)}` : null;
    const quantity = (100 + this.pick(900)).toFixed(3);
    const data: LotData = {
      material,
      quantity,
      initialQuantity: quantity,
      uom: 'KGM',
      status: 'available',
      holds: [],
      location: equipment,
      order,
      operation: produced ? '0010' : null,
      parent,
      origin,
      properties: produced ? { line: `line${level}` } : { supplier: `S${this.made % 17}` },
      source: ACTOR,
      at,
    };
    b.writes.push({ entityType: LOT_ENTITY, entityId: id, expectedVersion: 0, data: { ...data } });
    b.audit.push({
      at,
      actor: ACTOR,
      action: 'create',
      entityType: LOT_ENTITY,
      entityId: id,
      changes: diffFields(null, { ...data }),
      reason: null,
    });
    for (const from of inputs) if (from.startsWith(RAW)) this.usedRaw.add(from);
    for (const from of inputs)
      b.links.push({
        from,
        to: id,
        quantity: (1 + this.pick(50_000) / 1000).toFixed(3),
        uom: 'KGM',
        kind,
        order,
        operation: data.operation,
        equipment,
        at,
        actor: ACTOR,
      });
    const recent = this.recentLots[level]!;
    if (recent.push(id) > this.window) this.sublots.delete(recent.shift()!);
    if (level === 0) this.raw.push(id);
    if (level === this.levels - 1) this.finished.push(id);
    this.made++;
    this.linked += inputs.length;
  }
}
