/** Domain events: the manufacturing facts the core derives from samples. */
import type { CounterAnomaly, CounterKind } from './counter.ts';
import type { EquipmentState } from './state.ts';

export interface StateChangedEvent {
  readonly type: 'state.changed';
  readonly equipmentId: string;
  /** Source time of the change (UTC epoch ms). */
  readonly ts: number;
  readonly data: {
    readonly state: EquipmentState;
    readonly reasonCode: string | null;
    readonly previousState: EquipmentState;
    readonly previousReasonCode: string | null;
    /** How long the previous state lasted, in ms (0 when unknown). */
    readonly previousDurationMs: number;
    /** The previous state was a `down` shorter than the unit's micro-stop limit. */
    readonly previousMicroStop: boolean;
  };
}

export interface CountedEvent {
  readonly type: 'counted';
  readonly equipmentId: string;
  readonly ts: number;
  readonly data: {
    readonly counter: CounterKind;
    readonly delta: number;
    readonly raw: number;
    readonly total: number;
    readonly anomaly: CounterAnomaly;
  };
}

/** A unit used some of a material: exact decimal quantities as text, converted to the material's unit. */
export interface ConsumedEvent {
  readonly type: 'consumed';
  readonly equipmentId: string;
  readonly ts: number;
  readonly data: {
    /** The hub's material id (after mapping the device's code, when the binding names a system). */
    readonly material: string;
    /** Used by this reading, in `uom` (the material's unit), decimal text. */
    readonly quantity: string;
    readonly uom: string;
    /** The reading as the device gave it, in `rawUom`. */
    readonly raw: string;
    readonly rawUom: string;
    /** Used since the hub first saw the source, in `uom`. */
    readonly total: string;
    readonly anomaly: CounterAnomaly;
  };
}

export type DomainEvent = StateChangedEvent | CountedEvent | ConsumedEvent;
export type DomainEventType = DomainEvent['type'];

/** A domain event as the journal holds it. */
export type JournalEvent = DomainEvent & {
  /** Position in the journal: strictly increasing, the cursor for paging and replay. */
  readonly seq: number;
  /** When the hub committed it (UTC epoch ms). */
  readonly recordedAt: number;
};
