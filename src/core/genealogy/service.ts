/**
 * Material lots and their genealogy (issue #12, docs/quality.md): goods receipts, production
 * from input lots, consumption, split, merge and shipment; every lot a record with its audit
 * row, every movement a link in the same transaction (Store.writeRecords), refused as a whole
 * when anything is wrong (an unknown lot, more than a lot holds, a lot on hold, a cycle).
 *
 * Changes are made one after another in this process (a read-modify-write of the lots they
 * touch); another hub sharing a PostgreSQL store that changed one of them meanwhile makes the
 * write fail with MW_ERR_STORE_CONFLICT, and the change is tried again on what is stored now.
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { authorize, type Principal } from '../../compliance/roles.ts';
import type { GenealogyConfig } from '../../config/quality.ts';
import { isMwError, MwError } from '../../errors.ts';
import type { Hierarchy, LotData, QualityMessage, QualityMessageType } from '../../model/index.ts';
import type { Store, StoredRecord } from '../../store/types.ts';
import type { MaterialCatalog } from '../materials.ts';
import type { AuditOf } from '../../compliance/audit.ts';
import { Draft } from './draft.ts';
import { orderLotId } from './receipts.ts';
import {
  createLot,
  lotInvalid,
  moveLot,
  positiveQuantity,
  readLot,
  takeOut,
  type InputLot,
  type Movement,
  type NewLot,
} from './lots.ts';

export type { InputLot, Movement, NewLot } from './lots.ts';
import {
  HOLD_ENTITY,
  LOT_ENTITY,
  materialRef,
  type HoldData,
  type HoldView,
  type LotView,
} from './types.ts';

const MAX_TRIES = 5;

export interface GenealogyOptions {
  readonly store: Store;
  readonly materials: MaterialCatalog;
  readonly hierarchy: Hierarchy;
  readonly config: GenealogyConfig;
  /** The site `{site}` of lot numbers stands for. */
  readonly site: string;
  /** The targets that want each quality message type. */
  readonly targets: readonly { readonly id: string; readonly messages: readonly string[] }[];
  readonly audit: AuditOf;
  readonly onEnqueued?: (targets: readonly string[]) => void;
  readonly now?: () => number;
}

