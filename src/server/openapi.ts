/** The OpenAPI 3.1 document, generated from the same zod schemas the routes validate with. */
import { z } from 'zod';
import { VERSION } from '../version.ts';
import type { RouteAccess } from './auth.ts';
import {
  loginBody,
  passwordChangeBody,
  reasonBody,
  signaturesQuery,
  signBody,
  tokenCreateBody,
  userCreateBody,
  userPasswordBody,
  userUpdateBody,
} from './identity-routes.ts';
import { bindingsQuery } from './binding-routes.ts';
import { productionQuery, reasonBody as stopReasonBody, summaryQuery } from './downtime-routes.ts';
import { tagWriteBody } from './connection-routes.ts';
import { mappingGetQuery, mappingLookupQuery, mappingPutQuery } from './mapping-routes.ts';
import {
  auditExportQuery,
  auditPage,
  auditQuery,
  auditRowView,
  auditVerification,
  equipmentList,
  equipmentView,
  errorResponse,
  eventPage,
  downtimesQuery,
  eventsQuery,
  healthView,
  quarantinePage,
  quarantineQuery,
} from './schemas.ts';

import { body, errors, json, ok, queryParameters, schema, type Json } from './openapi-helpers.ts';
import { orderPaths } from './openapi-orders.ts';
import { lotPaths } from './openapi-lots.ts';
import { kpiPaths } from './openapi-kpi.ts';

const idParam = {
  name: 'id',
  in: 'path',
  required: true,
  description:
    'Equipment id: its path, e.g. acme/plant1/packaging/line1/filler (slashes as they are, or URL-encoded).',
  schema: { type: 'string' },
};

