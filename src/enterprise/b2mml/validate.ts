/**
 * XSD validation of B2MML documents against the official schemas (schemas/, MESA International)
 * with libxml2 compiled to WebAssembly (xmllint-wasm: no native build, no network, no file
 * system beyond the schema files handed to it).
 *
 * The root element and its namespace pick the version and the entry XSD (standards/b2mml/
 * SOURCE.md, "Entry-point schemas per message"); the rest of that version's folder is preloaded
 * for the imports. Every error quotes libxml2 and names the element path.
 */
import { availableParallelism } from 'node:os';
import { validateXML, memoryPages, type XMLValidationError } from 'xmllint-wasm';
import { MwError } from '../../errors.ts';
import type { B2mmlVersion } from '../types.ts';
import {
  B2MML_NAMESPACES,
  B2MML_VERBS,
  entrySchema,
  knownNouns,
  schemaFiles,
  splitRoot,
  versionOfNamespace,
} from './schemas.ts';
import { DEFAULT_MAX_BYTES, readXml, type XmlSource } from './xml-source.ts';

export interface ValidateOptions {
  /** Largest document accepted, in bytes (default 10 MiB). */
  readonly maxBytes?: number;
}

/** What a document is, by its root element. */
export interface B2mmlMessage {
  readonly version: B2mmlVersion;
  /** Local name of the root, e.g. `SyncProductionSchedule`. */
  readonly root: string;
  /** Transaction verb (`Sync`, `Process` …), null for a bare noun such as `ProductionSchedule`. */
  readonly verb: string | null;
  readonly noun: string;
  /** The entry XSD it is validated against. */
  readonly schema: string;
}

export interface ValidatedB2mml {
  readonly message: B2mmlMessage;
  readonly source: XmlSource;
}

/** Errors listed in an MW_ERR_B2MML_INVALID's details (the first is in its message). */
const MAX_DETAILS = 50;

/** Which messages a caller takes (parse: the importable ones), and how to say so. */
export interface Acceptance {
  accepts(message: B2mmlMessage): boolean;
  readonly description: string;
}

/** Every message that has an XSD here. */
export const ANY_MESSAGE: Acceptance = {
  accepts: () => true,
  description: `${(Object.keys(B2MML_NAMESPACES) as B2mmlVersion[])
    .map((v) => `${v} (${B2MML_NAMESPACES[v]}): ${knownNouns(v).join(', ')}`)
    .join('; ')}, each bare or after a verb (${B2MML_VERBS.join(', ')})`,
};

/**
 * The version and entry XSD of a document, if `acceptance` takes it; otherwise
 * MW_ERR_B2MML_UNSUPPORTED naming what is accepted.
 */
export function identify(source: XmlSource, acceptance: Acceptance = ANY_MESSAGE): B2mmlMessage {
  const { local, namespace } = source.root;
  const version = versionOfNamespace(namespace);
  const root = version === null ? null : splitRoot(version, local);
  const schema = version === null || root === null ? null : entrySchema(version, root.noun);
  const message =
    version === null || root === null || schema === null
      ? null
      : { version, root: local, verb: root.verb, noun: root.noun, schema };
  if (message === null || !acceptance.accepts(message)) {
    throw new MwError(
      'MW_ERR_B2MML_UNSUPPORTED',
      {
        what: `root element ${local} in namespace "${namespace}"`,
        accepted: acceptance.description,
      },
      { path: `/${local}` },
    );
  }
  return message;
}

/** libxml2 notes that are not findings about the document. */
function isHarmless(e: XMLValidationError): boolean {
  // The circular Common ↔ AllExtensions imports of every B2MML version (SOURCE.md).
  return /Schemas parser warning/.test(e.message) && /Skipping import/.test(e.message);
}

/** `Schemas validity error : Element 'x': …` → `Element 'x': …` (libxml2's own words). */
function reasonOf(e: XMLValidationError): string {
  return e.message.replace(/^Schemas validity error\s*:\s*/, '').trim();
}

function memoryFor(source: XmlSource): number {
  // The compiled schema set takes about 40 MiB; streaming keeps no DOM, only the file itself
  // (in the in-memory file system) and the parser's buffers.
  const mib = 64 + Math.ceil((source.forValidation.length * 3) / (1024 * 1024));
  return Math.min(memoryPages.max, mib * memoryPages.MiB);
}

