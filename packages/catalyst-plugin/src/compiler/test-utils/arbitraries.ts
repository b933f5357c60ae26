/**
 * fast-check generators for the expression language: well-typed expressions over a fixed scope
 * (so most compile), literal text of every awkward kind, and token soup for fuzzing.
 */
import fc from 'fast-check';

/** The workflow every generated expression is compiled in. */
export const SCOPE_DEFINITION = {
  id: 'prop',
  input: {
    type: 'object',
    properties: {
      s: { type: 'string' },
      n: { type: 'integer' },
      x: { type: 'number' },
      b: { type: 'boolean' },
      tags: { type: 'array', items: { type: 'string' } },
      meta: { type: 'object' },
    },
    required: ['s', 'n', 'x', 'b', 'tags', 'meta'],
  },
  nodes: [{ id: 'a', type: 'transform', set: { count: 3, name: 'a', flags: [true] } }],
};

/** Awkward text: quotes, backslashes, braces, newlines, controls, unicode, astral characters. */
export const awkwardText = fc.string({
  unit: fc.oneof(
    fc.constantFrom(
      '"',
      "'",
      '\\',
      '{',
      '}',
      '\n',
      '\r',
      '\t',
      '\0',
      '\x7f',
      '\u2028',
      '\ufeff',
      'é',
      '✓',
      '日',
      '🎉',
      '#',
      ':',
      '!',
      '%',
      ' ',
      'f"',
      "'''",
    ),
    fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    // Any character: every code point but the surrogates. A lone surrogate is not text, and the
    // compiler refuses it by design (property.spec.ts checks that refusal on its own), so a
    // generator of valid definitions must not produce one.
    fc.integer({ min: 0, max: 0x10ffff - 0x800 }).map((c) => String.fromCodePoint(c < 0xd800 ? c : c + 0x800)),
  ),
  maxLength: 40,
});

/** Text without "{{" (which would start an expression). */
export const literalText = awkwardText.map((s) => s.replace(/\{\{/g, '{ {').replace(/\{$/, '{ '));

/** An expression-language string literal for `s`. */
export function exprString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}"`;
}

const paren = (s: string) => `(${s})`;

const typed = fc.letrec<{ num: string; str: string; bool: string; list: string }>((tie) => ({
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 0, max: 1000 }).map(String),
    fc.constantFrom('input.n', 'input.x', 'nodes.a.count', '1.5', '0'),
    fc
      .tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '%'), tie('num'))
      .map(([a, op, b]) => `${a} ${op} ${divisor(op, b)}`),
    tie('num').map((a) => `-${paren(a)}`),
    tie('num').map(paren),
    tie('str').map((s) => `${paren(s)} | length`),
    tie('list').map((l) => `${paren(l)} | length`),
    tie('num').map((a) => `${paren(a)} | round`),
    fc.tuple(tie('num'), fc.integer({ min: 0, max: 3 })).map(([a, d]) => `${paren(a)} | round(${d})`),
    fc.tuple(tie('num'), tie('bool'), tie('num')).map(([a, c, b]) => `${paren(a)} if ${paren(c)} else ${paren(b)}`),
  ),
  str: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    awkwardText.map(exprString),
    fc.constantFrom('input.s', 'nodes.a.name', 'input.tags[0]', 'uuid()', 'now()', 'execution.id'),
    fc.tuple(tie('str'), tie('str')).map(([a, b]) => `${a} + ${b}`),
    fc.tuple(tie('str'), fc.constantFrom('upper', 'lower', 'trim')).map(([s, f]) => `${paren(s)} | ${f}`),
    tie('num').map((n) => `${paren(n)} | string`),
    tie('list').map((l) => `${paren(l)} | join(", ")`),
    fc.tuple(tie('list'), tie('str')).map(([l, sep]) => `${paren(l)} | join(${sep})`),
    fc.constantFrom('input.meta | json', 'input.tags | first | default("none")', 'input.meta | keys | join("")'),
    // Past either end of a list or a string, under a default: the default.
    fc.constantFrom('input.tags[5] | default("none")', 'input.tags[-3] | default("none")', 'input.s[9] | default("z")'),
    fc
      .tuple(tie('list'), fc.constantFrom('first', 'last'), tie('str'))
      .map(([l, f, d]) => `${paren(l)} | ${f} | default(${d})`),
    fc.tuple(tie('str'), tie('bool'), tie('str')).map(([a, c, b]) => `${paren(a)} if ${paren(c)} else ${paren(b)}`),
  ),
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'input.b', 'input.s == null'),
    fc
      .tuple(tie('num'), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), tie('num'))
      .map(([a, op, b]) => `${paren(a)} ${op} ${paren(b)}`),
    fc.tuple(tie('str'), fc.constantFrom('==', '!='), tie('str')).map(([a, op, b]) => `${paren(a)} ${op} ${paren(b)}`),
    tie('bool').map((b) => `not ${paren(b)}`),
    fc
      .tuple(tie('bool'), fc.constantFrom('and', 'or'), tie('bool'))
      .map(([a, op, b]) => `${paren(a)} ${op} ${paren(b)}`),
  ),
  list: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('input.tags', 'input.meta | keys', '[]'),
    fc.array(tie('str'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(tie('list'), tie('bool'), tie('list')).map(([a, c, b]) => `${paren(a)} if ${paren(c)} else ${paren(b)}`),
    fc.tuple(tie('list'), tie('list')).map(([a, b]) => `${paren(a)} + ${paren(b)}`),
  ),
}));

