/**
 * Work-order execution (issue #10): orders imported from the ERP, their lifecycle on the shop
 * floor, and the messages their transaction points send back up.
 *
 * An order is a record (entity type `order`, id = the ERP's order number) written with its
 * audit row through Store.writeRecords; the ErpMessages a change causes are outbox rows in
 * that same transaction (DESIGN.md: a fact, its audit row and its outbound message exist
 * together or not at all). Imports are idempotent on the order number: an unchanged resend is
 * a no-op, a changed one updates an order only while it is still released.
 *
 * Changes are planned one after another in this process (a read-modify-write per order), and
 * those that arrive together share one commit (see enqueue); another hub sharing a PostgreSQL
 * store that changes the same order meets MW_ERR_STORE_CONFLICT.
 */
import { canonicalJson, type AuditOf } from '../../compliance/audit.ts';
import { diffFields } from '../../compliance/identity-records.ts';
import { authorize, type Principal } from '../../compliance/roles.ts';
import type {
  ErpMessage,
  ErpMessageType,
  ImportResult,
  InboundDocument,
} from '../../model/index.ts';
import { MwError } from '../../errors.ts';
import {
  nextOrderStatus,
  ORDER_TRANSITIONS,
  type Hierarchy,
  type OperationProgress,
  type OrderAction,
  type OrderContent,
  type OrderStatus,
} from '../../model/index.ts';
import type {
  AuditEntry,
  OutboxInsert,
  RecordWrite,
  Store,
  StoredRecord,
} from '../../store/types.ts';
import {
  invalid,
  mapLot,
  mapMaterial,
  mapOrder,
  type CodeMapper,
  type MaterialDefinitionContent,
  type MaterialLotContent,
} from './import.ts';
import { orderOutputLot, receivedLots, type ReceiptWrites } from '../genealogy/receipts.ts';
import { LOT_ENTITY } from '../genealogy/types.ts';
import { GroupCommit, type Plan } from './group-commit.ts';
import { OrderLifecycle } from './lifecycle.ts';
import type { ActOptions, OrderData, OrderView } from './types.ts';
import { OrderViews } from './view.ts';

export type { ActOptions, OperationView, OrderData, OrderView } from './types.ts';

export const ORDER_ENTITY = 'order';
export const MATERIAL_ENTITY = 'material-definition';

export interface OrderTarget {
  readonly id: string;
  readonly messages: readonly ErpMessageType[];
}

export interface OrderServiceOptions {
  readonly hierarchy: Hierarchy;
  readonly mappings: CodeMapper;
  /** A line's output unit (its good count is the line's output). */
  readonly outputUnitOf: (lineId: string) => string | null;
  readonly targets: readonly OrderTarget[];
  /** Called after a commit that wrote outbox rows, with their targets. */
  readonly onEnqueued?: (targets: readonly string[]) => void;
  /** Waits until what the pipeline has accepted is committed (before figures are taken). */
  readonly settle?: () => Promise<void>;
  readonly audit: AuditOf;
  readonly now?: () => number;
}

export interface ImportSource {
  readonly id: string;
  readonly system: string | null;
  readonly actor: string;
}

const key = (entityType: string, id: string): string => `${entityType} ${id}`;