/**
 * Validations at once: each runs libxml2 in a worker thread of its own (a new WebAssembly
 * instance that compiles the schema set), so a burst of documents (a drop folder) queues here
 * instead of starting a worker per document.
 */
const MAX_CONCURRENT = Math.max(1, Math.min(4, availableParallelism()));
let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(run: () => Promise<T>): Promise<T> {
  // A finishing validation hands its slot to the next in line (`running` stays as it is).
  if (running >= MAX_CONCURRENT) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await run();
  } finally {
    const next = waiting.shift();
    if (next === undefined) running--;
    else next();
  }
}

async function runXmllint(source: XmlSource, message: B2mmlMessage) {
  const files = await schemaFiles(message.version);
  const entry = files.find((f) => f.fileName === message.schema);
  if (entry === undefined) throw new Error(`B2MML ${message.version}: ${message.schema} missing`);
  const options = {
    xml: [{ fileName: 'document.xml', contents: source.forValidation }],
    schema: [entry],
    preload: files.filter((f) => f !== entry),
    maxMemoryPages: memoryFor(source),
    // Streaming validation (xmlTextReader): no DOM, and real line numbers (a DOM element keeps
    // at most 65535) of the tag where each finding is seen (xml-source.ts elementAtLine).
    stream: true,
  };
  try {
    return await limited(() => validateXML(options));
  } catch (err) {
    // xmllint ended with an exit code other than valid (0) / invalid (3, 4): it could not read
    // the document (1), or ran out of memory (9). readXml catches what it knows before.
    const code = (err as { code?: unknown }).code;
    if (typeof code !== 'number') throw err;
    const said = String((err as Error).message)
      .split('\n')
      .filter((l) => l.includes('document.xml') && !/ validates$/.test(l))
      .join('; ');
    throw new MwError('MW_ERR_B2MML_MALFORMED', {
      reason: `libxml2 could not read it (xmllint exit code ${code}${said === '' ? '' : `: ${said}`})`,
    });
  }
}

/**
 * Validate a scanned document against the XSD of its message. Throws MW_ERR_B2MML_INVALID
 * (the first error in the message, all in the details) or MW_ERR_B2MML_MALFORMED for what
 * libxml2 finds unparseable.
 */
export async function validateSource(source: XmlSource, message: B2mmlMessage): Promise<void> {
  const result = await runXmllint(source, message);
  const errors = result.errors.filter(
    (e) => !isHarmless(e) && (e.loc === null || e.loc.fileName === 'document.xml'),
  );
  if (result.valid && errors.length === 0) return;
  const parserError = errors.find((e) => /parser error/.test(e.message));
  if (parserError !== undefined) {
    const at = parserError.loc === null ? '' : `line ${parserError.loc.lineNumber}: `;
    throw new MwError('MW_ERR_B2MML_MALFORMED', {
      reason: at + parserError.message.replace(/^parser error\s*:\s*/, ''),
    });
  }
  const found = errors.map((e) => ({
    path: e.loc === null ? `/${message.root}` : source.pathAtLine(e.loc.lineNumber),
    reason: reasonOf(e),
  }));
  if (found.length === 0) found.push({ path: `/${message.root}`, reason: result.rawOutput.trim() });
  const first = found[0]!;
  throw new MwError(
    'MW_ERR_B2MML_INVALID',
    {
      path: first.path,
      reason: first.reason,
      more: found.length > 1 ? ` (and ${found.length - 1} more error(s))` : '',
      version: message.version,
      schema: message.schema,
    },
    {
      path: first.path,
      details: found.slice(0, MAX_DETAILS).map((f) => `${f.path}: ${f.reason}`),
    },
  );
}

/**
 * Read, identify and validate a B2MML document (any message with an XSD: schedules,
 * performance, material, ConfirmBOD). Resolves with what it is; rejects with an MwError
 * (MW_ERR_B2MML_TOO_LARGE, _DTD, _MALFORMED, _UNSUPPORTED, _INVALID).
 */
export async function validateB2mml(
  xml: string | Buffer,
  options: ValidateOptions = {},
): Promise<ValidatedB2mml> {
  const source = readXml(xml, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const message = identify(source);
  await validateSource(source, message);
  return { message, source };
}
