/** OpenAPI paths of work orders, the ERP exchange and the outbox (issue #10; docs/erp.md). */
import { jsonDocumentSchema, jsonOrderSchema } from '../enterprise/inbound.ts';
import { ORDER_ACTIONS } from '../model/index.ts';
import { body, json, ok, queryParameters, type Json } from './openapi-helpers.ts';
import {
  actionBody,
  importQuery,
  ordersQuery,
  outboxDecisionBody,
  outboxQuery,
} from './order-routes.ts';
import { errorResponse } from './schemas.ts';

const orderIdParam = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The ERP’s order number (a "/" in it URL-encoded as %2F).',
  schema: { type: 'string' },
};
const xmlBody = (description: string): Json => ({
  required: true,
  description,
  content: { 'application/xml': { schema: { type: 'string' } } },
});

export const orderPaths: Json = {
  '/api/v1/orders': {
    get: {
      summary: 'Work orders in id order, with progress (good/scrap counted while they ran)',
      parameters: queryParameters(ordersQuery),
      responses: ok('One page of orders and nextCursor.'),
    },
    post: {
      summary:
        'Import one order or {orders:[…]} (JSON; also B2MML as application/xml or CSV as text/csv), idempotent on the order number',
      parameters: queryParameters(importQuery),
      requestBody: body(jsonDocumentSchema),
      responses: {
        '201': { description: 'At least one order was created.' },
        '200': { description: 'Nothing new: each order updated or unchanged.' },
        '422': json(
          errorResponse,
          'Refused as a whole (field, rule; unmapped code with its table); quarantined.',
        ),
        '409': json(errorResponse, 'An order changed after it was dispatched.'),
      },
    },
  },
  '/api/v1/b2mml': {
    post: {
      summary:
        'Import an ISA-95 B2MML document: V0701 OperationsSchedule (Production), V0600/V0401 ProductionSchedule, MaterialInformation/Definition/Lot; XSD-validated, no DTDs',
      parameters: queryParameters(importQuery),
      requestBody: xmlBody('The B2MML document (UTF-8, a BOM and CRLF are fine).'),
      responses: {
        '201': { description: 'At least one order was created.' },
        '200': { description: 'Imported; nothing new.' },
        '422': json(
          errorResponse,
          'Schema-invalid (libxml2’s message and the element path) or unmapped.',
        ),
      },
    },
  },
  '/api/v1/orders/{id}': {
    get: { summary: 'One order', parameters: [orderIdParam], responses: ok('The order.') },
    put: {
      summary: 'Create or replace one order (JSON), as POST does for one',
      parameters: [orderIdParam, ...queryParameters(importQuery)],
      requestBody: body(jsonOrderSchema.partial({ externalId: true })),
      responses: ok('The order.'),
    },
  },
  '/api/v1/orders/{id}/messages': {
    get: {
      summary: 'The messages of one order to every target, oldest first, with their payloads',
      parameters: [orderIdParam],
      responses: ok('The outbox rows of the order.'),
    },
  },
  '/api/v1/orders/{id}/{action}': {
    post: {
      summary:
        'A lifecycle action: dispatch, start, hold, resume, complete, close, cancel (audited; writes the messages it causes)',
      parameters: [
        orderIdParam,
        {
          name: 'action',
          in: 'path',
          required: true,
          schema: { type: 'string', enum: [...ORDER_ACTIONS] },
        },
      ],
      requestBody: body(actionBody),
      responses: {
        '200': { description: 'The order after the action.' },
        '409': json(errorResponse, 'The order’s status does not allow the action.'),
      },
    },
  },
  '/api/v1/outbox': {
    get: {
      summary: 'Messages to the enterprise targets, newest first, and counts per target and status',
      parameters: queryParameters(outboxQuery),
      responses: ok('One page of messages, counts and nextCursor.'),
    },
  },
  '/api/v1/outbox/{id}': {
    get: {
      summary: 'One outbox message with its payload',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      responses: ok('The message.'),
    },
  },
  '/api/v1/outbox/{id}/{decision}': {
    post: {
      summary: 'Replay (deliver again) or discard a dead message, with a reason (audited)',
      parameters: [
        { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
        {
          name: 'decision',
          in: 'path',
          required: true,
          schema: { type: 'string', enum: ['replay', 'discard'] },
        },
      ],
      requestBody: body(outboxDecisionBody),
      responses: {
        '200': { description: 'The message after the decision.' },
        '409': json(errorResponse, 'The message is not dead.'),
      },
    },
  },
  '/api/v1/targets': {
    get: {
      summary:
        'Each enterprise target: mode, deliveries, dead letters, latency p50/p99, last error; inbound counts',
      responses: ok('Targets and inbound paths.'),
    },
  },
  '/api/v1/targets/{id}/test': {
    post: {
      summary: 'Reach a target’s receiver without sending a message',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: ok('ok, or the error.'),
    },
  },
};
