/** OpenAPI paths of lots, genealogy, holds and inspections (issue #12; docs/quality.md). */
import { body, json, ok, queryParameters, type Json } from './openapi-helpers.ts';
import {
  closeBody,
  consumeBody,
  holdBody,
  importQuery,
  inspectionBody,
  lotsQuery,
  mergeBody,
  nonconformanceQuery,
  produceBody,
  recallQuery,
  receiveBody,
  releaseBody,
  splitBody,
  traceQuery,
} from './lot-routes.ts';
import { errorResponse } from './schemas.ts';

const lotParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The lot number (a "/" in it URL-encoded as %2F).',
  schema: { type: 'string' },
};
const holdParam = { name: 'hold', in: 'path', required: true, schema: { type: 'string' } };
const refused = (what: string): Json => ({
  '404': json(errorResponse, 'An unknown lot (MW_ERR_LOT_NOT_FOUND), naming it.'),
  '409': json(
    errorResponse,
    `${what} (MW_ERR_LOT_ON_HOLD naming the hold, MW_ERR_LOT_QUANTITY, MW_ERR_LOT_STATUS).`,
  ),
  '422': json(
    errorResponse,
    'A field breaks a rule, or a cycle (MW_ERR_LOT_INVALID, MW_ERR_LOT_CYCLE); nothing changed.',
  ),
});
const csvBody = (description: string, s: Parameters<typeof body>[0]): Json => ({
  required: true,
  description,
  content: { ...(body(s).content as Json), 'text/csv': { schema: { type: 'string' } } },
});

export const lotPaths: Json = {
  '/api/v1/lots': {
    get: {
      summary: 'Lots in lot-number order (material, status filters)',
      parameters: queryParameters(lotsQuery),
      responses: ok('{ lots, next }.'),
    },
    post: {
      summary:
        'Goods receipt: one lot (JSON) or many (text/csv lot,material,quantity,uom,location; ?system= maps codes)',
      parameters: queryParameters(importQuery),
      requestBody: csvBody('The lot, or a CSV of lots (all or none).', receiveBody),
      responses: { '201': { description: 'The lot (or { lots }).' }, ...refused('') },
    },
  },
  '/api/v1/lots/produce': {
    post: {
      summary: 'Production: a new lot made from input lots (each input → the lot)',
      requestBody: body(produceBody),
      responses: { '201': { description: 'The lot.' }, ...refused('An input cannot move') },
    },
  },
  '/api/v1/lots/merge': {
    post: {
      summary: 'Merge whole lots of one material into a new lot',
      requestBody: body(mergeBody),
      responses: { '201': { description: 'The lot.' }, ...refused('A lot cannot move') },
    },
  },
  '/api/v1/lots/{id}': {
    get: { summary: 'One lot with its holds', parameters: [lotParam], responses: ok('The lot.') },
  },
  '/api/v1/lots/{id}/trace': {
    get: {
      summary: 'Backward (where from) and forward (where used) trace, as a graph or a tree',
      parameters: [lotParam, ...queryParameters(traceQuery)],
      responses: ok('{ lot, direction, depth, truncated, nodes, edges } or { …, tree }.'),
    },
  },
  '/api/v1/lots/{id}/recall': {
    get: {
      summary: 'Every finished lot made from this lot, and the orders that made them (JSON or CSV)',
      parameters: [lotParam, ...queryParameters(recallQuery)],
      responses: ok('{ lot, finished, orders, lots, truncated }.'),
    },
  },
  '/api/v1/lots/{id}/consume': {
    post: {
      summary: 'Consume part of the lot into another lot, or into the output lot of an order',
      parameters: [lotParam],
      requestBody: body(consumeBody),
      responses: { ...ok('{ from, into }.'), ...refused('The lot cannot move') },
    },
  },
  '/api/v1/lots/{id}/split': {
    post: {
      summary: 'Split the lot into sublots',
      parameters: [lotParam],
      requestBody: body(splitBody),
      responses: { '201': { description: '{ lot, parts }.' }, ...refused('The lot cannot move') },
    },
  },
  '/api/v1/lots/{id}/ship': {
    post: {
      summary: 'Ship the lot (refused while on hold)',
      parameters: [lotParam],
      responses: { ...ok('The lot.'), ...refused('The lot cannot move') },
    },
  },
  '/api/v1/lots/{id}/holds': {
    post: {
      summary: 'Put the lot on quality hold (propagate: everything made from it too)',
      parameters: [lotParam],
      requestBody: body(holdBody),
      responses: { '201': { description: '{ holds }.' }, ...refused('') },
    },
  },
  '/api/v1/lots/{id}/holds/{hold}/release': {
    post: {
      summary:
        'Release a hold: re-authenticates and signs (meaning "released"), bound to the lot’s content hash',
      parameters: [lotParam, holdParam],
      requestBody: body(releaseBody),
      responses: {
        ...ok('{ hold, lot, signature }.'),
        '404': json(errorResponse, 'No such active hold on the lot.'),
      },
    },
  },
  '/api/v1/lots/{id}/inspections': {
    get: {
      summary: 'The inspections of a lot',
      parameters: [lotParam],
      responses: ok('{ inspections }.'),
    },
  },
  '/api/v1/inspections': {
    post: {
      summary:
        'Record an inspection: results judged against the plan; a failure rejects and holds the lot',
      requestBody: body(inspectionBody),
      responses: {
        '201': { description: 'The inspection with its disposition.' },
        '422': json(
          errorResponse,
          'A result breaks the plan (MW_ERR_INSPECTION_INVALID); nothing recorded.',
        ),
      },
    },
  },
  '/api/v1/inspections/import': {
    post: {
      summary:
        'LIMS results by CSV (lot,plan,characteristic,value,uom,operation,sample_size), all or none',
      parameters: queryParameters(importQuery),
      requestBody: { required: true, content: { 'text/csv': { schema: { type: 'string' } } } },
      responses: { '201': { description: '{ inspections, items }.' } },
    },
  },
  '/api/v1/nonconformances/{id}/close': {
    post: {
      summary: 'Close an open nonconformance with the disposition decided',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      requestBody: body(closeBody),
      responses: {
        ...ok('The nonconformance, closed.'),
        '404': json(errorResponse, 'No such nonconformance.'),
        '422': json(errorResponse, 'Closed already.'),
      },
    },
  },
  '/api/v1/nonconformances': {
    get: {
      summary: 'Nonconformances of failed inspections, newest first',
      parameters: queryParameters(nonconformanceQuery),
      responses: ok('{ nonconformances }.'),
    },
  },
};