export class OrderService {
  private readonly commits: GroupCommit;
  private readonly now: () => number;
  private readonly lifecycle: OrderLifecycle;
  private readonly views: OrderViews;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly options: OrderServiceOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.lifecycle = new OrderLifecycle(store, this.now);
    this.views = new OrderViews(this.lifecycle, this.now);
    this.commits = new GroupCommit(store);
  }

  /** Call `listener` after every committed change of orders (statuses, imports). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private countingUnitOf(equipment: string): string {
    const e = this.options.hierarchy.get(equipment);
    if (e?.level === 'workCenter') return this.options.outputUnitOf(equipment) ?? equipment;
    return equipment;
  }

  /**
   * Import what an ERP sent, all or nothing, idempotent on each order number (committed with
   * the changes that arrive with it: see enqueue).
   */
  importDocument(doc: InboundDocument, source: ImportSource): Promise<ImportResult> {
    const ctx = {
      hierarchy: this.options.hierarchy,
      mappings: this.options.mappings,
      system: source.system,
    };
    // Mapped and checked before anything is read or written: a refusal leaves no trace.
    const orders = doc.orders.map((o, i) => mapOrder(o, ctx, `orders[${i}]`));
    const ids = new Set<string>();
    orders.forEach((o, i) => {
      if (ids.has(o.externalId))
        throw invalid(
          `orders[${i}].externalId`,
          `order ${o.externalId} appears twice in the document`,
        );
      ids.add(o.externalId);
    });
    const materials = doc.materials.map((m, i) => mapMaterial(m, ctx, `materials[${i}]`));
    const lots = doc.lots.map((l, i) => mapLot(l, ctx, `lots[${i}]`));
    const keys = [
      ...orders.map((o) => key(ORDER_ENTITY, o.externalId)),
      ...materials.map((m) => key(MATERIAL_ENTITY, m.id)),
      ...lots.flatMap((l) =>
        [l.id, ...l.sublots.map((sub) => sub.id)].map((id) => key(LOT_ENTITY, id)),
      ),
    ];
    return this.commits.enqueue(keys, () => this.planImport(doc, source, orders, materials, lots));
  }

  /** What importing one document writes (reads the records it changes). */
  private async planImport(
    doc: InboundDocument,
    source: ImportSource,
    orders: readonly OrderContent[],
    materials: readonly MaterialDefinitionContent[],
    lots: readonly MaterialLotContent[],
  ): Promise<Plan<ImportResult>> {
    const at = this.now();
    const writes: RecordWrite[] = [];
    const audit: AuditEntry[] = [];
    const reason = `imported from ${source.id} (${doc.format}${doc.root === null ? '' : ` ${doc.root}`})`;
    const outcomes: ImportResult['orders'][number][] = [];
    for (const content of orders) {
      const rec = await this.store.getRecord(ORDER_ENTITY, content.externalId);
      const before = rec?.data as unknown as OrderData | undefined;
      if (before !== undefined && canonicalJson(before.content) === canonicalJson(content)) {
        outcomes.push({ id: content.externalId, outcome: 'unchanged' });
        continue;
      }
      if (before !== undefined && before.status !== 'released') {
        throw new MwError('MW_ERR_ORDER_LOCKED', {
          id: content.externalId,
          status: before.status,
          fields: Object.keys(diffFields(flat(before.content), flat(content))).join(', '),
        });
      }
      const data: OrderData = {
        content,
        status: 'released',
        operations: content.operations.map((op) => ({
          id: op.id,
          status: 'waiting',
          countingUnit: this.countingUnitOf(op.equipment),
          periods: [],
          confirmedGood: '0',
          confirmedScrap: '0',
          startedAt: null,
          completedAt: null,
        })),
        source: { id: source.id, system: source.system, format: doc.format },
        startedAt: null,
        completedAt: null,
        statusChangedAt: at,
      };
      writes.push(orderWrite(content.externalId, rec, data));
      audit.push(
        this.options.audit(
          { actor: source.actor },
          before === undefined ? 'create' : 'update',
          ORDER_ENTITY,
          content.externalId,
          diffFields(before === undefined ? null : flat(before.content), flat(content)),
          reason,
        ),
      );
      outcomes.push({
        id: content.externalId,
        outcome: before === undefined ? 'created' : 'updated',
      });
    }
    for (const entry of materials) {
      const rec = await this.store.getRecord(MATERIAL_ENTITY, entry.id);
      const next = { ...entry } as Record<string, unknown>;
      if (rec !== undefined && canonicalJson(rec.data) === canonicalJson(next)) continue;
      writes.push({
        entityType: MATERIAL_ENTITY,
        entityId: entry.id,
        expectedVersion: rec?.version ?? 0,
        data: next,
      });
      audit.push(
        this.options.audit(
          { actor: source.actor },
          rec === undefined ? 'create' : 'update',
          MATERIAL_ENTITY,
          entry.id,
          diffFields(rec?.data ?? null, next),
          reason,
        ),
      );
    }
    const receipts = await receivedLots(this.store, lots, source.actor, at, (type, id, changes) =>
      this.options.audit({ actor: source.actor }, 'receive', type, id, changes, reason),
    );
    writes.push(...receipts.writes);
    audit.push(...receipts.audit);
    const result = { orders: outcomes, materials: materials.length, lots: lots.length };
    return {
      writes,
      audit,
      outbox: [],
      links: receipts.links,
      done: () => {
        this.changed();
        return result;
      },
    };
  }

  async get(id: string): Promise<OrderView> {
    const rec = await this.store.getRecord(ORDER_ENTITY, id);
    if (rec === undefined) throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'order', id });
    return this.views.view(rec);
  }

  /** Orders in id order, optionally of one status; `cursor` is the last id of the page before. */
  async list(query: {
    status?: OrderStatus | undefined;
    limit: number;
    cursor?: string | undefined;
  }): Promise<{ items: OrderView[]; nextCursor: string | null }> {
    const items: OrderView[] = [];
    let afterId = query.cursor;
    for (;;) {
      const page = await this.store.listRecords({ entityType: ORDER_ENTITY, afterId, limit: 200 });
      for (const rec of page) {
        afterId = rec.entityId;
        if (
          query.status !== undefined &&
          (rec.data as unknown as OrderData).status !== query.status
        )
          continue;
        items.push(await this.views.view(rec));
        if (items.length === query.limit) return { items, nextCursor: afterId };
      }
      if (page.length < 200) return { items, nextCursor: null };
    }
  }

  /** An action of the lifecycle, with the messages it causes, in one transaction. */
  act(by: Principal, id: string, action: OrderAction, opts: ActOptions = {}): Promise<OrderView> {
    authorize(by, 'orders.manage');
    return this.commits.enqueue([key(ORDER_ENTITY, id)], async (): Promise<Plan<OrderView>> => {
      await this.options.settle?.();
      const rec = await this.store.getRecord(ORDER_ENTITY, id);
      if (rec === undefined) throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'order', id });
      const before = rec.data as unknown as OrderData;
      const to = nextOrderStatus(before.status, action);
      if (to === null) throw transitionError(id, before.status, action);
      const step = await this.lifecycle.apply(before, action, to, opts);
      const audit = this.options.audit(
        by,
        `order.${action}`,
        ORDER_ENTITY,
        id,
        {
          ...diffFields({ status: before.status }, { status: step.data.status }),
          ...operationChanges(before.operations, step.data.operations),
        },
        opts.reason ?? null,
      );
      const outbox = this.outboxRows(step.messages);
      const lot = await this.outputLot(by, id, step.messages, opts.reason ?? null);
      return {
        writes: [orderWrite(id, rec, step.data), ...lot.writes],
        audit: [audit, ...lot.audit],
        outbox,
        done: (stored) => {
          this.views.forget(id);
          this.changed();
          if (outbox.length > 0)
            this.options.onEnqueued?.([...new Set(outbox.map((r) => r.target))]);
          return this.views.view(stored[0]!);
        },
      };
    });
  }

  /** The output lot an order's completion received its goods into (genealogy, issue #12). */
  private async outputLot(
    by: Principal,
    id: string,
    messages: readonly ErpMessage[],
    reason: string | null,
  ): Promise<ReceiptWrites> {
    const receipt = messages.find((m) => m.type === 'goods.receipt');
    if (receipt === undefined) return { writes: [], audit: [], links: [] };
    return orderOutputLot(
      this.store,
      { order: id, ...receipt.data },
      by.actor,
      this.now(),
      (type, entityId, changes) =>
        this.options.audit(by, 'produce', type, entityId, changes, reason),
    );
  }

  private outboxRows(messages: readonly ErpMessage[]): OutboxInsert[] {
    return messages.flatMap((m) =>
      this.options.targets
        .filter((t) => t.messages.includes(m.type))
        .map((t) => ({
          target: t.id,
          messageId: m.id,
          orderingKey: m.orderId,
          type: m.type,
          payload: m as unknown as Record<string, unknown>,
          createdAt: m.at,
        })),
    );
  }
}

