/**
 * The neutral messages between the hub and an ERP (issue #10), whatever the wire format:
 *
 * - Inbound: every path (REST JSON, B2MML XML, drop folders, AMQP) turns what the ERP sent into
 *   an `InboundDocument` in the ERP's own codes; core/orders maps the codes through the
 *   identity mapping tables and imports it, idempotent on each order's external id.
 * - Outbound: core/orders writes an `ErpMessage` (the hub's codes) into the outbox in the same
 *   transaction as the fact that causes it; an enterprise target renders and sends it.
 * - Outbound to BI (issue #11): core/kpi/export.ts writes a `KpiMessage` per site and shift
 *   into the same outbox, for the targets that list `kpi.shift`. `OutboundMessage` is either.
 *
 * Pure types: no I/O.
 */
import { KPI_TOTAL_FIELDS, type KPI_RATIO_FIELDS } from './kpi-fields.ts';

// ---------------------------------------------------------------------------------------------
// Inbound

/** An order as the ERP sent it: codes are the ERP's (mapped by core/orders.ts). */
export interface InboundOrder {
  readonly externalId: string;
  readonly material: string;
  /** Decimal text. */
  readonly quantity: string;
  readonly uom: string;
  readonly operations: readonly InboundOperation[];
  /** UTC epoch ms, or null. */
  readonly plannedStart: number | null;
  readonly plannedEnd: number | null;
  readonly priority: number;
  readonly lot: string | null;
  readonly description: string | null;
}

export interface InboundOperation {
  readonly id: string;
  /** The ERP's work center / equipment code. */
  readonly equipment: string;
  readonly description: string | null;
}

/** ISA-95 material definition (material master), ERP codes. */
export interface InboundMaterialDefinition {
  readonly id: string;
  readonly description: string | null;
  /** The base unit, if given. */
  readonly uom: string | null;
}

/** ISA-95 material lot (a raw-material goods receipt), ERP codes. */
export interface InboundMaterialLot {
  readonly id: string;
  readonly material: string;
  /** Decimal text, or null when not given. */
  readonly quantity: string | null;
  readonly uom: string | null;
  readonly status: string | null;
  /** Its sublots (containers, ISA-95 material sublot), when the document lists them. */
  readonly sublots?: readonly InboundMaterialSubLot[];
}

/** ISA-95 material sublot: a uniquely identified part of a lot (a container, a bag). */
export interface InboundMaterialSubLot {
  readonly id: string;
  /** Decimal text, or null when not given. */
  readonly quantity: string | null;
  readonly uom: string | null;
  readonly status: string | null;
}

export type B2mmlVersion = 'V0401' | 'V0600' | 'V0701';

/** What one inbound message or file holds. */
export interface InboundDocument {
  /** How it came: 'json', or the B2MML version and root element (for logs and audit). */
  readonly format: 'json' | 'csv' | `b2mml-${B2mmlVersion}`;
  /** Root element for XML (`ProductionSchedule`, `OperationsSchedule`, `MaterialInformation` …). */
  readonly root: string | null;
  readonly orders: readonly InboundOrder[];
  readonly materials: readonly InboundMaterialDefinition[];
  readonly lots: readonly InboundMaterialLot[];
}

/** The outcome of importing one document. */
export interface ImportResult {
  readonly orders: readonly {
    readonly id: string;
    readonly outcome: 'created' | 'updated' | 'unchanged';
  }[];
  readonly materials: number;
  readonly lots: number;
}

// ---------------------------------------------------------------------------------------------
// Outbound

export const ERP_MESSAGE_TYPES = [
  'order.started',
  'operation.confirmed',
  'goods.receipt',
  'goods.issue',
  'order.completed',
  'order.closed',
  'order.cancelled',
] as const;
export type ErpMessageType = (typeof ERP_MESSAGE_TYPES)[number];

