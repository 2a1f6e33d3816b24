/**
 * Propagation to BI (issue #11; docs/kpi.md): at each shift end, every site's KPIs of that
 * shift go as one `kpi.shift` message (model/erp.ts KpiMessage) through the outbox to every
 * target that lists `kpi.shift`, so a BI or data-lake load never misses a shift.
 *
 * - When: a shift is exported once `kpi.exportDelay` has passed after its end (readings a device
 *   or the spool still holds arrive meanwhile). The exporter sleeps until the next one falls due
 *   (not a poll), at most `maxSleepMs`, and runs at start.
 * - What: KpiService.oee of the site over [shift start, shift end), one row per work unit and
 *   per line, area and the site, each with the SUMS of its units' totals and the KPIs of those
 *   sums (model/kpi.ts addKpiTotals, kpisOfTotals), never averages.
 * - Exactly once per shift: per site a record (`kpi-export`, entity id = site id) holds the
 *   export count (`seq`) and the instant up to which every shift is done. It is written with
 *   its expected version in the SAME Store.writeRecords transaction as the outbox rows, so a
 *   crash leaves both or neither (the shift goes at the next start), and a second hub sharing a
 *   PostgreSQL store that exported the shift first makes this write fail with
 *   MW_ERR_STORE_CONFLICT: this hub then reads the record again and skips what is done. The
 *   message id is a UUID v5 of site and shift start, the same on every hub, and the outbox is
 *   UNIQUE(target, message id): a shift cannot be in a target's outbox twice.
 * - First start (no record): no history is exported; the first shift exported is the next one
 *   that ends. After a downtime every missed shift goes, in order, up to `maxCatchUpMs` back;
 *   older ones are skipped with one log line (the API still reports them).
 *
 * `seq` counts a site's exports 1, 2, 3 … without gaps, the same for every target (a target
 * added later starts at the current count); the outbox orders a site's messages by its stream
 * key `kpi:<site id>` (`orderId`), so a target receives them in shift order.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Principal } from '../../compliance/roles.ts';
import { isMwError, MwError } from '../../errors.ts';
import {
  addKpiTotals,
  KPI_SHIFT_KPIS,
  KPI_SHIFT_TOTALS,
  kpisOfTotals,
  shiftsBetween,
  type Hierarchy,
  type KpiEquipmentRow,
  type KpiMessage,
  type KpiTotals,
  type OutboundMessageType,
  type ShiftInstance,
} from '../../model/index.ts';
import type { OutboxInsert, Store, StoredRecord } from '../../store/types.ts';
import { within, type SiteCalendar } from './groups.ts';
import type { OeeReport } from './service.ts';

export const KPI_EXPORT_ENTITY = 'kpi-export';

const DAY_MS = 86_400_000;

export const KPI_EXPORT_DEFAULTS = {
  /** After a downtime, shifts that ended longer ago than this are skipped, not exported. */
  maxCatchUpMs: 31 * DAY_MS,
  /**
   * Longest sleep between runs (a run with nothing due reads one record per site). Timers run
   * on a monotonic clock and shift ends on the wall clock, which a suspended VM or an NTP step
   * moves apart: this bounds how late an export can be then. setTimeout holds at most
   * 2^31 − 1 ms anyway.
   */
  maxSleepMs: 900_000,
  /** Wait before trying again after the store or a report failed. */
  retryMs: 30_000,
} as const;

/** UUID v5 namespace of the KPI export message ids (a fixed random UUID, RFC 9562 §5.5). */
const MESSAGE_ID_NAMESPACE = '78acb643-9797-4df2-8cb7-c6ce8eaeeef0';

/** RFC 9562 §5.5: the name-based UUID (SHA-1) of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50; // version 5
  hash[8] = (hash[8]! & 0x3f) | 0x80; // variant 10xx
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The message id of a site's shift: the same on every hub. */
export function kpiMessageId(site: string, shiftStartMs: number): string {
  return uuidV5(`kpi.shift ${site} ${new Date(shiftStartMs).toISOString()}`, MESSAGE_ID_NAMESPACE);
}

/** The reports are read as this principal (it reads equipment, like the metrics endpoint). */
const EXPORT_READER: Principal = {
  kind: 'local',
  actor: 'system:kpi-export',
  username: 'system:kpi-export',
  permissions: new Set(['equipment.read']),
};