export class GenealogyService {
  readonly store: Store;
  readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly options: GenealogyOptions) {
    this.store = options.store;
    this.now = options.now ?? Date.now;
  }

  /**
   * Draft a change and write it, one change at a time in this process, tried again (from a
   * fresh read) when another hub changed a record it read.
   */
  change<T>(
    by: { readonly actor: string },
    reason: string | null | undefined,
    plan: (draft: Draft) => Promise<(written: Map<string, StoredRecord>) => T | Promise<T>>,
  ): Promise<T> {
    const run = async (): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        const draft = new Draft(this.store, this.options.audit, by, reason ?? null, this.now());
        const done = await plan(draft);
        let written: Map<string, StoredRecord>;
        try {
          written = await draft.commit();
        } catch (err) {
          if (!isMwError(err) || err.code !== 'MW_ERR_STORE_CONFLICT' || attempt >= MAX_TRIES)
            throw err;
          continue;
        }
        const targets = [...new Set(draft.outbox.map((o) => o.target))];
        if (targets.length > 0) this.options.onEnqueued?.(targets);
        return done(written);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Goods receipts: lots of raw material (or bought parts), no genealogy links; all or none. */
  receive(by: Principal, lots: readonly NewLot[], reason?: string | null): Promise<LotView[]> {
    authorize(by, 'orders.import');
    if (lots.length === 0) throw lotInvalid('lots', 'give at least one lot');
    return this.change(by, reason ?? 'goods receipt', async (draft) => {
      const ids: string[] = [];
      for (const [i, lot] of lots.entries())
        ids.push(
          await createLot(
            draft,
            this.options,
            lot,
            'received',
            null,
            lots.length === 1 ? 'body' : `rows[${i}]`,
          ),
        );
      return (w) => ids.map((id) => this.viewOf(w, id));
    });
  }

  /** Production: a new lot made from input lots (each input → the new lot, `consume`). */
  produce(
    by: Principal,
    lot: NewLot & Movement & { readonly inputs: readonly InputLot[] },
  ): Promise<LotView> {
    authorize(by, 'orders.manage');
    return this.change(by, lot.reason, async (draft) => {
      if (lot.order != null && (await draft.get('order', lot.order)) === undefined)
        throw lotInvalid('order', `no order ${lot.order} (GET /api/v1/orders)`);
      const id = await createLot(draft, this.options, lot, 'produced', null, 'lot');
      const seen = new Set<string>();
      for (const [i, input] of lot.inputs.entries()) {
        if (seen.has(input.lot))
          throw lotInvalid(`inputs[${i}].lot`, `lot ${input.lot} is listed twice`);
        seen.add(input.lot);
        await moveLot(draft, this.options.materials, input, id, 'consume', lot, `inputs[${i}]`);
      }
      return (w) => this.viewOf(w, id);
    });
  }

  /**
   * Consumption of part of a lot into another: a lot named by `into`, or the output lot of the
   * order named (its `lot`, or the order number), made now if the order has none yet; its
   * completion gives it the quantity produced (orders/service.ts).
   */
  consume(
    by: Principal,
    from: string,
    body: Movement & {
      readonly into?: string | undefined;
      readonly quantity: string | number;
      readonly uom?: string | undefined;
    },
  ): Promise<{ from: LotView; into: LotView }> {
    authorize(by, 'orders.manage');
    return this.change(by, body.reason, async (draft) => {
      const intoId = body.into ?? (await this.orderLot(draft, body.order));
      const into = await readLot(draft, intoId, ' (into)');
      if (into.status !== 'available' && into.status !== 'on-hold')
        throw new MwError('MW_ERR_LOT_STATUS', {
          id: intoId,
          status: into.status,
          action: 'consumed into',
        });
      await moveLot(
        draft,
        this.options.materials,
        { lot: from, quantity: body.quantity, uom: body.uom },
        intoId,
        'consume',
        body,
        '',
      );
      // Production states its own quantity: what goes into a lot does not change its record.
      return async (w) => ({ from: this.viewOf(w, from), into: await this.get(by, intoId) });
    });
  }

  /** The output lot of an order, made now if it has none yet; resolves with its id. */
  ensureOrderLot(by: Principal, order: string): Promise<string> {
    authorize(by, 'orders.manage');
    return this.change(by, `output lot of order ${order}`, async (draft) => {
      const id = await this.orderLot(draft, order);
      return () => id;
    });
  }

  /** The output lot of an order, made (empty, origin `produced`) if it has none yet. */
  private async orderLot(draft: Draft, order: string | null | undefined): Promise<string> {
    if (order == null) throw lotInvalid('into', 'name the lot consumed into, or the order');
    const rec = await draft.get<{
      content: { lot: string | null; externalId: string; material: string; uom: string };
    }>('order', order);
    if (rec === undefined) throw lotInvalid('order', `no order ${order} (GET /api/v1/orders)`);
    const id = orderLotId(rec.content);
    if ((await draft.get(LOT_ENTITY, id)) === undefined)
      await createLot(
        draft,
        this.options,
        { id, material: rec.content.material, quantity: '0', uom: rec.content.uom, order },
        'produced',
        null,
        'order',
        true,
      );
    return id;
  }

  /** Split a lot into sublots (parts), each a lot whose parent is this one. */
  split(
    by: Principal,
    id: string,
    parts: readonly { readonly id?: string | undefined; readonly quantity: string | number }[],
    reason?: string | null,
  ): Promise<{ lot: LotView; parts: LotView[] }> {
    authorize(by, 'orders.manage');
    if (parts.length === 0) throw lotInvalid('parts', 'give at least one part');
    return this.change(by, reason, async (draft) => {
      const source = await readLot(draft, id);
      const made: string[] = [];
      for (const [i, part] of parts.entries()) {
        const qty = positiveQuantity(part.quantity, `parts[${i}].quantity`);
        const partId = await createLot(
          draft,
          this.options,
          {
            id: part.id,
            material: source.material,
            quantity: '0',
            uom: source.uom,
            location: source.location,
            order: source.order,
            operation: source.operation,
            properties: source.properties,
          },
          'split',
          id,
          `parts[${i}]`,
        );
        await moveLot(
          draft,
          this.options.materials,
          { lot: id, quantity: qty.toFixed() },
          partId,
          'split',
          {},
          `parts[${i}]`,
        );
        made.push(partId);
      }
      return (w) => ({ lot: this.viewOf(w, id), parts: made.map((p) => this.viewOf(w, p)) });
    });
  }

  /** Merge whole lots of one material into a new lot. */
  merge(
    by: Principal,
    body: {
      readonly id?: string | undefined;
      readonly lots: readonly string[];
      readonly reason?: string | null | undefined;
    },
  ): Promise<LotView> {
    authorize(by, 'orders.manage');
    if (body.lots.length < 2) throw lotInvalid('lots', 'merge at least two lots');
    if (new Set(body.lots).size !== body.lots.length)
      throw lotInvalid('lots', 'a lot is listed twice');
    return this.change(by, body.reason, async (draft) => {
      const lots = await Promise.all(body.lots.map((l) => readLot(draft, l)));
      const first = lots[0]!;
      lots.forEach((l, i) => {
        if (l.material !== first.material)
          throw lotInvalid(
            `lots[${i}]`,
            `lot ${body.lots[i]} is of material ${l.material}, not ${first.material}`,
          );
      });
      const id = await createLot(
        draft,
        this.options,
        {
          id: body.id,
          material: first.material,
          quantity: '0',
          uom: first.uom,
          location: first.location,
        },
        'merged',
        null,
        'lot',
      );
      for (const [i, l] of body.lots.entries())
        await moveLot(
          draft,
          this.options.materials,
          { lot: l, quantity: lots[i]!.quantity },
          id,
          'merge',
          {},
          `lots[${i}]`,
        );
      return (w) => this.viewOf(w, id);
    });
  }

  /** Shipment: the lot leaves the plant (refused on hold). */
  ship(by: Principal, id: string, reason?: string | null): Promise<LotView> {
    authorize(by, 'orders.manage');
    return this.change(by, reason ?? 'shipped', async (draft) => {
      const { lot } = await takeOut(
        draft,
        this.options.materials,
        id,
        new Decimal(0),
        undefined,
        'shipped',
      );
      await draft.put(LOT_ENTITY, id, { ...lot, status: 'shipped' }, 'ship');
      return (w) => this.viewOf(w, id);
    });
  }

  async get(by: Principal, id: string): Promise<LotView> {
    authorize(by, 'orders.read');
    const rec = await this.store.getRecord(LOT_ENTITY, id);
    if (rec === undefined) throw new MwError('MW_ERR_LOT_NOT_FOUND', { id, context: '' });
    return this.view(rec, await this.holdsOf(id));
  }

  async list(
    by: Principal,
    q: {
      material?: string | undefined;
      status?: string | undefined;
      after?: string | undefined;
      limit: number;
    },
  ): Promise<{ lots: LotView[]; next: string | null }> {
    authorize(by, 'orders.read');
    const out: LotView[] = [];
    let afterId = q.after;
    // Filters read on in pages until one lot more than a page is found (then there is a
    // next page) or the lots end.
    for (;;) {
      const ref = q.material === undefined ? undefined : materialRef(q.material);
      const page = await this.store.listRecords({
        entityType: LOT_ENTITY,
        ref,
        afterId,
        limit: 500,
      });
      for (const rec of page) {
        const d = rec.data as unknown as LotData;
        if (q.material !== undefined && d.material !== q.material) continue;
        if (q.status !== undefined && d.status !== q.status) continue;
        if (out.length === q.limit) return { lots: out, next: out.at(-1)!.id };
        out.push(this.view(rec, []));
      }
      if (page.length < 500) return { lots: out, next: null };
      afterId = page.at(-1)!.entityId;
    }
  }

  /** The holds of a lot: active first, then released, newest first. */
  async holdsOf(lot: string): Promise<HoldView[]> {
    const recs = await this.store.listRecords({
      entityType: HOLD_ENTITY,
      ref: lotRef(lot),
      limit: 1000,
    });
    return recs
      .map((r) => ({ ...(r.data as unknown as HoldData), id: r.entityId }))
      .sort((a, b) =>
        a.status === b.status ? b.placedAt - a.placedAt : a.status === 'active' ? -1 : 1,
      );
  }

  view(rec: StoredRecord, holds: readonly HoldView[]): LotView {
    const d = rec.data as unknown as LotData;
    return {
      ...d,
      id: rec.entityId,
      materialName: this.options.materials.get(d.material)?.name ?? d.material,
      holds,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
      version: rec.version,
    };
  }

  /** Quality messages about a lot for the targets that want them, in the draft's outbox. */
  async message<T extends QualityMessageType>(
    draft: Draft,
    lotId: string,
    type: T,
    data: Extract<QualityMessage, { type: T }>['data'],
  ): Promise<void> {
    const targets = this.options.targets.filter((t) => t.messages.includes(type));
    if (targets.length === 0) return;
    const lot = await readLot(draft, lotId);
    const seq = (lot.messageSeq ?? 0) + 1;
    await draft.put(LOT_ENTITY, lotId, { ...lot, messageSeq: seq }, 'message');
    const message = {
      id: randomUUID(),
      type,
      orderId: `lot:${lotId}`,
      seq,
      at: draft.at,
      data,
    } as QualityMessage;
    for (const t of targets)
      draft.outbox.push({
        target: t.id,
        messageId: message.id,
        orderingKey: message.orderId,
        type,
        payload: message as unknown as Record<string, unknown>,
        createdAt: draft.at,
      });
  }

  private viewOf(written: Map<string, StoredRecord>, id: string): LotView {
    const rec = written.get(`${LOT_ENTITY} ${id}`);
    if (rec === undefined) throw new Error(`lot ${id} was not written`);
    return this.view(rec, []);
  }
}

export const lotRef = (lot: string): string => `${LOT_ENTITY}/${lot}`;
