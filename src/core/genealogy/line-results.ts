/**
 * Inspection results from line tags (config `quality.lineResults`, docs/quality.md): each
 * committed reading of a listed tag is a result of one characteristic for the lot the unit is
 * making now, the output lot of the order running on it (made if it has none yet). A reading
 * with no order running on its unit, or one the plan refuses, is not a result: it is counted
 * and logged (the reading itself is stored like every sample and can be read back).
 */
import type { Logger } from 'pino';
import { ALL_PERMISSIONS, type Principal } from '../../compliance/roles.ts';
import type { LineResultConfig } from '../../config/quality.ts';
import { isMwError } from '../../errors.ts';
import type { Hierarchy, OrderStatus, TagValue } from '../../model/index.ts';
import type { SampleRecord } from '../../store/types.ts';
import type { Quality } from './index.ts';

/** How long the list of running orders is reused (readings arrive in bursts). */
const ORDERS_TTL_MS = 2000;
/** …and after a miss (no order on the unit), at most this long. */
const MISS_TTL_MS = 100;

interface RunningOrder {
  readonly id: string;
  /** The units and lines its running operations count on. */
  readonly where: readonly string[];
}

export class LineResults {
  /** Readings that made no result (no order running, or refused by the plan). */
  unattributed = 0;
  recorded = 0;
  private readonly byTag = new Map<string, LineResultConfig[]>();
  private orders: { at: number; list: Promise<RunningOrder[]> } | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly quality: Quality,
    private readonly hierarchy: Hierarchy,
    entries: readonly LineResultConfig[],
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    for (const e of entries) {
      const k = `${e.connection}\u0000${e.tag}`;
      this.byTag.set(k, [...(this.byTag.get(k) ?? []), e]);
    }
  }

  get enabled(): boolean {
    return this.byTag.size > 0;
  }

  /** Forget the running orders read (an order started or ended: OrderService.onChange). */
  ordersChanged(): void {
    this.orders = null;
  }

  /** The samples of a committed batch; results are recorded one after another, in order. */
  committed(samples: readonly SampleRecord[]): void {
    for (const s of samples) {
      const entries = this.byTag.get(`${s.connectionId}\u0000${s.tag}`);
      if (entries === undefined || s.quality !== 'good') continue;
      for (const e of entries) this.chain = this.chain.then(() => this.record(e, s));
    }
  }

  /** Resolves when every reading handed over so far is recorded (tests, shutdown). */
  settled(): Promise<void> {
    return this.chain;
  }

  private async record(e: LineResultConfig, s: SampleRecord): Promise<void> {
    const unit = e.unit ?? s.equipmentId;
    const by: Principal = {
      kind: 'local',
      actor: `connection:${s.connectionId}`,
      username: `connection:${s.connectionId}`,
      permissions: new Set(ALL_PERMISSIONS),
    };
    try {
      const order = unit === null ? undefined : await this.orderAt(unit);
      if (order === undefined) {
        this.skip(e, s, `no order is running on ${unit ?? 'an unbound tag'}`);
        return;
      }
      const lot = await this.quality.lots.ensureOrderLot(by, order.id);
      await this.quality.inspections.record(by, [
        {
          path: `quality.lineResults ${e.connection} ${e.tag}: `,
          input: {
            lot,
            plan: e.plan,
            results: [{ characteristic: e.characteristic, value: valueOf(s.value), uom: e.uom }],
            reason: `line result of ${s.connectionId} ${s.tag} at ${new Date(s.sourceTs).toISOString()}`,
          },
        },
      ]);
      this.recorded++;
    } catch (err) {
      if (!isMwError(err)) throw err;
      this.skip(e, s, err.message);
    }
  }

  private skip(e: LineResultConfig, s: SampleRecord, why: string): void {
    this.unattributed++;
    this.logger.warn(
      { connection: s.connectionId, tag: s.tag, plan: e.plan, characteristic: e.characteristic },
      `line result not recorded: ${why}`,
    );
  }

  /** The running order with a running operation on the unit or its line. */
  private async orderAt(unit: string): Promise<RunningOrder | undefined> {
    const line = this.hierarchy.get(unit)?.parentId ?? null;
    const find = (list: RunningOrder[]) =>
      list.find((o) => o.where.includes(unit) || (line !== null && o.where.includes(line)));
    // A miss reads again unless the list is fresh: an order another hub sharing the store
    // started a moment ago counts (this hub's own changes clear the list, ordersChanged).
    return find(await this.running(ORDERS_TTL_MS)) ?? find(await this.running(MISS_TTL_MS));
  }

  private running(ttl: number): Promise<RunningOrder[]> {
    const at = this.now();
    if (this.orders !== null && at - this.orders.at < ttl) return this.orders.list;
    const list = (async () => {
      const out: RunningOrder[] = [];
      let afterId: string | undefined;
      for (;;) {
        const page = await this.quality.lots.store.listRecords({
          entityType: 'order',
          afterId,
          limit: 500,
        });
        for (const r of page) {
          const d = r.data as {
            status: OrderStatus;
            content: { operations: { id: string; equipment: string }[] };
            operations: { id: string; status: string; countingUnit: string }[];
          };
          if (d.status !== 'running') continue;
          const where = d.operations.flatMap((op, i) =>
            op.status === 'running'
              ? [op.countingUnit, d.content.operations[i]?.equipment ?? '']
              : [],
          );
          out.push({ id: r.entityId, where });
        }
        if (page.length < 500) return out;
        afterId = page.at(-1)!.entityId;
      }
    })();
    this.orders = { at, list };
    return list;
  }
}

function valueOf(v: TagValue): string | number | boolean {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string'
    ? v
    : JSON.stringify(v);
}
