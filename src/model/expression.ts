/**
 * Binding expressions (issue #5): a small, safe expression language that derives a value from
 * several tags, e.g. a work unit's state `fault ? 'down' : running ? 'running' : 'idle'`, a bit
 * test `(status & 4) != 0` or a scaled process value `(raw - 4000) * 0.0125`.
 *
 * jsep parses; this module checks the tree against a whitelist of node types and compiles it
 * once into a tree of closures, so an evaluation does not walk the syntax tree again. Nothing
 * here uses eval, Function or `with`, and no expression can reach a JavaScript object: there is
 * no property access, identifiers are only read as own properties of the variables object,
 * and names such as `constructor` or `__proto__` are rejected when compiling.
 *
 * The language:
 * - literals: numbers (also `0x1F` and `0b101`), 'strings' or "strings", true, false, null
 * - identifiers: variables, the tag aliases the binding names
 * - unary `! - + ~`; binary `+ - * / % ** == != === !== < <= > >= && || ?? & | ^ << >> >>>`
 *   with JavaScript's precedence; `a ? b : c`
 * - functions: abs, min, max, round, floor, ceil, bit(value, n), int, number, string, isnull
 *
 * Semantics, chosen so that a binding fails loudly instead of computing a plausible wrong value:
 * - No coercion. Arithmetic (`- * / % **`, unary `-` `+`) takes numbers only; `+` adds two
 *   numbers or concatenates two strings, anything else is an error (use string() or number()).
 * - `==` is `===` and `!=` is `!==`: both sides must have the same type, except that either
 *   side may be null (`x == null` is a null test). `1 == '1'` is an error, not false.
 * - `< <= > >=` compare two numbers or two strings (UTF-16 code units, as JavaScript does);
 *   other pairs are errors, so `a < b < c` is an error too.
 * - Conditions (`!`, `&&`, `||`, the test of `?:`) take a boolean or a number (0 is false, any
 *   other number true, the PLC convention for flags); a string or null is an error. `!`, `&&` and
 *   `||` give booleans (not an operand, unlike JavaScript) and `&&`/`||` short-circuit.
 * - `a ?? b` is b when a is null, else a. A missing variable is not null: it is an error.
 * - Every number result must be finite: division or remainder by zero, overflow to Infinity and
 *   NaN (e.g. `(-8) ** 0.5`) are errors. Variables holding NaN or ±Infinity are errors when read.
 * - Bit operators work on 32 bits as in JavaScript: operands must be integers from -2^31 to
 *   2^32 - 1 (signed or unsigned 32-bit); `& | ^ ~ << >>` give signed 32-bit results (so
 *   `0x80000000 | 0` is -2147483648; `x >>> 0` makes it unsigned) and shift counts must be
 *   0..31. For registers wider than 32 bits use bit(value, n): it works on any safe integer
 *   (|value| < 2^53, two's complement for negative values) without BigInt, for n from 0 to 63.
 * - As in JavaScript, `-a ** b` is an error (write `(-a) ** b` or `-(a ** b)`), and so is mixing
 *   `??` with `&&` or `||` without parentheses.
 * - Functions: abs, floor, ceil take a number; round(x) rounds half away from zero
 *   (round(-2.5) = -3, unlike Math.round); min and max take one or more numbers; int(x) truncates
 *   toward zero and, like number(x), takes a number, a boolean (1 or 0) or a string holding a
 *   decimal number ('  12.5 ', '1e3'; not '', '0x10' or 'abc'); string(x) formats a number, a
 *   boolean or a string as JavaScript does; isnull(x) is x == null. Only isnull, `??`, `==`,
 *   `!=` and the branches of `?:` accept null; every other use of null is an error.
 *
 * Limits keep a hostile or mistaken expression from exhausting the stack or the CPU:
 * `EXPRESSION_LIMITS.maxLength` characters and `EXPRESSION_LIMITS.maxDepth` levels of nesting
 * (of the syntax tree; nested parentheses, calls and unary operators count as levels too).
 *
 * Errors are `ExpressionError`s with the 0-based character position they concern: compile
 * errors point at the offending token, runtime errors at the operator, function or variable
 * that failed. The caller adds where the expression came from (the binding's YAML path or id)
 * when it turns one into a Millwright error.
 */
