/** Pieces of the OpenAPI document shared by openapi.ts and the per-area path files. */
import { z } from 'zod';
import { errorResponse } from './schemas.ts';

export type Json = Record<string, unknown>;

export const schema = (s: z.ZodType): Json =>
  z.toJSONSchema(s, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
export const inputSchema = (s: z.ZodType): Json =>
  z.toJSONSchema(s, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as Json;

export function queryParameters(s: z.ZodObject): Json[] {
  const js = inputSchema(s) as { properties?: Record<string, Json>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, p]) => ({
    name,
    in: 'query',
    required: js.required?.includes(name) ?? false,
    description: p.description,
    schema: p,
  }));
}

export const json = (s: z.ZodType, description: string): Json => ({
  description,
  content: { 'application/json': { schema: schema(s) } },
});
export const errors = {
  '400': json(errorResponse, 'Invalid request: the error names the field and the rule.'),
  '404': json(errorResponse, 'Not found.'),
};
export const body = (s: z.ZodType): Json => ({
  required: true,
  content: { 'application/json': { schema: inputSchema(s) } },
});
export const ok = (description: string): Json => ({ '200': { description } });