/** The messages to BI (issue #11): one per site and shift, at the shift end (docs/kpi.md). */
export const KPI_MESSAGE_TYPES = ['kpi.shift'] as const;
export type KpiMessageType = (typeof KPI_MESSAGE_TYPES)[number];

/** The messages to QMS / ERP about quality (issue #12): holds, releases, inspection results. */
export const QUALITY_MESSAGE_TYPES = ['lot.held', 'lot.released', 'inspection.recorded'] as const;
export type QualityMessageType = (typeof QUALITY_MESSAGE_TYPES)[number];

/** Every message type a target can list in its `messages`. */
export const OUTBOUND_MESSAGE_TYPES = [
  ...ERP_MESSAGE_TYPES,
  ...KPI_MESSAGE_TYPES,
  ...QUALITY_MESSAGE_TYPES,
] as const;
export type OutboundMessageType = (typeof OUTBOUND_MESSAGE_TYPES)[number];

export function isErpMessageType(type: string): type is ErpMessageType {
  return (ERP_MESSAGE_TYPES as readonly string[]).includes(type);
}

export interface OperationReport {
  readonly id: string;
  /** The hub's equipment id of the operation (line or unit). */
  readonly equipment: string;
  /** The unit whose counts were attributed to it. */
  readonly workUnit: string;
  /** Good pieces (decimal text, in `uom`). */
  readonly yield: string;
  readonly scrap: string;
  readonly uom: string;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  /** Time the operation was running (held time excluded). */
  readonly runTimeMs: number;
}

interface MessageBase {
  /** Unique and stable: the Idempotency-Key every transport carries. */
  readonly id: string;
  /**
   * The ERP's order number; for a KPI message the stream key `kpi:<site id>`. Either way the
   * outbox's ordering key: the messages of one key reach a target one after another.
   */
  readonly orderId: string;
  /**
   * Position among the messages of this order (of this site's KPI exports): 1, 2, 3 … without
   * gaps (the same for every target), so a receiver can put them in order and see one missing.
   */
  readonly seq: number;
  /** When the fact happened (UTC epoch ms). */
  readonly at: number;
}

export type ErpMessage = MessageBase &
  (
    | {
        readonly type: 'order.started';
        readonly data: { readonly operation: string | null; readonly equipment: string | null };
      }
    | {
        readonly type: 'operation.confirmed';
        /** final: the operation is complete; otherwise a partial confirmation (on hold). */
        readonly data: OperationReport & { readonly final: boolean };
      }
    | {
        readonly type: 'goods.receipt';
        readonly data: {
          readonly material: string;
          readonly quantity: string;
          readonly uom: string;
          readonly lot: string;
          readonly equipment: string;
        };
      }
    | {
        readonly type: 'goods.issue';
        readonly data: {
          readonly material: string;
          readonly quantity: string;
          readonly uom: string;
          readonly operation: string;
          readonly equipment: string;
        };
      }
    | {
        readonly type: 'order.completed';
        readonly data: {
          readonly material: string;
          readonly plannedQuantity: string;
          readonly produced: string;
          readonly scrap: string;
          readonly uom: string;
          readonly lot: string;
          readonly startedAt: number | null;
          readonly endedAt: number;
          readonly operations: readonly OperationReport[];
          readonly consumed: readonly {
            readonly material: string;
            readonly quantity: string;
            readonly uom: string;
          }[];
        };
      }
    | { readonly type: 'order.closed'; readonly data: Record<string, never> }
    | { readonly type: 'order.cancelled'; readonly data: { readonly reason: string | null } }
  );

/** The KpiTotals fields a `kpi.shift` row carries: every number of them (times ms, counts). */
export const KPI_SHIFT_TOTALS = KPI_TOTAL_FIELDS;

/**
 * The KPIs a `kpi.shift` row carries (model/kpi.ts Kpis; null where undefined): a subset of
 * KPI_RATIO_FIELDS in the order of docs/erp.md, which BI loaders read, so kept apart from it.
 */