/** The `kpi-export` record of a site. */
export interface KpiExportState {
  /** The site's exports so far: the seq of the last (0 before the first). */
  readonly seq: number;
  /**
   * Every shift ending at or before this instant (UTC ms) is done: exported, skipped, or over
   * before the first start.
   */
  readonly doneUntil: number;
  /** The last shift exported (`2026-03-03/Early`) and its message id, for operators. */
  readonly lastShift: string | null;
  readonly lastMessageId: string | null;
}

export interface KpiExportTarget {
  readonly id: string;
  readonly messages: readonly OutboundMessageType[];
}

export interface KpiExporterOptions {
  readonly store: Store;
  /** The KPI service (KpiService.oee). */
  readonly kpi: {
    oee(
      by: Principal,
      q: { equipment: string; from: number; to: number; groupBy: 'shift'; members: 'units' },
    ): Promise<OeeReport>;
  };
  readonly hierarchy: Hierarchy;
  /** The calendar of every site, by site id (core/kpi/groups.ts siteCalendars). */
  readonly calendars: ReadonlyMap<string, SiteCalendar>;
  /** The configured targets; those listing `kpi.shift` receive the exports. */
  readonly targets: readonly KpiExportTarget[];
  /** config `kpi.exportDelay`, ms. */
  readonly exportDelayMs: number;
  readonly logger: Logger;
  /** Called after a commit that wrote outbox rows, with their targets (dispatcher kick). */
  readonly onEnqueued?: (targets: readonly string[]) => void;
  /** Waits until what the pipeline has accepted is committed (before figures are taken). */
  readonly settle?: () => Promise<void>;
  readonly now?: () => number;
  readonly maxCatchUpMs?: number;
  readonly maxSleepMs?: number;
  readonly retryMs?: number;
}

/** The targets of a configuration that receive `kpi.shift`. */
export function kpiTargets<T extends KpiExportTarget>(targets: readonly T[]): T[] {
  return targets.filter((t) => t.messages.includes('kpi.shift'));
}

