/**
 * Named placeholders in SQL text (`:watermark`, `:limit`, `:value` …), translated to the driver's
 * own parameters: `$1, $2 …` for PostgreSQL (pg), `?` for MariaDB/MySQL (mysql2). Values are
 * always sent as parameters, never written into the text.
 *
 * A placeholder is `:` followed by a letter or `_` and then letters, digits or `_`. Not
 * placeholders: text inside quotes ('…', "…", `…`, PostgreSQL $tag$…$tag$), comments (-- …,
 * /* … *\/, MariaDB # …), PostgreSQL casts (`::int`) and MariaDB assignments (`:=`).
 */

export type Dialect = 'postgres' | 'mysql';

export interface ParsedSql {
  /** The text with every placeholder replaced by the driver's parameter marker. */
  readonly text: string;
  /** Placeholder names in the order of the driver's parameters (`$n` or each `?`). */
  readonly params: readonly string[];
  /** Every distinct placeholder name used. */
  readonly names: ReadonlySet<string>;
  /** A positional marker written by hand (`?` or `$1`), which named placeholders replace. */
  readonly positional: string | null;
}

/** The dialect of a connection URL, or null when the scheme is none of ours. */
export function dialectOf(url: string): Dialect | null {
  const scheme = /^([a-z]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mysql';
  return null;
}

const NAME_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Parse SQL text with named placeholders for one dialect. */
export function parseSql(sql: string, dialect: Dialect): ParsedSql {
  let out = '';
  const params: string[] = [];
  const names = new Set<string>();
  const pgIndex = new Map<string, number>();
  let positional: string | null = null;
  let i = 0;
  const n = sql.length;
  /** Copy up to and including the closing `quote` (doubled quote escapes; backslash in MariaDB). */
  const skipQuoted = (quote: string): void => {
    let j = i + 1;
    while (j < n) {
      const c = sql[j];
      if (c === '\\' && dialect === 'mysql' && quote !== '`') j += 2;
      else if (c === quote && sql[j + 1] === quote) j += 2;
      else if (c === quote) {
        j++;
        break;
      } else j++;
    }
    out += sql.slice(i, j);
    i = j;
  };
  const skipTo = (end: string): void => {
    const at = sql.indexOf(end, i + 1);
    const j = at < 0 ? n : at + end.length;
    out += sql.slice(i, j);
    i = j;
  };
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "'" || c === '"' || (c === '`' && dialect === 'mysql')) skipQuoted(c);
    else if (c === '-' && next === '-') skipTo('\n');
    else if (c === '#' && dialect === 'mysql') skipTo('\n');
    else if (c === '/' && next === '*') skipTo('*/');
    else if (c === '$' && dialect === 'postgres') {
      const tag = /\$([A-Za-z_][A-Za-z0-9_]*)?\$/y;
      tag.lastIndex = i;
      const m = tag.exec(sql);
      if (m !== null) {
        const close = sql.indexOf(m[0], i + m[0].length);
        const j = close < 0 ? n : close + m[0].length;
        out += sql.slice(i, j);
        i = j;
      } else {
        const digits = /\$\d+/y;
        digits.lastIndex = i;
        const d = digits.exec(sql);
        if (d !== null) positional ??= d[0];
        out += c;
        i++;
      }
    } else if (c === '?' && dialect === 'mysql') {
      positional ??= '?';
      out += c;
      i++;
    } else if (c === ':' && next === ':') {
      out += '::';
      i += 2;
    } else if (c === ':') {
      NAME_RE.lastIndex = i + 1;
      const m = NAME_RE.exec(sql);
      if (m === null) {
        out += c;
        i++;
        continue;
      }
      const name = m[0];
      names.add(name);
      if (dialect === 'mysql') {
        params.push(name);
        out += '?';
      } else {
        let index = pgIndex.get(name);
        if (index === undefined) {
          params.push(name);
          index = params.length;
          pgIndex.set(name, index);
        }
        out += `$${index}`;
      }
      i += 1 + name.length;
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, params, names, positional };
}

/** Why the placeholders of `sql` do not fit, or null: unknown names, missing required ones. */
export function placeholderProblem(
  sql: string,
  dialect: Dialect,
  allowed: readonly string[],
  required: readonly string[],
): string | null {
  const parsed = parseSql(sql, dialect);
  if (parsed.positional !== null)
    return `positional parameter ${parsed.positional}: write named placeholders (${allowed.map((a) => `:${a}`).join(', ')})`;
  const unknown = [...parsed.names].filter((name) => !allowed.includes(name));
  if (unknown.length > 0)
    return `unknown placeholder${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `:${u}`).join(', ')}; allowed here: ${allowed.map((a) => `:${a}`).join(', ')}`;
  const missing = required.filter((name) => !parsed.names.has(name));
  if (missing.length > 0) return `missing placeholder ${missing.map((m) => `:${m}`).join(', ')}`;
  return null;
}
