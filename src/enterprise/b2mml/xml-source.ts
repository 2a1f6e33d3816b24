/**
 * An inbound XML document made safe to look at: decoded, bounded in size, without DTD, checked
 * for well-formedness, and scanned once so that a line number libxml2 reports can be turned
 * into the element path (STYLE.md rule 12: "the element path for XML").
 */
import { XMLValidator } from 'fast-xml-parser';
import { MwError } from '../../errors.ts';

/** Largest document accepted, in bytes (the encoded size as received). */
export const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

/**
 * Elements that are ISA-95 objects of which a parent may hold several: their path step always
 * carries its position (`ProductionRequest[1]`). Any other element carries one only when it has
 * a sibling of the same name (`Quantity` or `Quantity[2]`).
 */
const RECORD_ELEMENTS: ReadonlySet<string> = new Set([
  'ProductionRequest',
  'OperationsRequest',
  'SegmentRequirement',
  'SegmentRequirementChild',
  'MaterialRequirement',
  'MaterialProducedRequirement',
  'MaterialConsumedRequirement',
  'EquipmentRequirement',
  'ProductionResponse',
  'OperationsResponse',
  'SegmentResponse',
  'SegmentResponseChild',
  'EquipmentActual',
  'MaterialActual',
  'MaterialProducedActual',
  'MaterialConsumedActual',
  'MaterialInformation',
  'MaterialDefinition',
  'MaterialLot',
  'MaterialSubLot',
  'MaterialSubLotChild',
]);

/** One step of an element path: `name` or `name[position]` (1-based, XPath style). */
export function pathStep(local: string, position: number, siblings: number): string {
  return RECORD_ELEMENTS.has(local) || siblings > 1 ? `${local}[${position}]` : local;
}

/** The five predefined entities and character references (XML 1.0 §4.1, §4.6); nothing else. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot|apos);/g, (_all, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[ref] ?? '';
  });
}

interface ScannedElement {
  readonly local: string;
  readonly parent: number;
  readonly position: number;
}

export interface XmlSource {
  /** Decoded text: no BOM, line ends normalised to LF (XML 1.0 §2.11). */
  readonly text: string;
  /**
   * What libxml2 validates: the same infoset with a line break before the ">" of every start
   * and end tag (white space allowed there, XML 1.0 §3.1 [40], [42], [44]), so that each tag
   * ends on a line of its own even in a one-line document; the declaration names UTF-8 (the
   * text is passed as UTF-8).
   */
  readonly forValidation: string;
  readonly root: { readonly local: string; readonly namespace: string };
  /** Path of the element libxml2 reports at `line` of `forValidation`. */
  pathAtLine(line: number): string;
}

function malformed(reason: string): MwError {
  return new MwError('MW_ERR_B2MML_MALFORMED', { reason });
}

/** Bytes → text: a BOM (UTF-8, UTF-16) or the declaration's encoding; UTF-8 otherwise. */
function decode(bytes: Buffer): string {
  let label = 'utf-8';
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) [label, start] = ['utf-16le', 2];
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) [label, start] = ['utf-16be', 2];
  else {
    const head = bytes.subarray(0, 256).toString('latin1');
    const m = /^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head);
    if (m?.[1] !== undefined) label = m[1];
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    throw malformed(`encoding "${label}" is not supported; send UTF-8`);
  }
  try {
    return decoder.decode(bytes.subarray(start));
  } catch {
    throw malformed(`the bytes are not valid ${label}`);
  }
}

function refuseDtd(text: string): void {
  // Checked on the whole text, comments and CDATA included: a false refusal is safer than a
  // DTD that slips through (XXE, entity expansion).
  const m = /<!(DOCTYPE|ENTITY)/i.exec(text);
  if (m !== null) {
    const what = m[1]!.toUpperCase() === 'DOCTYPE' ? 'a <!DOCTYPE> declaration' : 'an <!ENTITY>';
    throw new MwError('MW_ERR_B2MML_DTD', { what });
  }
}

/** Index just past the ">" of the start tag at `i` (quoted values may hold ">"), and "/>". */
function startTagEnd(text: string, i: number): { gt: number; selfClosing: boolean } {
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '"' || c === "'") j = text.indexOf(c, j + 1);
    else if (c === '>') return { gt: j, selfClosing: text[j - 1] === '/' };
    if (j === -1) break;
  }
  throw malformed('unterminated start tag');
}

