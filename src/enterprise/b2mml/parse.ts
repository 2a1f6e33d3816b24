/**
 * Inbound B2MML (ISA-95 XML): orders, material master and lots as an InboundDocument, in the
 * ERP's codes (core maps them). Every document is read safely (size limit, no DTD, no entity
 * expansion), validated against the XSD of its version, then mapped:
 *
 * | root (bare, `Process…` or `Sync…`) | versions | yields |
 * | --- | --- | --- |
 * | `ProductionSchedule` | V0401, V0600 | orders (parse-schedule.ts) |
 * | `OperationsSchedule`, OperationsType Production | V0600, V0701 | orders (parse-schedule.ts) |
 * | `MaterialInformation`, `MaterialDefinition`, `MaterialLot` | all | materials, lots (parse-material.ts) |
 *
 * Anything else is MW_ERR_B2MML_UNSUPPORTED (e.g. `SyncProductionPerformance`: that is what the
 * hub sends, render.ts).
 */
import type { B2mmlVersion, InboundDocument } from '../types.ts';
import { mapMaterials } from './parse-material.ts';
import { mapSchedule, scheduleShape } from './parse-schedule.ts';
import { B2MML_NAMESPACES } from './schemas.ts';
import { parseTree, type Element } from './tree.ts';
import { identify, validateSource, type Acceptance, type B2mmlMessage } from './validate.ts';
import { DEFAULT_MAX_BYTES, readXml } from './xml-source.ts';

export interface ParseOptions {
  /** Largest document accepted, in bytes (default 10 MiB). */
  readonly maxBytes?: number;
}

const IMPORT_VERBS: readonly (string | null)[] = [null, 'Process', 'Sync'];

const IMPORT_NOUNS: Readonly<Record<string, readonly B2mmlVersion[]>> = {
  ProductionSchedule: ['V0401', 'V0600'],
  OperationsSchedule: ['V0600', 'V0701'],
  MaterialInformation: ['V0401', 'V0600', 'V0701'],
  MaterialDefinition: ['V0401', 'V0600', 'V0701'],
  MaterialLot: ['V0401', 'V0600', 'V0701'],
};

const IMPORTABLE: Acceptance = {
  accepts: (m) => IMPORT_VERBS.includes(m.verb) && (IMPORT_NOUNS[m.noun] ?? []).includes(m.version),
  description: `${Object.entries(IMPORT_NOUNS)
    .map(([noun, versions]) => `${noun} (${versions.join(', ')})`)
    .join(', ')}, each bare or as Process… / Sync…; namespaces ${Object.entries(B2MML_NAMESPACES)
    .map(([v, ns]) => `${v} ${ns}`)
    .join(', ')}`,
};

/** The noun elements of a message: the root itself, or those in its DataArea after the verb. */
function nounElements(root: Element, message: B2mmlMessage): Element[] {
  if (message.verb === null) return [root];
  return root.child('DataArea')?.children(message.noun) ?? [];
}

/**
 * Read a B2MML document. Rejects with an MwError: MW_ERR_B2MML_TOO_LARGE, _DTD, _MALFORMED,
 * _UNSUPPORTED (root, namespace, or an OperationsType other than Production), _INVALID (XSD,
 * quoting libxml2, with the element path) or _INCOMPLETE (valid, but without what an import
 * needs, e.g. an order's quantity; with the element path).
 */
export async function parseB2mml(
  xml: string | Buffer,
  options: ParseOptions = {},
): Promise<InboundDocument> {
  const source = readXml(xml, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const message = identify(source, IMPORTABLE);
  await validateSource(source, message);
  const nouns = nounElements(parseTree(source.text, message.root), message);
  const base = { format: `b2mml-${message.version}`, root: message.root } as const;
  if (message.noun === 'ProductionSchedule' || message.noun === 'OperationsSchedule') {
    const shape = scheduleShape(message.version, message.noun);
    return {
      ...base,
      orders: nouns.flatMap((s) => mapSchedule(s, shape)),
      materials: [],
      lots: [],
    };
  }
  return { ...base, orders: [], ...mapMaterials(message.noun, nouns, message.version) };
}