import jsep from 'jsep';

export type ExpressionValue = number | string | boolean | null;
export type ExpressionVariables = Readonly<Record<string, ExpressionValue>>;

export interface CompiledExpression {
  readonly source: string;
  /** The variables the expression reads, sorted, each once. */
  readonly variables: readonly string[];
  /** Evaluate with these variable values; throws an ExpressionError (phase `evaluate`). */
  evaluate(vars: ExpressionVariables): ExpressionValue;
}

export const EXPRESSION_LIMITS = {
  /** Longest source accepted, in characters: a binding expression is a line, not a program. */
  maxLength: 2000,
  /** Deepest nesting accepted; keeps parsing, compiling and evaluating far from the stack limit. */
  maxDepth: 100,
} as const;

/** A compile or runtime error of an expression, with the position it concerns. */
export class ExpressionError extends Error {
  /** 0-based character index in the source. */
  readonly position: number;
  /** `compile` for a rejected expression, `evaluate` for a failure with given variable values. */
  readonly phase: 'compile' | 'evaluate';

  constructor(problem: string, position: number, phase: 'compile' | 'evaluate', hint?: string) {
    super(`${problem} at position ${position}${hint === undefined ? '' : ` (${hint})`}`);
    this.name = 'ExpressionError';
    this.position = position;
    this.phase = phase;
  }
}

type Node = jsep.Expression;
type Evaluator = (vars: ExpressionVariables) => ExpressionValue;

// ---------------------------------------------------------------------------------------------
// Parsing: jsep with positions.
//
// jsep's nodes carry no positions, and its configuration (operators, hooks) is global to the
// process. So instead of changing that configuration we subclass its parser class (exported as
// `jsep.Jsep`, not in its typings) and override four of its documented parse steps
// (jsep.HookScope lists them) to record where each token starts and ends, to limit nesting, to
// accept hexadecimal and binary literals, and to allow exactly one expression (jsep would take
// `a, b` or `a; b` as a list, and silently skip a stray `,`). jsep is pinned at 1.6.0; the
// tests cover every override.

interface JsepParser {
  index: number;
  readonly expr: string;
  /** The character code at `index` (NaN at the end). */
  readonly code: number;
  parse(): Node;
  gobbleSpaces(): void;
  gobbleExpressions(untilICode?: number): Node[];
  gobbleExpression(): Node | false | undefined;
  gobbleToken(): Node | false | undefined;
  gobbleNumericLiteral(): Node;
}

const JsepParserClass = (jsep as unknown as { Jsep: new (expr: string) => JsepParser }).Jsep;

// jsep 1.6.0 has every operator of the language with JavaScript's relative precedence (and `**`
// right-associative). Should an operator go missing in another version, register it here.
const OPERATOR_PRECEDENCE: Readonly<Record<string, number>> = {
  '||': 1,
  '??': 1,
  '&&': 2,
  '|': 3,
  '^': 4,
  '&': 5,
  '==': 6,
  '!=': 6,
  '===': 6,
  '!==': 6,
  '<': 7,
  '>': 7,
  '<=': 7,
  '>=': 7,
  '<<': 8,
  '>>': 8,
  '>>>': 8,
  '+': 9,
  '-': 9,
  '*': 10,
  '/': 10,
  '%': 10,
  '**': 11,
};
for (const [op, precedence] of Object.entries(OPERATOR_PRECEDENCE)) {
  if (!Object.hasOwn(jsep.binary_ops, op)) jsep.addBinaryOp(op, precedence, op === '**');
}

const CODE_OPEN_PAREN = 40;
const CODE_COMMA = 44;
const CODE_SEMICOLON = 59;
const RADIX_LITERAL = /0[xX][0-9a-fA-F]+|0[bB][01]+/y;
const IDENTIFIER_PART = /[\p{L}\p{N}_$]/u;

/** Parse steps per nesting level (a parenthesis costs two: token and expression). */
const PARSE_DEPTH_LIMIT = 2 * EXPRESSION_LIMITS.maxDepth + 2;

function tooDeep(position: number): ExpressionError {
  return new ExpressionError(
    `expression: nested deeper than ${EXPRESSION_LIMITS.maxDepth} levels`,
    position,
    'compile',
  );
}

