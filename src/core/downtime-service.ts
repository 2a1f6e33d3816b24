/**
 * Stops of a work unit and their reasons (issue #5): listed from the journal, classified from
 * the PLC code through the site's reason tree, or given a reason afterwards by a person — a
 * record (`downtime-reason`) written with its audit row, the comment as the audit reason.
 */
import { authorize, type Principal } from '../compliance/roles.ts';
import type { IdentityService } from '../compliance/identity.ts';
import { MwError } from '../errors.ts';
import {
  isPlannedStop,
  ReasonTree,
  STOP_STATES,
  stopsOf,
  type Reason,
  type Stop,
} from '../model/index.ts';
import type { JournalEvent } from '../model/index.ts';
import type { Store } from '../store/types.ts';

export interface StopView extends Stop {
  readonly reason: Reason | null;
  /** Where the reason comes from: assigned by a person, mapped from the PLC code, or none. */
  readonly reasonSource: 'assigned' | 'plc' | null;
  readonly comment: string | null;
  readonly classifiedBy: string | null;
  readonly classifiedAt: number | null;
}

interface Assignment {
  readonly reason: string;
  readonly comment: string;
  readonly by: string;
}

const PAGE = 10_000;
/** The tree of a site that has none. */
const NO_REASONS = new ReasonTree([]);

export class DowntimeService {
  constructor(
    private readonly store: Store,
    private readonly identity: IdentityService,
    /** The reason tree of each site, by site id. */
    private readonly trees: ReadonlyMap<string, ReasonTree>,
  ) {}

  /** The tree of the site a unit belongs to (`<enterprise>/<site>/…`). */
  treeOf(equipmentId: string): ReasonTree {
    return this.trees.get(equipmentId.split('/')[1] ?? '') ?? NO_REASONS;
  }

  /**
   * Stops in [from, to), oldest first, with their reasons: those that began in it, and the one
   * that began before `from` and was still going on at `from`.
   */
  async list(
    by: Principal,
    equipmentId: string,
    range: { from?: number | undefined; to?: number | undefined } = {},
  ): Promise<StopView[]> {
    authorize(by, 'equipment.read');
    const events: JournalEvent[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await this.store.listEvents({
        equipmentId,
        fromTs: range.from,
        afterSeq,
        limit: PAGE,
      });
      // Only this unit's own changes (the query also returns units below an id).
      events.push(...page.filter((e) => e.equipmentId === equipmentId));
      if (page.length < PAGE) break;
      afterSeq = page.at(-1)!.seq;
    }
    // A stop that began before the window and ran into it is listed too (it is still going on,
    // or ended inside the window): its start is the unit's last state change before `from`.
    const openedBefore =
      range.from === undefined
        ? undefined
        : await this.store.lastStateChangeBefore(equipmentId, range.from);
    if (openedBefore !== undefined) events.unshift(openedBefore);
    const assigned = new Map<string, { data: Assignment; updatedAt: number }>();
    let afterId: string | undefined;
    for (;;) {
      const page = await this.store.listRecords({
        entityType: 'downtime-reason',
        ref: equipmentId,
        afterId,
        limit: 500,
      });
      for (const r of page)
        assigned.set(r.entityId, { data: r.data as unknown as Assignment, updatedAt: r.updatedAt });
      if (page.length < 500) break;
      afterId = page.at(-1)!.entityId;
    }
    const tree = this.treeOf(equipmentId);
    return stopsOf(events, Date.now())
      .filter((s) => range.to === undefined || s.start < range.to)
      .filter(
        (s) =>
          range.from === undefined || s.start >= range.from || (s.end ?? Infinity) > range.from,
      )
      .map((s) => {
        const a = assigned.get(stopId(equipmentId, s.seq));
        const fromPlc = tree.ofPlcCode(s.plcReasonCode);
        const reason = a !== undefined ? (tree.get(a.data.reason) ?? null) : (fromPlc ?? null);
        return {
          ...s,
          reason,
          reasonSource: a !== undefined ? 'assigned' : fromPlc !== undefined ? 'plc' : null,
          comment: a?.data.comment ?? null,
          classifiedBy: a?.data.by ?? null,
          classifiedAt: a?.updatedAt ?? null,
        };
      });
  }