export const expression = fc.oneof(typed.num, typed.str, typed.bool, typed.list);

/** A string value: one expression, or text mixed with expressions. */
export const templateValue = fc.oneof(
  expression.map((e) => `{{ ${e} }}`),
  fc
    .array(
      fc.oneof(
        literalText,
        expression.map((e) => `{{ ${e} }}`),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((parts) => parts.join('')),
);

/** Token soup: mostly-wrong expressions, for fuzzing the lexer and parser. */
export const tokenSoup = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '{{',
        '}}',
        'input',
        'nodes',
        '.',
        '|',
        '(',
        ')',
        '[',
        ']',
        ',',
        '"',
        "'",
        '\\',
        'if',
        'else',
        'and',
        'or',
        'not',
        '==',
        '<',
        '+',
        '-',
        '*',
        '/',
        '%',
        '=',
        '!',
        '&&',
        '1',
        '1.5',
        'true',
        'null',
        'upper',
        'default',
        'length',
        'uuid',
        '__class__',
        'constructor',
        'toString',
        '__proto__',
        'hasOwnProperty',
        'a',
        'x',
        ' ',
      ),
      fc.string({ maxLength: 3 }),
    ),
    { maxLength: 30 },
  )
  .map((tokens) => tokens.join(' '));

/** Arithmetic and logic only, with redundant parentheses: for checking precedence in the output. */
const logic = fc.letrec<{ num: string; bool: string }>((tie) => ({
  num: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 0, max: 99 }).map(String),
    fc.constantFrom('input.n', 'input.x', '2.5'),
    fc
      .tuple(tie('num'), fc.constantFrom('+', '-', '*', '/', '%'), tie('num'))
      .map(([a, op, b]) => `${a} ${op} ${divisor(op, b)}`),
    tie('num').map((a) => `-${a}`),
    tie('num').map(paren),
    fc.tuple(tie('num'), tie('bool'), tie('num')).map(([a, c, b]) => `${a} if ${c} else ${b}`),
  ),
  bool: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('true', 'false', 'input.b'),
    fc
      .tuple(tie('num'), fc.constantFrom('==', '!=', '<', '<=', '>', '>='), tie('num'))
      .map(([a, op, b]) => `${paren(a)} ${op} ${paren(b)}`),
    tie('bool').map((b) => `not ${b}`),
    fc.tuple(tie('bool'), fc.constantFrom('and', 'or'), tie('bool')).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('bool').map(paren),
  ),
}));

export const logicExpression = fc.oneof(logic.num, logic.bool);

/**
 * A literal 0 right of "/" or "%" is a compile error; `(0 + 0)` (same value) still divides by
 * zero at run time. `b` may be unparenthesized (`0 if c else 1`), so its leading 0 is replaced.
 */
function divisor(op: string, b: string): string {
  return op === '/' || op === '%' ? b.replace(/^0(?![0-9.eE])/, '(0 + 0)') : b;
}
