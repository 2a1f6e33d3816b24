/**
 * Tag names of SQL rows and of `writes` entries: slash-separated levels (so bindings match them
 * like MQTT topics) where `{column}` takes a value of the row (`line1/{machine}/good`), and in
 * `writes` a whole level `{name}` captures that level of the written tag.
 */

const BRACE_RE = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Why a tag template is invalid, or null. */
export function tagTemplateError(template: string): string | null {
  if (template.length === 0) return 'expected a tag name';
  const bare = template.replace(BRACE_RE, 'x');
  if (/[{}]/.test(bare)) return 'write a column as {name} (letters, digits, "_")';
  if (/[#+]/.test(bare)) return 'a tag name cannot hold "+" or "#" (they are pattern wildcards)';
  if (bare.split('/').some((level) => level === ''))
    return 'empty level (a leading, trailing or doubled "/")';
  return null;
}

/** The names written as `{name}` in a template, in order, without repeats. */
export function templateNames(template: string): string[] {
  return [...new Set([...template.matchAll(BRACE_RE)].map((m) => m[1] as string))];
}

/**
 * The tag name of a row: each `{column}` replaced by the row's value as text. A value that is
 * NULL or empty, or that holds "/", "+" or "#", would change the levels of the name: those
 * characters become "_" (NULL and empty text become "_").
 */
export function renderTemplate(template: string, text: (name: string) => string | null): string {
  return template.replace(BRACE_RE, (_whole, name: string) => {
    const value = text(name);
    if (value === null || value === '') return '_';
    return value.replace(/[/+#]/g, '_');
  });
}

/** Why a `writes` tag pattern is invalid: `{name}` must be a whole level. */
export function writePatternError(pattern: string): string | null {
  const error = tagTemplateError(pattern);
  if (error !== null) return error;
  for (const level of pattern.split('/')) {
    if (/[{}]/.test(level) && !/^\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(level))
      return `level "${level}" mixes text with a capture; write {name} as a whole level`;
  }
  if (templateNames(pattern).length !== [...pattern.matchAll(BRACE_RE)].length)
    return 'a capture name appears twice';
  return null;
}

/** The captures when `tag` matches the `writes` pattern, else null. */
export function matchWritePattern(pattern: string, tag: string): Record<string, string> | null {
  const want = pattern.split('/');
  const got = tag.split('/');
  if (want.length !== got.length) return null;
  const captures: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    const capture = /^\{(.+)\}$/.exec(w);
    if (capture !== null) captures[capture[1] as string] = g;
    else if (w !== g) return null;
  }
  return captures;
}