export const KPI_SHIFT_KPIS = [
  'availability',
  'performance',
  'quality',
  'oee',
  'teep',
  'mtbfMs',
  'mttrMs',
  'scrapRatio',
] as const satisfies readonly (typeof KPI_RATIO_FIELDS)[number][];

/** One equipment of a site in one shift: a work unit, or a line, area or the site (summed). */
export interface KpiEquipmentRow {
  readonly id: string;
  readonly level: 'site' | 'area' | 'workCenter' | 'workUnit';
  readonly name: string;
  readonly totals: Readonly<Record<(typeof KPI_SHIFT_TOTALS)[number], number>>;
  readonly kpis: Readonly<Record<(typeof KPI_SHIFT_KPIS)[number], number | null>>;
}

/**
 * A site's KPIs of one ended shift (issue #11). `orderId` is `kpi:<site id>`, `seq` counts the
 * site's exports, `at` is the shift's end, `id` is derived from site and shift start (the same
 * on every hub, so a shared store holds each shift once per target).
 */
export type KpiMessage = MessageBase & {
  readonly type: 'kpi.shift';
  readonly data: {
    /** The site's id, `acme/plant1`. */
    readonly site: string;
    readonly calendar: { readonly name: string; readonly timeZone: string };
    readonly shift: {
      readonly name: string;
      /** The local day the shift starts on, `YYYY-MM-DD`. */
      readonly day: string;
      readonly crew: string | null;
      /** ISO 8601 UTC. */
      readonly start: string;
      readonly end: string;
    };
    /** The site, then each area, its lines and their units (parents before children). */
    readonly equipment: readonly KpiEquipmentRow[];
  };
};

/** The lot a quality message is about, as it is when the message is made. */
export interface QualityLot {
  readonly lot: string;
  readonly material: string;
  /** What the lot holds (decimal text, in `uom`). */
  readonly quantity: string;
  readonly uom: string;
  /** The lot's status after the fact (`on-hold`, `available` …). */
  readonly status: string;
}

/** One characteristic's result in an `inspection.recorded` message. */
export interface InspectionResultReport {
  readonly characteristic: string;
  readonly kind: 'numeric' | 'attribute';
  /** The measured value (decimal text) or `pass` / `fail`. */
  readonly value: string;
  readonly uom: string | null;
  readonly lsl: string | null;
  readonly usl: string | null;
  readonly target: string | null;
  readonly pass: boolean;
}

/**
 * Quality messages (issue #12). `orderId` is the stream key `lot:<lot id>`, `seq` counts the
 * lot's quality messages, `at` is when it happened.
 */
export type QualityMessage = MessageBase &
  (
    | {
        readonly type: 'lot.held';
        readonly data: QualityLot & {
          readonly hold: string;
          readonly reason: string;
          /** manual, inspection (a failed result placed it) or propagated (from `rootLot`). */
          readonly origin: 'manual' | 'inspection' | 'propagated';
          readonly rootLot: string | null;
          readonly by: string;
        };
      }
    | {
        readonly type: 'lot.released';
        readonly data: QualityLot & {
          readonly hold: string;
          readonly reason: string;
          readonly by: string;
          /** The signer's full name and the electronic signature's id (meaning "released"). */
          readonly fullName: string;
          readonly signature: string;
        };
      }
    | {
        readonly type: 'inspection.recorded';
        readonly data: QualityLot & {
          readonly inspection: string;
          readonly plan: string;
          readonly operation: string | null;
          /** accepted: every result passed; rejected: one failed (the lot was put on hold). */
          readonly disposition: 'accepted' | 'rejected';
          readonly sampleSize: number;
          readonly results: readonly InspectionResultReport[];
          readonly by: string;
        };
      }
  );

/** Whatever the outbox carries to a target. */
export type OutboundMessage = ErpMessage | KpiMessage | QualityMessage;
