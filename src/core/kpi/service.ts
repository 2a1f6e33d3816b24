/**
 * OEE and the KPIs around it (issue #11; docs/kpi.md), by shift, day, week, order or product,
 * for any level of the hierarchy: each unit's totals from its buckets (figures.ts) over its
 * groups' planned time, classified by the site's reason tree and the reasons people assigned,
 * then summed (never averaged) into the level asked for.
 */
import { authorize, type Principal } from '../../compliance/roles.ts';
import { MwError } from '../../errors.ts';
import {
  addTotalsArray,
  EQUIPMENT_STATES,
  KPI_TOTALS_WIDTH,
  emptyFigures,
  isPlannedStop,
  kpisOfTotals,
  lossesOf,
  PLANNED_STATES,
  quantities,
  totalsFromArray,
  totalsToArray,
  unitTotals,
  type CounterKind,
  type EquipmentLevel,
  type EquipmentState,
  type Hierarchy,
  type KpiTotals,
  type Kpis,
  type Losses,
  type Reason,
  type UnitStatus,
} from '../../model/index.ts';
import type { KpiCacheRow, KpiCacheUnit, Store } from '../../store/types.ts';
import type { DowntimeService } from '../downtime-service.ts';
import type { OrderData } from '../orders/types.ts';
import { cacheSlot, digest, type CacheSlot } from './cache.ts';
import { figuresOver, noFigures, mergeFigures, subtractFigures, type Figures } from './figures.ts';
import {
  orderGroups,
  timeGroups,
  within,
  type Group,
  type GroupBy,
  type GroupPart,
  type Interval,
  type OrderRun,
  type SiteCalendar,
} from './groups.ts';
import { resumeFinder, stopsGoingOn, type Resume } from './resume.ts';

export interface GroupResult {
  readonly key: string;
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly site: string;
  readonly shift: Group['shift'];
  readonly order: string | null;
  readonly product: string | null;
  readonly totals: KpiTotals;
  readonly kpis: Kpis;
  readonly losses: Losses;
  readonly members: readonly MemberResult[];
}

export interface MemberResult {
  readonly id: string;
  readonly name: string;
  readonly totals: KpiTotals;
  readonly kpis: Kpis;
  readonly losses: Losses;
}

export interface OeeReport {
  readonly equipment: string;
  readonly level: EquipmentLevel;
  readonly from: number;
  readonly to: number;
  readonly groupBy: GroupBy;
  /** The calendar of each site in the report (one for a line or a site). */
  readonly calendars: readonly { site: string; name: string; timeZone: string }[];
  readonly units: readonly string[];
  readonly summary: GroupResult;
  readonly groups: readonly GroupResult[];
}

/**
 * Who a report's groups and summary list: the equipment one level below the one asked for
 * (a site's areas, a line's units; the default), every work unit, or nobody (the totals only).
 */
export type MemberLevel = 'children' | 'units' | 'none';

export interface KpiServiceOptions {
  readonly store: Store;
  readonly hierarchy: Hierarchy;
  readonly downtime: DowntimeService;
  /** The calendar of every site, by site id (`acme/plant1`). */
  readonly calendars: ReadonlyMap<string, SiteCalendar>;
  /** Ideal cycle time of products that have their own, ms, by material. */
  readonly materialIdealMs: ReadonlyMap<string, number>;
  readonly now?: () => number;
}

interface Assigned {
  readonly state: EquipmentState;
  readonly plcCode: string | null;
  readonly from: number;
  /** null while the stop lasts. */
  readonly to: number | null;
  readonly micro: boolean;
  readonly reason: string;
}

const PAGE = 1000;

export class KpiService {
  private readonly now: () => number;
  /** Stops of the reasons people assigned, by stop id: ended stops never change. */
  private readonly stopCache = new Map<string, Omit<Assigned, 'reason'>>();

