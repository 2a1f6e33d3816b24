/**
 * Checks across fields of the configuration: unique ids at each level of the hierarchy and among
 * connections, references between connections and bindings, and the embedded broker's exposure
 * rule. They run on the raw input even when other fields are invalid, so one run of
 * `check-config` reports every problem.
 */
import net from 'node:net';
import { qualityReferenceIssues } from './quality.ts';
import { targetIssues } from './target-checks.ts';
import { compileExpression, ExpressionError } from '../model/expression.ts';
import { shiftCalendarErrors, type ShiftCalendar } from '../model/shifts.ts';
import {
  findUnit,
  materialConversionErrors,
  parseQuantity,
  UomError,
  type MaterialConversion,
} from '../model/uom.ts';

/** A problem found by `crossReferenceIssues`: a path into the configuration and the rule broken. */
export interface CrossReferenceIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

type Loose = Record<string, unknown>;

/** `shifts[1].breaks[0].start` as path segments. */
function pathOf(text: string): (string | number)[] {
  return text
    .split(/[.[\]]+/)
    .filter((p) => p !== '')
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

const loopback = new net.BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6'); // also matches ::ffff:127.x.x.x and the long forms

/** True for `localhost`, 127.0.0.0/8 and ::1 (bracketed or not). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  const family = net.isIP(h);
  return family !== 0 && loopback.check(h, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * The embedded broker's exposure rule: off loopback, MQTT clients must meet TLS and a login.
 * The problem as a sentence, or null when the settings are allowed. Used by `check-config` and,
 * as defence in depth, by the broker itself.
 */
export function brokerExposureProblem(broker: {
  readonly host: string;
  readonly tls: boolean;
  readonly authentication: string;
}): string | null {
  if (isLoopbackHost(broker.host) || (broker.tls && broker.authentication === 'hub')) return null;
  return `listening on ${broker.host} (not loopback) needs broker.tls and broker.authentication: hub`;
}

const list = (v: unknown): Loose[] =>
  Array.isArray(v) ? v.filter((x): x is Loose => x !== null && typeof x === 'object') : [];

/** Every cross-field problem of a raw (not yet validated) configuration. */
export function crossReferenceIssues(raw: unknown): CrossReferenceIssue[] {
  const issues: CrossReferenceIssue[] = [];
  const cfg = (raw ?? {}) as Loose;
  const dup = (items: Loose[], path: (i: number) => (string | number)[], what: string): void => {
    const seen = new Set<unknown>();
    items.forEach((item, i) => {
      if (typeof item.id !== 'string') return;
      if (seen.has(item.id))
        issues.push({ path: path(i), message: `duplicate ${what} id "${item.id}"` });
      seen.add(item.id);
    });
  };
  const sites = list(cfg.sites);
  dup(sites, (i) => ['sites', i, 'id'], 'site');
  const targets = list(cfg.targets);
  dup(targets, (i) => ['targets', i, 'id'], 'target');
  issues.push(...targetIssues(targets));
  dup(list(cfg.inbound), (i) => ['inbound', i, 'id'], 'inbound');
  sites.forEach((s, si) => {
    const codes = new Map<unknown, number>();
    const plcCodes = new Map<unknown, number>();
    list(s.reasons).forEach((r, ri) => {
      if (codes.has(r.code)) {
        issues.push({
          path: ['sites', si, 'reasons', ri, 'code'],
          message: `duplicate reason code "${String(r.code)}" (also reasons[${codes.get(r.code)}])`,
        });
      } else codes.set(r.code, ri);
      (Array.isArray(r.plcCodes) ? r.plcCodes : []).forEach((plc: unknown, pi: number) => {
        if (plcCodes.has(plc)) {
          issues.push({
            path: ['sites', si, 'reasons', ri, 'plcCodes', pi],
            message: `PLC code "${String(plc)}" already means reasons[${plcCodes.get(plc)}]`,
          });
        } else plcCodes.set(plc, ri);
      });
    });
  });
  sites.forEach((s, si) => {
    // The calendar's own rules (overlaps, a rotation that fits its shifts, …), where the
    // schema's shapes hold; the site's zone is checked by the schema.
    const calendar = s.calendar as Loose | undefined;
    if (calendar === undefined || typeof s.timeZone !== 'string' || !Array.isArray(calendar.shifts))
      return;
    for (const error of shiftCalendarErrors({
      ...(calendar as unknown as ShiftCalendar),
      timeZone: s.timeZone,
    })) {
      const [where, ...rest] = error.split(': ');
      // Shapes (`expected HH:MM`, `expected a list`) are the schema's to report.
      if (where?.startsWith('timeZone') || rest.join(': ').startsWith('expected ')) continue;
      issues.push({
        path: ['sites', si, 'calendar', ...pathOf(where ?? '')],
        message: rest.join(': '),
      });
    }
  });
  sites.forEach((s, si) => {
    const areas = list(s.areas);
    dup(areas, (i) => ['sites', si, 'areas', i, 'id'], 'area');
    areas.forEach((a, ai) => {
      const lines = list(a.lines);
      dup(lines, (i) => ['sites', si, 'areas', ai, 'lines', i, 'id'], 'line');
      lines.forEach((l, li) => {
        if (typeof l.outputUnit === 'string' && !list(l.units).some((u) => u.id === l.outputUnit)) {
          issues.push({
            path: ['sites', si, 'areas', ai, 'lines', li, 'outputUnit'],
            message: `no unit "${l.outputUnit}" on this line`,
          });
        }
        const flow: unknown[] = Array.isArray(l.flow) ? l.flow : [];
        const seen = new Set<unknown>();
        flow.forEach((id, fi) => {
          const path = ['sites', si, 'areas', ai, 'lines', li, 'flow', fi];
          if (!list(l.units).some((u) => u.id === id))
            issues.push({ path, message: `no unit "${String(id)}" on this line` });
          else if (seen.has(id))
            issues.push({ path, message: `unit "${String(id)}" is in the flow twice` });
          seen.add(id);
        });
      });
      lines.forEach((l, li) =>
        dup(
          list(l.units),
          (i) => ['sites', si, 'areas', ai, 'lines', li, 'units', i, 'id'],
          'unit',
        ),
      );
    });
  });
  const materials = list(cfg.materials);
  dup(materials, (i) => ['materials', i, 'id'], 'material');
  const materialIds = new Set(materials.map((m) => m.id));
  materials.forEach((m, mi) => {
    if (typeof m.uom === 'string' && findUnit(m.uom) === undefined) {
      issues.push({
        path: ['materials', mi, 'uom'],
        message: `unknown unit "${m.uom}" (a UN/CEFACT Rec 20 code such as KGM, LTR, H87: docs/units.md)`,
      });
    }
    const conversions: unknown[] = Array.isArray(m.conversions) ? m.conversions : [];
    if (typeof m.id !== 'string') return;
    const id = m.id;
    // Each entry alone, then (when each is fine) the list together: entries that disagree.
    const parsed: MaterialConversion[] = [];
    const reasonOf = (e: UomError): string =>
      e.code === 'MW_ERR_UOM_MATERIAL_CONVERSION' ? String(e.params.reason) : e.message;
    conversions.forEach((text, ci) => {
      if (typeof text !== 'string') return;
      const path = ['materials', mi, 'conversions', ci];
      try {
        const conversion = parseConversion(text);
        const errors = materialConversionErrors({ [id]: [conversion] });
        for (const e of errors) issues.push({ path, message: reasonOf(e) });
        if (errors.length === 0) parsed.push(conversion);
      } catch (err) {
        if (!(err instanceof UomError)) throw err;
        issues.push({ path, message: err.message });
      }
    });
    if (parsed.length === conversions.length) {
      for (const e of materialConversionErrors({ [id]: parsed }))
        issues.push({ path: ['materials', mi, 'conversions'], message: e.message });
    }
  });
  const broker = (cfg.broker ?? {}) as Loose;
  if (typeof broker.host === 'string') {
    const problem = brokerExposureProblem({
      host: broker.host,
      tls: broker.tls !== undefined && broker.tls !== null,
      authentication: typeof broker.authentication === 'string' ? broker.authentication : 'none',
    });
    if (problem !== null) issues.push({ path: ['broker', 'host'], message: problem });
  }
  const connections = list(cfg.connections);
  dup(connections, (i) => ['connections', i, 'id'], 'connection');
  const byId = new Map(connections.map((c) => [c.id, c]));
  connections.forEach((c, i) => {
    if (
      c.type === 'simulator' &&
      typeof c.publishTo === 'string' &&
      byId.get(c.publishTo)?.type !== 'mqtt'
    ) {
      issues.push({
        path: ['connections', i, 'publishTo'],
        message: `expected the id of an mqtt connection, "${c.publishTo}" is none`,
      });
    }
  });
  // The simulator's totalisers: each names a material the hub knows and units that exist.
  const unitPaths = sites.flatMap((s) =>
    list(s.areas).flatMap((a) =>
      list(a.lines).flatMap((l) => list(l.units).map((u) => [s.id, a.id, l.id, u.id].join('/'))),
    ),
  );
  connections.forEach((c, i) => {
    if (c.type !== 'simulator') return;
    const mapped = list(cfg.bindings).some(
      (b) => b.connection === c.publishTo && b.materialSystem !== undefined,
    );
    list(c.consumption).forEach((entry, ci) => {
      const path = ['connections', i, 'consumption', ci];
      if (typeof entry.material === 'string' && !mapped && !materialIds.has(entry.material)) {
        issues.push({
          path: [...path, 'material'],
          message: `no material "${entry.material}" in materials (every reading would be quarantined)`,
        });
      }
      if (
        typeof entry.unit === 'string' &&
        !unitPaths.some((p) => p === entry.unit || p.endsWith(`/${String(entry.unit)}`))
      ) {
        issues.push({
          path: [...path, 'unit'],
          message: `no work unit "${entry.unit}" (a unit id, or the end of its path like "line1/filler")`,
        });
      }
    });
  });
  list(cfg.bindings).forEach((b, i) => {
    if (typeof b.connection !== 'string') return;
    const c = byId.get(b.connection);
    if (c === undefined) {
      issues.push({
        path: ['bindings', i, 'connection'],
        message: `no connection with id "${b.connection}"`,
      });
    } else if (c.type === 'simulator') {
      // A simulator publishes over MQTT: its tags are bound on that MQTT connection.
      issues.push({
        path: ['bindings', i, 'connection'],
        message: `expected a connection that reads tags, "${b.connection}" is simulator (bind its MQTT connection)`,
      });
    }
    const hasTopic = typeof b.topic === 'string';
    const inputs =
      b.inputs !== null && typeof b.inputs === 'object' ? Object.keys(b.inputs as object) : null;
    if (hasTopic === (inputs !== null)) {
      issues.push({
        path: ['bindings', i, hasTopic ? 'inputs' : 'topic'],
        message: hasTopic
          ? 'give either topic or inputs, not both'
          : 'a binding needs a topic (or inputs with an expression)',
      });
    }
    if (inputs !== null && typeof b.expression !== 'string') {
      issues.push({
        path: ['bindings', i, 'expression'],
        message: 'bindings with inputs need an expression that combines them',
      });
    }
    if (typeof b.expression === 'string') {
      try {
        compileExpression(b.expression, inputs ?? ['value']);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        issues.push({ path: ['bindings', i, 'expression'], message: err.message });
      }
    }
    const meaning = typeof b.meaning === 'string' ? b.meaning : '';
    if (b.stateMap !== undefined && meaning !== 'state') {
      issues.push({
        path: ['bindings', i, 'stateMap'],
        message: 'only state bindings take a stateMap',
      });
    }
    const counting = meaning.startsWith('counter.') || meaning === 'consumption';
    if (b.counterMode !== undefined && !counting) {
      issues.push({
        path: ['bindings', i, 'counterMode'],
        message: 'only counter and consumption bindings take counterMode',
      });
    }
    if (meaning === 'consumption' && b.counterMode === 'pulse') {
      issues.push({
        path: ['bindings', i, 'counterMode'],
        message: 'consumption is absolute or increment (a pulse carries no quantity)',
      });
    }
    for (const field of ['material', 'materialSystem'] as const) {
      if (b[field] !== undefined && meaning !== 'consumption') {
        issues.push({
          path: ['bindings', i, field],
          message: `only consumption bindings take ${field}`,
        });
      }
    }
    const payload = (b.payload ?? {}) as Loose;
    if (payload.materialPath !== undefined && meaning !== 'consumption') {
      issues.push({
        path: ['bindings', i, 'payload', 'materialPath'],
        message: 'only consumption bindings take payload.materialPath',
      });
    }
    if (meaning === 'consumption') {
      const fromPayload = typeof payload.materialPath === 'string';
      if ((typeof b.material === 'string') === fromPayload) {
        issues.push({
          path: ['bindings', i, 'material'],
          message: fromPayload
            ? 'give either material or payload.materialPath, not both'
            : 'a consumption binding needs a material (or payload.materialPath)',
        });
      }
      // A fixed code (no capture) without a mapping system must be a configured material.
      if (
        typeof b.material === 'string' &&
        !b.material.includes('{') &&
        b.materialSystem === undefined &&
        !materialIds.has(b.material)
      ) {
        issues.push({
          path: ['bindings', i, 'material'],
          message: `no material "${b.material}" in materials`,
        });
      }
    }
    if (b.rolloverAt !== undefined && b.counterMode !== undefined && b.counterMode !== 'absolute') {
      issues.push({
        path: ['bindings', i, 'rolloverAt'],
        message: 'rolloverAt applies to absolute counters only',
      });
    }
    if (b.stateMap !== null && typeof b.stateMap === 'object') {
      for (const key of Object.keys(b.stateMap as object)) {
        const m = /^(-?\d+)\.\.(-?\d+)$/.exec(key);
        if (key.includes('..') && (m === null || Number(m[1]) > Number(m[2]))) {
          issues.push({
            path: ['bindings', i, 'stateMap', key],
            message: 'expected a range of whole numbers like "3..9" (low..high)',
          });
        }
      }
    }
    if (b.deadband !== undefined && meaning !== 'process') {
      issues.push({
        path: ['bindings', i, 'deadband'],
        message: 'only process bindings take deadband',
      });
    }
    if (b.uom !== undefined && meaning !== 'process' && meaning !== 'consumption') {
      issues.push({
        path: ['bindings', i, 'uom'],
        message: 'only process and consumption bindings take uom',
      });
    }
    if (typeof b.uom === 'string' && findUnit(b.uom) === undefined) {
      issues.push({
        path: ['bindings', i, 'uom'],
        message: `unknown unit "${b.uom}" (a UN/CEFACT Rec 20 code such as CEL, BAR, KGM: docs/units.md)`,
      });
    }
    if (b.rolloverAt !== undefined && !counting) {
      issues.push({
        path: ['bindings', i, 'rolloverAt'],
        message: 'only counter and consumption bindings take rolloverAt',
      });
    }
    if (
      typeof b.rolloverAt === 'number' &&
      meaning.startsWith('counter.') &&
      !Number.isInteger(b.rolloverAt)
    ) {
      issues.push({
        path: ['bindings', i, 'rolloverAt'],
        message: 'a PLC counter rolls over at a whole number',
      });
    }
  });
  issues.push(...qualityReferenceIssues(cfg, materialIds));
  return issues;
}

/** Reads `'1 H87 = 0.028 KGM'` (config `materials[].conversions`). Throws UomError. */
export function parseConversion(text: string): MaterialConversion {
  const [left = '', right = ''] = text.split('=');
  const a = parseQuantity(left);
  const b = parseQuantity(right);
  return {
    quantity: a.value.toFixed(),
    unit: a.unit,
    equalsQuantity: b.value.toFixed(),
    equalsUnit: b.unit,
  };
}