  /** Give a stop its reason afterwards (or change it), with a comment; audited. */
  async assign(
    by: Principal,
    equipmentId: string,
    seq: number,
    reasonCode: string,
    comment: string,
  ): Promise<StopView> {
    authorize(by, 'production.record');
    const [event] = await this.store.listEvents({ equipmentId, afterSeq: seq - 1, limit: 1 });
    if (
      event === undefined ||
      event.seq !== seq ||
      event.equipmentId !== equipmentId ||
      event.type !== 'state.changed' ||
      !STOP_STATES.includes(event.data.state)
    ) {
      throw new MwError('MW_ERR_RECORD_NOT_FOUND', { entity: `stop of ${equipmentId}`, id: seq });
    }
    const tree = this.treeOf(equipmentId);
    if (tree.get(reasonCode) === undefined) {
      const known = tree.all().map((r) => r.code);
      throw new MwError(
        'MW_ERR_API_VALIDATION',
        {
          path: 'body.reason',
          rule: `unknown reason "${reasonCode}" (reasons of this site: ${known.length === 0 ? 'none configured' : known.join(', ')})`,
        },
        { path: 'body.reason' },
      );
    }
    const id = stopId(equipmentId, seq);
    const existing = await this.store.getRecord('downtime-reason', id);
    const before = existing?.data as Assignment | undefined;
    const data: Assignment = { reason: reasonCode, comment, by: by.actor };
    await this.store.writeRecords(
      [
        {
          entityType: 'downtime-reason',
          entityId: id,
          expectedVersion: existing?.version ?? 0,
          data: { ...data },
          ref: equipmentId,
        },
      ],
      [
        this.identity.audit(
          by,
          'classify',
          'downtime',
          id,
          {
            reason: { old: before?.reason ?? null, new: reasonCode },
            comment: { old: before?.comment ?? null, new: comment },
          },
          comment,
        ),
      ],
    );
    const stops = await this.list(by, equipmentId, { from: event.ts });
    return stops.find((s) => s.seq === seq)!;
  }
}

/** A stop's id: its unit and the seq of the change that began it. */
export function stopId(equipmentId: string, seq: number): string {
  return `${equipmentId}@${seq}`;
}

export interface SiteDowntimeSummary {
  readonly site: string;
  readonly timeZone: string;
  readonly units: number;
  readonly stops: number;
  readonly microStops: number;
  /** Stop time (ms) by the reason tree's category; `unclassified` for stops without a reason. */
  readonly byCategory: Readonly<Record<string, number>>;
  readonly plannedMs: number;
  readonly unplannedMs: number;
  readonly unclassifiedMs: number;
}

/**
 * Stop time of every site side by side, in one vocabulary: the categories of the reason trees
 * (give the same category names on every site) and planned / unplanned. Stop time within
 * [from, to): a stop that began before `from` counts from `from`, one still running up to `to`
 * (or now).
 */
export async function downtimeSummary(
  service: DowntimeService,
  by: Principal,
  sites: readonly { id: string; timeZone: string; unitIds: readonly string[] }[],
  range: { from?: number | undefined; to?: number | undefined },
): Promise<SiteDowntimeSummary[]> {
  const out: SiteDowntimeSummary[] = [];
  for (const site of sites) {
    const byCategory: Record<string, number> = {};
    let stops = 0;
    let microStops = 0;
    let plannedMs = 0;
    let unplannedMs = 0;
    let unclassifiedMs = 0;
    for (const unit of site.unitIds) {
      for (const s of await service.list(by, unit, range)) {
        const end = Math.min(s.end ?? Date.now(), range.to ?? Number.MAX_SAFE_INTEGER);
        const ms = Math.max(0, end - Math.max(s.start, range.from ?? s.start));
        stops++;
        if (s.microStop) microStops++;
        const category = s.reason?.category ?? 'unclassified';
        byCategory[category] = (byCategory[category] ?? 0) + ms;
        if (s.reason === null) unclassifiedMs += ms;
        // Unclassified downtime counts as unplanned until someone classifies it, unless its
        // state is planned by itself (a changeover).
        if (isPlannedStop(s.state, s.reason)) plannedMs += ms;
        else unplannedMs += ms;
      }
    }
    out.push({
      site: site.id,
      timeZone: site.timeZone,
      units: site.unitIds.length,
      stops,
      microStops,
      byCategory,
      plannedMs,
      unplannedMs,
      unclassifiedMs,
    });
  }
  return out;
}
