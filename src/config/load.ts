/**
 * Reading a configuration file: YAML with positions, `${ENV_NAME}` substitution, then the zod
 * schema. Every problem is reported with its YAML path, line and column and the rule broken.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { MwError } from '../errors.ts';
import { crossReferenceIssues } from './cross-references.ts';
import { configSchema, type Config } from './schema.ts';

export interface ConfigProblem {
  /** YAML path like `sites[0].areas[1].lines[0].units[2].idealCycleTime`, or '' for the root. */
  readonly path: string;
  readonly line: number | undefined;
  readonly col: number | undefined;
  readonly rule: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? '' : ` (line ${p.line}, col ${p.col})`;
  return `${p.path === '' ? '<root>' : p.path}${where}: ${p.rule}`;
}

export function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? String(s) : `.${String(s)}`;
  }
  return out;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Absolute path of the file, or '<inline>'. */
  readonly file: string;
  /** Folder relative paths in the config are resolved against. */
  readonly baseDir: string;
}

/** Validate YAML text. Throws MwError (MW_ERR_CONFIG_YAML or MW_ERR_CONFIG_INVALID) listing every problem. */
export function parseConfig(
  text: string,
  file = '<inline>',
  env: NodeJS.ProcessEnv = process.env,
): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const pos = first?.linePos?.[0];
    throw new MwError(
      'MW_ERR_CONFIG_YAML',
      {
        file,
        line: pos?.line ?? 0,
        col: pos?.col ?? 0,
        reason: first?.message.split('\n')[0] ?? 'unknown',
      },
      { details: doc.errors.map((e) => e.message.split('\n')[0] ?? '') },
    );
  }
  const problems: ConfigProblem[] = [];
  const positionOf = (segments: readonly PropertyKey[]): { line?: number; col?: number } => {
    const node = nearestNode(doc, segments);
    const offset = node?.range?.[0];
    if (offset === undefined) return {};
    return lineCounter.linePos(offset);
  };

  const raw: unknown = substituteEnv(doc.toJS(), [], env, (segments, name) => {
    const pos = positionOf(segments);
    problems.push({
      path: formatPath(segments),
      line: pos.line,
      col: pos.col,
      rule: `environment variable ${name} is not set`,
    });
  });

  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    // A field whose ${ENV} is missing has one problem, not a second one for its placeholder text.
    const envPaths = new Set(problems.map((p) => p.path));
    for (const issue of result.error.issues) {
      const problem = toProblem(issue, positionOf);
      if (!envPaths.has(problem.path)) problems.push(problem);
    }
  }
  for (const issue of crossReferenceIssues(raw)) {
    const pos = positionOf(issue.path);
    problems.push({
      path: formatPath(issue.path),
      line: pos.line,
      col: pos.col,
      rule: issue.message,
    });
  }
  if (problems.length > 0) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new MwError(
      'MW_ERR_CONFIG_INVALID',
      { file, count: problems.length },
      { details: problems.map(formatProblem) },
    );
  }
  return (result as { data: Config }).data;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new MwError(
      'MW_ERR_CONFIG_READ',
      { file: absolute, reason: (err as Error).message },
      { cause: err },
    );
  }
  return { config: parseConfig(text, file, env), file: absolute, baseDir: path.dirname(absolute) };
}

function toProblem(
  issue: z.core.$ZodIssue,
  positionOf: (segments: readonly PropertyKey[]) => { line?: number; col?: number },
): ConfigProblem {
  let segments: PropertyKey[] = [...issue.path];
  let rule = issue.message;
  if (issue.code === 'unrecognized_keys') {
    // Point at the unknown key itself: a typo must be found where it is.
    const key = issue.keys[0] as string;
    segments = [...segments, key];
    rule = `unknown key "${issue.keys.join('", "')}" (not allowed here; check the spelling against docs/configuration.md)`;
  } else if (issue.code === 'invalid_type' && /received undefined/.test(issue.message)) {
    rule = `required: ${issue.message.replace(/, received undefined$/, '').replace(/^Invalid input: /, '')}`;
  } else if (
    issue.code === 'invalid_union' &&
    'note' in issue &&
    issue.note === 'No matching discriminator'
  ) {
    rule = `expected "type" to be one of the connection types`;
  }
  rule = rule
    .replace(/^Invalid (input|option): /, '')
    .replace(
      /expected one of (\S+)$/,
      (_m, v: string) => `expected one of ${v.split('|').join(', ')}`,
    );
  const pos = positionOf(segments);
  return { path: formatPath(segments), line: pos.line, col: pos.col, rule };
}

/** The node at `segments`, or its nearest existing ancestor (for a missing required key). */
function nearestNode(doc: Document, segments: readonly PropertyKey[]): Node | undefined {
  for (let n = segments.length; n >= 0; n--) {
    const head = segments.slice(0, n) as (string | number)[];
    if (n > 0 && typeof head[n - 1] === 'string') {
      // For a map key, prefer the key's own position (where the typo or bad value starts).
      const parent = n === 1 ? doc.contents : doc.getIn(head.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === head[n - 1]);
        if (pair !== undefined) {
          if (isScalar(pair.value)) return pair.value;
          return pair.key as Node;
        }
      }
      continue;
    }
    const node = n === 0 ? doc.contents : doc.getIn(head, true);
    if (node !== undefined && node !== null) return node as Node;
  }
  return undefined;
}

const ENV_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function substituteEnv(
  value: unknown,
  segments: PropertyKey[],
  env: NodeJS.ProcessEnv,
  missing: (segments: PropertyKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_RE, (whole, name: string) => {
      const v = env[name];
      if (v === undefined) {
        missing(segments, name);
        return whole;
      }
      return v;
    });
  }
  if (Array.isArray(value))
    return value.map((v, i) => substituteEnv(v, [...segments, i], env, missing));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k] = substituteEnv(v, [...segments, k], env, missing);
    return out;
  }
  return value;
}