class Parser extends JsepParserClass {
  /** Where each token starts (the innermost token wins: `(a)` starts at `a`). */
  readonly starts = new Map<Node, number>();
  /** Where each token ends, closing parentheses included (the outermost token wins). */
  readonly ends = new Map<Node, number>();
  /** Nodes written in parentheses. */
  readonly parenthesized = new Set<Node>();
  private depth = 0;

  override gobbleExpressions(untilICode?: number): Node[] {
    const nodes: Node[] = [];
    while (this.index < this.expr.length) {
      const code = this.code;
      if (code === CODE_COMMA || code === CODE_SEMICOLON) {
        throw new ExpressionError(
          `expression: "${this.expr[this.index]}" (a sequence) is not supported`,
          this.index,
          'compile',
        );
      }
      if (nodes.length > 0) {
        if (code === untilICode) break;
        throw this.unexpected();
      }
      const node = this.gobbleExpression();
      if (node) nodes.push(node);
      else if (this.index < this.expr.length) {
        if (code === untilICode) break;
        throw this.unexpected();
      }
    }
    return nodes;
  }

  override gobbleExpression(): Node | false | undefined {
    if (++this.depth > PARSE_DEPTH_LIMIT) throw tooDeep(this.index);
    const node = super.gobbleExpression();
    this.depth--;
    return node;
  }

  override gobbleToken(): Node | false | undefined {
    this.gobbleSpaces();
    const start = this.index;
    if (++this.depth > PARSE_DEPTH_LIMIT) throw tooDeep(start);
    const node = super.gobbleToken();
    this.depth--;
    const group = this.expr.charCodeAt(start) === CODE_OPEN_PAREN;
    if (!node) {
      if (group && this.index > start) {
        throw new ExpressionError('expression: empty parentheses', start, 'compile');
      }
      return node;
    }
    if (!this.starts.has(node)) this.starts.set(node, start);
    this.ends.set(node, this.index);
    if (group) this.parenthesized.add(node);
    return node;
  }

  override gobbleNumericLiteral(): Node {
    RADIX_LITERAL.lastIndex = this.index;
    const match = RADIX_LITERAL.exec(this.expr);
    if (match === null) return super.gobbleNumericLiteral();
    const raw = match[0];
    const start = this.index;
    this.index += raw.length;
    const next = this.expr[this.index];
    if (next !== undefined && IDENTIFIER_PART.test(next)) throw this.unexpected();
    const value = Number(raw);
    if (!Number.isSafeInteger(value)) {
      throw new ExpressionError(
        `expression: ${raw} is above the largest exact integer`,
        start,
        'compile',
        '2^53 - 1',
      );
    }
    return { type: 'Literal', value, raw };
  }

  private unexpected(): ExpressionError {
    return new ExpressionError(
      `expression: unexpected "${this.expr[this.index] ?? ''}"`,
      this.index,
      'compile',
    );
  }
}

/** A jsep syntax error (an Error with `index` and `description`) as an ExpressionError. */
function fromJsepError(err: unknown): ExpressionError | undefined {
  if (!(err instanceof Error)) return undefined;
  const { index, description } = err as Error & { index?: unknown; description?: unknown };
  if (typeof index !== 'number' || typeof description !== 'string') return undefined;
  const text =
    description === 'missing unaryOp argument'
      ? 'missing operand'
      : description.charAt(0).toLowerCase() + description.slice(1);
  // jsep reports a misplaced `,` or `)` in an argument list after having stepped over it.
  const position = description.startsWith('Unexpected token ') ? index - 1 : index;
  return new ExpressionError(`expression: ${text}`, position, 'compile');
}

// ---------------------------------------------------------------------------------------------
// Values and checks used by the evaluators. They throw only on the error path.

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x === 'string') {
    return `string ${JSON.stringify(x.length > 20 ? `${x.slice(0, 20)}…` : x)}`;
  }
  if (typeof x === 'number' || typeof x === 'boolean') return `${typeof x} ${String(x)}`;
  return typeof x;
}

function runtime(problem: string, at: number, hint?: string): ExpressionError {
  return new ExpressionError(problem, at, 'evaluate', hint);
}

