/**
 * What the two halves of outbound B2MML share: the performance documents (render.ts) and the
 * material lot documents of the quality messages (render-lot.ts). A version's dialect, the
 * element tree handed to the XML builder, times and quantities as B2MML Common.xsd writes them.
 */
import type { B2mmlVersion } from '../types.ts';

export type State = 'running' | 'completed' | 'held' | 'closed' | 'aborted';

export interface Dialect {
  readonly version: B2mmlVersion;
  readonly root: string;
  readonly noun: string;
  readonly response: string;
  readonly requestId: string;
  /** V0701: operations documents (OperationsType, IDs required on every actual). */
  readonly operations: boolean;
  /** ResponseStateType values (B2MML Common.xsd ResponseState1Type of each version). */
  readonly states: Readonly<Record<State, string>>;
}

const PRODUCTION_STATES = {
  running: 'Running',
  completed: 'Completed',
  held: 'Holding',
  closed: 'Completed', // V0401 / V0600 have no Closed
  aborted: 'Aborted',
} as const;

export function dialect(version: B2mmlVersion): Dialect {
  if (version === 'V0701')
    return {
      version,
      root: 'SyncOperationsPerformance',
      noun: 'OperationsPerformance',
      response: 'OperationsResponse',
      requestId: 'OperationsRequestID',
      operations: true,
      states: { ...PRODUCTION_STATES, held: 'Held', closed: 'Closed' },
    };
  return {
    version,
    root: 'SyncProductionPerformance',
    noun: 'ProductionPerformance',
    response: 'ProductionResponse',
    requestId: 'ProductionRequestID',
    operations: false,
    states: PRODUCTION_STATES,
  };
}

export interface Qty {
  readonly value: string;
  readonly uom: string;
  readonly key?: string;
}

/** An element tree for the XML builder: key order = XSD sequence order, `@_` an attribute. */
export type Xml = { [name: string]: string | Xml | Xml[] | undefined };

export const iso = (ms: number | null | undefined): string | undefined =>
  ms === null || ms === undefined ? undefined : new Date(ms).toISOString();

/** B2MML Common.xsd QuantityValueType: QuantityString, DataType, UnitOfMeasure, Key. */
export function quantity(q: Qty): Xml {
  return { QuantityString: q.value, DataType: 'decimal', UnitOfMeasure: q.uom, Key: q.key };
}
