/**
 * The configuration of quality and genealogy (issue #12, docs/quality.md): how lot numbers are
 * drawn, and the inspection plans results are judged against. Apart from schema.ts, which is
 * long enough; its root schema takes these two sections.
 */
import { z } from 'zod';
import { findUnit } from '../model/index.ts';
import { idSchema } from './common.ts';

const codeSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/, {
  error: 'expected a code of letters, digits, "_", ".", "-" or "/"',
});

const DECIMAL_RE = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const limitSchema = z
  .union([z.number(), z.string().regex(DECIMAL_RE, { error: 'expected a decimal number' })])
  .transform((v) => String(v));

const patternSchema = z
  .string()
  .regex(/\{seq(:\d{1,2})?\}/, {
    error:
      'expected a pattern with a running number {seq} or {seq:N}, e.g. "{material}-{date}-{seq:4}"',
  })
  .refine((p) => [...p.matchAll(/\{(\w+)(?::[^}]*)?\}/g)].every((m) => PLACEHOLDERS.has(m[1]!)), {
    error: 'unknown placeholder: use {material}, {site}, {date}, {date:yyMMdd} or {seq:N}',
  });
const PLACEHOLDERS = new Set(['material', 'site', 'date', 'seq']);

export const genealogySchema = z
  .strictObject({
    defaultPattern: patternSchema
      .default('{material}-{date}-{seq:4}')
      .describe(
        'How a lot number is drawn when a lot is made without one and no `lotNumbers` entry names its material: `{material}`, `{site}` (the id of the site the lot is made at: its location’s, else the first site’s), `{date}` (UTC yyyyMMdd; `{date:yyMMdd}` chooses the letters y, M, d, H, m), `{seq:N}` (a running number per prefix, N digits).',
      )
      .meta({ examples: ['{material}-{date}-{seq:4}'] }),
    lotNumbers: z
      .array(
        z
          .strictObject({
            material: codeSchema
              .optional()
              .describe('The material this pattern numbers the lots of (default: any).'),
            site: idSchema
              .optional()
              .describe('The site whose lots it numbers (default: any): where the lot is made.'),
            pattern: patternSchema.describe('The pattern (placeholders as for `defaultPattern`).'),
          })
          .refine((n) => n.material !== undefined || n.site !== undefined, {
            error: 'name the material, the site or both',
          }),
      )
      .default([])
      .describe(
        'Lot number patterns per material and/or site; the first entry that matches both wins, then one of the material, then one of the site.',
      )
      .meta({ examples: [[{ material: 'PET-28G', pattern: 'P{date:yyMMdd}{seq:5}' }]] }),
    maxTraceLinks: z
      .number()
      .int()
      .min(100)
      .default(100_000)
      .describe(
        'Most links one trace or recall follows; beyond it the answer says `truncated` (a guard for the API, not a limit of the genealogy).',
      ),
  })
  .describe('Lots and their genealogy (docs/quality.md).');

const characteristicSchema = z
  .strictObject({
    id: idSchema.describe('The characteristic’s id, as results name it.'),
    name: z.string().optional().describe('Display name; defaults to the id.'),
    kind: z
      .enum(['numeric', 'attribute'])
      .describe('numeric: a measured value judged against lsl/usl; attribute: pass or fail.'),
    uom: z
      .string()
      .optional()
      .describe('Unit of a numeric value (UN/CEFACT Rec 20, docs/units.md).'),
    lsl: limitSchema.optional().describe('Lower specification limit (inclusive).'),
    usl: limitSchema.optional().describe('Upper specification limit (inclusive).'),
    target: limitSchema.optional().describe('Nominal value, for reports.'),
  })
  .superRefine((c, ctx) => {
    if (c.kind === 'attribute') {
      for (const f of ['uom', 'lsl', 'usl', 'target'] as const)
        if (c[f] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [f],
            message: 'only a numeric characteristic has it',
          });
      return;
    }
    if (c.lsl === undefined && c.usl === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['lsl'],
        message: 'a numeric characteristic needs lsl, usl or both',
      });
    if (c.lsl !== undefined && c.usl !== undefined && Number(c.lsl) > Number(c.usl))
      ctx.addIssue({ code: 'custom', path: ['usl'], message: `must not be below lsl (${c.lsl})` });
    if (c.uom !== undefined && findUnit(c.uom) === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['uom'],
        message: `unknown unit "${c.uom}" (docs/units.md)`,
      });
  })
  .describe('One thing an inspection checks.');

