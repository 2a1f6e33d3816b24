/** OpenAPI paths of the KPIs (issue #11; docs/kpi.md). */
import { queryParameters, type Json } from './openapi-helpers.ts';
import { downtimeQuery, oeeQuery } from './kpi-routes.ts';

const csvToo = (description: string): Json => ({
  '200': {
    description,
    content: {
      'application/json': { schema: { type: 'object' } },
      'text/csv': { schema: { type: 'string' } },
    },
  },
});

export const kpiPaths: Json = {
  '/api/v1/kpi/oee': {
    get: {
      summary:
        'OEE after ISO 22400-2 (availability, performance, quality, TEEP, MTBF, MTTR, the six big losses) of any equipment level, by shift, day, week, order or product of the site calendar; rollups sum times and counts',
      parameters: queryParameters(oeeQuery),
      responses: csvToo(
        'The report: the calendar used, a summary and one group per shift/day/week/order/product, each with its members (the equipment one level below by default; every work unit with members=units). CSV with format=csv or Accept: text/csv.',
      ),
    },
  },
  '/api/v1/kpi/downtime': {
    get: {
      summary:
        'Downtime Pareto within planned operation time: stop time by reason or category, largest first, with share and cumulative share',
      parameters: queryParameters(downtimeQuery),
      responses: csvToo('The rows, largest first. CSV with format=csv or Accept: text/csv.'),
    },
  },
};
