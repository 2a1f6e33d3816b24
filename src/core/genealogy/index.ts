/**
 * Quality and genealogy (issue #12, docs/quality.md), as the hub wires it: lots and their
 * movements, holds, traces and recall, inspections.
 */
import type { SignatureService } from '../../compliance/signatures.ts';
import type { InspectionPlanConfig } from '../../config/quality.ts';
import { HoldService } from './holds.ts';
import { InspectionService } from './inspections.ts';
import { GenealogyService, type GenealogyOptions } from './service.ts';
import { TraceService } from './trace.ts';

export interface Quality {
  readonly lots: GenealogyService;
  readonly holds: HoldService;
  readonly traces: TraceService;
  readonly inspections: InspectionService;
}

export function createQuality(
  options: GenealogyOptions & {
    readonly signatures: SignatureService;
    readonly plans: readonly InspectionPlanConfig[];
    /** Materials that are finished goods (config `materials[].finished`). */
    readonly finished: ReadonlySet<string>;
  },
): Quality {
  const lots = new GenealogyService(options);
  const holds = new HoldService(lots, options.signatures);
  return {
    lots,
    holds,
    traces: new TraceService(lots, options.finished),
    inspections: new InspectionService(lots, holds, options.plans),
  };
}

export type { GenealogyService } from './service.ts';
export * from './types.ts';