/** The number `x` when it is finite, else the error for the result of `op`. */
function finite(x: number, op: string, at: number): number {
  if (x - x === 0) return x;
  throw runtime(
    Number.isNaN(x) ? `result of "${op}" is not a number` : `result of "${op}" is not finite`,
    at,
    String(x),
  );
}

function badOperands(op: string, wanted: string, a: unknown, b: unknown, at: number): never {
  throw runtime(
    `operator "${op}" needs ${wanted}, got ${describe(a)} and ${describe(b)}`,
    at,
    wanted.includes('string') ? undefined : 'convert with number()',
  );
}

function badOperand(op: string, wanted: string, x: unknown, at: number): never {
  throw runtime(`operator "${op}" needs ${wanted}, got ${describe(x)}`, at);
}

function condition(x: ExpressionValue, at: number): boolean {
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number') return x !== 0;
  throw runtime(`a condition needs a boolean or a number, got ${describe(x)}`, at);
}

const INT32_MIN = -0x80000000;
const UINT32_MAX = 0xffffffff;

/** An integer that fits 32 bits signed or unsigned, the operand of a bit operator. */
function bits(x: ExpressionValue, op: string, at: number): number {
  if (typeof x === 'number' && Number.isInteger(x) && x >= INT32_MIN && x <= UINT32_MAX) return x;
  throw runtime(
    `operator "${op}" needs an integer from -2147483648 to 4294967295, got ${describe(x)}`,
    at,
    Number.isSafeInteger(x) ? 'bit(value, n) reads bits of wider integers' : undefined,
  );
}

function shiftCount(x: ExpressionValue, op: string, at: number): number {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 31) return x;
  throw runtime(`operator "${op}" needs a shift count from 0 to 31, got ${describe(x)}`, at);
}

function equal(a: ExpressionValue, b: ExpressionValue, op: string, at: number): boolean {
  if (a === null || b === null || typeof a === typeof b) return a === b;
  throw runtime(
    `operator "${op}" compares values of one type, got ${describe(a)} and ${describe(b)}`,
    at,
    'convert with number() or string()',
  );
}

function comparable(op: string, a: unknown, b: unknown, at: number): never {
  throw runtime(
    `operator "${op}" compares two numbers or two strings, got ${describe(a)} and ${describe(b)}`,
    at,
  );
}

// ---------------------------------------------------------------------------------------------
// Operators. Each factory takes the evaluators of the operands and the operator's position and
// returns the evaluator of the operation, written out per operator so that each closure stays
// small and monomorphic.

type BinaryFactory = (l: Evaluator, r: Evaluator, at: number) => Evaluator;

const BINARY: ReadonlyMap<string, BinaryFactory> = new Map<string, BinaryFactory>([
  [
    '+',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return finite(a + b, '+', at);
      if (typeof a === 'string' && typeof b === 'string') return a + b;
      return badOperands('+', 'two numbers or two strings', a, b, at);
    },
  ],
  [
    '-',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return finite(a - b, '-', at);
      return badOperands('-', 'numbers', a, b, at);
    },
  ],
  [
    '*',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return finite(a * b, '*', at);
      return badOperands('*', 'numbers', a, b, at);
    },
  ],
  [
    '/',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a !== 'number' || typeof b !== 'number')
        return badOperands('/', 'numbers', a, b, at);
      if (b === 0) throw runtime('division by zero', at);
      return finite(a / b, '/', at);
    },
  ],
  [
    '%',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a !== 'number' || typeof b !== 'number')
        return badOperands('%', 'numbers', a, b, at);
      if (b === 0) throw runtime('remainder of a division by zero', at);
      return a % b;
    },
  ],
  [
    '**',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return finite(a ** b, '**', at);
      return badOperands('**', 'numbers', a, b, at);
    },
  ],
  ['==', (l, r, at) => (v) => equal(l(v), r(v), '==', at)],
  ['===', (l, r, at) => (v) => equal(l(v), r(v), '===', at)],
  ['!=', (l, r, at) => (v) => !equal(l(v), r(v), '!=', at)],
  ['!==', (l, r, at) => (v) => !equal(l(v), r(v), '!==', at)],
  [
    '<',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return a < b;
      if (typeof a === 'string' && typeof b === 'string') return a < b;
      return comparable('<', a, b, at);
    },
  ],
  [
    '<=',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return a <= b;
      if (typeof a === 'string' && typeof b === 'string') return a <= b;
      return comparable('<=', a, b, at);
    },
  ],
  [
    '>',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return a > b;
      if (typeof a === 'string' && typeof b === 'string') return a > b;
      return comparable('>', a, b, at);
    },
  ],
  [
    '>=',
    (l, r, at) => (v) => {
      const a = l(v);
      const b = r(v);
      if (typeof a === 'number' && typeof b === 'number') return a >= b;
      if (typeof a === 'string' && typeof b === 'string') return a >= b;
      return comparable('>=', a, b, at);
    },
  ],
  ['&', (l, r, at) => (v) => bits(l(v), '&', at) & bits(r(v), '&', at)],
  ['|', (l, r, at) => (v) => bits(l(v), '|', at) | bits(r(v), '|', at)],
  ['^', (l, r, at) => (v) => bits(l(v), '^', at) ^ bits(r(v), '^', at)],
  ['<<', (l, r, at) => (v) => bits(l(v), '<<', at) << shiftCount(r(v), '<<', at)],
  ['>>', (l, r, at) => (v) => bits(l(v), '>>', at) >> shiftCount(r(v), '>>', at)],
  ['>>>', (l, r, at) => (v) => bits(l(v), '>>>', at) >>> shiftCount(r(v), '>>>', at)],
]);

