/**
 * Bindings: which tag of which connection means what for which work unit. Compiled once from
 * the configuration; `resolve` maps a tag (an MQTT topic) to its binding and work unit.
 */
import type { BindingConfig } from '../config/schema.ts';
import { compileTopicPattern, type TopicPattern } from '../connectors/mqtt/topic-pattern.ts';
import type { CounterKind, EquipmentState } from '../model/index.ts';
import type { PayloadSpec } from './payload.ts';

export type BindingMeaning = { kind: 'state' } | { kind: 'counter'; counter: CounterKind };

export interface CompiledBinding {
  /** Index in the configuration's `bindings` list, for messages (`bindings[3]`). */
  readonly index: number;
  readonly connectionId: string;
  readonly pattern: TopicPattern;
  readonly equipmentTemplate: string;
  readonly meaning: BindingMeaning;
  readonly payload: PayloadSpec;
  readonly stateMap: Readonly<Record<string, EquipmentState>> | undefined;
  readonly rolloverAt: number | undefined;
}

export interface Resolution {
  readonly binding: CompiledBinding;
  /** The work unit the template resolved to; may not exist in the hierarchy (checked by the caller). */
  readonly equipmentId: string;
}

/** Topics cached per connection at most; a flood of distinct topics clears the cache rather than growing it. */
const RESOLVE_CACHE_MAX = 100_000;

export class BindingTable {
  private readonly byConnection = new Map<string, CompiledBinding[]>();
  private readonly cache = new Map<string, Resolution | null>();

  constructor(bindings: readonly BindingConfig[], enterpriseId: string) {
    bindings.forEach((b, index) => {
      const meaning: BindingMeaning =
        b.meaning === 'state'
          ? { kind: 'state' }
          : { kind: 'counter', counter: b.meaning.slice('counter.'.length) as CounterKind };
      const compiled: CompiledBinding = {
        index,
        connectionId: b.connection,
        pattern: compileTopicPattern(b.topic),
        equipmentTemplate: b.equipment ?? `${enterpriseId}/{site}/{area}/{line}/{unit}`,
        meaning,
        payload: b.payload,
        stateMap: b.stateMap,
        rolloverAt: b.rolloverAt,
      };
      const list = this.byConnection.get(b.connection) ?? [];
      list.push(compiled);
      this.byConnection.set(b.connection, list);
    });
    // Most specific pattern first, so `a/b/state` wins over `a/+/state`.
    for (const list of this.byConnection.values())
      list.sort((x, y) => y.pattern.specificity - x.pattern.specificity);
  }

  /** MQTT filters a connection must subscribe to (deduplicated). */
  filtersFor(connectionId: string): string[] {
    return [...new Set((this.byConnection.get(connectionId) ?? []).map((b) => b.pattern.filter))];
  }

  bindingsFor(connectionId: string): readonly CompiledBinding[] {
    return this.byConnection.get(connectionId) ?? [];
  }

  resolve(connectionId: string, topic: string): Resolution | null {
    const key = `${connectionId}\u0000${topic}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    let found: Resolution | null = null;
    for (const binding of this.byConnection.get(connectionId) ?? []) {
      const captures = binding.pattern.match(topic);
      if (captures === null) continue;
      const equipmentId = binding.equipmentTemplate.replace(
        /\{(\w+)\}/g,
        (whole, name: string) => captures[name] ?? whole,
      );
      found = { binding, equipmentId };
      break;
    }
    if (this.cache.size >= RESOLVE_CACHE_MAX) this.cache.clear();
    this.cache.set(key, found);
    return found;
  }
}
