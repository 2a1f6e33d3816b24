/**
 * Inspections (issue #12): results against an inspection plan (config `quality.plans`), from
 * people through the API or from a LIMS (CSV through the identity mapping), judged at once:
 * every characteristic within its limits (or `pass`) accepts the lot; one out rejects it, a
 * nonconformance is recorded and — unless the plan says otherwise — the lot is put on hold,
 * all in the transaction of the inspection record.
 */
import { randomBytes } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { authorize, type Principal } from '../../compliance/roles.ts';
import type { InspectionPlanConfig } from '../../config/quality.ts';
import { MwError } from '../../errors.ts';
import {
  attributeResult,
  convert,
  UomError,
  withinLimits,
  type InspectionResultReport,
} from '../../model/index.ts';
import type { Draft } from './draft.ts';
import type { HoldService } from './holds.ts';
import { qualityLot } from './holds.ts';
import { readLot } from './lots.ts';
import { lotRef, type GenealogyService } from './service.ts';
import { INSPECTION_ENTITY, NONCONFORMANCE_ENTITY } from './types.ts';

export interface ResultInput {
  readonly characteristic: string;
  readonly value: string | number | boolean;
  readonly uom?: string | undefined;
}

export interface InspectionInput {
  readonly lot: string;
  readonly plan: string;
  readonly operation?: string | undefined;
  readonly sampleSize?: number | undefined;
  readonly results: readonly ResultInput[];
  readonly reason?: string | undefined;
}

export interface InspectionData {
  readonly lot: string;
  readonly material: string;
  readonly plan: string;
  readonly operation: string | null;
  readonly sampleSize: number;
  readonly results: readonly InspectionResultReport[];
  readonly disposition: 'accepted' | 'rejected';
  readonly by: string;
  readonly at: number;
  readonly nonconformance: string | null;
  readonly hold: string | null;
}

export interface InspectionView extends InspectionData {
  readonly id: string;
}

export interface NonconformanceData {
  readonly lot: string;
  readonly inspection: string;
  readonly plan: string;
  readonly failed: readonly string[];
  readonly status: 'open' | 'closed';
  readonly by: string;
  readonly at: number;
  /** Who closed it, when and why (the disposition decided: rework, scrap, use as is …). */
  readonly closedBy?: string;
  readonly closedAt?: number;
  readonly closeReason?: string;
}

const SIGNED_DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

const invalid = (path: string, rule: string): MwError =>
  new MwError('MW_ERR_INSPECTION_INVALID', { path, rule }, { path });

export class InspectionService {
  private readonly plans: Map<string, InspectionPlanConfig>;

  constructor(
    private readonly lots: GenealogyService,
    private readonly holds: HoldService,
    plans: readonly InspectionPlanConfig[],
  ) {
    this.plans = new Map(plans.map((p) => [p.id, p]));
  }

  /** Record inspections, all or none (a LIMS file is one change); `path` prefixes errors. */
  async record(
    by: Principal,
    inputs: readonly { input: InspectionInput; path: string }[],
  ): Promise<InspectionView[]> {
    authorize(by, 'quality.inspect');
    // Judged before anything is read: a bad result leaves no trace.
    const judged = inputs.map(({ input, path }) => ({ input, path, ...this.judge(input, path) }));
    return this.lots.change(by, inputs[0]?.input.reason ?? null, async (draft) => {
      const views: InspectionView[] = [];
      for (const j of judged) views.push(await this.write(draft, j));
      return () => views;
    });
  }

  async list(by: Principal, lot: string): Promise<InspectionView[]> {
    authorize(by, 'orders.read');
    const recs = await this.lots.store.listRecords({
      entityType: INSPECTION_ENTITY,
      ref: lotRef(lot),
      limit: 1000,
    });
    return recs
      .map((r) => ({ ...(r.data as unknown as InspectionData), id: r.entityId }))
      .sort((a, b) => a.at - b.at);
  }