type UnaryFactory = (arg: Evaluator, at: number, argAt: number) => Evaluator;

const UNARY: ReadonlyMap<string, UnaryFactory> = new Map<string, UnaryFactory>([
  ['!', (arg, _at, argAt) => (v) => !condition(arg(v), argAt)],
  [
    '-',
    (arg, at) => (v) => {
      const x = arg(v);
      return typeof x === 'number' ? -x : badOperand('-', 'a number', x, at);
    },
  ],
  [
    '+',
    (arg, at) => (v) => {
      const x = arg(v);
      return typeof x === 'number' ? x : badOperand('+', 'a number', x, at);
    },
  ],
  ['~', (arg, at) => (v) => ~bits(arg(v), '~', at)],
]);

// ---------------------------------------------------------------------------------------------
// Functions.

interface FunctionDefinition {
  readonly minArgs: number;
  readonly maxArgs: number;
  make(args: readonly Evaluator[], at: number): Evaluator;
}

function numberArg(name: string, x: ExpressionValue, at: number): number {
  if (typeof x === 'number') return x;
  throw runtime(`function "${name}" needs a number, got ${describe(x)}`, at);
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(name: string, x: ExpressionValue, at: number): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'boolean') return x ? 1 : 0;
  if (typeof x === 'string') {
    const text = x.trim();
    const n = DECIMAL.test(text) ? Number(text) : NaN;
    if (Number.isFinite(n)) return n;
  }
  throw runtime(`function "${name}" cannot make a number of ${describe(x)}`, at);
}

function unaryMath(name: string, fn: (x: number) => number): FunctionDefinition {
  return {
    minArgs: 1,
    maxArgs: 1,
    make: ([arg], at) => {
      const a = arg as Evaluator;
      return (v) => fn(numberArg(name, a(v), at));
    },
  };
}

function extremum(name: string, pick: (a: number, b: number) => number): FunctionDefinition {
  return {
    minArgs: 1,
    maxArgs: Infinity,
    make: (args, at) => (v) => {
      let result = numberArg(name, (args[0] as Evaluator)(v), at);
      for (let i = 1; i < args.length; i++) {
        result = pick(result, numberArg(name, (args[i] as Evaluator)(v), at));
      }
      return result;
    },
  };
}

