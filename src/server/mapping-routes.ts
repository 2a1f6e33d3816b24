/**
 * Routes of the identity mapping tables (issue #5; docs/mapping.md). Each parses its input and
 * calls the mapping service (../core/mapping-service.ts), which checks the permission and writes
 * the audit row.
 *
 * A table is read as JSON, CSV or YAML (`?format=`) and replaced whole by a PUT of any of the
 * three (by Content-Type). Optimistic concurrency: GET answers the version in `ETag`; a PUT with
 * `If-Match: <version>` is refused with 412 when the table has changed since.
 *
 * The CSV and YAML body parsers are registered in this plugin's own scope, so they apply to
 * these routes only.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  formatCsv,
  formatYaml,
  MAPPING_KINDS,
  MAPPING_LIMITS,
  parseCsv,
  parseYaml,
  readDocument,
  SYSTEM_ID_RE,
  SYSTEM_ID_RULE,
  type ParsedTable,
} from '../core/mapping.ts';
import type { MappingService, MappingTableSummary } from '../core/mapping-service.ts';
import { MwError } from '../errors.ts';
import { parseInput } from './input.ts';
import { principalOf } from './auth.ts';

/** Bodies up to this size: 100 000 entries of long codes (fastify's default is 1 MiB). */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const code = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(MAPPING_LIMITS.codeLength)
  .describe('A code, compared exactly (case and all).');

export const mappingParams = z.strictObject({
  system: z
    .string()
    .regex(SYSTEM_ID_RE, { error: SYSTEM_ID_RULE })
    .describe('The external system, e.g. erp, lims, erp-plant2.'),
  kind: z.enum(MAPPING_KINDS).describe('What the table maps.'),
});

export const mappingGetQuery = z.strictObject({
  format: z
    .enum(['json', 'csv', 'yaml'])
    .default('json')
    .describe('json (with version), csv (header ours,theirs,note) or yaml.'),
});

export const mappingPutQuery = z.strictObject({
  reason: z
    .string()
    .max(2000)
    .optional()
    .describe('Why (recorded in the audit trail); a JSON or YAML body may carry it instead.'),
});

export const mappingLookupQuery = z
  .strictObject({
    ours: code.optional().describe('Our code: answers theirs.'),
    theirs: code.optional().describe('Their code: answers ours.'),
  })
  .refine((q) => (q.ours === undefined) !== (q.theirs === undefined), {
    error: 'give exactly one of ours and theirs',
  });

const CONTENT_TYPES = {
  csv: 'text/csv; charset=utf-8; header=present',
  yaml: 'application/yaml; charset=utf-8',
} as const;

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

const iso = (ms: number): string => new Date(ms).toISOString();

function summaryJson(t: MappingTableSummary) {
  return {
    system: t.system,
    kind: t.kind,
    count: t.count,
    version: t.version,
    updatedAt: iso(t.updatedAt),
  };
}

/** The version an `If-Match` header names: `3` or `"3"` (the ETag of GET). */
function ifMatchVersion(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header.join(',') : header;
  const m = /^\s*(?:"(\d{1,15})"|(\d{1,15}))\s*$/.exec(value);
  if (m === null) {
    throw new MwError(
      'MW_ERR_API_VALIDATION',
      {
        path: 'headers.if-match',
        rule: `expected the table version read, like "3" (the ETag of GET), got ${JSON.stringify(value)}`,
      },
      { path: 'headers.if-match' },
    );
  }
  return Number(m[1] ?? m[2]);
}

function invalid(path: string, rule: string): MwError {
  return new MwError('MW_ERR_API_VALIDATION', { path, rule }, { path });
}

/** The body as a table document, by its content type. */
function readBody(contentType: string | undefined, body: unknown): ParsedTable {
  const mime = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (mime === 'application/json') return readDocument(body, (i) => `entries[${i}]`);
  if (mime !== 'text/csv' && !YAML_TYPES.includes(mime))
    throw invalid(
      'headers.content-type',
      `expected application/json, text/csv or application/yaml, got ${JSON.stringify(mime)}`,
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body as Buffer);
  } catch {
    throw invalid('body', 'is not valid UTF-8 text (save the file as UTF-8)');
  }
  return mime === 'text/csv' ? parseCsv(text) : parseYaml(text);
}

