/**
 * Quality holds (issue #12): a lot on hold does not move (consumption, split, merge and
 * shipment are refused naming the hold) until a user with `quality.release` releases it with
 * a reason and an electronic signature of meaning "released" bound to the lot's content hash
 * (21 CFR 11.50, 11.70), written in the transaction of the release. A hold can be propagated
 * forward: every lot made from this one, at any depth, is held too.
 */
import { randomBytes } from 'node:crypto';
import { authorize, type Principal } from '../../compliance/roles.ts';
import type { SignatureService } from '../../compliance/signatures.ts';
import { MwError } from '../../errors.ts';
import type { LotData } from '../../model/index.ts';
import type { Draft } from './draft.ts';
import { readLot } from './lots.ts';
import { lotRef, type GenealogyService } from './service.ts';
import { HOLD_ENTITY, LOT_ENTITY, type HoldData, type HoldOrigin, type HoldView } from './types.ts';

/** Levels a propagated hold follows (the genealogy is deeper only in a pathological plant). */
const PROPAGATE_DEPTH = 1000;

export class HoldService {
  constructor(
    private readonly lots: GenealogyService,
    private readonly signatures: SignatureService,
  ) {}

  /** Put a lot (and, with `propagate`, everything made from it) on hold. */
  async place(
    by: Principal,
    lotId: string,
    body: { readonly reason: string; readonly propagate?: boolean | undefined },
  ): Promise<{ holds: HoldView[] }> {
    authorize(by, 'quality.inspect');
    // Read before the change: the lots made from it are held in the same transaction.
    const reached = body.propagate === true ? await this.madeFrom(lotId) : [];
    return this.lots.change(by, body.reason, async (draft) => {
      const root = await this.hold(draft, lotId, body.reason, 'manual', null, null);
      const ids = [root];
      for (const lot of reached)
        ids.push(await this.hold(draft, lot, body.reason, 'propagated', lotId, root.id));
      return () => ({ holds: ids });
    });
  }

  /** A hold placed by a failed inspection, in the inspection's draft. */
  placeInDraft(draft: Draft, lotId: string, reason: string): Promise<HoldView> {
    return this.hold(draft, lotId, reason, 'inspection', null, null);
  }

  /** Release one active hold of a lot: re-authenticated, signed, audited. */
  async release(
    by: Principal,
    lotId: string,
    holdId: string,
    body: { readonly reason: string; readonly username: string; readonly password: string },
    address: string,
  ): Promise<{ hold: HoldView; lot: string; signature: string }> {
    authorize(by, 'quality.release');
    return this.lots.change(by, body.reason, async (draft) => {
      const hold = await draft.get<HoldData>(HOLD_ENTITY, holdId);
      const lot = await readLot(draft, lotId);
      if (hold === undefined || hold.lot !== lotId || hold.status !== 'active')
        throw new MwError('MW_ERR_HOLD_NOT_FOUND', { id: lotId, hold: holdId });
      const stored = await this.lots.store.getRecord(LOT_ENTITY, lotId);
      const signed = await this.signatures.prepare(
        by,
        { ...stored!, data: lot as unknown as Record<string, unknown> },
        {
          meaning: 'released',
          username: body.username,
          password: body.password,
          reason: body.reason,
        },
        address,
      );
      draft.addWrite(signed.write, signed.audit);
      const released: HoldData = {
        ...hold,
        status: 'released',
        releasedBy: by.actor,
        releasedAt: draft.at,
        releaseReason: body.reason,
        signature: signed.id,
      };
      await draft.put(HOLD_ENTITY, holdId, released, 'release');
      const holds = lot.holds.filter((h) => h !== holdId);
      const after: LotData = {
        ...lot,
        holds,
        status: holds.length === 0 && lot.status === 'on-hold' ? 'available' : lot.status,
      };
      await draft.put(LOT_ENTITY, lotId, after, 'release');
      const user = signed.write.data as { fullName: string };
      await this.lots.message(draft, lotId, 'lot.released', {
        ...qualityLot(lotId, after),
        hold: holdId,
        reason: body.reason,
        by: by.actor,
        fullName: user.fullName,
        signature: signed.id,
      });
      return () => ({ hold: { ...released, id: holdId }, lot: lotId, signature: signed.id });
    });
  }

  /** Every lot made from this one, at any depth. */
  private async madeFrom(lotId: string): Promise<string[]> {
    const trace = await this.lots.store.traceLots({
      lots: [lotId],
      direction: 'forward',
      maxDepth: PROPAGATE_DEPTH,
      maxLinks: this.lots.options.config.maxTraceLinks,
    });
    if (trace.truncated)
      throw new MwError('MW_ERR_LOT_INVALID', {
        path: 'propagate',
        rule: `lot ${lotId} reaches more than ${this.lots.options.config.maxTraceLinks} links (genealogy.maxTraceLinks): hold in parts`,
      });
    return [...new Set(trace.links.map((l) => l.to))].filter((l) => l !== lotId);
  }

  private async hold(
    draft: Draft,
    lotId: string,
    reason: string,
    origin: HoldOrigin,
    rootLot: string | null,
    rootHold: string | null,
  ): Promise<HoldView> {
    const lot = await readLot(draft, lotId);
    const id = randomBytes(9).toString('base64url');
    const hold: HoldData = {
      lot: lotId,
      reason,
      origin,
      rootLot,
      rootHold,
      placedBy: draft.by.actor,
      placedAt: draft.at,
      status: 'active',
      releasedBy: null,
      releasedAt: null,
      releaseReason: null,
      signature: null,
    };
    await draft.put(HOLD_ENTITY, id, hold, 'hold', lotRef(lotId));
    const after: LotData = {
      ...lot,
      holds: [...lot.holds, id],
      status: lot.status === 'available' ? 'on-hold' : lot.status,
    };
    await draft.put(LOT_ENTITY, lotId, after, 'hold');
    await this.lots.message(draft, lotId, 'lot.held', {
      ...qualityLot(lotId, after),
      hold: id,
      reason,
      origin,
      rootLot,
      by: draft.by.actor,
    });
    return { ...hold, id };
  }
}

export function qualityLot(id: string, lot: LotData) {
  return {
    lot: id,
    material: lot.material,
    quantity: lot.quantity,
    uom: lot.uom,
    status: lot.status,
  };
}
