/** The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with. */
import { z } from 'zod';
import { VERSION } from '../version.ts';
import {
  auditVerification,
  equipmentList,
  equipmentView,
  errorResponse,
  eventPage,
  eventsQuery,
  healthView,
  quarantinePage,
  quarantineQuery,
} from './schemas.ts';

type Json = Record<string, unknown>;

const schema = (s: z.ZodType): Json =>
  z.toJSONSchema(s, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
const inputSchema = (s: z.ZodType): Json =>
  z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;

function queryParameters(s: z.ZodObject): Json[] {
  const js = inputSchema(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, p]) => ({
    name,
    in: 'query',
    required: js.required?.includes(name) ?? false,
    description: p.description,
    schema: p,
  }));
}

const json = (s: z.ZodType, description: string): Json => ({
  description,
  content: { 'application/json': { schema: schema(s) } },
});
const errors = {
  '400': json(errorResponse, 'Invalid request: the error names the field and the rule.'),
  '404': json(errorResponse, 'Not found.'),
};
const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description:
    'Equipment id: its path, e.g. acme/plant1/packaging/line1/filler (slashes as they are, or URL-encoded).',
  schema: { type: 'string' },
};

export function buildOpenApi(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Millwright API',
      version: VERSION,
      description: 'MES integration hub: equipment, events, quarantine and health.',
    },
    paths: {
      '/api/v1/health': {
        get: {
          summary: 'Health of the store, the broker, every connection and the ingest pipeline',
          responses: {
            '200': json(healthView, 'Healthy or degraded.'),
            '503': json(healthView, 'The store is unreachable.'),
          },
        },
      },
      '/api/v1/equipment': {
        get: {
          summary: 'The equipment hierarchy with live state and counters',
          responses: { '200': json(equipmentList, 'Every node, parents first.') },
        },
      },
      '/api/v1/equipment/{id}': {
        get: {
          summary: 'One equipment node',
          parameters: [idParam],
          responses: { '200': json(equipmentView, 'The node.'), ...errors },
        },
      },
      '/api/v1/equipment/{id}/events': {
        get: {
          summary: 'Events of the equipment and everything below it, oldest first, paged',
          parameters: [idParam, ...queryParameters(eventsQuery)],
          responses: { '200': json(eventPage, 'One page of events.'), ...errors },
        },
      },
      '/api/v1/audit/verify': {
        get: {
          summary:
            "Walk the audit trail's hash chain: ok with the row count, or the first broken row and why",
          responses: { '200': json(auditVerification, 'The verdict (ok true or false).') },
        },
      },
      '/api/v1/quarantine': {
        get: {
          summary: 'Input that could not be accepted, newest first, with the reason',
          parameters: queryParameters(quarantineQuery),
          responses: { '200': json(quarantinePage, 'One page of entries.'), '400': errors['400'] },
        },
      },
    },
  };
}
