/**
 * KPIs (issue #11; docs/kpi.md): GET /api/v1/kpi/oee and /api/v1/kpi/downtime, as JSON or, with
 * `format=csv` or `Accept: text/csv`, as RFC 4180 CSV of the same figures.
 */
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { downtimePareto, type ParetoReport } from '../core/kpi/pareto.ts';
import type { GroupResult, OeeReport } from '../core/kpi/service.ts';
import {
  EQUIPMENT_STATES,
  KPI_RATIO_FIELDS,
  KPI_TOTAL_FIELDS,
  MINUTE_MS,
  type KpiTotals,
  type Kpis,
} from '../model/index.ts';
import type { HubView } from '../hub-view.ts';
import { MwError } from '../errors.ts';
import { principalOf } from './auth.ts';
import { parseInput } from './input.ts';
import { timeParam } from './schemas.ts';

const DAY_MS = 86_400_000;

const rangeFields = {
  equipment: z
    .string()
    .min(1)
    .describe('An equipment id at any level: a unit, a line, an area, a site, the enterprise.'),
  from: timeParam
    .optional()
    .describe(
      'Start (ISO 8601 or epoch ms), floored to the minute. Default: 24 hours before `to`.',
    ),
  to: timeParam
    .optional()
    .describe(
      'End, exclusive, floored to the minute. Default: now. Time after now is not counted.',
    ),
  format: z
    .enum(['json', 'csv'])
    .optional()
    .describe('csv: the same figures as CSV (or send Accept: text/csv).'),
};

export const oeeQuery = z
  .strictObject({
    ...rangeFields,
    groupBy: z
      .enum(['shift', 'day', 'week', 'order', 'product'])
      .default('shift')
      .describe(
        'Groups: shifts of the site calendar, site-local days, ISO weeks, orders or products.',
      ),
    members: z
      .enum(['children', 'units', 'none'])
      .default('children')
      .describe(
        'Who each group and the summary list: the equipment one level below (a site’s areas, a line’s units), every work unit, or nobody.',
      ),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    error: 'from must be before to',
    path: ['to'],
  });

export const downtimeQuery = z
  .strictObject({
    ...rangeFields,
    by: z
      .enum(['reason', 'category'])
      .default('reason')
      .describe('Rows per reason or per category.'),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, {
    error: 'from must be before to',
    path: ['to'],
  });

const iso = (ms: number): string => new Date(ms).toISOString();
const floorMinute = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

function range(q: { from?: number | undefined; to?: number | undefined }): {
  from: number;
  to: number;
} {
  const to = floorMinute(q.to ?? Date.now() + MINUTE_MS);
  const from = floorMinute(q.from ?? to - DAY_MS);
  if (from >= to)
    throw new MwError(
      'MW_ERR_API_VALIDATION',
      { path: 'query.to', rule: 'from must be at least a minute before to' },
      { path: 'query.to' },
    );
  return { from, to };
}

function wantsCsv(request: FastifyRequest, format: string | undefined): boolean {
  if (format !== undefined) return format === 'csv';
  return (request.headers.accept ?? '').includes('text/csv');
}

function groupJson(g: GroupResult) {
  return { ...g, from: iso(g.from), to: iso(g.to) };
}

export function oeeJson(r: OeeReport) {
  return {
    equipment: r.equipment,
    level: r.level,
    from: iso(r.from),
    to: iso(r.to),
    groupBy: r.groupBy,
    calendar: r.calendars.length === 1 ? r.calendars[0] : null,
    calendars: r.calendars,
    units: r.units,
    summary: groupJson(r.summary),
    groups: r.groups.map(groupJson),
  };
}

// RFC 4180: CRLF between records, fields quoted where needed.
const csvLine = (fields: readonly (string | number | null)[]): string =>
  stringify([fields], { record_delimiter: 'windows', quote_record_delimiter: true });

const STATES = [...EQUIPMENT_STATES, 'no-data'] as const;

export const OEE_CSV_COLUMNS = [
  'group',
  'from',
  'to',
  'shift',
  'crew',
  'order',
  'product',
  'equipment',
  ...KPI_TOTAL_FIELDS,
  ...STATES.map((s) => `state_${s.replace('-', '_')}_ms`),
  ...KPI_RATIO_FIELDS,
];

/** One line per group and unit, and one for the group (equipment: the report's). */
export function oeeCsv(r: OeeReport): string {
  const lines = [csvLine(OEE_CSV_COLUMNS)];
  const line = (g: GroupResult, equipment: string, t: KpiTotals, k: Kpis): string =>
    csvLine([
      g.key,
      iso(g.from),
      iso(g.to),
      g.shift?.name ?? '',
      g.shift?.crew ?? '',
      g.order ?? '',
      g.product ?? '',
      equipment,
      ...KPI_TOTAL_FIELDS.map((f) => t[f]),
      ...STATES.map((s) => t.stateMs[s]),
      ...KPI_RATIO_FIELDS.map((f) => k[f]),
    ]);
  for (const g of [...r.groups, r.summary]) {
    lines.push(line(g, r.equipment, g.totals, g.kpis));
    for (const m of g.members) lines.push(line(g, m.id, m.totals, m.kpis));
  }
  return lines.join('');
}

export function paretoJson(r: ParetoReport) {
  return {
    ...r,
    from: iso(r.from),
    to: iso(r.to),
    calendar: r.calendars.length === 1 ? r.calendars[0] : null,
  };
}

export function paretoCsv(r: ParetoReport): string {
  return [
    csvLine([
      'key',
      'name',
      'category',
      'planned',
      'ms',
      'stops',
      'microStops',
      'share',
      'cumulativeShare',
    ]),
    ...r.rows.map((x) =>
      csvLine([
        x.key,
        x.name,
        x.category,
        String(x.planned),
        x.ms,
        x.stops,
        x.microStops,
        x.share,
        x.cumulativeShare,
      ]),
    ),
  ].join('');
}

const fileStamp = (ms: number): string =>
  iso(ms)
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

function sendCsv(reply: FastifyReply, name: string, body: string): FastifyReply {
  return reply
    .type('text/csv; charset=utf-8; header=present')
    .header('content-disposition', `attachment; filename="${name}"`)
    .send(body);
}

export function registerKpiRoutes(app: FastifyInstance, hub: HubView): void {
  app.get('/api/v1/kpi/oee', { config: { access: 'equipment.read' } }, async (request, reply) => {
    const q = parseInput(oeeQuery, request.query, 'query');
    const { from, to } = range(q);
    const report = await hub.kpi.oee(principalOf(request), {
      equipment: q.equipment,
      from,
      to,
      groupBy: q.groupBy,
      members: q.members,
    });
    if (wantsCsv(request, q.format))
      return sendCsv(reply, `millwright-oee-${q.groupBy}-${fileStamp(from)}.csv`, oeeCsv(report));
    return oeeJson(report);
  });

  app.get(
    '/api/v1/kpi/downtime',
    { config: { access: 'equipment.read' } },
    async (request, reply) => {
      const q = parseInput(downtimeQuery, request.query, 'query');
      const { from, to } = range(q);
      const report = await downtimePareto(hub.kpi, hub.downtime, principalOf(request), {
        equipment: q.equipment,
        from,
        to,
        by: q.by,
      });
      if (wantsCsv(request, q.format))
        return sendCsv(reply, `millwright-downtime-${fileStamp(from)}.csv`, paretoCsv(report));
      return paretoJson(report);
    },
  );
}
