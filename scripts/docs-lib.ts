/**
 * The generated documentation (STYLE.md rules 9 and 11): `docs/configuration.md` from the zod
 * schema in src/config/schema.ts and `docs/errors.md` from the registry in src/errors.ts.
 *
 * `npm run docs` (scripts/gen-docs.ts) writes the files; `npm run docs -- --check` and
 * test/docs.test.ts fail when a file on disk differs from what these functions render now.
 * Rendering is pure: no clock, no environment, the same text on every machine.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { z } from 'zod';
import { parseConfig } from '../src/config/load.ts';
import { configSchema, durationSchema, idSchema } from '../src/config/schema.ts';
import { PERMISSIONS, ROLES, type Permission } from '../src/compliance/roles.ts';
import { renderUnitsDoc } from './units-doc.ts';
import { errorDefinitions, isMwError, retiredCodes, type ErrorDefinition } from '../src/errors.ts';

/** The command that rewrites every generated doc. */
export const DOCS_COMMAND = 'npm run docs';

/** Folder of the repository (the one holding package.json). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface GeneratedDoc {
  /** Path relative to the repository root, with "/" separators. */
  readonly file: string;
  readonly render: () => string;
}

export const GENERATED_DOCS: readonly GeneratedDoc[] = [
  { file: 'docs/configuration.md', render: renderConfigurationDoc },
  { file: 'docs/errors.md', render: renderErrorsDoc },
  { file: 'docs/roles.md', render: renderRolesDoc },
  { file: 'docs/units.md', render: renderUnitsDoc },
];