function stateOf(r: StoredRecord): KpiExportState {
  const d = r.data;
  const seq = Number(d.seq);
  const doneUntil = Number(d.doneUntil);
  if (!Number.isInteger(seq) || seq < 0 || !Number.isFinite(doneUntil))
    throw new MwError('MW_ERR_INTERNAL_ERROR', {
      reason: `record ${KPI_EXPORT_ENTITY} ${r.entityId} holds no seq and doneUntil: ${JSON.stringify(d)}`,
    });
  return {
    seq,
    doneUntil,
    lastShift: typeof d.lastShift === 'string' ? d.lastShift : null,
    lastMessageId: typeof d.lastMessageId === 'string' ? d.lastMessageId : null,
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const shiftKey = (s: ShiftInstance): string => `${s.day}/${s.name}`;

/** Sums of `totals` as the row's numbers, and the KPIs of those sums (null where undefined). */
function rowFigures(totals: KpiTotals): Pick<KpiEquipmentRow, 'totals' | 'kpis'> {
  const kpis = kpisOfTotals(totals);
  return {
    totals: Object.fromEntries(
      KPI_SHIFT_TOTALS.map((k) => [k, totals[k]]),
    ) as KpiEquipmentRow['totals'],
    kpis: Object.fromEntries(KPI_SHIFT_KPIS.map((k) => [k, kpis[k]])) as KpiEquipmentRow['kpis'],
  };
}

/**
 * The message of one site's shift from its report: a row for the site, each area, line and unit
 * below it (parents before children); a unit's totals are its own, every other row's the sums
 * of its units'.
 */
export function shiftMessage(
  cal: SiteCalendar,
  shift: ShiftInstance,
  report: OeeReport,
  hierarchy: Hierarchy,
  seq: number,
): KpiMessage {
  const members = report.summary.members;
  const equipment: KpiEquipmentRow[] = [];
  for (const e of hierarchy.all()) {
    if (!within(e.id, cal.site) || e.level === 'enterprise') continue;
    const totals = addKpiTotals(members.filter((m) => within(m.id, e.id)).map((m) => m.totals));
    equipment.push({ id: e.id, level: e.level, name: e.name, ...rowFigures(totals) });
  }
  return {
    id: kpiMessageId(cal.site, shift.startMs),
    type: 'kpi.shift',
    orderId: `kpi:${cal.site}`,
    seq,
    at: shift.endMs,
    data: {
      site: cal.site,
      calendar: { name: cal.name, timeZone: cal.calendar.timeZone },
      shift: {
        name: shift.name,
        day: shift.day,
        crew: shift.crew,
        start: iso(shift.startMs),
        end: iso(shift.endMs),
      },
      equipment,
    },
  };
}

const isConflict = (err: unknown): boolean =>
  isMwError(err) && err.code === 'MW_ERR_STORE_CONFLICT';

export class KpiExporter {
  private readonly now: () => number;
  private readonly targets: readonly string[];
  private readonly maxCatchUpMs: number;
  private readonly maxSleepMs: number;
  private readonly retryMs: number;
  private timer: NodeJS.Timeout | null = null;
  private current: Promise<number> = Promise.resolve(0);
  private stopped = false;
  /** Sites whose last run failed (a recovery says one line). */
  private readonly failing = new Set<string>();
  private wakeAt: number | null = null;
  private dueAt: number | null = null;

  constructor(private readonly o: KpiExporterOptions) {
    this.now = o.now ?? Date.now;
    this.targets = kpiTargets(o.targets).map((t) => t.id);
    this.maxCatchUpMs = o.maxCatchUpMs ?? KPI_EXPORT_DEFAULTS.maxCatchUpMs;
    this.maxSleepMs = o.maxSleepMs ?? KPI_EXPORT_DEFAULTS.maxSleepMs;
    this.retryMs = o.retryMs ?? KPI_EXPORT_DEFAULTS.retryMs;
  }

  /** Export what is due now, then sleep until the next shift falls due. */
  start(): void {
    this.wake();
  }

  /** A run from the timer or start: a failure is logged, never thrown (STYLE.md rule 13). */
  private wake(): void {
    this.run().catch((err: unknown) =>
      this.o.logger.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'KPI export run failed',
      ),
    );
  }

  /** When the timer wakes next (the exporter's clock), or null while none is set. */
  get nextRunAt(): number | null {
    return this.wakeAt;
  }

  /** When the next shift falls due (its end + exportDelay), as of the last run; null if none. */
  get nextDueAt(): number | null {
    return this.dueAt;
  }

  /**
   * Export every shift that is due, site by site, in shift order; resolves with how many were
   * exported. Runs one after another (a call while one runs waits for it, then runs).
   */
  run(): Promise<number> {
    const next = this.current.then(() => this.runOnce());
    this.current = next.catch(() => 0);
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.current;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.wakeAt = null;
  }

  private async runOnce(): Promise<number> {
    if (this.stopped) return 0;
    this.clearTimer();
    let exported = 0;
    let due = Infinity;
    let retry = Infinity;
    for (const site of this.sites()) {
      if (this.stopped) return exported;
      const cal = this.o.calendars.get(site);
      if (cal === undefined) continue;
      const log = this.o.logger.child({ site });
      try {
        const r = await this.exportSite(cal, log);
        exported += r.exported;
        if (r.nextDue !== null) due = Math.min(due, r.nextDue);
        if (this.failing.delete(site)) log.info(`KPI export of ${site} works again`);
      } catch (err) {
        retry = this.now() + this.retryMs;
        if (!this.failing.has(site))
          log.warn(
            { err: err instanceof Error ? err.message : String(err) },
            `KPI export of ${site} failed; retrying every ${this.retryMs} ms`,
          );
        this.failing.add(site);
      }
    }
    this.dueAt = Number.isFinite(due) ? due : null;
    if (!this.stopped) {
      const now = this.now();
      const delay = Math.max(0, Math.min(due, retry, now + this.maxSleepMs) - now);
      this.wakeAt = now + delay;
      this.timer = setTimeout(() => this.wake(), delay);
      this.timer.unref();
    }
    return exported;
  }

  /** The site ids of the hierarchy (`acme/plant1`). */
  private sites(): string[] {
    return this.o.hierarchy.root().childIds.slice();
  }

  /**
   * Export a site's due shifts one by one, each in its own transaction; the record is read
   * again before each, so a shift another hub exported meanwhile is skipped.
   */
  private async exportSite(
    cal: SiteCalendar,
    log: Logger,
  ): Promise<{ exported: number; nextDue: number | null }> {
    const site = cal.site;
    const delay = this.o.exportDelayMs;
    let exported = 0;
    for (;;) {
      if (this.stopped) return { exported, nextDue: null };
      const now = this.now();
      const record = await this.o.store.getRecord(KPI_EXPORT_ENTITY, site);
      if (record === undefined) {
        if (
          await this.write(
            site,
            0,
            { seq: 0, doneUntil: now, lastShift: null, lastMessageId: null },
            [],
          )
        )
          log.info(
            `KPI export of ${site} starts: shifts that ended before ${iso(now)} are not exported (no history); the first is the next shift that ends`,
          );
        continue;
      }
      const state = stateOf(record);
      const floor = now - this.maxCatchUpMs;
      if (state.doneUntil < floor) {
        const skipped = shiftsBetween(cal.calendar, state.doneUntil, floor).filter(
          (s) => s.endMs > state.doneUntil && s.endMs <= floor,
        );
        if (await this.write(site, record.version, { ...state, doneUntil: floor }, []))
          log.warn(
            { skipped: skipped.map(shiftKey) },
            `KPI export of ${site}: skipped ${skipped.length} shift(s) that ended between ${iso(state.doneUntil)} and ${iso(floor)}, more than ${this.maxCatchUpMs / DAY_MS} days ago (the API still reports them)`,
          );
        continue;
      }
      const pending = shiftsBetween(cal.calendar, state.doneUntil, now + 2 * DAY_MS).filter(
        (s) => s.endMs > state.doneUntil,
      );
      const shift = pending[0];
      // No shift in the next two days (holidays): look again after the longest sleep.
      if (shift === undefined) return { exported, nextDue: null };
      if (shift.endMs + delay > now) return { exported, nextDue: shift.endMs + delay };
      const due = pending.filter((s) => s.endMs + delay <= now).length;
      if (exported === 0 && due > 1)
        log.info(
          `KPI export of ${site}: catching up ${due} shift(s) that ended since ${iso(state.doneUntil)}`,
        );
      await this.o.settle?.();
      const report = await this.o.kpi.oee(EXPORT_READER, {
        equipment: site,
        from: shift.startMs,
        to: shift.endMs,
        groupBy: 'shift',
        members: 'units',
      });
      const message = shiftMessage(cal, shift, report, this.o.hierarchy, state.seq + 1);
      const rows: OutboxInsert[] = this.targets.map((target) => ({
        target,
        messageId: message.id,
        orderingKey: message.orderId,
        type: message.type,
        payload: message as unknown as Record<string, unknown>,
        // Not the shift end: retry.maxAge counts from here, and a shift caught up after a
        // downtime must not start out old.
        createdAt: now,
      }));
      const next: KpiExportState = {
        seq: message.seq,
        doneUntil: shift.endMs,
        lastShift: shiftKey(shift),
        lastMessageId: message.id,
      };
      if (!(await this.write(site, record.version, next, rows))) continue;
      exported++;
      log.info(
        { seq: message.seq, message: message.id, targets: this.targets },
        `KPI export: shift ${shift.name} ${shift.day} of ${site} → ${this.targets.length} target(s)`,
      );
      if (rows.length > 0) this.o.onEnqueued?.(this.targets);
    }
  }

  /** Write the record (and rows); false when another hub wrote it first (read it again). */
  private async write(
    site: string,
    expectedVersion: number,
    state: KpiExportState,
    rows: readonly OutboxInsert[],
  ): Promise<boolean> {
    try {
      // No audit row: this is the exporter's own bookkeeping, like a connector's state; the
      // outbox rows are the record of what was sent.
      await this.o.store.writeRecords(
        [
          {
            entityType: KPI_EXPORT_ENTITY,
            entityId: site,
            expectedVersion,
            data: { ...state },
          },
        ],
        [],
        rows,
      );
      return true;
    } catch (err) {
      if (!isConflict(err)) throw err;
      this.o.logger.debug(
        { site },
        'KPI export record changed meanwhile (another hub): reading it again',
      );
      return false;
    }
  }
}
