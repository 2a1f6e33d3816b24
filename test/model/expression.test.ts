/**
 * Binding expressions (issue #5): agreement with JavaScript where the language follows it
 * (properties over random inputs), every error with its position, and the security rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  compileExpression,
  EXPRESSION_LIMITS,
  ExpressionError,
  type ExpressionValue,
  type ExpressionVariables,
} from '../../src/model/expression.ts';

function run(source: string, vars: ExpressionVariables = {}): ExpressionValue {
  return compileExpression(source).evaluate(vars);
}

/** The error `fn` throws, asserted to be an ExpressionError. */
function errorOf(fn: () => unknown): ExpressionError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ExpressionError, `not an ExpressionError: ${String(err)}`);
    return err;
  }
  assert.fail('no error thrown');
}

describe('arithmetic agrees with JavaScript', () => {
  type ArithmeticOp = '+' | '-' | '*' | '/' | '%' | '**';
  type Tree =
    | { kind: 'var'; name: string }
    | { kind: 'lit'; value: number }
    | { kind: 'neg'; arg: Tree }
    | { kind: 'bin'; op: ArithmeticOp; left: Tree; right: Tree };

  const names = ['x0', 'x1', 'x2', 'x3'];
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.record({ kind: fc.constant('var' as const), name: fc.constantFrom(...names) }),
      fc.record({ kind: fc.constant('lit' as const), value: fc.nat({ max: 1_000_000 }) }),
      fc.record({ kind: fc.constant('neg' as const), arg: tie('tree') }),
      fc.record({
        kind: fc.constant('bin' as const),
        op: fc.constantFrom<ArithmeticOp>('+', '-', '*', '/', '%', '**'),
        left: tie('tree'),
        right: tie('tree'),
      }),
    ),
  }));
  const number = fc.oneof(
    fc.maxSafeInteger(),
    fc.integer({ min: -1000, max: 1000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -0, 1, -1, 0.5, 2),
  );
  const values = fc.record({ x0: number, x1: number, x2: number, x3: number });

  function render(t: Tree): string {
    switch (t.kind) {
      case 'var':
        return t.name;
      case 'lit':
        return String(t.value);
      case 'neg':
        return `-(${render(t.arg)})`;
      case 'bin':
        return `(${render(t.left)}) ${t.op} (${render(t.right)})`;
    }
  }

  /** JavaScript's value, or undefined where the language reports an error instead. */
  function reference(t: Tree, vars: Record<string, number>): number | undefined {
    switch (t.kind) {
      case 'var':
        return vars[t.name];
      case 'lit':
        return t.value;
      case 'neg': {
        const a = reference(t.arg, vars);
        return a === undefined ? undefined : -a;
      }
      case 'bin': {
        const a = reference(t.left, vars);
        const b = reference(t.right, vars);
        if (a === undefined || b === undefined) return undefined;
        if ((t.op === '/' || t.op === '%') && b === 0) return undefined;
        const ops: Record<ArithmeticOp, (p: number, q: number) => number> = {
          '+': (p, q) => p + q,
          '-': (p, q) => p - q,
          '*': (p, q) => p * q,
          '/': (p, q) => p / q,
          '%': (p, q) => p % q,
          '**': (p, q) => p ** q,
        };
        const r = ops[t.op](a, b);
        return Number.isFinite(r) ? r : undefined;
      }
    }
  }

  it('random expressions over safe integers and doubles give the same number (or an error where JavaScript gives Infinity or NaN)', () => {
    fc.assert(
      fc.property(tree, values, (t, vars) => {
        const compiled = compileExpression(render(t), names);
        const expected = reference(t, vars);
        if (expected === undefined) {
          assert.equal(errorOf(() => compiled.evaluate(vars)).phase, 'evaluate');
        } else {
          assert.equal(compiled.evaluate(vars), expected); // Object.is: -0 stays -0
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('division and remainder by zero are errors, not Infinity or NaN', () => {
    assert.equal(errorOf(() => run('x / 0', { x: 1 })).message, 'division by zero at position 2');
    assert.equal(
      errorOf(() => run('x % y', { x: 1, y: 0 })).message,
      'remainder of a division by zero at position 2',
    );
    assert.equal(run('0 / x', { x: -5 }), -0);
  });
});

describe('precedence and associativity follow JavaScript', () => {
  // Variables, so that the linter lets JavaScript compute the expected values of constant cases.
  const [one, two, three] = [1, 2, 3];
  const [yes, no] = [true, false];
  const table: [string, ExpressionValue][] = [
    ['1 + 2 * 3', 1 + 2 * 3],
    ['(1 + 2) * 3', (1 + 2) * 3],
    ['10 - 4 - 3', 10 - 4 - 3],
    ['100 / 10 / 5', 100 / 10 / 5],
    ['7 % 3 * 2', (7 % 3) * 2],
    ['2 ** 3 ** 2', 2 ** (3 ** 2)],
    ['(2 ** 3) ** 2', (2 ** 3) ** 2],
    ['2 * 3 ** 2', 2 * 3 ** 2],
    ['2 ** -1', 2 ** -1],
    ['(-2) ** 2', (-2) ** 2],
    ['-(2 ** 2)', -(2 ** 2)],
    ['1 - -1', 1 - -1],
    ['- - 3', -(-3)],
    ['+4 - 1', +4 - 1],
    ['1 << 2 + 1', 1 << (2 + 1)],
    ['16 >> 2 >>> 1', (16 >> 2) >>> 1],
    ['6 & 3 | 8', (6 & 3) | 8],
    ['6 ^ 3 & 5', 6 ^ (3 & 5)],
    ['1 | 6 ^ 3', 1 | (6 ^ 3)],
    ['~5 & 0xff', ~5 & 0xff],
    ['(5 & 4) != 0', (5 & 4) !== 0],
    ['1 + 2 == 3', 1 + 2 === 3],
    ['1 < 2 == 2 < 3', one < two === two < three],
    ['!true == false', !yes === no],
    ['true || false && false', yes || (no && no)],
    ['(true || false) && false', (yes || no) && no],
    ['3 > 2 && 2 > 1', three > two && two > one],
    ["'a' + 'b' + 'c'", 'abc'],
    ['1 + 2 ? 3 : 4', 3],
    ['false ? 1 : 2 + 3', 5],
    ['null ?? 1 + 2', 3],
    ['0x1F + 0b101', 31 + 5],
    ['1.5e3 - .5', 1.5e3 - 0.5],
  ];
  for (const [source, expected] of table) {
    it(`${source} = ${String(expected)}`, () => assert.equal(run(source), expected));
  }
});

describe('conditionals', () => {
  const state = "fault ? 'down' : running ? 'running' : 'idle'";

  it('a nested ternary picks the first true branch', () => {
    const e = compileExpression(state, ['fault', 'running']);
    assert.deepEqual(e.variables, ['fault', 'running']);
    assert.equal(e.evaluate({ fault: true, running: true }), 'down');
    assert.equal(e.evaluate({ fault: false, running: true }), 'running');
    assert.equal(e.evaluate({ fault: false, running: false }), 'idle');
    // Numbers are PLC flags: 0 is false, anything else true.
    assert.equal(e.evaluate({ fault: 0, running: 1 }), 'running');
    assert.equal(e.evaluate({ fault: -1, running: 0 }), 'down');
  });

  it('ternaries nest in the test, the branches and inside calls, right-associatively', () => {
    const nested = 'a ? b ? 1 : 2 : c ? 3 : 4';
    const js = (a: boolean, b: boolean, c: boolean): number => (a ? (b ? 1 : 2) : c ? 3 : 4);
    for (const a of [false, true]) {
      for (const b of [false, true]) {
        for (const c of [false, true]) {
          assert.equal(run(nested, { a, b, c }), js(a, b, c));
        }
      }
    }
    assert.equal(run('(a ? b : c) ? 1 : 2', { a: false, b: true, c: false }), 2);
    assert.equal(run('max(a ? 1 : 2, 3 > 2 ? 5 : 0)', { a: true }), 5);
    assert.equal(run("'x' + (a ? 'y' : 'z')", { a: 0 }), 'xz');
  });

  it('only the branch taken is evaluated, and && and || short-circuit', () => {
    assert.equal(run('true ? 1 : missing'), 1);
    assert.equal(run('false && missing'), false);
    assert.equal(run('true || missing'), true);
    assert.equal(run('x ?? missing', { x: 0 }), 0);
    assert.equal(run('x ?? 7', { x: null }), 7);
  });

  it('!, && and || give booleans', () => {
    assert.equal(run('a && b', { a: 2, b: 3 }), true);
    assert.equal(run('a || b', { a: 0, b: 0 }), false);
    assert.equal(run('!a', { a: 0 }), true);
  });
});

describe('bit operators and functions', () => {
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
  const bits32 = fc.oneof(int32, fc.integer({ min: 0, max: 2 ** 32 - 1 }));
  const shift = fc.integer({ min: 0, max: 31 });

  it('& | ^ ~ << >> >>> agree with JavaScript on 32-bit integers, signed and unsigned', () => {
    const e = {
      and: compileExpression('a & b'),
      or: compileExpression('a | b'),
      xor: compileExpression('a ^ b'),
      not: compileExpression('~a'),
      shl: compileExpression('a << n'),
      shr: compileExpression('a >> n'),
      ushr: compileExpression('a >>> n'),
    };
    fc.assert(
      fc.property(bits32, bits32, shift, (a, b, n) => {
        const vars = { a, b, n };
        assert.equal(e.and.evaluate(vars), a & b);
        assert.equal(e.or.evaluate(vars), a | b);
        assert.equal(e.xor.evaluate(vars), a ^ b);
        assert.equal(e.not.evaluate(vars), ~a);
        assert.equal(e.shl.evaluate(vars), a << n);
        assert.equal(e.shr.evaluate(vars), a >> n);
        assert.equal(e.ushr.evaluate(vars), a >>> n);
      }),
      { numRuns: 1000 },
    );
  });

  it('bit(value, n) is ((value >> n) & 1) == 1 on 32-bit integers', () => {
    const e = compileExpression('bit(value, n)');
    fc.assert(
      fc.property(int32, shift, (value, n) => {
        assert.equal(e.evaluate({ value, n }), ((value >> n) & 1) === 1);
      }),
      { numRuns: 1000 },
    );
  });

  it('bit(value, n) reads two-complement bits of every safe integer, bits 0 to 63', () => {
    const e = compileExpression('bit(value, n)');
    fc.assert(
      fc.property(fc.maxSafeInteger(), fc.integer({ min: 0, max: 63 }), (value, n) => {
        assert.equal(e.evaluate({ value, n }), ((BigInt(value) >> BigInt(n)) & 1n) === 1n);
      }),
      { numRuns: 2000 },
    );
  });

  it('the 32-bit limit of the operators is an error, not a silent wrap', () => {
    const tooWide = errorOf(() => run('x & 1', { x: 2 ** 32 }));
    assert.equal(
      tooWide.message,
      'operator "&" needs an integer from -2147483648 to 4294967295, got number 4294967296 at position 2 (bit(value, n) reads bits of wider integers)',
    );
    assert.match(errorOf(() => run('~x', { x: 1.5 })).message, /^operator "~" needs an integer/);
    assert.equal(
      errorOf(() => run('1 << 32')).message,
      'operator "<<" needs a shift count from 0 to 31, got number 32 at position 2',
    );
    assert.equal(run('0x80000000 | 0'), -2147483648);
    assert.equal(run('(0x80000000 | 0) >>> 0'), 2147483648);
  });
});

describe('functions', () => {
  const table: [string, ExpressionValue][] = [
    ['abs(-3.5)', 3.5],
    ['min(3, 1, 2)', 1],
    ['max(3)', 3],
    ['max(-1, -2)', -1],
    ['round(2.5)', 3],
    ['round(-2.5)', -3],
    ['round(-2.4)', -2],
    ['floor(-1.5)', -2],
    ['ceil(1.2)', 2],
    ['int(-7.9)', -7],
    ['int(-0.5)', 0],
    ["int(' 42.9 ')", 42],
    ['int(true)', 1],
    ["number('1e3')", 1000],
    ["number('-.5')", -0.5],
    ['number(false)', 0],
    ['string(0.1 + 0.2)', '0.30000000000000004'],
    ['string(true)', 'true'],
    ["string('a')", 'a'],
    ["string(12) + ' pcs'", '12 pcs'],
    ['isnull(null)', true],
    ['isnull(0)', false],
    ['bit(5, 0) && !bit(5, 1) && bit(5, 2)', true],
  ];
  for (const [source, expected] of table) {
    it(`${source} = ${String(expected)}`, () => assert.equal(run(source), expected));
  }

  it('number() and int() accept only decimal text', () => {
    for (const text of ['', ' ', 'abc', '0x10', '1,5', '1e999', 'Infinity', '12abc']) {
      const err = errorOf(() => run('number(s)', { s: text }));
      assert.equal(err.phase, 'evaluate');
      assert.match(err.message, /^function "number" cannot make a number of string/);
    }
  });
});

describe('types and null are never coerced', () => {
  it('== compares like ===, with null allowed on either side', () => {
    assert.equal(run("s == 'run'", { s: 'run' }), true);
    assert.equal(run('x == null', { x: 3 }), false);
    assert.equal(run('x != null', { x: null }), false);
    assert.equal(run('x === y', { x: 1, y: 1 }), true);
    assert.equal(run("'b' > 'a'"), true);
  });

  it('strings concatenate only with strings', () => {
    assert.equal(run("a + '-' + b", { a: 'L1', b: 'M2' }), 'L1-M2');
    assert.equal(run("'n=' + string(n)", { n: 3 }), 'n=3');
  });

  it('variables are read as own properties only, and must hold a supported value', () => {
    const inherited = Object.create({ x: 1 }) as ExpressionVariables;
    assert.equal(
      errorOf(() => run('x', inherited)).message,
      'variable "x" has no value at position 0',
    );
    assert.equal(
      errorOf(() => run('1 + x', { x: NaN })).message,
      'variable "x" is not a finite number at position 4 (NaN)',
    );
    const odd = { x: {} } as unknown as ExpressionVariables;
    assert.equal(
      errorOf(() => run('x', odd)).message,
      'variable "x" has a value of unsupported type object at position 0',
    );
  });
});

describe('every error names its position', () => {
  interface Case {
    readonly source: string;
    readonly allowed?: readonly string[];
    readonly vars?: ExpressionVariables;
    readonly message: string;
    readonly phase: 'compile' | 'evaluate';
  }
  const cases: Case[] = [
    // syntax (jsep's own errors, with jsep's index)
    {
      source: '(a + b) }',
      message: 'expression: unexpected "}" at position 8',
      phase: 'compile',
    },
    {
      source: '(a + b) * }',
      message: 'expression: expected expression after * at position 10',
      phase: 'compile',
    },
    {
      source: 'a +',
      message: 'expression: expected expression after + at position 3',
      phase: 'compile',
    },
    { source: '(a + 1', message: 'expression: unclosed ( at position 6', phase: 'compile' },
    {
      source: "'abc",
      message: 'expression: unclosed quote after "abc" at position 4',
      phase: 'compile',
    },
    { source: 'a ? b', message: 'expression: expected : at position 5', phase: 'compile' },
    {
      source: 'min(1,,2)',
      message: 'expression: unexpected token , at position 6',
      phase: 'compile',
    },
    {
      source: '1a',
      message: 'expression: variable names cannot start with a number (1a) at position 1',
      phase: 'compile',
    },
    { source: '!', message: 'expression: missing operand at position 1', phase: 'compile' },
    // structure
    { source: '', message: 'expression: empty at position 0', phase: 'compile' },
    { source: 'a b', message: 'expression: unexpected "b" at position 2', phase: 'compile' },
    {
      source: 'a;',
      message: 'expression: ";" (a sequence) is not supported at position 1',
      phase: 'compile',
    },
    { source: '1 + ()', message: 'expression: empty parentheses at position 4', phase: 'compile' },
    { source: '0x1fz', message: 'expression: unexpected "z" at position 4', phase: 'compile' },
    {
      source: '0x20000000000000',
      message:
        'expression: 0x20000000000000 is above the largest exact integer at position 0 (2^53 - 1)',
      phase: 'compile',
    },
    {
      source: '2 * 1e999',
      message: 'number 1e999 is out of range at position 4',
      phase: 'compile',
    },
    { source: 'x.y', message: 'property access is not supported at position 0', phase: 'compile' },
    {
      source: '1 + [1]',
      message: 'array literals are not supported at position 4',
      phase: 'compile',
    },
    { source: ' this', message: '"this" is not supported at position 1', phase: 'compile' },
    {
      source: 'max(1)(2)',
      message: 'only a named function can be called at position 0',
      phase: 'compile',
    },
    {
      source: '-x ** 2',
      message: 'ambiguous unary "-" before "**" at position 3 (write (-a) ** b or -(a ** b))',
      phase: 'compile',
    },
    {
      source: 'a ?? b || c',
      message: '"??" mixed with "||" at position 7 (add parentheses)',
      phase: 'compile',
    },
    {
      source: 'a && b ?? c',
      message: '"??" mixed with "&&" at position 7 (add parentheses)',
      phase: 'compile',
    },
    {
      source: 'status & 4 != 0',
      message:
        'operator "&" applied to the result of "!=" at position 7 ("!=" binds first; write (a & b) != c)',
      phase: 'compile',
    },
    // names
    {
      source: 'faultt',
      allowed: ['running', 'fault'],
      message: 'unknown variable "faultt" at position 0 (known: fault, running)',
      phase: 'compile',
    },
    {
      source: '1 + x',
      allowed: [],
      message: 'unknown variable "x" at position 4 (known: none)',
      phase: 'compile',
    },
    {
      source: 'eval(1)',
      message:
        'unknown function "eval" at position 0 (allowed: abs, bit, ceil, floor, int, isnull, max, min, number, round, string)',
      phase: 'compile',
    },
    {
      source: 'bit(1)',
      message: 'function "bit" takes 2 arguments, got 1 at position 0',
      phase: 'compile',
    },
    {
      source: 'abs(1, 2)',
      message: 'function "abs" takes 1 argument, got 2 at position 0',
      phase: 'compile',
    },
    {
      source: '1 + min()',
      message: 'function "min" takes at least 1 argument, got 0 at position 4',
      phase: 'compile',
    },
    {
      source: 'a + constructor',
      message: 'reserved name "constructor" at position 4',
      phase: 'compile',
    },
    // evaluation: the operator, function or variable that failed
    { source: '1 + x', message: 'variable "x" has no value at position 4', phase: 'evaluate' },
    {
      source: "n + ' pcs'",
      vars: { n: 3 },
      message:
        'operator "+" needs two numbers or two strings, got number 3 and string " pcs" at position 2',
      phase: 'evaluate',
    },
    {
      source: 'a - b',
      vars: { a: true, b: 1 },
      message:
        'operator "-" needs numbers, got boolean true and number 1 at position 2 (convert with number())',
      phase: 'evaluate',
    },
    {
      source: '-s',
      vars: { s: '1' },
      message: 'operator "-" needs a number, got string "1" at position 0',
      phase: 'evaluate',
    },
    {
      source: '(a + 1) / (b - b)',
      vars: { a: 1, b: 2 },
      message: 'division by zero at position 8',
      phase: 'evaluate',
    },
    {
      source: 'x * 1e300',
      vars: { x: 1e300 },
      message: 'result of "*" is not finite at position 2 (Infinity)',
      phase: 'evaluate',
    },
    {
      source: 'x ** 0.5',
      vars: { x: -8 },
      message: 'result of "**" is not a number at position 2 (NaN)',
      phase: 'evaluate',
    },
    {
      source: "x == '1'",
      vars: { x: 1 },
      message:
        'operator "==" compares values of one type, got number 1 and string "1" at position 2 (convert with number() or string())',
      phase: 'evaluate',
    },
    {
      source: 'a < b < c',
      vars: { a: 1, b: 2, c: 3 },
      message:
        'operator "<" compares two numbers or two strings, got boolean true and number 3 at position 6',
      phase: 'evaluate',
    },
    {
      source: '1 + (s ? 1 : 2)',
      vars: { s: 'on' },
      message: 'a condition needs a boolean or a number, got string "on" at position 5',
      phase: 'evaluate',
    },
    {
      source: 'a && b',
      vars: { a: true, b: null },
      message: 'a condition needs a boolean or a number, got null at position 5',
      phase: 'evaluate',
    },
    {
      source: 'abs(x)',
      vars: { x: null },
      message: 'function "abs" needs a number, got null at position 0',
      phase: 'evaluate',
    },
    {
      source: 'bit(x, 64)',
      vars: { x: 1 },
      message: 'function "bit" needs a bit number from 0 to 63, got number 64 at position 0',
      phase: 'evaluate',
    },
    {
      source: 'bit(x, 1)',
      vars: { x: 2 ** 53 },
      message:
        'function "bit" needs a safe integer value, got number 9007199254740992 at position 0',
      phase: 'evaluate',
    },
    {
      source: 'string(x)',
      vars: { x: null },
      message: 'function "string" cannot format null at position 0',
      phase: 'evaluate',
    },
    {
      source: 'x | 0',
      vars: { x: -(2 ** 31) - 1 },
      message:
        'operator "|" needs an integer from -2147483648 to 4294967295, got number -2147483649 at position 2 (bit(value, n) reads bits of wider integers)',
      phase: 'evaluate',
    },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.source)}: ${c.message}`, () => {
      const err = errorOf(() => compileExpression(c.source, c.allowed).evaluate(c.vars ?? {}));
      assert.equal(err.message, c.message);
      assert.equal(err.phase, c.phase);
      assert.equal(err.position, Number(/at position (\d+)/.exec(c.message)?.[1]));
      assert.equal(err.name, 'ExpressionError');
    });
  }
});

describe('security: nothing reaches a JavaScript object', () => {
  const rejected = [
    'constructor',
    '__proto__',
    'toString',
    'valueOf',
    'prototype',
    'this',
    'a.b',
    'a.constructor',
    "a['constructor']",
    'a[0]',
    'a?.b',
    '"".constructor',
    '(1).constructor',
    'constructor.constructor("return process")()',
    "abs.constructor('return 1')",
    'min.call(1)',
    '(() => 1)',
    'new X()',
    'new Function("return 1")',
    'function () { return 1 }',
    '`template ${a}`',
    'a = 1',
    'a += 1',
    'a++',
    'a, b',
    '(a, b)',
    'a; b',
    'typeof a',
    'void 0',
    'delete a',
    '[1, 2]',
    '{}',
    '{ a: 1 }',
    '/x/.test(a)',
    'import("fs")',
    'eval("1")',
    'Function("return 1")()',
    'globalThis',
    'undefined',
  ];
  for (const source of rejected) {
    it(`${source} is a compile error`, () => {
      const err = errorOf(() => compileExpression(source));
      assert.equal(err.phase, 'compile');
      assert.ok(err.position >= 0 && err.position <= source.length);
    });
  }

  it('reserved names stay reserved even when the binding allows them', () => {
    const err = errorOf(() => compileExpression('__proto__', ['__proto__']));
    assert.equal(err.message, 'reserved name "__proto__" at position 0');
  });

  it('random input either compiles or gives an ExpressionError inside the source', () => {
    const unit = fc.constantFrom(...'ab01 ()+-*/%!~&|^<>=?:,.[]\'"xyz_$e'.split(''));
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 40 }),
        fc.oneof(fc.integer(), fc.boolean()),
        (source, value) => {
          let compiled;
          try {
            compiled = compileExpression(source);
          } catch (err) {
            assert.ok(err instanceof ExpressionError, `${JSON.stringify(source)}: ${String(err)}`);
            assert.equal(err.phase, 'compile');
            assert.ok(err.position >= 0 && err.position <= source.length, err.message);
            return;
          }
          const vars = Object.fromEntries(compiled.variables.map((name) => [name, value]));
          try {
            const result = compiled.evaluate(vars);
            assert.ok(result === null || ['number', 'string', 'boolean'].includes(typeof result));
          } catch (err) {
            assert.ok(err instanceof ExpressionError, `${JSON.stringify(source)}: ${String(err)}`);
            assert.equal(err.phase, 'evaluate');
          }
        },
      ),
      { numRuns: 5000 },
    );
  });
});

describe('limits', () => {
  const max = EXPRESSION_LIMITS.maxDepth;
  const tooDeep = `expression: nested deeper than ${max} levels`;

  it(`accepts ${max} levels of nesting`, () => {
    assert.equal(run(`${'('.repeat(max)}1${')'.repeat(max)}`), 1);
    assert.equal(run(`${'abs('.repeat(max - 2)}-1${')'.repeat(max - 2)}`), 1);
    assert.equal(run(`${'1 + '.repeat(max - 1)}1`), max);
  });

  for (const [what, source] of [
    ['parentheses', `${'('.repeat(max + 1)}1${')'.repeat(max + 1)}`],
    ['unary operators', `${'-'.repeat(max + 1)}1`],
    ['function calls', `${'abs('.repeat(max + 1)}1${')'.repeat(max + 1)}`],
    ['a chain of operators', `${'1 + '.repeat(max + 1)}1`],
    ['ternaries', `${'a ? 1 : '.repeat(max + 1)}1`],
    ['the longest input, all parentheses', '('.repeat(EXPRESSION_LIMITS.maxLength)],
  ]) {
    it(`rejects more than ${max} levels of ${what} with an error, not a crash`, () => {
      const err = errorOf(() => compileExpression(source as string));
      assert.ok(err.message.startsWith(tooDeep), err.message);
    });
  }

  it(`rejects input longer than ${EXPRESSION_LIMITS.maxLength} characters`, () => {
    const long = `x${' + x'.repeat(EXPRESSION_LIMITS.maxLength)}`;
    assert.equal(
      errorOf(() => compileExpression(long)).message,
      `expression: longer than ${EXPRESSION_LIMITS.maxLength} characters at position ${EXPRESSION_LIMITS.maxLength}`,
    );
  });
});

describe('the compiled expression', () => {
  it('lists the variables it reads, sorted and once each, including untaken branches', () => {
    const e = compileExpression('b + a * b > c ? max(a, d) : isnull(e) ? 0 : 1');
    assert.deepEqual(e.variables, ['a', 'b', 'c', 'd', 'e']);
    assert.ok(Object.isFrozen(e) && Object.isFrozen(e.variables));
  });

  it('evaluates again and again with new values (no state between evaluations)', () => {
    const e = compileExpression('(raw - 4000) * 0.0125', ['raw']);
    assert.equal(e.evaluate({ raw: 4000 }), 0);
    assert.equal(e.evaluate({ raw: 20000 }), 200);
    assert.equal(e.evaluate({ raw: 12000 }), 100);
  });
});