/** The text of a doc on disk, or undefined when the file does not exist. */
export function readDoc(file: string): string | undefined {
  try {
    return readFileSync(path.join(REPO_ROOT, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The generated docs whose file is missing or differs from what would be written now. */
export function staleDocs(read: (file: string) => string | undefined = readDoc): GeneratedDoc[] {
  return GENERATED_DOCS.filter((doc) => {
    const onDisk = read(doc.file);
    return onDisk === undefined || onDisk.replace(/\r\n/g, '\n') !== doc.render();
  });
}

// ---------------------------------------------------------------------------------------------
// docs/configuration.md

/**
 * The complete example at the top of the reference. renderConfigurationDoc() validates it with
 * parseConfig, so it cannot drift from the schema.
 */
export const EXAMPLE_CONFIG_YAML = `enterprise:
  id: acme
  name: ACME Beverages
sites:
  - id: plant1
    timeZone: Europe/Berlin
    areas:
      - id: packaging
        lines:
          - id: line1
            units:
              - id: filler
                idealCycleTime: 0.5s
              - id: capper
                idealCycleTime: 0.5s
              - id: labeller
                idealCycleTime: 0.6s
            # Starved and blocked derived from the neighbours along the product flow.
            flow: [filler, capper, labeller]
materials:
  # Consumption is booked in the material's unit; readings in another unit are converted
  # exactly (pieces to kilograms through the material's conversion).
  - id: PET-28G
    name: PET preform 28 g
    uom: KGM
    conversions: ["1 H87 = 0.028 KGM"]
  - id: GLUE
    uom: KGM
    conversions: ["1 LTR = 1.1 KGM"]
connections:
  # No url: the hub starts its embedded MQTT broker (see \`broker\`) and ingests in-process.
  - id: plant-mqtt
    type: mqtt
  # The line simulator publishes to that broker, so its samples take the real MQTT path.
  - id: sim
    type: simulator
    publishTo: plant-mqtt
    seed: 42
bindings:
  # Machine state: the PLC sends {"value": 3, "reason": "JAM", "timestamp": "..."};
  # stateMap turns its state codes into states.
  - connection: plant-mqtt
    topic: "sim/{site}/{area}/{line}/{unit}/state"
    meaning: state
    payload: { valuePath: value, timestampPath: timestamp, reasonPath: reason }
    stateMap:
      { "1": running, "2": idle, "3": down, "4": changeover, "5": planned-stop, "6": starved, "7": blocked }
  # Good pieces: an absolute PLC counter that wraps to 0 after 65535.
  - connection: plant-mqtt
    topic: "sim/{site}/{area}/{line}/{unit}/count/good"
    meaning: counter.good
    payload: { valuePath: value, timestampPath: timestamp }
    rolloverAt: 65535
  # The other binding forms (tags of a PLC connection named like plc/line1/filler/...):
  # a state from two tags with an expression (docs/expressions.md) …
  - connection: plant-mqtt
    inputs: { fault: "plc/{line}/{unit}/fault", running: "plc/{line}/{unit}/run" }
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: state
    expression: "fault ? 'down' : running ? 'running' : 'idle'"
  # … a state from a code with ranges, …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/code"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: state
    stateMap: { "0": idle, "1": running, "3..9": down }
  # … scrap as a part-complete pulse (each 0 → 1 is one piece), …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/reject"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: counter.scrap
    counterMode: pulse
  # … total pieces reported as increments since the last report, …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/made"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: counter.total
    counterMode: increment
    payload: { valuePath: n, timestampPath: ts }
  # … preforms used, from a totaliser in pieces whose topic carries the PLC's material code,
  # mapped to the hub's through the mapping table plc-line1/material (docs/mapping.md), …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/used/{material}"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: consumption
    material: "{material}"
    materialSystem: plc-line1
    uom: H87
    rolloverAt: 65535
  # … glue used per cycle in litres, booked in kilograms, …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/glue"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: consumption
    material: GLUE
    uom: LTR
    counterMode: increment
  # … a scale that names the material in its payload {"material": "GLUE", "kg": "1.25"}, …
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/scale"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: consumption
    uom: KGM
    counterMode: increment
    payload: { valuePath: kg, materialPath: material }
  # … and a process value kept when it moves by 0.5 °C or more.
  - connection: plant-mqtt
    topic: "plc/{line}/{unit}/temperature"
    equipment: "acme/plant1/packaging/{line}/{unit}"
    meaning: process
    deadband: 0.5
    uom: CEL
store:
  type: sqlite
`;

/** Throws an Error listing every problem when EXAMPLE_CONFIG_YAML does not validate. */
export function validateExampleConfig(): void {
  try {
    parseConfig(EXAMPLE_CONFIG_YAML, 'the example in docs/configuration.md', {});
  } catch (err) {
    const details = isMwError(err) ? err.details.map((d) => `\n  ${d}`).join('') : '';
    throw new Error(
      `the example configuration (EXAMPLE_CONFIG_YAML in scripts/docs-lib.ts) does not validate: ${
        (err as Error).message
      }${details}`,
      { cause: err },
    );
  }
}

const ID_PATTERN = jsonSchemaOf(idSchema).pattern;
const DURATION_PATTERN = jsonSchemaOf(durationSchema).pattern;
/** Number bounds at or beyond these are zod's safe-integer limits, not rules worth printing. */
const SAFE_LIMIT = Number.MAX_SAFE_INTEGER;

interface Row {
  readonly field: string;
  readonly type: string;
  readonly presence: string;
  readonly description: string;
  readonly example: string;
}

interface Section {
  readonly anchor: string;
  /** YAML path of the object ('' for the top level). */
  readonly path: string;
  /** For one kind of a discriminated union: its key and value, e.g. type: mqtt. */
  readonly variant: { readonly key: string; readonly value: string } | undefined;
  readonly intro: string;
  readonly rows: Row[];
}

function sectionTitle(s: Section): string {
  if (s.path === '') return 'Top level';
  const variant =
    s.variant === undefined ? '' : ` with ${code(`${s.variant.key}: ${s.variant.value}`)}`;
  return `${code(s.path)}${variant}`;
}

/** What a field says about itself once optional/default/prefault wrappers are peeled off. */
interface Peeled {
  readonly core: z.ZodType;
  readonly required: boolean;
  readonly defaultValue: { readonly value: unknown } | undefined;
  readonly description: string | undefined;
  readonly examples: readonly unknown[];
}

function peel(schema: z.ZodType): Peeled {
  let s = schema;
  let required = true;
  let defaultValue: { value: unknown } | undefined;
  let description: string | undefined;
  let examples: readonly unknown[] | undefined;
  for (;;) {
    // The outermost description and examples win: a field's own text over its type's.
    const meta = z.globalRegistry.get(s);
    description ??= meta?.description;
    examples ??= meta?.examples as readonly unknown[] | undefined;
    if (s instanceof z.ZodOptional) {
      required = false;
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodDefault) {
      required = false;
      defaultValue ??= { value: s.def.defaultValue };
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodPrefault) {
      // An input-side default (usually {}): leaving the field out applies its fields' defaults.
      required = false;
      s = s.unwrap() as z.ZodType;
    } else {
      return { core: s, required, defaultValue, description, examples: examples ?? [] };
    }
  }
}

function jsonSchemaOf(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function isDuration(s: z.ZodType): boolean {
  return s instanceof z.ZodPipe && jsonSchemaOf(s.in as z.ZodType).pattern === DURATION_PATTERN;
}

/** Milliseconds as the duration text a user would write: 5 → "5ms", 1500 → "1.5s", 900000 → "15m". */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** A value as it is written in YAML, on one line. */
function yamlInline(value: unknown): string {
  return stringify(value, { collectionStyle: 'flow', lineWidth: 0 }).trim();
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function choices(values: readonly unknown[]): string {
  return `one of ${values.map((v) => code(String(v))).join(', ')}`;
}

function numberText(s: z.ZodType): string {
  const js = jsonSchemaOf(s);
  const bound = (key: string): number | undefined => {
    const v = js[key];
    return typeof v === 'number' && Math.abs(v) < SAFE_LIMIT ? v : undefined;
  };
  const [min, xmin, max, xmax] = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'].map(
    bound,
  );
  const base = js.type === 'integer' ? 'integer' : 'number';
  if (min !== undefined && max !== undefined) return `${base}, ${min}–${max}`;
  const parts = [
    min === undefined ? undefined : `≥ ${min}`,
    xmin === undefined ? undefined : `> ${xmin}`,
    max === undefined ? undefined : `≤ ${max}`,
    xmax === undefined ? undefined : `< ${xmax}`,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? base : `${base} ${parts.join(', ')}`;
}

/** The type column for a value that has no section of its own. */
function leafType(s: z.ZodType, where: string): string {
  const inner = peel(s).core;
  if (isDuration(inner)) return '[duration](#value-types)';
  if (inner instanceof z.ZodPipe) return leafType(inner.in as z.ZodType, where);
  if (inner instanceof z.ZodString) {
    return jsonSchemaOf(inner).pattern === ID_PATTERN ? '[id](#value-types)' : 'string';
  }
  if (inner instanceof z.ZodNumber) return numberText(inner);
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodEnum) return choices(inner.options);
  if (inner instanceof z.ZodLiteral) return choices([...inner.values]);
  if (inner instanceof z.ZodUnion) {
    const options = inner.options as readonly z.ZodType[];
    if (options.every((o) => o instanceof z.ZodLiteral)) {
      return choices(options.flatMap((o) => [...(o as z.ZodLiteral).values]));
    }
    return options.map((o) => leafType(o, where)).join(' or ');
  }
  if (inner instanceof z.ZodRecord) {
    return `map of ${leafType(inner.keyType as z.ZodType, where)} → ${leafType(inner.valueType as z.ZodType, where)}`;
  }
  if (inner instanceof z.ZodArray) return `list of ${leafType(inner.element as z.ZodType, where)}`;
  if (inner instanceof z.ZodNullable)
    return `${leafType(inner.unwrap() as z.ZodType, where)} or null`;
  throw new Error(
    `${where}: scripts/docs-lib.ts cannot describe a zod "${inner.def.type}" value; teach leafType() this kind`,
  );
}

function presenceText(p: Peeled): string {
  if (p.required) return 'required';
  if (p.defaultValue === undefined) return 'optional';
  const v = p.defaultValue.value;
  const text = isDuration(p.core) && typeof v === 'number' ? formatDuration(v) : yamlInline(v);
  return `default ${code(text)}`;
}

function exampleText(examples: readonly unknown[]): string {
  return examples.map((e) => code(yamlInline(e))).join(', ');
}

function anchorOf(yamlPath: string, variant?: string): string {
  const base = yamlPath.replace(/\[\]/g, '').replace(/\./g, '-').toLowerCase();
  return variant === undefined ? base : `${base}-${variant}`;
}

function sectionLink(title: string, anchor: string): string {
  return `[${title}](#${anchor})`;
}

/** The fields of one object; nested objects get their own section after this one. */
function collectObject(
  object: z.ZodObject,
  prefix: string,
  anchor: string,
  intro: string,
  sections: Section[],
  discriminator?: { key: string; value: string },
): void {
  const rows: Row[] = [];
  sections.push({ anchor, path: prefix, variant: discriminator, intro, rows });
  const nested: (() => void)[] = [];
  for (const [key, field] of Object.entries(object.shape as Record<string, z.ZodType>)) {
    const fieldPath = prefix === '' ? key : `${prefix}.${key}`;
    const p = peel(field);
    let core = p.core;
    let itemPath = fieldPath;
    let list = false;
    if (core instanceof z.ZodArray) {
      const element = peel(core.element as z.ZodType).core;
      if (element instanceof z.ZodObject || element instanceof z.ZodDiscriminatedUnion) {
        core = element;
        itemPath = `${fieldPath}[]`;
        list = true;
      }
    }
    let type: string;
    let description = p.description;
    if (discriminator !== undefined && key === discriminator.key) {
      type = code(discriminator.value);
      description ??= `Must be ${code(discriminator.value)} for the fields in this table.`;
    } else if (core instanceof z.ZodObject) {
      const target = anchorOf(itemPath);
      type = `${list ? 'list of objects' : 'object'}: see ${sectionLink(code(itemPath), target)}`;
      const inner = core;
      const objectText = z.globalRegistry.get(inner)?.description ?? '';
      nested.push(() => collectObject(inner, itemPath, target, objectText, sections));
    } else if (core instanceof z.ZodDiscriminatedUnion) {
      const union = core;
      const key = union.def.discriminator;
      const variants = (union.options as readonly z.ZodType[]).map((option) => {
        if (!(option instanceof z.ZodObject)) {
          throw new Error(`${itemPath}: every option of a discriminated union must be an object`);
        }
        const value = peel(option.shape[key] as z.ZodType).core;
        if (!(value instanceof z.ZodLiteral))
          throw new Error(`${itemPath}.${key}: expected a literal`);
        return { option, value: String([...value.values][0]) };
      });
      const links = variants.map((v) => sectionLink(code(v.value), anchorOf(itemPath, v.value)));
      type = `${list ? 'list of objects' : 'object'} by ${code(key)}: ${links.join(', ')}`;
      nested.push(() => {
        for (const v of variants) {
          collectObject(
            v.option,
            itemPath,
            anchorOf(itemPath, v.value),
            z.globalRegistry.get(v.option)?.description ?? '',
            sections,
            { key, value: v.value },
          );
        }
      });
    } else {
      type = leafType(field, fieldPath);
    }
    if (description === undefined) {
      throw new Error(`${fieldPath}: the field has no .describe() text (STYLE.md rule 9)`);
    }
    rows.push({
      field: code(fieldPath),
      type,
      presence: presenceText(p),
      description,
      example: exampleText(p.examples),
    });
  }
  for (const visit of nested) visit();
}

/** Escape text for a markdown table cell: pipes, line breaks, and "<" outside code spans. */
function cell(text: string): string {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part : part.replace(/</g, '&lt;')))
    .join('')
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ');
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map((r) => line(r.map(cell)))].join(
    '\n',
  );
}

export function renderConfigurationDoc(): string {
  validateExampleConfig();
  const sections: Section[] = [];
  collectObject(configSchema, '', 'top-level', 'The keys of the file.', sections);

  const out: string[] = [
    '<!-- Generated by `npm run docs` (scripts/gen-docs.ts) from src/config/schema.ts. Do not edit',
    '     by hand: change the schema and run `npm run docs`; test/docs.test.ts fails when stale. -->',
    '',
    '# Configuration reference',
    '',
    'Millwright reads one YAML file: the ISA-95 equipment hierarchy (enterprise, sites, areas,',
    'lines, work units), the connections to the shop floor, the bindings that say what each tag',
    'means for which work unit, and where the hub keeps its data.',
    '',
    '- Unknown keys are errors, so a misspelt key is reported, not ignored.',
    '- `${ENV_NAME}` inside any string value is replaced by that environment variable; an unset',
    '  variable is an error. Use it to keep passwords out of the file.',
    '- Every problem is reported with its YAML path (e.g. `sites[0].areas[0].id`), line, column',
    '  and the rule broken (error `MW_ERR_CONFIG_INVALID`, see [errors.md](errors.md)).',
    '- Ids must be unique among their siblings: sites in the enterprise, areas in a site, lines in',
    '  an area, units in a line, and connections. The id of a work unit is its path, e.g.',
    '  `acme/plant1/packaging/line1/filler`.',
    '',
    '## Example',
    '',
    'A complete configuration: one packaging line fed by the built-in simulator through the',
    'embedded MQTT broker, stored in SQLite. Every field left out takes the default shown below.',
    '',
    '```yaml',
    EXAMPLE_CONFIG_YAML.trimEnd(),
    '```',
    '',
    '## Value types',
    '',
    table(
      ['Type', 'Written as'],
      [
        [
          'id',
          'Letters, digits, `-` and `_`, starting with a letter or digit; at most 64 characters; no `/` or spaces. Example: `line1`.',
        ],
        [
          'duration',
          'A number and a unit: `ms`, `s`, `m` or `h`. Examples: `200ms`, `1.5s`, `5m`, `1h`.',
        ],
        ['string', 'Any text. Quote it when it starts with `{`, `[`, `*`, `&` or contains `: `.'],
        ['integer, number', 'A YAML number; the range, when there is one, is shown with the type.'],
      ],
    ),
    '',
    '## Sections',
    '',
    ...sections.map((s) => `- ${sectionLink(sectionTitle(s), s.anchor)}`),
  ];
  for (const s of sections) {
    out.push(
      '',
      `<a id="${s.anchor}"></a>`,
      '',
      `## ${sectionTitle(s)}`,
      '',
      s.intro,
      '',
      table(
        ['Field', 'Type', 'Required / default', 'Description', 'Example'],
        s.rows.map((r) => [r.field, r.type, r.presence, r.description, r.example]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// docs/errors.md

export function renderErrorsDoc(): string {
  const definitions: [string, ErrorDefinition][] = Object.entries(errorDefinitions);
  const out: string[] = [
    '<!-- Generated by `npm run docs` (scripts/gen-docs.ts) from src/errors.ts. Do not edit by',
    '     hand: change src/errors.ts and run `npm run docs`; test/docs.test.ts fails when stale. -->',
    '',
    '# Error codes',
    '',
    'Every error Millwright raises on purpose has a stable code `MW_ERR_<AREA>_<WHAT>`, defined',
    'once in `src/errors.ts`. Logs and API responses carry the code; an error that reaches an API',
    'client is answered with the HTTP status below. In a message, `{name}` stands for the value',
    'filled in when the error happens: the file, YAML path, connection, equipment or record it',
    'concerns.',
    '',
    table(
      ['Code', 'HTTP', 'Message', 'Meaning and fix'],
      definitions.map(([errorCode, def]) => [
        code(errorCode),
        String(def.status),
        code(def.message),
        def.fix,
      ]),
    ),
    '',
    '## Retired codes',
    '',
    'A code that is no longer raised stays retired: it is never given to a new error, so a code',
    'found in an old log or ticket always means one thing.',
    '',
    ...(retiredCodes.length === 0 ? ['None yet.'] : retiredCodes.map((c) => `- ${code(c)}`)),
  ];
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// docs/roles.md

/** Roles × permissions, from src/compliance/roles.ts: the table a security review reads. */
export function renderRolesDoc(): string {
  const roles = Object.entries(ROLES) as [
    string,
    { description: string; permissions: readonly Permission[] },
  ][];
  const lines = [
    '# Roles and permissions',
    '',
    '<!-- Generated from src/compliance/roles.ts by `npm run docs`; do not edit. -->',
    '',
    'Every `/api` route names the permission it needs (`GET /api/openapi.json` lists them per route as',
    '`x-permission`); `authorize` in src/compliance/roles.ts is the one check, used by the HTTP API and',
    'the services the command line calls. A user has one or more roles; an API token has a scope (a',
    'role or a list of permissions) and never more than the user who created it has today.',
    '',
    '## Roles',
    '',
    '| role | description |',
    '| --- | --- |',
    ...roles.map(([id, r]) => `| \`${id}\` | ${r.description} |`),
    '',
    '## Permissions',
    '',
    `| permission | description | ${roles.map(([id]) => id).join(' | ')} |`,
    `| --- | --- | ${roles.map(() => ':-:').join(' | ')} |`,
    ...(Object.entries(PERMISSIONS) as [Permission, string][]).map(
      ([p, description]) =>
        `| \`${p}\` | ${description} | ${roles.map(([, r]) => (r.permissions.includes(p) ? '✓' : '')).join(' | ')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