  /** Close an open nonconformance with the disposition decided (quality.release), audited. */
  close(by: Principal, id: string, reason: string): Promise<NonconformanceData & { id: string }> {
    authorize(by, 'quality.release');
    return this.lots.change(by, reason, async (draft) => {
      const nc = await draft.get<NonconformanceData>(NONCONFORMANCE_ENTITY, id);
      if (nc === undefined)
        throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: 'nonconformance', id });
      if (nc.status !== 'open')
        throw invalid('id', `nonconformance ${id} was closed already (${nc.closeReason ?? ''})`);
      const closed: NonconformanceData = {
        ...nc,
        status: 'closed',
        closedBy: by.actor,
        closedAt: draft.at,
        closeReason: reason,
      };
      await draft.put(NONCONFORMANCE_ENTITY, id, closed, 'close');
      return () => ({ ...closed, id });
    });
  }

  async nonconformances(
    by: Principal,
    status?: 'open' | 'closed',
  ): Promise<(NonconformanceData & { id: string })[]> {
    authorize(by, 'orders.read');
    const out: (NonconformanceData & { id: string })[] = [];
    let afterId: string | undefined;
    for (;;) {
      const page = await this.lots.store.listRecords({
        entityType: NONCONFORMANCE_ENTITY,
        afterId,
        limit: 500,
      });
      for (const r of page) {
        const d = r.data as unknown as NonconformanceData;
        if (status === undefined || d.status === status) out.push({ ...d, id: r.entityId });
      }
      if (page.length < 500) return out.sort((a, b) => b.at - a.at);
      afterId = page.at(-1)!.entityId;
    }
  }

  private judge(
    input: InspectionInput,
    path: string,
  ): { plan: InspectionPlanConfig; results: InspectionResultReport[] } {
    const plan = this.plans.get(input.plan);
    if (plan === undefined)
      throw invalid(
        `${path}plan`,
        `no inspection plan "${input.plan}" (configured: ${[...this.plans.keys()].join(', ') || 'none'})`,
      );
    if (input.results.length === 0) throw invalid(`${path}results`, 'give at least one result');
    const seen = new Set<string>();
    const results = input.results.map((r, i): InspectionResultReport => {
      const at = `${path}results[${i}]`;
      const c = plan.characteristics.find((x) => x.id === r.characteristic);
      if (c === undefined)
        throw invalid(
          `${at}.characteristic`,
          `plan ${plan.id} has no characteristic "${r.characteristic}" (it has ${plan.characteristics.map((x) => x.id).join(', ')})`,
        );
      if (seen.has(c.id)) throw invalid(`${at}.characteristic`, `${c.id} is given twice`);
      seen.add(c.id);
      const limits = { lsl: c.lsl ?? null, usl: c.usl ?? null, target: c.target ?? null };
      if (c.kind === 'attribute') {
        const pass = attributeResult(r.value);
        if (pass === null) throw invalid(`${at}.value`, 'expected pass or fail (or true/false)');
        const value = pass ? 'pass' : 'fail';
        return { characteristic: c.id, kind: c.kind, value, uom: null, ...limits, pass };
      }
      const text = typeof r.value === 'number' ? String(r.value) : r.value;
      if (typeof text !== 'string' || !SIGNED_DECIMAL.test(text) || !Number.isFinite(Number(text)))
        throw invalid(`${at}.value`, 'expected a number');
      let value = new Decimal(text.trim());
      if (r.uom !== undefined && c.uom !== undefined && r.uom !== c.uom) {
        try {
          value = convert(value, r.uom, c.uom);
        } catch (err) {
          if (err instanceof UomError) throw invalid(`${at}.uom`, err.message);
          throw err;
        }
      }
      const pass = withinLimits(value, c.lsl, c.usl);
      return {
        characteristic: c.id,
        kind: c.kind,
        value: value.toFixed(),
        uom: c.uom ?? null,
        ...limits,
        pass,
      };
    });
    return { plan, results };
  }

  private async write(
    draft: Draft,
    j: {
      input: InspectionInput;
      path: string;
      plan: InspectionPlanConfig;
      results: InspectionResultReport[];
    },
  ): Promise<InspectionView> {
    const { input, plan, results } = j;
    const lot = await readLot(draft, input.lot, ` (${j.path}lot)`);
    if (lot.material !== plan.material)
      throw invalid(
        `${j.path}plan`,
        `plan ${plan.id} inspects material ${plan.material}; lot ${input.lot} is of material ${lot.material}`,
      );
    const id = randomBytes(9).toString('base64url');
    const failed = results.filter((r) => !r.pass).map((r) => r.characteristic);
    const disposition = failed.length === 0 ? 'accepted' : 'rejected';
    let nonconformance: string | null = null;
    let hold: string | null = null;
    if (disposition === 'rejected') {
      nonconformance = randomBytes(9).toString('base64url');
      const nc: NonconformanceData = {
        lot: input.lot,
        inspection: id,
        plan: plan.id,
        failed,
        status: 'open',
        by: draft.by.actor,
        at: draft.at,
      };
      await draft.put(NONCONFORMANCE_ENTITY, nonconformance, nc, 'create', lotRef(input.lot));
      if (plan.holdOnFailure)
        hold = (
          await this.holds.placeInDraft(
            draft,
            input.lot,
            `inspection ${id} (plan ${plan.id}) failed: ${failed.join(', ')}`,
          )
        ).id;
    }
    const data: InspectionData = {
      lot: input.lot,
      material: lot.material,
      plan: plan.id,
      operation: input.operation ?? plan.operation ?? null,
      sampleSize: input.sampleSize ?? plan.sampleSize,
      results,
      disposition,
      by: draft.by.actor,
      at: draft.at,
      nonconformance,
      hold,
    };
    await draft.put(INSPECTION_ENTITY, id, data, 'inspect', lotRef(input.lot));
    const after = await readLot(draft, input.lot);
    await this.lots.message(draft, input.lot, 'inspection.recorded', {
      ...qualityLot(input.lot, after),
      inspection: id,
      plan: plan.id,
      operation: data.operation,
      disposition,
      sampleSize: data.sampleSize,
      results,
      by: draft.by.actor,
    });
    return { ...data, id };
  }
}
