/**
 * Topic patterns of MQTT bindings: MQTT filters (`+`, a final `#`) plus named one-level captures
 * `{name}`. A pattern compiles to the MQTT filter the connection subscribes to and a matcher that
 * returns the captures. Written by hand because MQTT filter semantics (MQTT-4.7.1-2, -3) are tiny
 * and no library offers named captures.
 */

export interface TopicPattern {
  readonly source: string;
  /** The MQTT subscription filter: each `{name}` becomes `+`. */
  readonly filter: string;
  /** The capture names in order. */
  readonly names: readonly string[];
  /** Captures when the topic matches, else null. */
  match(topic: string): Record<string, string> | null;
  /** Number of literal levels, used to prefer the most specific of several matching patterns. */
  readonly specificity: number;
}

/** Why a pattern is invalid, or null when it is fine. */
export function topicPatternError(pattern: string): string | null {
  if (pattern.length === 0) return 'expected a non-empty topic pattern';
  const levels = pattern.split('/');
  const seen = new Set<string>();
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level === '#') {
      // MQTT-4.7.1-2: the multi-level wildcard must be the last character of the filter.
      if (i !== levels.length - 1) return `"#" must be the last level (level ${i + 1})`;
      continue;
    }
    if (level === '+') continue;
    const capture = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(level);
    if (capture !== null) {
      const name = capture[1] as string;
      if (seen.has(name)) return `capture {${name}} appears twice`;
      seen.add(name);
      continue;
    }
    // MQTT-4.7.1-3: "+" must occupy an entire level.
    if (/[#+{}]/.test(level)) {
      return `level ${i + 1} ("${level}") mixes text with a wildcard or capture; use "+", "#" or "{name}" as a whole level`;
    }
  }
  return null;
}

export function compileTopicPattern(pattern: string): TopicPattern {
  const error = topicPatternError(pattern);
  if (error !== null) throw new Error(`invalid topic pattern "${pattern}": ${error}`);
  const levels = pattern.split('/');
  const names: string[] = [];
  const filter = levels
    .map((level) => {
      const capture = /^\{(.+)\}$/.exec(level);
      if (capture === null) return level;
      names.push(capture[1] as string);
      return '+';
    })
    .join('/');
  const multi = levels[levels.length - 1] === '#';
  const fixed = multi ? levels.slice(0, -1) : levels;
  const specificity = fixed.filter((l) => l !== '+' && !l.startsWith('{')).length;
  return {
    source: pattern,
    filter,
    names,
    specificity,
    match(topic: string): Record<string, string> | null {
      const parts = topic.split('/');
      if (multi ? parts.length < fixed.length : parts.length !== fixed.length) return null;
      // MQTT-4.7.2-1: wildcards at the first level do not match topics starting with "$".
      if (
        topic.startsWith('$') &&
        (fixed[0] === '+' || fixed[0]?.startsWith('{') || fixed.length === 0)
      )
        return null;
      const captures: Record<string, string> = {};
      for (let i = 0; i < fixed.length; i++) {
        const level = fixed[i] as string;
        const part = parts[i] as string;
        if (level === '+') continue;
        if (level.startsWith('{')) {
          captures[level.slice(1, -1)] = part;
          continue;
        }
        if (level !== part) return null;
      }
      return captures;
    },
  };
}