  constructor(private readonly o: KpiServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  calendarOf(equipmentId: string): SiteCalendar {
    const site = equipmentId.split('/').slice(0, 2).join('/');
    const cal = this.o.calendars.get(site);
    if (cal === undefined) throw new Error(`no calendar for site ${site}`);
    return cal;
  }

  /** Each site's calendar as `<site>: <name> (<zone>)`, for the start-up lines. */
  calendarNames(): string[] {
    return [...this.o.calendars.values()].map(
      (c) => `${c.site}: ${c.name} (${c.calendar.timeZone})`,
    );
  }

  /** The work units at or below an equipment id (404 for an unknown id). */
  unitsOf(equipmentId: string): string[] {
    const node = this.o.hierarchy.get(equipmentId);
    if (node === undefined) throw new MwError('MW_ERR_EQUIPMENT_NOT_FOUND', { id: equipmentId });
    return this.o.hierarchy
      .workUnits()
      .filter((u) => within(u.id, equipmentId))
      .map((u) => u.id);
  }

  async oee(
    by: Principal,
    query: {
      equipment: string;
      from: number;
      to: number;
      groupBy: GroupBy;
      /** Who each group lists (MemberLevel); `children` when not given. */
      members?: MemberLevel;
    },
  ): Promise<OeeReport> {
    authorize(by, 'equipment.read');
    const now = this.now();
    const node = this.o.hierarchy.get(query.equipment);
    const units = this.unitsOf(query.equipment);
    const end = Math.min(query.to, now);
    const bySite = new Map<string, string[]>();
    for (const u of units) {
      const site = this.calendarOf(u).site;
      bySite.set(site, [...(bySite.get(site) ?? []), u]);
    }
    let groups: Group[];
    if (query.groupBy === 'order' || query.groupBy === 'product') {
      groups = orderGroups(
        await this.orders(query.from, end),
        (u) => this.calendarOf(u),
        units,
        query.groupBy,
        query.from,
        end,
        (m) => this.o.materialIdealMs.get(m) ?? null,
      );
    } else {
      const groupBy = query.groupBy;
      groups = [...bySite.entries()]
        .flatMap(([site, siteUnits]) =>
          timeGroups(this.o.calendars.get(site)!, siteUnits, groupBy, query.from, end),
        )
        .sort((a, b) => a.from - b.from || (a.site < b.site ? -1 : 1));
    }
    const level = query.members ?? 'children';
    const memberOfUnit = new Map(
      units.map((unit) => {
        if (level === 'none') return [unit, null];
        if (level === 'units' || unit === query.equipment) return [unit, unit];
        const below = unit.slice(query.equipment.length + 1);
        const slash = below.indexOf('/');
        return [unit, `${query.equipment}/${slash < 0 ? below : below.slice(0, slash)}`];
      }),
    );
    const memberOf = (unit: string): string | null => memberOfUnit.get(unit) ?? null;
    const { results, byUnit } = await this.evaluate(
      groups,
      units,
      now,
      query.groupBy !== 'order' && query.groupBy !== 'product',
      memberOf,
    );
    const all = new Float64Array(KPI_TOTALS_WIDTH);
    for (const t of byUnit.values()) addTotalsArray(all, t);
    const byMember = new Map<string, Float64Array>();
    for (const [id, t] of byUnit) {
      const m = memberOf(id);
      if (m === null) continue;
      const sum = byMember.get(m) ?? new Float64Array(KPI_TOTALS_WIDTH);
      addTotalsArray(sum, t);
      byMember.set(m, sum);
    }
    const members = [...byMember].map(([id, t]) => this.member(id, totalsFromArray(t)));
    const summaryTotal = totalsFromArray(all);
    return {
      equipment: query.equipment,
      level: node!.level,
      from: query.from,
      to: query.to,
      groupBy: query.groupBy,
      calendars: [...bySite.keys()].map((site) => {
        const c = this.o.calendars.get(site)!;
        return { site, name: c.name, timeZone: c.calendar.timeZone };
      }),
      units,
      summary: {
        key: 'summary',
        label: 'whole range',
        from: query.from,
        to: end,
        site: [...bySite.keys()].join(','),
        shift: null,
        order: null,
        product: null,
        totals: summaryTotal,
        kpis: kpisOfTotals(summaryTotal),
        losses: lossesOf(summaryTotal),
        members,
      },
      groups: results,
    };
  }

  private member(id: string, totals: KpiTotals): MemberResult {
    return {
      id,
      name: this.o.hierarchy.get(id)?.name ?? id,
      totals,
      kpis: kpisOfTotals(totals),
      losses: lossesOf(totals),
    };
  }

  /**
   * Each group's totals per unit and summed. A closed part's totals per unit come from the
   * store's KPI cache when it has them (made from the same buckets, configuration and people's
   * reasons: the key and fingerprint say so); the others are computed and, if closed, cached.
   */
  private async evaluate(
    groups: readonly Group[],
    units: readonly string[],
    now: number,
    productOverrides: boolean,
    memberOf: (unit: string) => string | null,
  ): Promise<{ results: GroupResult[]; byUnit: Map<string, Float64Array> }> {
    const statuses = new Map<string, UnitStatus>(
      (await this.o.store.loadUnits())
        .filter((u) => units.includes(u.equipmentId))
        .map((u) => [u.equipmentId, u.status]),
    );
    const parts = groups.flatMap((g) => g.parts);
    // Where planned time resumes after time that is not planned (a break, no shift): a stop
    // going on there that began in that gap is counted there (stopsGoingOn).
    const finders = new Map<SiteCalendar, ReturnType<typeof resumeFinder>>();
    const resumes = parts.map((p) => {
      const cal = this.calendarOf(p.unitIds[0]!);
      let find = finders.get(cal);
      if (find === undefined) {
        const starts = parts.flatMap((q) => q.planned.map((iv) => iv[0]));
        const ends = parts.flatMap((q) => q.planned.map((iv) => iv[1]));
        find = resumeFinder(cal, Math.min(...starts) - 86_400_000, Math.max(...ends));
        finders.set(cal, find);
      }
      return find(p.planned, now);
    });
    const assigned = await this.assignedStops(units);
    const from = Math.min(...groups.map((g) => g.from));
    const to = Math.max(...groups.map((g) => g.to));
    const orders =
      productOverrides && this.o.materialIdealMs.size > 0 && groups.length > 0
        ? (await this.orders(from, to)).filter((o) =>
            this.o.materialIdealMs.has(o.content.material),
          )
        : [];
    const slots = parts.map((p, i) => cacheSlot(p, resumes[i]!, now));
    const slotOf = new Map<string, CacheSlot>();
    for (const slot of slots)
      if (slot !== null && !slotOf.has(slot.key)) slotOf.set(slot.key, slot);
    const keys = [...slotOf.keys()];
    const keyIndex = new Map(keys.map((k, i) => [k, i]));
    const fingerprint = this.fingerprints(assigned, orders);
    // Each part's totals per unit (in part.unitIds order) as numbers: an array and where in it.
    const bodies: Float64Array[][] = parts.map(() => []);
    const offsets: number[][] = parts.map(() => []);
    const token = this.o.store.kpiCacheToken();
    let released = false;
    try {
      type Missing = { part: GroupPart; resumes: Resume[]; at: number; slots: number[] };
      const computeMissing = async (list: readonly Missing[]) => {
        if (list.length === 0) return [];
        // The pieces of the list's own span: the open shift and the missing parts apart.
        const span = list.flatMap((m) => m.part.planned);
        const overrides =
          orders.length === 0 || span.length === 0
            ? []
            : await this.productRuns(
                [...new Set(list.flatMap((m) => m.part.unitIds))],
                orders,
                Math.min(...span.map((iv) => iv[0])),
                Math.max(...span.map((iv) => iv[1])),
                now,
              );
        return this.compute(list, statuses, now, assigned, overrides);
      };
      // The parts that are not over (the shift going on) are computed while the cache is read.
      const open: Missing[] = [];
      parts.forEach((part, i) => {
        if (slots[i] === null)
          open.push({ part, resumes: resumes[i]!, at: i, slots: part.unitIds.map((_, j) => j) });
      });
      const [rows, openComputed] = await Promise.all([
        this.o.store.readKpiCache(keys),
        computeMissing(open),
      ]);
      const indexes = rows.map((row) => new Map((row?.units ?? []).map((u, i) => [u, i])));
      const missing: Missing[] = [];
      parts.forEach((part, i) => {
        const slot = slots[i]!;
        if (slot === null) return;
        const k = keyIndex.get(slot.key)!;
        const row = rows[k];
        const absent: string[] = [];
        const at: number[] = [];
        part.unitIds.forEach((unit, j) => {
          const u = row === undefined ? undefined : indexes[k]!.get(unit);
          if (u !== undefined && row!.fps[u] === fingerprint(unit, slot)) {
            bodies[i]![j] = row!.body;
            offsets[i]![j] = row!.offsets[u]!;
          } else {
            absent.push(unit);
            at.push(j);
          }
        });
        if (absent.length > 0)
          missing.push({
            part: { ...part, unitIds: absent },
            resumes: resumes[i]!,
            at: i,
            slots: at,
          });
      });
      const computed = await computeMissing(missing);
      // The units to write, by key.
      const writes = new Map<string, KpiCacheUnit[]>();
      const fill = (list: readonly Missing[], results: readonly Map<string, KpiTotals>[]): void =>
        list.forEach((m, j) => {
          const slot = slots[m.at]!;
          m.part.unitIds.forEach((unit, x) => {
            const t = totalsToArray(results[j]!.get(unit)!);
            bodies[m.at]![m.slots[x]!] = t;
            offsets[m.at]![m.slots[x]!] = 0;
            const since = statuses.get(unit)?.sinceMs ?? 0;
            // A state going on since before the part's end is in no bucket yet: not cached.
            if (slot === null || (since > 0 && since < slot.hi)) return;
            const units = writes.get(slot.key) ?? [];
            units.push({ equipmentId: unit, fp: fingerprint(unit, slot), body: t });
            writes.set(slot.key, units);
          });
        });
      fill(open, openComputed);
      fill(missing, computed);
      // A row written again keeps the units it had that this report did not compute (another
      // report's: a site's row serves its lines' reports too).
      const written: KpiCacheRow[] = [...writes].map(([key, added]) => {
        const slot = slotOf.get(key)!;
        const row = rows[keyIndex.get(key)!];
        const replaced = new Set(added.map((u) => u.equipmentId));
        const kept: KpiCacheUnit[] = [];
        row?.units.forEach((equipmentId, u) => {
          if (replaced.has(equipmentId)) return;
          const at = row.offsets[u]!;
          kept.push({ equipmentId, fp: row.fps[u]!, body: row.body.subarray(at, at + row.width) });
        });
        return { key, lo: slot.lo, hi: slot.hi, units: [...kept, ...added] };
      });
      released = true;
      if (written.length > 0) await this.o.store.writeKpiCache(token, written);
      else this.o.store.releaseKpiCache(token);
    } finally {
      if (!released) this.o.store.releaseKpiCache(token);
    }
    // Totals added as numbers (model/kpi.ts totalsToArray): objects only for what the report
    // shows.
    const byUnit = new Map(units.map((u) => [u, new Float64Array(KPI_TOTALS_WIDTH)]));
    let k = 0;
    const results = groups.map((g): GroupResult => {
      const perMember = new Map<string, Float64Array>();
      const sum = new Float64Array(KPI_TOTALS_WIDTH);
      for (const part of g.parts) {
        const b = bodies[k]!;
        const o = offsets[k]!;
        k += 1;
        part.unitIds.forEach((unit, j) => {
          addTotalsArray(sum, b[j]!, o[j]);
          addTotalsArray(byUnit.get(unit)!, b[j]!, o[j]);
          const m = memberOf(unit);
          if (m === null) return;
          let into = perMember.get(m);
          if (into === undefined) {
            into = new Float64Array(KPI_TOTALS_WIDTH);
            perMember.set(m, into);
          }
          addTotalsArray(into, b[j]!, o[j]);
        });
      }
      const members = [...perMember].map(([id, t]) => this.member(id, totalsFromArray(t)));
      const totalsOfGroup = totalsFromArray(sum);
      return {
        key: g.key,
        label: g.label,
        from: g.from,
        to: g.to,
        site: g.site,
        shift: g.shift,
        order: g.order,
        product: g.product,
        totals: totalsOfGroup,
        kpis: kpisOfTotals(totalsOfGroup),
        losses: lossesOf(totalsOfGroup),
        members,
      };
    });
    return { results, byUnit };
  }

  /**
   * What a unit's totals over a cache slot depend on besides the buckets: its site's calendar
   * (resume gaps), reason tree and ideal cycle time, and the reasons people gave its stops and
   * the orders with a product's ideal cycle time that ran on it within the slot.
   */
  private fingerprints(
    assigned: ReadonlyMap<string, readonly Assigned[]>,
    orders: readonly OrderRun[],
  ): (unit: string, slot: CacheSlot) => string {
    const base = new Map<string, string>();
    const trees = new Map<object, string>();
    return (unit, slot) => {
      let fp = base.get(unit);
      if (fp === undefined) {
        const tree = this.o.downtime.treeOf(unit);
        let treeFp = trees.get(tree);
        if (treeFp === undefined) {
          treeFp = JSON.stringify(tree.all());
          trees.set(tree, treeFp);
        }
        fp = digest(
          JSON.stringify([
            this.calendarOf(unit).calendar,
            this.o.hierarchy.get(unit)?.idealCycleTimeS ?? null,
            [...this.o.materialIdealMs.entries()],
          ]) + treeFp,
        );
        base.set(unit, fp);
      }
      const extra: unknown[] = [];
      for (const a of assigned.get(unit) ?? [])
        if (a.from < slot.hi && (a.to === null || a.to > slot.lo)) extra.push(a);
      for (const o of orders)
        o.operations.forEach((op, i) => {
          const equipment = o.content.operations[i]?.equipment;
          if (equipment === undefined || !within(unit, equipment)) return;
          if (op.periods.some((p) => p.from < slot.hi && (p.to === null || p.to > slot.lo)))
            extra.push([o.id, o.content.material, op.periods]);
        });
      return extra.length === 0 ? fp : digest(fp + JSON.stringify(extra));
    };
  }

  /** The totals of parts per unit, from the buckets (figures.ts) and the journal. */
  private async compute(
    parts: readonly { part: GroupPart; resumes: readonly Resume[] }[],
    statuses: ReadonlyMap<string, UnitStatus>,
    now: number,
    assigned: ReadonlyMap<string, readonly Assigned[]>,
    overrides: readonly ProductRun[],
  ): Promise<Map<string, KpiTotals>[]> {
    // A part's planned figures are its span's less its outside's (breaks): one range of whole
    // hours instead of the pieces between the breaks, each a range of its own (bench/kpi).
    const requests = parts.flatMap(({ part: p, resumes }) => [
      {
        unitIds: p.unitIds,
        intervals: p.outside.length === 0 ? p.planned : unionOf([...p.planned, ...p.outside]),
        summed: true,
      },
      { unitIds: p.unitIds, intervals: p.outside, summed: true },
      { unitIds: p.unitIds, intervals: resumes.map((r) => r.minute) },
      { unitIds: p.unitIds, intervals: resumes.map((r) => r.gap) },
    ]);
    const figures = await figuresOver(
      this.o.store,
      requests,
      statuses,
      now,
      this.reclassifyingReasons([...new Set(parts.flatMap((p) => p.part.unitIds))]),
    );
    return parts.map(({ part }, k) => {
      const planned = figures[4 * k]!;
      const outside = figures[4 * k + 1]!;
      const going = stopsGoingOn(part.unitIds, figures[4 * k + 2]!, figures[4 * k + 3]!);
      const pot = part.planned.reduce((s, [a, b]) => s + (b - a), 0);
      const span = pot + part.outside.reduce((s, [a, b]) => s + (b - a), 0);
      const out = new Map<string, KpiTotals>();
      for (const unit of part.unitIds) {
        const sum = (m: readonly Map<string, Figures>[]): Figures =>
          m.length === 1
            ? (m[0]!.get(unit) ?? noFigures())
            : m.reduce((f, x) => mergeFigures(f, x.get(unit) ?? noFigures()), noFigures());
        const goingOn = going.get(unit);
        const outsideFigures = sum(outside);
        const plan =
          part.outside.length === 0 ? sum(planned) : subtractFigures(sum(planned), outsideFigures);
        const inPlan = goingOn === undefined ? plan : mergeFigures(plan, goingOn);
        const cls = this.classify(unit, inPlan, assigned.get(unit) ?? [], part.planned);
        const ideal = this.idealTime(unit, inPlan, part.productIdealMs, overrides, part.planned);
        out.set(
          unit,
          unitTotals({
            calendarTimeMs: span,
            plannedOperationTimeMs: pot,
            figures: inPlan.figures,
            outside: outsideFigures.figures,
            plannedMs: cls.plannedMs,
            plannedDownStops: cls.plannedDownStops,
            idealTimeMs: ideal.idealTimeMs,
            piecesWithoutIdealTime: ideal.without,
          }),
        );
      }
      return out;
    });
  }

  /**
   * The (state, PLC code) pairs whose reason makes a stop planned where its state alone would
   * not, or the other way round: the only reason figures `classify` uses.
   */
  private reclassifyingReasons(units: readonly string[]): { state: string; reasonCode: string }[] {
    const out = new Map<string, { state: string; reasonCode: string }>();
    for (const tree of new Set(units.map((u) => this.o.downtime.treeOf(u))))
      for (const reason of tree.all())
        for (const reasonCode of reason.plcCodes)
          for (const state of EQUIPMENT_STATES)
            if (state !== 'running' && isPlannedStop(state, null) !== reason.planned)
              out.set(`${state}\u0000${reasonCode}`, { state, reasonCode });
    return [...out.values()];
  }

  /** Planned stop time per state: by the state, by the PLC code's reason, by a person's reason. */
  private classify(
    unit: string,
    f: Figures,
    assigned: readonly Assigned[],
    planned: readonly Interval[],
  ): { plannedMs: Partial<Record<EquipmentState, number>>; plannedDownStops: number } {
    const tree = this.o.downtime.treeOf(unit);
    const plannedMs: Partial<Record<EquipmentState, number>> = {};
    for (const s of PLANNED_STATES) plannedMs[s] = f.figures.ms[s];
    let plannedDownStops = 0;
    const shift = (state: EquipmentState, ms: number, stops: number, toPlanned: boolean): void => {
      const sign = toPlanned ? 1 : -1;
      plannedMs[state] = (plannedMs[state] ?? 0) + sign * ms;
      if (state === 'down') plannedDownStops += sign * stops;
    };
    for (const r of f.reasons) {
      const reason = tree.ofPlcCode(r.reasonCode) ?? null;
      const was = isPlannedStop(r.state, null);
      const is = isPlannedStop(r.state, reason);
      if (was !== is) shift(r.state, r.ms - r.microMs, r.n - r.microStops, is);
    }
    for (const a of assigned) {
      if (a.micro) continue; // a micro-stop is a performance loss whatever its reason
      const before = isPlannedStop(a.state, tree.ofPlcCode(a.plcCode) ?? null);
      const reason: Reason | null = tree.get(a.reason) ?? null;
      const after = isPlannedStop(a.state, reason);
      if (before === after) continue;
      const to = a.to ?? this.now();
      let ms = 0;
      let began = 0;
      for (const [lo, hi] of planned) {
        ms += Math.max(0, Math.min(hi, to) - Math.max(lo, a.from));
        if (a.from >= lo && a.from < hi) began = 1;
      }
      if (ms > 0) shift(a.state, ms, began, after);
    }
    return { plannedMs, plannedDownStops };
  }

  /** Ideal time of the pieces a unit made: its own ideal cycle time or its product's. */
  private idealTime(
    unit: string,
    f: Figures,
    productIdealMs: number | null,
    overrides: readonly ProductRun[],
    planned: readonly Interval[],
  ): { idealTimeMs: number; without: number } {
    const s = this.o.hierarchy.get(unit)?.idealCycleTimeS;
    const own = s === undefined ? null : s * 1000;
    const produced = quantities(f.figures).produced;
    const ict = productIdealMs ?? own;
    let idealTimeMs = ict === null ? 0 : ict * produced;
    let without = ict === null ? produced : 0;
    if (productIdealMs === null) {
      // Pieces made while an order for a product with its own ideal cycle time ran.
      for (const run of overrides) {
        if (run.unit !== unit) continue;
        const counts = { ...emptyFigures() };
        for (const p of run.pieces)
          if (planned.some(([lo, hi]) => p.ts >= lo && p.ts < hi)) counts[p.counter] += p.n;
        const pieces = quantities(counts).produced;
        if (pieces === 0) continue;
        idealTimeMs += (run.idealMs - (own ?? 0)) * pieces;
        if (own === null) without -= pieces;
      }
    }
    return { idealTimeMs, without: Math.max(0, without) };
  }

  /** Orders that ran in [from, to) (their records; open periods up to now). */
  async orders(from: number, to: number): Promise<OrderRun[]> {
    const out: OrderRun[] = [];
    for (let afterId: string | undefined; ;) {
      const page = await this.o.store.listRecords({ entityType: 'order', afterId, limit: PAGE });
      for (const r of page) {
        const d = r.data as unknown as OrderData;
        const ran = d.operations.some((op) =>
          op.periods.some((p) => p.from < to && (p.to === null || p.to > from)),
        );
        if (ran) out.push({ id: r.entityId, content: d.content, operations: d.operations });
      }
      if (page.length < PAGE) break;
      afterId = page.at(-1)!.entityId;
    }
    return out;
  }

  /** Pieces each unit made while an order for a product with its own ideal cycle time ran. */
  private async productRuns(
    units: readonly string[],
    orders: readonly OrderRun[],
    from: number,
    to: number,
    now: number,
  ): Promise<ProductRun[]> {
    const out: ProductRun[] = [];
    for (const o of orders) {
      const idealMs = this.o.materialIdealMs.get(o.content.material);
      if (idealMs === undefined) continue;
      for (const [i, op] of o.operations.entries()) {
        const equipment = o.content.operations[i]?.equipment;
        if (equipment === undefined) continue;
        for (const unit of units.filter((u) => within(u, equipment))) {
          const pieces: ProductRun['pieces'][number][] = [];
          for (const p of op.periods) {
            const lo = Math.max(p.from, from);
            const hi = Math.min(p.to ?? now, to);
            if (hi <= lo) continue;
            for (let afterSeq = 0; ;) {
              const page = await this.o.store.listEvents({
                equipmentId: unit,
                fromTs: lo,
                toTs: hi,
                type: 'counted',
                afterSeq,
                limit: PAGE,
              });
              for (const e of page)
                if (e.type === 'counted' && e.equipmentId === unit)
                  pieces.push({ ts: e.ts, counter: e.data.counter, n: e.data.delta });
              if (page.length < PAGE) break;
              afterSeq = page.at(-1)!.seq;
            }
          }
          out.push({ unit, idealMs, pieces });
        }
      }
    }
    return out;
  }

  /** The stops of these units that a person gave a reason, with their intervals. */
  private async assignedStops(units: readonly string[]): Promise<Map<string, Assigned[]>> {
    const wanted = new Set(units);
    const out = new Map<string, Assigned[]>();
    for (let afterId: string | undefined; ;) {
      const page = await this.o.store.listRecords({
        entityType: 'downtime-reason',
        afterId,
        limit: PAGE,
      });
      for (const r of page) {
        const at = r.entityId.lastIndexOf('@');
        const unit = r.entityId.slice(0, at);
        const seq = Number(r.entityId.slice(at + 1));
        if (!wanted.has(unit)) continue;
        const stop = await this.stop(r.entityId, unit, seq);
        if (stop === null) continue;
        out.set(unit, [...(out.get(unit) ?? []), { ...stop, reason: String(r.data.reason) }]);
      }
      if (page.length < PAGE) break;
      afterId = page.at(-1)!.entityId;
    }
    return out;
  }

  private async stop(
    id: string,
    unit: string,
    seq: number,
  ): Promise<Omit<Assigned, 'reason'> | null> {
    const cached = this.stopCache.get(id);
    if (cached !== undefined) return cached;
    const [start] = await this.o.store.listEvents({
      equipmentId: unit,
      afterSeq: seq - 1,
      limit: 1,
    });
    if (start === undefined || start.seq !== seq || start.type !== 'state.changed') return null;
    const [end] = await this.o.store.listEvents({
      equipmentId: unit,
      afterSeq: seq,
      type: 'state.changed',
      limit: 1,
    });
    const ended = end !== undefined && end.type === 'state.changed' && end.equipmentId === unit;
    const stop = {
      state: start.data.state,
      plcCode: start.data.reasonCode,
      from: start.ts,
      to: ended ? end.ts : null,
      micro: ended ? end.data.previousMicroStop : false,
    };
    if (ended) this.stopCache.set(id, stop);
    return stop;
  }
}

interface ProductRun {
  readonly unit: string;
  readonly idealMs: number;
  readonly pieces: readonly { ts: number; counter: CounterKind; n: number }[];
}

/** Intervals sorted and joined where they touch or overlap. */
function unionOf(intervals: readonly Interval[]): Interval[] {
  const out: [number, number][] = [];
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last !== undefined && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}