const FUNCTIONS: ReadonlyMap<string, FunctionDefinition> = new Map<string, FunctionDefinition>([
  ['abs', unaryMath('abs', Math.abs)],
  ['ceil', unaryMath('ceil', Math.ceil)],
  ['floor', unaryMath('floor', Math.floor)],
  // Half away from zero, as a plant engineer expects of 2.5 and -2.5 (Math.round gives -2).
  ['round', unaryMath('round', (x) => (x < 0 ? -Math.round(-x) : Math.round(x)))],
  ['min', extremum('min', Math.min)],
  ['max', extremum('max', Math.max)],
  [
    'bit',
    {
      minArgs: 2,
      maxArgs: 2,
      make: ([value, index], at) => {
        const valueOf = value as Evaluator;
        const indexOf = index as Evaluator;
        return (v) => {
          const x = valueOf(v);
          const n = indexOf(v);
          if (typeof x !== 'number' || !Number.isSafeInteger(x)) {
            throw runtime(`function "bit" needs a safe integer value, got ${describe(x)}`, at);
          }
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 63) {
            throw runtime(`function "bit" needs a bit number from 0 to 63, got ${describe(n)}`, at);
          }
          // Exact without BigInt: dividing by a power of two only moves the binary point, and
          // flooring gives two's complement for negative values (bit n of -1 is always 1).
          return Math.floor(x / 2 ** n) % 2 !== 0;
        };
      },
    },
  ],
  [
    'int',
    {
      minArgs: 1,
      maxArgs: 1,
      make: ([arg], at) => {
        const a = arg as Evaluator;
        return (v) => Math.trunc(toNumber('int', a(v), at)) + 0; // + 0 turns -0 into 0
      },
    },
  ],
  [
    'number',
    {
      minArgs: 1,
      maxArgs: 1,
      make: ([arg], at) => {
        const a = arg as Evaluator;
        return (v) => toNumber('number', a(v), at);
      },
    },
  ],
  [
    'string',
    {
      minArgs: 1,
      maxArgs: 1,
      make: ([arg], at) => {
        const a = arg as Evaluator;
        return (v) => {
          const x = a(v);
          if (x === null) throw runtime('function "string" cannot format null', at);
          return String(x);
        };
      },
    },
  ],
  [
    'isnull',
    {
      minArgs: 1,
      maxArgs: 1,
      make: ([arg]) => {
        const a = arg as Evaluator;
        return (v) => a(v) === null;
      },
    },
  ],
]);

const FUNCTION_NAMES = [...FUNCTIONS.keys()].sort().join(', ');

// ---------------------------------------------------------------------------------------------
// Names a variable may not have: every property of Object.prototype (`constructor`,
// `__proto__`, `toString` …), JavaScript's reserved words and a few global names. None of them
// could be reached anyway (variables are read as own properties only), but rejecting them
// makes the rule visible and keeps a typo such as `this` from looking like it worked.

const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
  'globalThis',
  'undefined',
  'NaN',
  'Infinity',
  'eval',
  'arguments',
  ...'await break case catch class const continue debugger default delete do else enum export extends finally for function if implements import in instanceof interface let new package private protected public return static super switch this throw try typeof var void while with yield'.split(
    ' ',
  ),
]);

// ---------------------------------------------------------------------------------------------
// Compiling.

function readVariable(name: string, at: number): Evaluator {
  return (vars) => {
    const x = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (typeof x === 'number') {
      if (x - x === 0) return x;
      throw runtime(`variable "${name}" is not a finite number`, at, String(x));
    }
    if (typeof x === 'string' || typeof x === 'boolean' || x === null) return x;
    if (x === undefined) throw runtime(`variable "${name}" has no value`, at);
    throw runtime(`variable "${name}" has a value of unsupported type ${typeof x}`, at);
  };
}

const LOGICAL_MIX: ReadonlySet<string> = new Set(['&&', '||']);
const BIT_OPERATORS: ReadonlySet<string> = new Set(['&', '|', '^', '<<', '>>', '>>>']);
const COMPARISONS: ReadonlySet<string> = new Set(['==', '!=', '===', '!==', '<', '<=', '>', '>=']);

