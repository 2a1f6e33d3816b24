/** Request input checked at the boundary (zod): a failure names the field and the rule. */
import { z } from 'zod';
import { formatPath } from '../config/load.ts';
import { MwError } from '../errors.ts';

/** Parse request input with a zod schema; a failure names the field and the rule. */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where: 'query' | 'body' | 'params',
): z.infer<S> {
  const result = schema.safeParse(input ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const segments =
    issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] as string] : issue.path;
  const rule =
    issue.code === 'unrecognized_keys'
      ? `unknown parameter (allowed: ${Object.keys((schema as unknown as z.ZodObject).shape ?? {}).join(', ')})`
      : issue.message.replace(/^Invalid input: /, '');
  const path = `${where}.${formatPath(segments)}`;
  throw new MwError('MW_ERR_API_VALIDATION', { path, rule }, { path });
}