const nameParam = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
const tokenIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Users, sessions, tokens and signatures (issue #3); see docs/roles.md for who may call what. */
const identityPaths: Json = {
  '/api/v1/auth/login': {
    post: {
      summary: 'Log in: a session token (also set as the HttpOnly cookie mw_session)',
      requestBody: body(loginBody),
      responses: ok('The session token, its expiry and the user.'),
    },
  },
  '/api/v1/auth/logout': {
    post: { summary: 'End the session', responses: { '204': { description: 'Ended.' } } },
  },
  '/api/v1/auth/me': {
    get: { summary: 'Who the credentials belong to', responses: ok('Actor and permissions.') },
  },
  '/api/v1/auth/password': {
    post: {
      summary: 'Change one’s own password, proving the current one (works when it has expired)',
      requestBody: body(passwordChangeBody),
      responses: { '204': { description: 'Changed.' } },
    },
  },
  '/api/v1/roles': {
    get: { summary: 'Roles and their permissions', responses: ok('Roles and permissions.') },
  },
  '/api/v1/users': {
    get: { summary: 'Users', responses: ok('Every user (never deleted; disabled ones too).') },
    post: {
      summary: 'Create a user (the user changes the password at first login)',
      requestBody: body(userCreateBody),
      responses: { '201': { description: 'Created.' } },
    },
  },
  '/api/v1/users/{name}': {
    get: { summary: 'One user', parameters: [nameParam], responses: ok('The user.') },
    patch: {
      summary: 'Change full name, roles or disabled (audited old → new)',
      parameters: [nameParam],
      requestBody: body(userUpdateBody),
      responses: ok('The user as changed.'),
    },
  },
  '/api/v1/users/{name}/password': {
    post: {
      summary: 'Set a user’s password (to be changed at the next login)',
      parameters: [nameParam],
      requestBody: body(userPasswordBody),
      responses: ok('The user.'),
    },
  },
  '/api/v1/users/{name}/unlock': {
    post: {
      summary: 'Unlock a user locked after failed attempts',
      parameters: [nameParam],
      requestBody: body(reasonBody),
      responses: ok('The user.'),
    },
  },
  '/api/v1/tokens': {
    get: {
      summary: 'API tokens (never their secrets), with last use',
      responses: ok('The tokens.'),
    },
    post: {
      summary: 'Create an API token; the response shows its secret once',
      requestBody: body(tokenCreateBody),
      responses: { '201': { description: 'The token (field token) and its record.' } },
    },
  },
  '/api/v1/tokens/{id}': {
    delete: {
      summary: 'Revoke an API token',
      parameters: [tokenIdParam],
      requestBody: body(reasonBody),
      responses: ok('The token as revoked.'),
    },
  },
  '/api/v1/signatures': {
    get: {
      summary: 'The electronic signatures of a record, each with whether it still holds',
      parameters: queryParameters(signaturesQuery),
      responses: ok('The signatures, oldest first.'),
    },
    post: {
      summary: 'Sign a record (re-authenticating with user name and password)',
      requestBody: body(signBody),
      responses: { '201': { description: 'The signature.' } },
    },
  },
};

const mappingPath = [
  {
    name: 'system',
    in: 'path',
    required: true,
    schema: { type: 'string' },
    description: 'External system, e.g. erp.',
  },
  {
    name: 'kind',
    in: 'path',
    required: true,
    schema: { type: 'string', enum: ['material', 'equipment', 'reason', 'uom'] },
  },
];

/** Identity mapping tables (issue #5; docs/mapping.md). */
const mappingPaths: Json = {
  '/api/v1/mappings': {
    get: { summary: 'Mapping tables with their entry counts', responses: ok('The tables.') },
  },
  '/api/v1/mappings/{system}/{kind}': {
    get: {
      summary: 'One mapping table as JSON, CSV or YAML (ETag: its version)',
      parameters: [...mappingPath, ...queryParameters(mappingGetQuery)],
      responses: ok('The table.'),
    },
    put: {
      summary:
        'Replace a mapping table from JSON, CSV (ours,theirs,note) or YAML; If-Match: the version read',
      parameters: [...mappingPath, ...queryParameters(mappingPutQuery)],
      responses: ok('The table as stored.'),
    },
  },
  '/api/v1/mappings/{system}/{kind}/lookup': {
    get: {
      summary:
        'Map one code: ours → theirs or theirs → ours (404 when unmapped; never passed through)',
      parameters: [
        ...mappingPath,
        ...queryParameters(mappingLookupQuery as unknown as z.ZodObject),
      ],
      responses: ok('The mapped code.'),
    },
  },
};

const connectionId = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Connections, live tag values, writes and the bindings' live view (issues #4, #5). */
const connectionPaths: Json = {
  '/api/v1/connections': {
    get: {
      summary: 'Every connection: status, last data, samples/s, reconnects, errors',
      responses: ok('The connections.'),
    },
  },
  '/api/v1/connections/{id}': {
    get: {
      summary: 'One connection with its connector-specific metrics',
      parameters: [connectionId],
      responses: ok('The connection.'),
    },
  },
  '/api/v1/connections/{id}/tags': {
    get: {
      summary: 'The latest committed value, quality and time of every tag of a connection',
      parameters: [connectionId],
      responses: ok('The tags.'),
    },
  },
  '/api/v1/tags/{connection}/{tag}/write': {
    post: {
      summary: 'Write a value to a device tag (the tag may contain slashes); audited',
      parameters: [
        { name: 'connection', in: 'path', required: true, schema: { type: 'string' } },
        { name: 'tag', in: 'path', required: true, schema: { type: 'string' } },
      ],
      requestBody: body(tagWriteBody),
      responses: ok('Written and confirmed by the device.'),
    },
  },
  '/api/v1/downtime/summary': {
    get: {
      summary:
        'Stop time of every site side by side: by reason category, planned, unplanned, unclassified',
      parameters: queryParameters(summaryQuery),
      responses: ok('One entry per site.'),
    },
  },
  '/api/v1/production/summary': {
    get: {
      summary:
        'What every site made (per line, its output unit’s counts) and used (per material, exact decimals), each over its own local day',
      parameters: queryParameters(productionQuery),
      responses: ok('One entry per site.'),
    },
  },
  '/api/v1/quarantine/{id}/replay': {
    post: {
      summary:
        'Replay a quarantined input once its binding or mapping is fixed (once per entry; audited)',
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      responses: ok('accepted, or quarantined again with the error.'),
    },
  },
  '/api/v1/bindings': {
    get: {
      summary:
        'Each binding with the last readings of its inputs and the value it derived, per unit',
      parameters: queryParameters(bindingsQuery),
      responses: ok('The bindings.'),
    },
  },
};

/** The access a route declared, for an OpenAPI path and method (`{x}` is `:x`, equipment is `*`). */
function accessOf(
  routes: ReadonlyMap<string, RouteAccess>,
  method: string,
  path: string,
): RouteAccess | undefined {
  const url = path.startsWith('/api/v1/equipment/')
    ? '/api/v1/equipment/*'
    : path.startsWith('/api/v1/tags/')
      ? '/api/v1/tags/*'
      : path.replace(/\{(\w+)\}/g, ':$1');
  return routes.get(`${method.toUpperCase()} ${url}`);
}

/** Mark each operation with the permission it needs, its security and its 401/403 answers. */
function withAccess(paths: Json, routes: ReadonlyMap<string, RouteAccess>): Json {
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Json>)) {
      const access = accessOf(routes, method, path);
      if (access === undefined)
        throw new Error(`OpenAPI lists ${method} ${path}, which has no route`);
      op['x-permission'] = access;
      if (access === 'public') {
        op.security = [];
        continue;
      }
      op.responses = {
        ...(op.responses as Json),
        '401': json(errorResponse, 'No, unknown, expired or revoked credentials.'),
        ...(access === 'authenticated'
          ? {}
          : { '403': json(errorResponse, `The credentials lack the permission ${access}.`) }),
      };
    }
  }
  return paths;
}