export async function registerMappingRoutes(
  app: FastifyInstance,
  hub: { readonly mappings: MappingService },
): Promise<void> {
  const { mappings } = hub;
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      ['text/csv', ...YAML_TYPES],
      { parseAs: 'buffer', bodyLimit: BODY_LIMIT_BYTES },
      (_request, body, done) => done(null, body),
    );

    const send = (reply: FastifyReply, version: number) => reply.header('etag', `"${version}"`);

    scope.get('/api/v1/mappings', { config: { access: 'config.read' } }, async (request) => ({
      items: mappings.list(principalOf(request)).map(summaryJson),
    }));

    scope.get(
      '/api/v1/mappings/:system/:kind',
      { config: { access: 'config.read' } },
      async (request, reply) => {
        const p = parseInput(mappingParams, request.params, 'params');
        const q = parseInput(mappingGetQuery, request.query, 'query');
        const table = mappings.get(principalOf(request), p.system, p.kind);
        send(reply, table.version);
        if (q.format === 'json') {
          return { ...summaryJson(table), entries: table.entries };
        }
        return reply
          .type(CONTENT_TYPES[q.format])
          .header(
            'content-disposition',
            `attachment; filename="${p.system}-${p.kind}.${q.format === 'csv' ? 'csv' : 'yaml'}"`,
          )
          .send(q.format === 'csv' ? formatCsv(table.entries) : formatYaml(table, table.version));
      },
    );

    scope.put(
      '/api/v1/mappings/:system/:kind',
      { config: { access: 'config.write' }, bodyLimit: BODY_LIMIT_BYTES },
      async (request, reply) => {
        const p = parseInput(mappingParams, request.params, 'params');
        const q = parseInput(mappingPutQuery, request.query, 'query');
        const input = readBody(request.headers['content-type'], request.body);
        const header = ifMatchVersion(request.headers['if-match']);
        const { version: bodyVersion, reason: bodyReason } = input;
        if (
          bodyVersion !== undefined &&
          (typeof bodyVersion !== 'number' || !Number.isSafeInteger(bodyVersion) || bodyVersion < 0)
        )
          throw invalid('body.version', 'expected the table version read (an integer ≥ 0)');
        if (header !== undefined && bodyVersion !== undefined && header !== bodyVersion)
          throw invalid(
            'body.version',
            `says ${bodyVersion} but If-Match says ${header}; send the version once`,
          );
        if (bodyReason !== undefined && typeof bodyReason !== 'string')
          throw invalid('body.reason', 'expected a string');
        if (bodyReason !== undefined && q.reason !== undefined)
          throw invalid('query.reason', 'the body carries a reason too; send it once');
        const result = await mappings.replace(principalOf(request), p.system, p.kind, input, {
          expectedVersion: header ?? (bodyVersion as number | undefined),
          reason: (bodyReason as string | undefined) ?? q.reason ?? null,
        });
        send(reply, result.table.version);
        return reply
          .status(result.created ? 201 : 200)
          .send({ ...summaryJson(result.table), changes: result.changes });
      },
    );

    scope.get(
      '/api/v1/mappings/:system/:kind/lookup',
      { config: { access: 'config.read' } },
      async (request) => {
        const p = parseInput(mappingParams, request.params, 'params');
        const q = parseInput(mappingLookupQuery, request.query, 'query');
        const entry = mappings.lookup(
          principalOf(request),
          p.system,
          p.kind,
          q.ours !== undefined ? { ours: q.ours } : { theirs: q.theirs! },
        );
        return {
          system: p.system,
          kind: p.kind,
          ours: entry.ours,
          theirs: entry.theirs,
          note: entry.note ?? null,
        };
      },
    );
  });
}
