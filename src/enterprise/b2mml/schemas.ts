/**
 * The B2MML XSDs shipped in `schemas/` (MESA International; see schemas/README.md): where they
 * are, which file declares a message root, and their text (read once per version folder).
 *
 * "The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA International."
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { packageRoot } from '../../package-root.ts';
import type { B2mmlVersion } from '../types.ts';

export const B2MML_NAMESPACES: Readonly<Record<B2mmlVersion, string>> = {
  V0401: 'http://www.wbf.org/xml/B2MML-V0401',
  V0600: 'http://www.mesa.org/xml/B2MML-V0600',
  // B2MML V0701 has no version in its namespace; `releaseID` on the root says V0701.
  V0701: 'http://www.mesa.org/xml/B2MML',
};

/** The B2MML transaction verbs (ISA-95 Part 5 / OAGIS BOD verbs) that prefix a noun. */
export const B2MML_VERBS = [
  'Get',
  'Show',
  'Process',
  'Acknowledge',
  'Change',
  'Respond',
  'Cancel',
  'Sync',
] as const;

const MATERIAL_NOUNS = [
  'MaterialInformation',
  'MaterialDefinition',
  'MaterialLot',
  'MaterialSubLot',
  'MaterialClass',
] as const;

/**
 * The entry XSD of each noun per version (standards/b2mml/SOURCE.md, "Entry-point schemas per
 * message"). V0701 removed ProductionSchedule / ProductionPerformance (OperationsSchedule /
 * OperationsPerformance with OperationsType Production replace them); V0401 has no Operations*.
 */
const ENTRY_XSD: Readonly<Record<B2mmlVersion, Readonly<Record<string, string>>>> = {
  V0401: {
    ProductionSchedule: 'B2MML-V0401-ProductionSchedule.xsd',
    ProductionPerformance: 'B2MML-V0401-ProductionPerformance.xsd',
    ConfirmBOD: 'B2MML-V0401-ConfirmBOD.xsd',
    ...Object.fromEntries(MATERIAL_NOUNS.map((n) => [n, 'B2MML-V0401-Material.xsd'])),
  },
  V0600: {
    ProductionSchedule: 'B2MML-V0600-ProductionSchedule.xsd',
    ProductionPerformance: 'B2MML-V0600-ProductionPerformance.xsd',
    OperationsSchedule: 'B2MML-V0600-OperationsSchedule.xsd',
    OperationsPerformance: 'B2MML-V0600-OperationsPerformance.xsd',
    ConfirmBOD: 'B2MML-V0600-ConfirmBOD.xsd',
    ...Object.fromEntries(MATERIAL_NOUNS.map((n) => [n, 'B2MML-V0600-Material.xsd'])),
  },
  V0701: {
    OperationsSchedule: 'B2MML-OperationsSchedule.xsd',
    OperationsPerformance: 'B2MML-OperationsPerformance.xsd',
    ConfirmBOD: 'B2MML-ConfirmBOD.xsd',
    ...Object.fromEntries(MATERIAL_NOUNS.map((n) => [n, 'B2MML-Material.xsd'])),
  },
};

/** A message root split into its verb (null for a bare noun such as `ProductionSchedule`). */
export interface B2mmlRoot {
  readonly verb: string | null;
  readonly noun: string;
}

export function versionOfNamespace(namespace: string): B2mmlVersion | null {
  for (const [version, ns] of Object.entries(B2MML_NAMESPACES))
    if (ns === namespace) return version as B2mmlVersion;
  return null;
}

/** `SyncProductionSchedule` → Sync + ProductionSchedule; null when the noun has no XSD here. */
export function splitRoot(version: B2mmlVersion, localName: string): B2mmlRoot | null {
  const nouns = ENTRY_XSD[version];
  if (localName === 'ConfirmBOD') return { verb: null, noun: 'ConfirmBOD' };
  if (localName in nouns) return { verb: null, noun: localName };
  for (const verb of B2MML_VERBS) {
    const noun = localName.slice(verb.length);
    if (localName.startsWith(verb) && noun in nouns && noun !== 'ConfirmBOD') return { verb, noun };
  }
  return null;
}

export function entrySchema(version: B2mmlVersion, noun: string): string | null {
  return ENTRY_XSD[version][noun] ?? null;
}

/** Every noun with an XSD, per version (for "accepted: …" in errors). */
export function knownNouns(version: B2mmlVersion): readonly string[] {
  return Object.keys(ENTRY_XSD[version]);
}

let schemaRoot: string | undefined;

/**
 * `<package root>/src/enterprise/b2mml/schemas`: the package root is the nearest folder above
 * this module holding package.json, so the same path serves `src/` (tsx) and `dist/` (tsc does
 * not copy .xsd files; package.json `files` ships the schemas folder).
 */
export function schemaDirectory(): string {
  if (schemaRoot !== undefined) return schemaRoot;
  schemaRoot = path.join(packageRoot(), 'src', 'enterprise', 'b2mml', 'schemas');
  return schemaRoot;
}

export interface SchemaFile {
  readonly fileName: string;
  readonly contents: string;
}

const loaded = new Map<B2mmlVersion, Promise<readonly SchemaFile[]>>();

async function readFolder(version: B2mmlVersion): Promise<readonly SchemaFile[]> {
  const dir = path.join(schemaDirectory(), version);
  const names = (await readdir(dir)).filter((n) => n.endsWith('.xsd')).sort();
  return Promise.all(
    names.map(async (fileName) => ({
      fileName,
      contents: await readFile(path.join(dir, fileName), 'utf8'),
    })),
  );
}

/** All XSDs of a version folder (its imports are by bare file name), read once and kept. */
export function schemaFiles(version: B2mmlVersion): Promise<readonly SchemaFile[]> {
  let files = loaded.get(version);
  if (files === undefined) {
    files = readFolder(version);
    loaded.set(version, files);
    // A failed read is not kept: the next document tries again.
    files.catch(() => loaded.delete(version));
  }
  return files;
}
