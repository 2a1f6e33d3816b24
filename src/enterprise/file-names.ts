/** File names of rendered messages, shared by every format (folder targets write them). */
import type { OutboundMessage } from '../model/index.ts';

/**
 * The name of a message's file without extension: order, seq (zero-padded, so names sort in
 * the order's sequence), type and id — `4711-000003-goods.receipt-<uuid>`; a KPI export
 * `kpi_acme_plant1-000012-kpi.shift-<uuid>`.
 */
export function messageFileStem(m: OutboundMessage): string {
  return `${safeName(m.orderId)}-${String(m.seq).padStart(6, '0')}-${m.type}-${m.id}`;
}

/** A file-name-safe form of an id (ERP order numbers may hold "/"). */
export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_');
}