function transitionError(id: string, status: OrderStatus, action: OrderAction): MwError {
  return new MwError('MW_ERR_ORDER_TRANSITION', {
    id,
    status,
    action,
    from: ORDER_TRANSITIONS[action].from.join(' or '),
  });
}

function orderWrite(id: string, rec: StoredRecord | undefined, data: OrderData): RecordWrite {
  return {
    entityType: ORDER_ENTITY,
    entityId: id,
    expectedVersion: rec?.version ?? 0,
    data: data as unknown as Record<string, unknown>,
  };
}

/** An order's content as flat fields for the audit trail (operations as one field). */
function flat(c: OrderContent): Record<string, unknown> {
  return { ...c, operations: c.operations.map((o) => `${o.id}@${o.equipment}`).join(', ') };
}

function operationChanges(
  before: readonly OperationProgress[],
  after: readonly OperationProgress[],
): Record<string, { old: unknown; new: unknown }> {
  const out: Record<string, { old: unknown; new: unknown }> = {};
  after.forEach((op, i) => {
    const was = before[i]!;
    if (was.status !== op.status)
      out[`operations.${op.id}.status`] = { old: was.status, new: op.status };
    if (was.confirmedGood !== op.confirmedGood)
      out[`operations.${op.id}.confirmedGood`] = { old: was.confirmedGood, new: op.confirmedGood };
    if (was.confirmedScrap !== op.confirmedScrap)
      out[`operations.${op.id}.confirmedScrap`] = {
        old: was.confirmedScrap,
        new: op.confirmedScrap,
      };
  });
  return out;
}