const planSchema = z
  .strictObject({
    id: idSchema.describe('The plan’s id, as results and LIMS files name it.'),
    material: codeSchema.describe('The material whose lots the plan inspects.'),
    operation: z
      .string()
      .optional()
      .describe('The operation it belongs to (an order operation id), if any.'),
    sampleSize: z.number().int().min(1).default(1).describe('Samples per inspection.'),
    characteristics: z
      .array(characteristicSchema)
      .min(1, { error: 'a plan checks at least one characteristic' })
      .describe('What the plan checks, each numeric (limits) or attribute (pass/fail).'),
    holdOnFailure: z
      .boolean()
      .default(true)
      .describe(
        'Put the lot on hold when a result fails (a nonconformance is recorded either way).',
      ),
  })
  .describe('An inspection plan (ISA-95 quality test specification).');

const lineResultSchema = z
  .strictObject({
    connection: idSchema.describe('The connection the tag is read from.'),
    tag: z.string().min(1).describe('The tag, as the connection names it (see `millwright tags`).'),
    unit: z
      .string()
      .optional()
      .describe(
        'The work unit whose running order’s lot the result is for; default: the unit the tag’s binding names.',
      ),
    plan: idSchema.describe('The inspection plan.'),
    characteristic: idSchema.describe('The characteristic of the plan the reading is a result of.'),
    uom: z.string().optional().describe('The reading’s unit, when it is not the characteristic’s.'),
  })
  .describe('A tag whose readings are inspection results.');

export const qualitySchema = z
  .strictObject({
    plans: z
      .array(planSchema)
      .default([])
      .describe('Inspection plans per material (and operation).'),
    lineResults: z
      .array(lineResultSchema)
      .default([])
      .describe(
        'Tags whose every reading is an inspection result for the lot the unit is making: the output lot of the order running on it.',
      ),
  })
  .describe('Inspections (docs/quality.md).');

export type GenealogyConfig = z.infer<typeof genealogySchema>;
export type InspectionPlanConfig = z.infer<typeof planSchema>;
export type LineResultConfig = z.infer<typeof lineResultSchema>;

type Loose = Record<string, unknown>;
const list = (v: unknown): Loose[] => (Array.isArray(v) ? (v as Loose[]) : []);

/** What schema checks cannot see: plans and patterns naming materials, unique ids. */
export function qualityReferenceIssues(
  cfg: Loose,
  materialIds: ReadonlySet<unknown>,
): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const plans = list((cfg.quality as Loose | undefined)?.plans);
  const seen = new Set<unknown>();
  plans.forEach((p, i) => {
    if (seen.has(p.id))
      issues.push({
        path: ['quality', 'plans', i, 'id'],
        message: `duplicate plan id "${String(p.id)}"`,
      });
    seen.add(p.id);
    if (typeof p.material === 'string' && !materialIds.has(p.material))
      issues.push({
        path: ['quality', 'plans', i, 'material'],
        message: `no material "${p.material}" in materials`,
      });
    const chars = new Set<unknown>();
    list(p.characteristics).forEach((c, j) => {
      if (chars.has(c.id))
        issues.push({
          path: ['quality', 'plans', i, 'characteristics', j, 'id'],
          message: `duplicate characteristic id "${String(c.id)}"`,
        });
      chars.add(c.id);
    });
  });
  const connections = new Set(list(cfg.connections).map((c) => c.id));
  list((cfg.quality as Loose | undefined)?.lineResults).forEach((r, i) => {
    const path = ['quality', 'lineResults', i];
    if (typeof r.connection === 'string' && !connections.has(r.connection))
      issues.push({ path: [...path, 'connection'], message: `no connection "${r.connection}"` });
    const plan = plans.find((p) => p.id === r.plan);
    if (plan === undefined) {
      issues.push({
        path: [...path, 'plan'],
        message: `no plan "${String(r.plan)}" in quality.plans`,
      });
      return;
    }
    if (!list(plan.characteristics).some((c) => c.id === r.characteristic))
      issues.push({
        path: [...path, 'characteristic'],
        message: `plan ${String(r.plan)} has no characteristic "${String(r.characteristic)}"`,
      });
  });
  list((cfg.genealogy as Loose | undefined)?.lotNumbers).forEach((n, i) => {
    if (typeof n.material === 'string' && !materialIds.has(n.material))
      issues.push({
        path: ['genealogy', 'lotNumbers', i, 'material'],
        message: `no material "${n.material}" in materials`,
      });
  });
  return issues;
}