class Compiler {
  readonly variables = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly parser: Parser,
    private readonly allowed: ReadonlySet<string> | undefined,
  ) {}

  private fail(problem: string, at: number, hint?: string): never {
    throw new ExpressionError(problem, at, 'compile', hint);
  }

  /** Where a node ends in the source (closing parentheses of a group included). */
  private endOf(node: Node): number {
    const end = this.parser.ends.get(node);
    if (end !== undefined) return end;
    if (node.type === 'BinaryExpression') return this.endOf((node as jsep.BinaryExpression).right);
    if (node.type === 'ConditionalExpression') {
      return this.endOf((node as jsep.ConditionalExpression).alternate);
    }
    return this.source.length;
  }

  /** The position of `op` written after `left` (an operator has no node of its own). */
  private operatorAfter(left: Node, op: string, fallback: number): number {
    let i = this.endOf(left);
    while (i < this.source.length && ' \t\r\n'.includes(this.source.charAt(i))) i++;
    return this.source.startsWith(op, i) ? i : fallback;
  }

  /** The position an error about `node` points at: its operator, else where it starts. */
  positionOf(node: Node, fallback: number): number {
    if (node.type === 'BinaryExpression') {
      const b = node as jsep.BinaryExpression;
      return this.operatorAfter(b.left, b.operator, fallback);
    }
    if (node.type === 'ConditionalExpression') {
      return this.operatorAfter((node as jsep.ConditionalExpression).test, '?', fallback);
    }
    return this.parser.starts.get(node) ?? fallback;
  }

  compile(node: Node, depth: number, fallback: number): Evaluator {
    const at = this.positionOf(node, fallback);
    if (depth > EXPRESSION_LIMITS.maxDepth) throw tooDeep(at);
    const n = node as jsep.CoreExpression;
    switch (n.type) {
      case 'Literal':
        return this.literal(n, at);
      case 'Identifier':
        return this.identifier(n.name, at);
      case 'UnaryExpression': {
        const factory = UNARY.get(n.operator);
        if (factory === undefined) return this.fail(`unsupported operator "${n.operator}"`, at);
        const argAt = this.positionOf(n.argument, at);
        return factory(this.compile(n.argument, depth + 1, at), at, argAt);
      }
      case 'BinaryExpression':
        return this.binary(n, depth, at);
      case 'ConditionalExpression': {
        const testAt = this.positionOf(n.test, at);
        const test = this.compile(n.test, depth + 1, at);
        const consequent = this.compile(n.consequent, depth + 1, at);
        const alternate = this.compile(n.alternate, depth + 1, at);
        return (v) => (condition(test(v), testAt) ? consequent(v) : alternate(v));
      }
      case 'CallExpression':
        return this.call(n, depth, at);
      case 'MemberExpression':
        return this.fail('property access is not supported', at);
      case 'ThisExpression':
        return this.fail('"this" is not supported', at);
      case 'ArrayExpression':
        return this.fail('array literals are not supported', at);
      case 'Compound':
      case 'SequenceExpression':
        return this.fail('a sequence of expressions is not supported', at);
      default:
        return this.fail(`${(n as Node).type} is not supported`, at);
    }
  }

  private literal(node: jsep.Literal, at: number): Evaluator {
    const value = node.value;
    if (typeof value === 'number' && !Number.isFinite(value)) {
      this.fail(`number ${node.raw} is out of range`, at);
    }
    if (
      typeof value !== 'number' &&
      typeof value !== 'string' &&
      typeof value !== 'boolean' &&
      value !== null
    ) {
      this.fail(`literal ${node.raw} is not supported`, at);
    }
    return () => value;
  }

  private identifier(name: string, at: number): Evaluator {
    if (RESERVED_NAMES.has(name)) this.fail(`reserved name "${name}"`, at);
    if (this.allowed !== undefined && !this.allowed.has(name)) {
      const known = [...this.allowed].sort().join(', ');
      this.fail(`unknown variable "${name}"`, at, `known: ${known === '' ? 'none' : known}`);
    }
    this.variables.add(name);
    return readVariable(name, at);
  }

  private binary(node: jsep.BinaryExpression, depth: number, at: number): Evaluator {
    const { operator: op, left, right } = node;
    const factory = BINARY.get(op);
    const short = op === '&&' || op === '||' || op === '??';
    if (factory === undefined && !short) return this.fail(`unsupported operator "${op}"`, at);
    // ECMAScript forbids both (early errors): `-a ** b` and `a ?? b || c` need parentheses.
    if (op === '**' && left.type === 'UnaryExpression' && !this.parser.parenthesized.has(left)) {
      const unary = (left as jsep.UnaryExpression).operator;
      this.fail(
        `ambiguous unary "${unary}" before "**"`,
        at,
        `write (${unary}a) ** b or ${unary}(a ** b)`,
      );
    }
    // `status & 4 != 0` is `status & (4 != 0)`, as in C and JavaScript: never what was meant.
    if (BIT_OPERATORS.has(op)) {
      for (const side of [left, right]) {
        if (side.type !== 'BinaryExpression' || this.parser.parenthesized.has(side)) continue;
        const inner = (side as jsep.BinaryExpression).operator;
        if (COMPARISONS.has(inner)) {
          this.fail(
            `operator "${op}" applied to the result of "${inner}"`,
            at,
            `"${inner}" binds first; write (a ${op} b) ${inner} c`,
          );
        }
      }
    }
    for (const side of [left, right]) {
      if (side.type !== 'BinaryExpression' || this.parser.parenthesized.has(side)) continue;
      const inner = (side as jsep.BinaryExpression).operator;
      if ((op === '??' && LOGICAL_MIX.has(inner)) || (inner === '??' && LOGICAL_MIX.has(op))) {
        this.fail(`"??" mixed with "${op === '??' ? inner : op}"`, at, 'add parentheses');
      }
    }
    const l = this.compile(left, depth + 1, at);
    const r = this.compile(right, depth + 1, at);
    if (factory !== undefined) return factory(l, r, at);
    const leftAt = this.positionOf(left, at);
    const rightAt = this.positionOf(right, at);
    if (op === '&&') return (v) => condition(l(v), leftAt) && condition(r(v), rightAt);
    if (op === '||') return (v) => condition(l(v), leftAt) || condition(r(v), rightAt);
    return (v) => {
      const a = l(v);
      return a === null ? r(v) : a;
    };
  }

  private call(node: jsep.CallExpression, depth: number, at: number): Evaluator {
    const callee = node.callee;
    if (callee.type === 'MemberExpression') this.fail('property access is not supported', at);
    if (callee.type !== 'Identifier') this.fail('only a named function can be called', at);
    const name = (callee as jsep.Identifier).name;
    const fn = FUNCTIONS.get(name);
    if (fn === undefined) this.fail(`unknown function "${name}"`, at, `allowed: ${FUNCTION_NAMES}`);
    const count = node.arguments.length;
    if (count < fn.minArgs || count > fn.maxArgs) {
      const wanted =
        fn.maxArgs === Infinity
          ? `at least ${fn.minArgs}`
          : fn.minArgs === fn.maxArgs
            ? `${fn.minArgs}`
            : `${fn.minArgs} to ${fn.maxArgs}`;
      const plural = fn.minArgs === 1 && fn.maxArgs !== 2 ? '' : 's';
      this.fail(`function "${name}" takes ${wanted} argument${plural}, got ${count}`, at);
    }
    const args = node.arguments.map((arg) => this.compile(arg, depth + 1, at));
    return fn.make(args, at);
  }
}

/**
 * Compile `source` once; evaluate the result as often as needed. With `allowedVariables`, any
 * other identifier is a compile error (the binding's tag aliases); without, every identifier
 * that is not reserved is a variable. Throws an ExpressionError (phase `compile`).
 */
export function compileExpression(
  source: string,
  allowedVariables?: readonly string[],
): CompiledExpression {
  if (source.length > EXPRESSION_LIMITS.maxLength) {
    throw new ExpressionError(
      `expression: longer than ${EXPRESSION_LIMITS.maxLength} characters`,
      EXPRESSION_LIMITS.maxLength,
      'compile',
    );
  }
  const parser = new Parser(source);
  let root: Node;
  try {
    root = parser.parse();
  } catch (err) {
    throw fromJsepError(err) ?? err;
  }
  if (root.type === 'Compound' && (root as jsep.Compound).body.length === 0) {
    throw new ExpressionError('expression: empty', 0, 'compile');
  }
  const compiler = new Compiler(
    source,
    parser,
    allowedVariables === undefined ? undefined : new Set(allowedVariables),
  );
  const evaluate = compiler.compile(root, 1, 0);
  return Object.freeze({
    source,
    variables: Object.freeze([...compiler.variables].sort()),
    evaluate,
  });
}
