/** Configuration of an SQL polling connection (validated at startup; docs/configuration.md). */
import { z } from 'zod';
import { durationSchema, idSchema, reconnectSchema } from '../../config/common.ts';
import { dialectOf, placeholderProblem } from './placeholders.ts';
import { tagTemplateError, templateNames, writePatternError } from './tags.ts';

const SQL_URL_RE = /^(postgres|postgresql|mysql|mariadb):\/\/[^\s]+$/i;

/** Placeholders a polling query may use, and those it must use. */
export const QUERY_PLACEHOLDERS = ['watermark', 'limit'] as const;
/** Placeholders of a `writes` statement besides the captures of its tag pattern. */
export const WRITE_PLACEHOLDERS = ['value', 'tag'] as const;

const columnSchema = z.string().min(1, { error: 'expected a column name' });

const tagMappingSchema = z
  .strictObject({
    column: columnSchema
      .describe('Column of the result whose value the tag takes.')
      .meta({ examples: ['good_count'] }),
    tag: z
      .string()
      .superRefine((template, ctx) => {
        const error = tagTemplateError(template);
        if (error !== null) ctx.addIssue({ code: 'custom', message: error });
      })
      .describe(
        'Tag name, slash-separated so bindings can match it; `{column}` takes the value of another column of the same row.',
      )
      .meta({ examples: ['line1/{machine}/good'] }),
    type: z
      .enum(['auto', 'number', 'string', 'boolean'])
      .default('auto')
      .describe(
        'Type of the value. auto: numbers stay numbers, BIGINT/DECIMAL become numbers when they are safe integers and exact text otherwise, dates become epoch ms, text stays text. A value that does not convert is a sample of quality bad with the reason.',
      ),
  })
  .describe('A column mapped to a tag.');

const querySchema = z
  .strictObject({
    id: idSchema
      .describe(
        'Id of the query, unique within the connection. Its watermark is kept under this id: a new id starts from `watermark.initial`.',
      )
      .meta({ examples: ['counts'] }),
    sql: z
      .string()
      .min(1)
      .describe(
        'The SELECT, with the named placeholders `:watermark` (required: the last watermark read) and `:limit` (optional: `limit`). Order the rows by the watermark column.',
      )
      .meta({
        examples: [
          'SELECT id, machine, good_count, ts FROM production WHERE id > :watermark ORDER BY id LIMIT :limit',
        ],
      }),
    every: durationSchema
      .default(5000)
      .describe(
        'Polling period. A poll that returns `limit` rows is followed by the next one at once.',
      )
      .meta({ examples: ['5s'] }),
    limit: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe('Most rows read per poll (the `:limit` placeholder).'),
    watermark: z
      .strictObject({
        column: columnSchema
          .describe(
            'Column that increases with every new row (an id or a timestamp); the largest value read is persisted and passed as `:watermark`, so each row is read once across restarts.',
          )
          .meta({ examples: ['id'] }),
        initial: z
          .union([z.number(), z.string()])
          .default(0)
          .describe(
            'Watermark before the first row: a number, or text such as an ISO 8601 time for a timestamp column.',
          )
          .meta({ examples: [0, '2026-01-01T00:00:00Z'] }),
      })
      .describe('The column that marks how far the query has read.'),
    timestamp: columnSchema
      .optional()
      .describe(
        'Column with the source time of the row (a date/timestamp, epoch ms or ISO 8601 text); without it the receive time is used.',
      )
      .meta({ examples: ['ts'] }),
    quality: z
      .strictObject({
        column: columnSchema.describe('Column with the quality of the row.'),
        map: z
          .record(z.string(), z.enum(['good', 'uncertain', 'bad']))
          .optional()
          .describe(
            'Column value → quality. Without it the value must be good, uncertain or bad (any case) or a boolean (true is good).',
          )
          .meta({ examples: [{ '0': 'good', '1': 'uncertain', '2': 'bad' }] }),
      })
      .optional()
      .describe('Optional quality column of the rows; its value is kept as the sample status.'),
    tags: z.array(tagMappingSchema).min(1).describe('Columns mapped to tags.'),
  })
  .describe('A query polled on a schedule.');

const writeSchema = z
  .strictObject({
    tag: z
      .string()
      .superRefine((pattern, ctx) => {
        const error = writePatternError(pattern);
        if (error !== null) ctx.addIssue({ code: 'custom', message: error });
      })
      .describe('Tag written through this statement; a whole level `{name}` captures that level.')
      .meta({ examples: ['line1/{machine}/setpoint'] }),
    sql: z
      .string()
      .min(1)
      .describe(
        'Statement run in a transaction, with the named placeholders `:value` (required), `:tag` and the captures of `tag`. It must change at least one row.',
      )
      .meta({ examples: ['UPDATE setpoints SET value = :value WHERE machine = :machine'] }),
  })
  .describe('A tag written by a parameterised statement.');

export const sqlConnectionSchema = z
  .strictObject({
    id: idSchema
      .describe('Id of the connection, unique among connections.')
      .meta({ examples: ['line-db'] }),
    type: z.literal('sql'),
    url: z
      .string()
      .regex(SQL_URL_RE, {
        error:
          'expected a database URL like "postgres://user:pass@host:5432/db" or "mysql://user:pass@host:3306/db"',
      })
      .describe(
        'Database URL: `postgres://` (PostgreSQL) or `mysql://` / `mariadb://` (MariaDB, MySQL). Write the password as "${ENV_NAME}".',
      )
      .meta({ examples: ['postgres://mes:${LINE_DB_PASSWORD}@10.0.0.5:5432/historian'] }),
    timeout: durationSchema
      .default(10_000)
      .describe('Longest wait for connecting and for one statement.')
      .meta({ examples: ['10s'] }),
    reconnect: reconnectSchema.prefault({}),
    queries: z
      .array(querySchema)
      .min(1, { error: 'an SQL connection needs at least one query' })
      .describe('Queries polled on this connection.'),
    writes: z
      .array(writeSchema)
      .default([])
      .describe('Tags that can be written, each through its own statement.'),
  })
  .superRefine((c, ctx) => {
    const dialect = dialectOf(c.url);
    const seen = new Set<string>();
    c.queries.forEach((q, i) => {
      if (seen.has(q.id))
        ctx.addIssue({
          code: 'custom',
          path: ['queries', i, 'id'],
          message: `query id "${q.id}" is used twice`,
        });
      seen.add(q.id);
      if (dialect === null) return;
      const problem = placeholderProblem(q.sql, dialect, QUERY_PLACEHOLDERS, ['watermark']);
      if (problem !== null)
        ctx.addIssue({ code: 'custom', path: ['queries', i, 'sql'], message: problem });
    });
    if (dialect === null) return;
    c.writes.forEach((w, i) => {
      const captures = templateNames(w.tag);
      const problem = placeholderProblem(
        w.sql,
        dialect,
        [...WRITE_PLACEHOLDERS, ...captures],
        ['value'],
      );
      if (problem !== null)
        ctx.addIssue({ code: 'custom', path: ['writes', i, 'sql'], message: problem });
    });
  })
  .describe(
    'Polls PostgreSQL or MariaDB/MySQL tables (SCADA historians, line databases) by watermark, and writes tags through statements.',
  );