export function buildOpenApi(routes: ReadonlyMap<string, RouteAccess>): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Millwright API',
      version: VERSION,
      description:
        'MES integration hub: equipment, events, quarantine, health, users, tokens, signatures and the audit trail. Every route names the permission it needs in x-permission (docs/roles.md).',
    },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'A session (mws_…) from POST /api/v1/auth/login, or an API token (mwt_…).',
        },
        cookie: { type: 'apiKey', in: 'cookie', name: 'mw_session' },
      },
    },
    security: [{ bearer: [] }, { cookie: [] }],
    paths: withAccess(
      {
        ...identityPaths,
        ...orderPaths,
        ...lotPaths,
        ...kpiPaths,
        ...mappingPaths,
        ...connectionPaths,
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
        '/api/v1/equipment/{id}/downtimes': {
          get: {
            summary:
              'Stops of a work unit with their reasons (mapped from the PLC code or given afterwards), oldest first',
            parameters: [idParam, ...queryParameters(downtimesQuery)],
            responses: { '200': { description: 'The stops.' }, ...errors },
          },
        },
        '/api/v1/equipment/{id}/downtimes/{seq}/reason': {
          post: {
            summary: 'Give a stop its reason afterwards, with a comment (audited)',
            parameters: [
              idParam,
              { name: 'seq', in: 'path', required: true, schema: { type: 'integer' } },
            ],
            requestBody: body(stopReasonBody),
            responses: { '200': { description: 'The stop with its reason.' }, ...errors },
          },
        },
        '/api/v1/equipment/{id}/reasons': {
          get: {
            summary: 'The reason tree of the site the equipment belongs to',
            parameters: [idParam],
            responses: { '200': { description: 'The reasons.' }, ...errors },
          },
        },
        '/api/v1/audit': {
          get: {
            summary: 'The audit trail, oldest first, paged; filtered by entity, actor and time',
            parameters: queryParameters(auditQuery),
            responses: { '200': json(auditPage, 'One page of audit rows.'), '400': errors['400'] },
          },
        },
        '/api/v1/audit/export': {
          get: {
            summary:
              'A complete copy of the matching audit rows (21 CFR 11.10(b)), streamed as a file download',
            parameters: queryParameters(auditExportQuery),
            responses: {
              '200': {
                description:
                  'CSV (RFC 4180; columns seq, at, actor, action, entity_type, entity_id, changes, reason, hash, prev_hash) or a JSON array of audit rows.',
                content: {
                  'text/csv': { schema: { type: 'string' } },
                  'application/json': { schema: schema(z.array(auditRowView)) },
                },
              },
              '400': errors['400'],
            },
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
            responses: {
              '200': json(quarantinePage, 'One page of entries.'),
              '400': errors['400'],
            },
          },
        },
      },
      routes,
    ),
  };
}
