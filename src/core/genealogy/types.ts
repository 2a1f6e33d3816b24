/** The records of quality and genealogy (issue #12) and how the API shows them. */
import type { LotData, LotLink, LotOrigin, LotStatus } from '../../model/index.ts';

export const LOT_ENTITY = 'material-lot';
export const HOLD_ENTITY = 'quality-hold';
export const INSPECTION_ENTITY = 'inspection';
export const NONCONFORMANCE_ENTITY = 'nonconformance';
/** The `ref` of a lot's record: its material, so a material's lots are one indexed read. */
export const materialRef = (material: string): string => `material/${material}`;

/** The running numbers of lot numbering, one record per prefix. */
export const LOT_SEQUENCE_ENTITY = 'lot-sequence';

export type HoldOrigin = 'manual' | 'inspection' | 'propagated';

/** A quality hold as its record (entity `quality-hold`, ref `material-lot/<lot>`) holds it. */
export interface HoldData {
  readonly lot: string;
  readonly reason: string;
  readonly origin: HoldOrigin;
  /** For a propagated hold: the lot and hold it came from. */
  readonly rootLot: string | null;
  readonly rootHold: string | null;
  readonly placedBy: string;
  readonly placedAt: number;
  readonly status: 'active' | 'released';
  readonly releasedBy: string | null;
  readonly releasedAt: number | null;
  readonly releaseReason: string | null;
  /** The electronic signature (meaning "released") of the release. */
  readonly signature: string | null;
}

export interface HoldView extends HoldData {
  readonly id: string;
}

export interface LotView extends Omit<LotData, 'holds'> {
  readonly id: string;
  readonly materialName: string;
  /** Its holds: active ones first, then released ones, newest first. */
  readonly holds: readonly HoldView[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly version: number;
}

export interface TraceNode {
  readonly id: string;
  readonly material: string;
  readonly quantity: string;
  readonly uom: string;
  readonly status: LotStatus | 'unknown';
  readonly order: string | null;
  readonly origin: LotOrigin | null;
  /** Active holds. */
  readonly holds: number;
  /** 0: the lot asked about; negative: backward (inputs), positive: forward (uses). */
  readonly level: number;
}

/** A link of a trace, as the API shows it. */
export type TraceEdge = Omit<LotLink, 'actor'>;

export interface TraceGraph {
  readonly lot: string;
  readonly direction: 'backward' | 'forward' | 'both';
  readonly depth: number;
  readonly truncated: boolean;
  readonly nodes: readonly TraceNode[];
  readonly edges: readonly TraceEdge[];
}

export type TreeNode =
  | (TraceNode & { readonly link: TraceEdge | null; readonly children: readonly TreeNode[] })
  | { readonly id: string; readonly link: TraceEdge; readonly repeated: true };

export interface Recall {
  readonly lot: string;
  /** The finished lots made from it, at any depth. */
  readonly finished: readonly TraceNode[];
  /** The orders that made them (and every lot between). */
  readonly orders: readonly string[];
  /** Lots reached. */
  readonly lots: number;
  readonly truncated: boolean;
}

/** Who did it, for records and audit rows. */
export interface Actor {
  readonly actor: string;
}
