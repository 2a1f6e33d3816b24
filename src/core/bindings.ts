/**
 * Bindings: which tag of which connection means what for which work unit. Compiled once from
 * the configuration; `resolve` maps a tag (an MQTT topic) to its binding and work unit.
 */
import type { BindingConfig } from '../config/schema.ts';
import { compileTopicPattern, type TopicPattern } from '../connectors/mqtt/topic-pattern.ts';
import { compileExpression, type CompiledExpression } from '../model/expression.ts';
import type { CounterKind, CounterMode, EquipmentState } from '../model/index.ts';
import type { PayloadSpec } from './payload.ts';

export type BindingMeaning =
  | { kind: 'state' }
  | { kind: 'counter'; counter: CounterKind }
  | { kind: 'consumption' }
  | { kind: 'process' };

export interface CompiledBinding {
  /** Index in the configuration's `bindings` list, for messages (`bindings[3]`). */
  readonly index: number;
  readonly connectionId: string;
  /** The tags feeding the binding: `value` for a `topic`, or the named `inputs`. */
  readonly inputs: readonly { readonly name: string; readonly pattern: TopicPattern }[];
  /** Derives the value from the inputs, or null: the tag's value as it is. */
  readonly expression: CompiledExpression | null;
  readonly equipmentTemplate: string;
  readonly meaning: BindingMeaning;
  readonly payload: PayloadSpec;
  readonly stateMap: Readonly<Record<string, EquipmentState>> | undefined;
  /** Ranges of the state map (`3..9: down`), tried after the exact keys. */
  readonly stateRanges: readonly {
    readonly low: number;
    readonly high: number;
    readonly state: EquipmentState;
  }[];
  readonly rolloverAt: number | undefined;
  readonly counterMode: CounterMode;
  /** Process bindings: the smallest change kept (0: every reading). */
  readonly deadband: number;
  /** The value's unit of measure (Rec 20), when the binding gives one. */
  readonly uom: string | undefined;
  /** Consumption bindings: the material code template (`{name}` from the captures). */
  readonly material: string | undefined;
  /** Consumption bindings: the system whose material codes the device speaks. */
  readonly materialSystem: string | undefined;
}

export interface Resolution {
  readonly binding: CompiledBinding;
  /** Which input of the binding the tag is (`value` for a binding with a `topic`). */
  readonly input: string;
  /** The work unit the template resolved to; may not exist in the hierarchy (checked by the caller). */
  readonly equipmentId: string;
  /** What the topic pattern captured by name. */
  readonly captures: Readonly<Record<string, string>>;
}

/** Topics cached per connection at most; a flood of distinct topics clears the cache rather than growing it. */
const RESOLVE_CACHE_MAX = 100_000;

interface InputEntry {
  readonly binding: CompiledBinding;
  readonly input: string;
  readonly pattern: TopicPattern;
}

export class BindingTable {
  private readonly byConnection = new Map<string, InputEntry[]>();
  private readonly bindingsByConnection = new Map<string, CompiledBinding[]>();
  private readonly cache = new Map<string, Resolution | null>();

  constructor(bindings: readonly BindingConfig[], enterpriseId: string) {
    bindings.forEach((b, index) => {
      const meaning: BindingMeaning =
        b.meaning === 'state' || b.meaning === 'process' || b.meaning === 'consumption'
          ? { kind: b.meaning }
          : { kind: 'counter', counter: b.meaning.slice('counter.'.length) as CounterKind };
      const inputs =
        b.inputs === undefined
          ? [{ name: 'value', pattern: compileTopicPattern(b.topic as string) }]
          : Object.entries(b.inputs).map(([name, topic]) => ({
              name,
              pattern: compileTopicPattern(topic),
            }));
      const compiled: CompiledBinding = {
        index,
        connectionId: b.connection,
        inputs,
        // Checked when the configuration was loaded (cross-references.ts): compiles here.
        expression:
          b.expression === undefined
            ? null
            : compileExpression(
                b.expression,
                inputs.map((x) => x.name),
              ),
        equipmentTemplate: b.equipment ?? `${enterpriseId}/{site}/{area}/{line}/{unit}`,
        meaning,
        payload: b.payload,
        stateMap: b.stateMap,
        stateRanges: Object.entries(b.stateMap ?? {}).flatMap(([key, state]) => {
          const m = /^(-?\d+)\.\.(-?\d+)$/.exec(key);
          return m === null ? [] : [{ low: Number(m[1]), high: Number(m[2]), state }];
        }),
        rolloverAt: b.rolloverAt,
        counterMode: b.counterMode,
        deadband: b.deadband ?? 0,
        uom: b.uom,
        material: b.material,
        materialSystem: b.materialSystem,
      };
      const entries = this.byConnection.get(b.connection) ?? [];
      for (const x of inputs)
        entries.push({ binding: compiled, input: x.name, pattern: x.pattern });
      this.byConnection.set(b.connection, entries);
      const list = this.bindingsByConnection.get(b.connection) ?? [];
      list.push(compiled);
      this.bindingsByConnection.set(b.connection, list);
    });
    // Most specific pattern first, so `a/b/state` wins over `a/+/state`.
    for (const list of this.byConnection.values())
      list.sort((x, y) => y.pattern.specificity - x.pattern.specificity);
  }

  /** MQTT filters a connection must subscribe to (deduplicated). */
  filtersFor(connectionId: string): string[] {
    return [...new Set((this.byConnection.get(connectionId) ?? []).map((e) => e.pattern.filter))];
  }

  bindingsFor(connectionId: string): readonly CompiledBinding[] {
    return this.bindingsByConnection.get(connectionId) ?? [];
  }

  resolve(connectionId: string, topic: string): Resolution | null {
    const key = `${connectionId}\u0000${topic}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let found: Resolution | null = null;
    for (const entry of this.byConnection.get(connectionId) ?? []) {
      const captures = entry.pattern.match(topic);
      if (captures === null) continue;
      found = {
        binding: entry.binding,
        input: entry.input,
        equipmentId: fillTemplate(entry.binding.equipmentTemplate, captures),
        captures,
      };
      break;
    }
    if (this.cache.size >= RESOLVE_CACHE_MAX) this.cache.clear();
    this.cache.set(key, found);
    return found;
  }
}

/** A template with `{name}` filled from the captures (an unknown name stays as it is). */
export function fillTemplate(template: string, captures: Readonly<Record<string, string>>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => captures[name] ?? whole);
}