function rootNamespace(tag: string, qname: string): string {
  const colon = qname.indexOf(':');
  const attr = colon === -1 ? 'xmlns' : `xmlns:${qname.slice(0, colon)}`;
  for (const m of tag.matchAll(/([^\s=<>/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
    if (m[1] === attr) return decodeEntities(m[2] ?? m[3] ?? '');
  return '';
}

interface Scan {
  readonly elements: ScannedElement[];
  readonly siblings: Map<string, number>;
  /** Every tag in document order: the line its ">" is on in `forValidation`, its element. */
  readonly tagLines: number[];
  readonly tagElements: number[];
  readonly forValidation: string;
  readonly namespace: string;
}

/** Builds the scan: copies the text, putting a line break before each tag's ">". */
class Scanner {
  readonly elements: ScannedElement[] = [];
  readonly siblings = new Map<string, number>();
  readonly tagLines: number[] = [];
  readonly tagElements: number[] = [];
  readonly stack: number[] = [];
  namespace = '';
  private readonly out: string[] = [];
  private copied = 0;
  private line = 1; // the line at `copied` in the output
  private newline: number; // the first line break of the text at or after `copied`, or -1

  constructor(private readonly text: string) {
    this.newline = text.indexOf('\n');
  }

  /** The tag of `element` ends at `cut` (its ">" or "/>"): break the line before it. */
  private mark(cut: number, element: number): void {
    // Line breaks of the text up to `cut` (found once each: a one-line text is not rescanned).
    while (this.newline !== -1 && this.newline < cut) {
      this.line++;
      this.newline = this.text.indexOf('\n', this.newline + 1);
    }
    this.line++;
    this.out.push(this.text.slice(this.copied, cut), '\n');
    this.copied = cut;
    this.tagLines.push(this.line);
    this.tagElements.push(element);
  }

  /** The start tag at `i`; returns the index after it. */
  startTag(i: number): number {
    const { gt, selfClosing } = startTagEnd(this.text, i);
    const qname = /^<([^\s/>]+)/.exec(this.text.slice(i, i + 256))?.[1] ?? '';
    const local = qname.slice(qname.indexOf(':') + 1);
    const parent = this.stack.at(-1) ?? -1;
    const key = `${parent}|${local}`;
    const position = (this.siblings.get(key) ?? 0) + 1;
    this.siblings.set(key, position);
    this.elements.push({ local, parent, position });
    const index = this.elements.length - 1;
    if (parent === -1) this.namespace = rootNamespace(this.text.slice(i, gt + 1), qname);
    this.mark(selfClosing ? gt - 1 : gt, index);
    if (!selfClosing) this.stack.push(index);
    return gt + 1;
  }

  /** The end tag at `i`; returns the index after it. */
  endTag(i: number): number {
    const gt = this.text.indexOf('>', i);
    this.mark(gt, this.stack.pop() ?? -1);
    return gt + 1;
  }

  result(): Scan {
    this.out.push(this.text.slice(this.copied));
    const forValidation = this.out
      .join('')
      .replace(/^(<\?xml[^?]*?encoding\s*=\s*)(["'])[^"']*\2/, '$1$2UTF-8$2');
    const { elements, siblings, tagLines, tagElements, namespace } = this;
    return { elements, siblings, tagLines, tagElements, forValidation, namespace };
  }
}

/** "line L, col C" (1-based) of an index, for a refusal. */
function where(text: string, index: number): string {
  const before = text.slice(0, index);
  return `line ${before.split('\n').length}, col ${index - before.lastIndexOf('\n')}`;
}

/** Characters XML 1.0 does not allow anywhere (§2.2 Char), lone surrogates included. */
// eslint-disable-next-line no-control-regex -- matching the control characters is the point
export const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|\p{Cs}/u;

function checkCharacters(text: string): void {
  const m = NOT_XML_CHAR.exec(text);
  if (m !== null) {
    const code = m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw malformed(`${where(text, m.index)}: character U+${code} is not allowed in XML`);
  }
}

const isXmlChar = (c: number): boolean =>
  c === 0x9 ||
  c === 0xa ||
  c === 0xd ||
  (c >= 0x20 && c <= 0xd7ff) ||
  (c >= 0xe000 && c <= 0xfffd) ||
  (c >= 0x10000 && c <= 0x10ffff);

/**
 * References in character data or a start tag between `from` and `to`: only the predefined
 * entities and references to allowed characters (XML 1.0 §4.1, §4.6); with the DTD refused no
 * other entity is declared.
 */
function checkReferences(text: string, from: number, to: number): void {
  for (let i = text.indexOf('&', from); i !== -1 && i < to; i = text.indexOf('&', i + 1)) {
    const ref = /^&(?:#x([0-9A-Fa-f]+)|#([0-9]+)|lt|gt|amp|quot|apos);/.exec(text.slice(i, i + 32));
    const code = ref?.[1] !== undefined ? parseInt(ref[1], 16) : Number(ref?.[2] ?? 0x20);
    if (ref === null)
      throw malformed(
        `${where(text, i)}: "&" must start a character reference or one of &lt; &gt; &amp; &quot; &apos; (no other entity is declared: DTDs are refused)`,
      );
    if (!isXmlChar(code))
      throw malformed(`${where(text, i)}: ${ref[0]} refers to a character XML does not allow`);
  }
}

/** One pass over a well-formed document: its elements, their positions and tag lines. */
function scan(text: string): Scan {
  const scanner = new Scanner(text);
  let data = 0; // where the character data before the next markup starts
  for (let i = text.indexOf('<'); i !== -1; i = text.indexOf('<', i)) {
    checkReferences(text, data, i);
    if (text.startsWith('<!--', i)) i = text.indexOf('-->', i + 4) + 3;
    else if (text.startsWith('<![CDATA[', i)) i = text.indexOf(']]>', i + 9) + 3;
    else if (text.startsWith('<?', i)) i = text.indexOf('?>', i + 2) + 2;
    else if (text[i + 1] === '/') i = scanner.endTag(i);
    else {
      const next = scanner.startTag(i);
      checkReferences(text, i, next); // attribute values
      i = next;
    }
    if (i < 3) throw malformed('unterminated comment, CDATA section or processing instruction');
    data = i;
  }
  checkReferences(text, data, text.length);
  return scanner.result();
}

function pathOf(s: Scan, index: number): string {
  const steps: string[] = [];
  for (let i = index; i !== -1;) {
    const e = s.elements[i]!;
    steps.push(pathStep(e.local, e.position, s.siblings.get(`${e.parent}|${e.local}`) ?? 1));
    i = e.parent;
  }
  return '/' + steps.reverse().join('/');
}

/**
 * The element of the tag on `line`. libxml2 with `--stream` reports a finding at the line of
 * the tag where it sees it: the start tag (an unexpected element, an attribute) or the end tag
 * (content incomplete, a value not of its type). Each tag ends on a line of its own, so this is
 * exact; a line between tags falls to the tag before it.
 */
function elementAtLine(s: Scan, line: number): number {
  let lo = 0;
  let hi = s.tagLines.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (s.tagLines[mid]! <= line) lo = mid;
    else hi = mid - 1;
  }
  return Math.max(0, s.tagElements[lo] ?? 0);
}

/**
 * Decode and check a document before any parser builds it: size limit (default 10 MiB), no
 * DTD or entity declaration, well-formed. Throws MW_ERR_B2MML_TOO_LARGE, _DTD or _MALFORMED.
 */
export function readXml(input: string | Buffer, maxBytes = DEFAULT_MAX_BYTES): XmlSource {
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > maxBytes) throw new MwError('MW_ERR_B2MML_TOO_LARGE', { size, limit: maxBytes });
  let text = typeof input === 'string' ? input : decode(input);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  refuseDtd(text);
  text = text.replace(/\r\n?/g, '\n');
  checkCharacters(text);
  const wellFormed = XMLValidator.validate(text);
  if (wellFormed !== true) {
    const { line, col, msg } = wellFormed.err;
    throw malformed(`line ${line}, col ${col}: ${msg}`);
  }
  const s = scan(text);
  const root = s.elements[0];
  if (root === undefined) throw malformed('no root element');
  return {
    text,
    forValidation: s.forValidation,
    root: { local: root.local, namespace: s.namespace },
    pathAtLine: (line) => pathOf(s, elementAtLine(s, line)),
  };
}
