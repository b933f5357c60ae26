/**
 * The parser and the template splitter on their own: the tree each expression becomes (with the
 * span of every node), precedence, and each refusal's offset and message.
 */
import type { Expr } from './ast';
import { children } from './ast';
import { ExprError } from './errors';
import { parseExpression } from './parser';
import { nodeRefs } from './refs';
import { MAX_TEMPLATE_CHARS, parseTemplate } from './template';
import { expressionsOf, parseValue, templatesOf } from './value';
import type { Reporter } from '../report/reporter';

/** A tree as text: every node with its span, `(op left right)@start-end`. */
function show(e: Expr): string {
  const at = `@${e.span.start}-${e.span.end}`;
  switch (e.kind) {
    case 'literal':
      return `${JSON.stringify(e.value)}${e.integer ? 'i' : ''}${e.raw ? `~${e.raw}` : ''}${at}`;
    case 'list':
      return `[${e.items.map(show).join(' ')}]${at}`;
    case 'root':
      return `${e.name}${at}`;
    case 'member':
      return `(. ${show(e.object)} ${e.name}@${e.nameSpan.start}-${e.nameSpan.end})${at}`;
    case 'index':
      return `(idx ${show(e.object)} ${show(e.index)})${at}`;
    case 'filter':
      return `(| ${show(e.input)} ${e.name}@${e.nameSpan.start}-${e.nameSpan.end}${e.args.map((a) => ` ${show(a)}`).join('')})${at}`;
    case 'call':
      return `(${e.name}()${e.args.map((a) => ` ${show(a)}`).join('')})${at}`;
    case 'unary':
      return `(${e.op} ${show(e.operand)})${at}`;
    case 'binary':
      return `(${e.op} ${show(e.left)} ${show(e.right)})${at}`;
    case 'conditional':
      return `(if ${show(e.test)} ${show(e.then)} ${show(e.otherwise)})${at}`;
  }
}

const parse = (s: string): string => show(parseExpression(s, 0, s.length));
/** Only the shape, without spans. */
const shape = (s: string): string => parse(s).replace(/@\d+-\d+/g, '');

function refusal(s: string, start = 0, end = s.length): { offset: number; message: string } {
  try {
    parseExpression(s, start, end);
  } catch (err) {
    if (err instanceof ExprError) return { offset: err.offset, message: err.message };
    throw err;
  }
  throw new Error(`parsed ${JSON.stringify(s)} without an error`);
}

describe('parseExpression', () => {
  it('reads atoms with their spans', () => {
    expect(parse('12')).toBe('12i~12@0-2');
    expect(parse('1.5')).toBe('1.5~1.5@0-3');
    expect(parse('"ab"')).toBe('"ab"@0-4');
    expect(parse('true')).toBe('true@0-4');
    expect(parse('false')).toBe('false@0-5');
    expect(parse('null')).toBe('null@0-4');
    expect(parse('input')).toBe('input@0-5');
    expect(parse('[]')).toBe('[]@0-2');
    expect(parse('[1, "a",]')).toBe('[1i~1@1-2 "a"@4-7]@0-9');
    expect(parse('uuid()')).toBe('(uuid())@0-6');
    expect(parse('f(1, x)')).toBe('(f() 1i~1@2-3 x@5-6)@0-7');
    expect(parse('(x)')).toBe('x@1-2');
  });

  it('reads offsets relative to the enclosing string', () => {
    const s = 'ab {{ input.x + 1 }}';
    expect(show(parseExpression(s, 5, 18))).toBe('(+ (. input@6-11 x@12-13)@6-13 1i~1@16-17)@6-17');
  });

  it('reads members, indexes and filters left to right, with their spans', () => {
    expect(parse('a.b[0] | length')).toBe('(| (idx (. a@0-1 b@2-3)@0-3 0i~0@4-5)@0-6 length@9-15)@0-15');
    expect(parse('a | default(1, 2)')).toBe('(| a@0-1 default@4-11 1i~1@12-13 2i~2@15-16)@0-17');
    expect(parse('a | f()')).toBe('(| a@0-1 f@4-5)@0-7');
    expect(parse('a["k"]')).toBe('(idx a@0-1 "k"@2-5)@0-6');
    expect(parse('a.b.c')).toBe('(. (. a@0-1 b@2-3)@0-3 c@4-5)@0-5');
  });

  it('binds operators by precedence, loosest first', () => {
    expect(shape('a or b and c')).toBe('(or a (and b c))');
    expect(shape('a and b or c')).toBe('(or (and a b) c)');
    expect(shape('not a and b')).toBe('(and (not a) b)');
    expect(shape('not a == b')).toBe('(not (== a b))');
    expect(shape('not not a')).toBe('(not (not a))');
    expect(shape('a == b + c')).toBe('(== a (+ b c))');
    expect(shape('a + b * c')).toBe('(+ a (* b c))');
    expect(shape('a * b + c')).toBe('(+ (* a b) c)');
    expect(shape('a - b - c')).toBe('(- (- a b) c)');
    expect(shape('a / b % c * d')).toBe('(* (% (/ a b) c) d)');
    expect(shape('-a * b')).toBe('(* (- a) b)');
    expect(shape('+a')).toBe('(+ a)');
    expect(shape('- -a')).toBe('(- (- a))');
    expect(shape('-a.b | f')).toBe('(- (| (. a b) f))');
    expect(shape('(a + b) * c')).toBe('(* (+ a b) c)');
    for (const op of ['==', '!=', '<', '<=', '>', '>=']) expect(shape(`a ${op} b`)).toBe(`(${op} a b)`);
    for (const op of ['+', '-', '*', '/', '%', 'and', 'or']) expect(shape(`a ${op} b`)).toBe(`(${op} a b)`);
  });

  it('gives operators spans from the first operand to the last', () => {
    expect(parse('a + bb')).toBe('(+ a@0-1 bb@4-6)@0-6');
    expect(parse('not a')).toBe('(not a@4-5)@0-5');
    expect(parse('-a')).toBe('(- a@1-2)@0-2');
  });

  it('reads conditionals, nesting to the right', () => {
    expect(parse('a if b else c')).toBe('(if b@5-6 a@0-1 c@12-13)@0-13');
    expect(shape('a if b else c if d else e')).toBe('(if b a (if d c e))');
    expect(shape('a or b if c or d else e')).toBe('(if (or c d) (or a b) e)');
  });

  it('reads "or" and "and" only as names, not as strings', () => {
    expect(refusal('a "or" b')).toEqual({ offset: 2, message: 'unexpected string after the expression' });
    expect(refusal('a "and" b')).toEqual({ offset: 2, message: 'unexpected string after the expression' });
    expect(refusal('a "if" b else c')).toEqual({ offset: 2, message: 'unexpected string after the expression' });
  });

  it('refuses chained comparisons at the second operator', () => {
    expect(refusal('a < b < c')).toEqual({ offset: 6, message: 'comparisons cannot be chained; join them with "and"' });
    expect(refusal('a == b != c')).toEqual({
      offset: 7,
      message: 'comparisons cannot be chained; join them with "and"',
    });
    // A comparison after arithmetic is the first one, and a string of an operator's text none.
    expect(shape('a + b < c * d')).toBe('(< (+ a b) (* c d))');
    expect(shape('-a * b >= c - d')).toBe('(>= (* (- a) b) (- c d))');
    expect(refusal('a < b "<" c')).toEqual({ offset: 6, message: 'unexpected string after the expression' });
  });

  it('refuses what is not an expression, at the offending token', () => {
    expect(refusal('  ')).toEqual({ offset: 0, message: 'empty expression: write something between {{ and }}' });
    expect(refusal('xx  ', 2, 4)).toEqual({
      offset: 2,
      message: 'empty expression: write something between {{ and }}',
    });
    expect(refusal('a b')).toEqual({ offset: 2, message: 'unexpected "b" after the expression' });
    expect(refusal('a )')).toEqual({ offset: 2, message: 'unexpected ")" after the expression' });
    expect(refusal('a +')).toEqual({ offset: 3, message: 'expected a value, found end of expression' });
    expect(refusal('a + )')).toEqual({ offset: 4, message: 'expected a value, found ")"' });
    expect(refusal('(a')).toEqual({ offset: 2, message: 'expected ")" to close "(", found end of expression' });
    expect(refusal('(a "x"')).toEqual({ offset: 3, message: 'expected ")" to close "(", found string' });
    expect(refusal('a[1')).toEqual({ offset: 3, message: 'expected "]" to close the index, found end of expression' });
    expect(refusal('[1 2]')).toEqual({ offset: 3, message: 'expected "]" or ",", found "2"' });
    expect(refusal('f(1 2)')).toEqual({ offset: 4, message: 'expected ")" or ",", found "2"' });
    expect(refusal('a.1')).toEqual({ offset: 2, message: 'expected a field name after ".", found "1"' });
    expect(refusal('a.')).toEqual({ offset: 2, message: 'expected a field name after ".", found end of expression' });
    expect(refusal('a | "x"')).toEqual({ offset: 4, message: 'expected a filter name after "|", found string' });
    expect(refusal('a if b')).toEqual({
      offset: 6,
      message: 'expected "else" (conditionals read: a if condition else b), found end of expression',
    });
    expect(refusal('a if b c')).toEqual({
      offset: 7,
      message: 'expected "else" (conditionals read: a if condition else b), found "c"',
    });
  });

  it('names the spelling to use for Python and JavaScript words', () => {
    const cases: [string, string][] = [
      ['True', 'true'],
      ['False', 'false'],
      ['None', 'null'],
      ['nil', 'null'],
      ['undefined', 'null'],
      ['is', '=='],
      ['in', 'a comparison'],
      ['lambda', 'a filter'],
    ];
    for (const [word, use] of cases)
      expect(refusal(`1 + ${word}`)).toEqual({
        offset: 4,
        message: `"${word}" is not part of the expression language; use ${use}`,
      });
  });

  it('reads an operator only from an operator token, never from a string of its text', () => {
    for (const op of ['<', '==', '+', '-', '*', '/', '%'])
      expect(refusal(`a "${op}" b`)).toEqual({ offset: 2, message: 'unexpected string after the expression' });
  });

  it('refuses keywords where a value belongs', () => {
    for (const word of ['and', 'or', 'if', 'else'])
      expect(refusal(`1 + ${word}`)).toEqual({ offset: 4, message: `expected a value, found "${word}"` });
    expect(refusal('1 + not')).toEqual({ offset: 4, message: 'expected a value, found "not"' });
    // "toString" and "constructor" are names, not the spellings table's own properties.
    expect(shape('toString')).toBe('toString');
    expect(shape('constructor')).toBe('constructor');
  });

  it('allows 64 levels of nesting, not 65', () => {
    const nested = (n: number): string => `${'('.repeat(n)}x${')'.repeat(n)}`;
    expect(shape(nested(30))).toBe('x');
    const deep = refusal(nested(70));
    expect(deep.message).toBe('expression nested more than 64 levels deep');
    const lists = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(() => parseExpression(lists(31), 0, 62)).not.toThrow();
    expect(refusal(lists(40)).message).toBe('expression nested more than 64 levels deep');
  });

  it('limits chains, counting each link as a level', () => {
    const sum = (n: number): string => Array.from({ length: n }, () => 'a').join(' + ');
    expect(() => parseExpression(sum(60), 0, sum(60).length)).not.toThrow();
    const long = sum(80);
    const r = refusal(long);
    expect(r.message).toBe('expression nested more than 64 levels deep; split it across nodes');
    // At the operator that goes one level too deep.
    expect(long[r.offset]).toBe('+');
    const pipes = `x${' | f'.repeat(80)}`;
    const p = refusal(pipes);
    expect(p.message).toBe('expression nested more than 64 levels deep; split it across nodes');
    expect(pipes[p.offset]).toBe('|');
    expect(() => parseExpression(`x${' | f'.repeat(55)}`, 0, 4 + 55 * 4)).not.toThrow();
    const dots = `x${'.f'.repeat(80)}`;
    expect(refusal(dots).message).toBe('expression nested more than 64 levels deep; split it across nodes');
    const negs = `${'-'.repeat(80)}x`;
    expect(refusal(negs).message).toBe('expression nested more than 64 levels deep');
    const nots = `${'not '.repeat(80)}x`;
    expect(refusal(nots).message).toBe('expression nested more than 64 levels deep');
    const conds = Array.from({ length: 80 }, () => 'a if b else').join(' ') + ' c';
    expect(refusal(conds).message).toMatch(/^expression nested more than 64 levels deep/);
  });

  it('counts depth exactly: each boundary passes, one more level fails', () => {
    const deep = 'expression nested more than 64 levels deep';
    const chain = `${deep}; split it across nodes`;
    const passes = (s: string): void => expect(() => parseExpression(s, 0, s.length)).not.toThrow();
    const nested = (n: number): string => `${'('.repeat(n)}x${')'.repeat(n)}`;
    passes(nested(31));
    expect(refusal(nested(32))).toEqual({ offset: 32, message: deep });
    const lists = (n: number): string => `${'['.repeat(n)}${']'.repeat(n)}`;
    passes(lists(32));
    expect(refusal(lists(33))).toEqual({ offset: 32, message: deep });
    const negs = (n: number): string => `${'-'.repeat(n)}x`;
    passes(negs(62));
    expect(refusal(negs(63))).toEqual({ offset: 64, message: chain });
    const sum = (n: number): string => Array.from({ length: n + 1 }, () => 'a').join('+');
    passes(sum(63));
    expect(refusal(sum(64))).toEqual({ offset: 127, message: chain });
    const pipes = (n: number): string => `x${'|f'.repeat(n)}`;
    passes(pipes(62));
    expect(refusal(pipes(63))).toEqual({ offset: 127, message: chain });
    // A conditional's `else` is one level below it: inside 31 parentheses it is level 64, and
    // its value then one level too deep, refused as a chain where the value ends.
    passes(`${'('.repeat(30)}a if b else c${')'.repeat(30)}`);
    expect(refusal(`${'('.repeat(31)}a if b else c${')'.repeat(31)}`)).toEqual({ offset: 44, message: chain });
    // Siblings do not add up: a level is given back when its expression ends.
    const many = Array.from({ length: 200 }, (_, i) => `a${i}`).join(', ');
    passes(`[${many}]`);
    passes(`f(${many})`);
  });
});

describe('children', () => {
  it('lists every direct child', () => {
    const kids = (s: string): string[] => children(parseExpression(s, 0, s.length)).map(show);
    expect(kids('1')).toEqual([]);
    expect(kids('a')).toEqual([]);
    expect(kids('[a, b]')).toEqual(['a@1-2', 'b@4-5']);
    expect(kids('a.b')).toEqual(['a@0-1']);
    expect(kids('a[b]')).toEqual(['a@0-1', 'b@2-3']);
    expect(kids('a | f(b)')).toEqual(['a@0-1', 'b@6-7']);
    expect(kids('f(a)')).toEqual(['a@2-3']);
    expect(kids('-a')).toEqual(['a@1-2']);
    expect(kids('a + b')).toEqual(['a@0-1', 'b@4-5']);
    expect(kids('a if b else c')).toEqual(['b@5-6', 'a@0-1', 'c@12-13']);
  });
});

describe('parseTemplate', () => {
  const parts = (s: string): string[] => {
    const { template, errors } = parseTemplate(s);
    expect(errors).toEqual([]);
    if (template!.kind === 'single') return [`single ${show(template!.expr)}`];
    return template!.parts.map((p) =>
      p.kind === 'text' ? `text ${JSON.stringify(p.text)}` : `expr ${show(p.expr)} ${p.span.start}-${p.span.end}`,
    );
  };
  const errors = (s: string): { offset: number; message: string }[] =>
    parseTemplate(s).errors.map((e) => ({ offset: e.offset, message: e.message }));

  it('keeps one expression whole, and splits text around expressions', () => {
    expect(parts('{{ a }}')).toEqual(['single a@3-4']);
    expect(parts('x{{a}}y{{ b }}')).toEqual(['text "x"', 'expr a@3-4 1-6', 'text "y"', 'expr b@10-11 7-14']);
    expect(parts('{{a}}{{b}}')).toEqual(['expr a@2-3 0-5', 'expr b@7-8 5-10']);
    expect(parts('{{ a }} ')).toEqual(['expr a@3-4 0-7', 'text " "']);
    expect(parts('plain')).toEqual(['text "plain"']);
    expect(parts('')).toEqual([]);
    expect(parts('a } b }} c')).toEqual(['text "a } b }} c"']);
  });

  it('skips "}}" inside string literals', () => {
    expect(parts(`{{ "}}" }}`)).toEqual(['single "}}"@3-7']);
    expect(parts(`{{ '}}' }}`)).toEqual(['single "}}"@3-7']);
    expect(parts(`{{ "a\\"}}" }}!`)).toEqual(['expr "a\\"}}"@3-10 0-13', 'text "!"']);
    expect(parts(`{{ "}" }}`)).toEqual(['single "}"@3-6']);
    expect(parts(`{{ "a}}" }}`)).toEqual(['single "a}}"@3-8']);
    // A quote in the text before "{{" opens no string.
    expect(parts(`x"{{ "}}" }}`)).toEqual(['text "x\\""', 'expr "}}"@5-9 2-12']);
  });

  it('falls back to the first "}}" when a string is never closed, so the lexer can say so', () => {
    expect(errors(`{{ "abc }}`)).toEqual([{ offset: 3, message: 'unterminated string: add the closing "' }]);
    // Only a "}}" after the "{{" closes it.
    expect(errors(`}}{{ "b }}`)).toEqual([{ offset: 5, message: 'unterminated string: add the closing "' }]);
  });

  it('reports an unclosed "{{" and every broken expression', () => {
    expect(errors('ab {{ x')).toEqual([
      { offset: 3, message: 'unclosed "{{": add "}}" after the expression (write a literal "{{" as {{ "{{" }})' },
    ]);
    expect(errors('{{ * }} and {{ a b }}')).toEqual([
      { offset: 3, message: 'expected a value, found "*"' },
      { offset: 17, message: 'unexpected "b" after the expression' },
    ]);
    expect(parseTemplate('{{ * }}').template).toBeUndefined();
  });

  it('limits the length of a string holding expressions', () => {
    const long = `{{ a }}${'x'.repeat(MAX_TEMPLATE_CHARS - 7)}`;
    expect(long.length).toBe(MAX_TEMPLATE_CHARS);
    expect(errors(long)).toEqual([]);
    expect(errors(`${long}x`)).toEqual([
      { offset: 0, message: 'a string with expressions may hold at most 100000 characters' },
    ]);
    // Without expressions any length is text.
    expect(parts('x'.repeat(MAX_TEMPLATE_CHARS + 1))).toEqual([`text "${'x'.repeat(MAX_TEMPLATE_CHARS + 1)}"`]);
  });
});

describe('nodeRefs', () => {
  const refs = (s: string) => nodeRefs(parseExpression(s, 0, s.length));

  it('finds node references, soft inside the operand of a default', () => {
    expect(refs('nodes.a.b + nodes["c"] + (nodes.d.x | default(nodes.e))')).toEqual([
      { nodeId: 'a', offset: 6, soft: false },
      { nodeId: 'c', offset: 18, soft: false },
      { nodeId: 'd', offset: 32, soft: true },
      { nodeId: 'e', offset: 52, soft: false },
    ]);
    expect(refs('[nodes.a | upper, -nodes.b, nodes.c if nodes.d else f(nodes.e)]').map((r) => r.nodeId)).toEqual([
      'a',
      'b',
      'd',
      'c',
      'e',
    ]);
    expect(refs('(nodes.a | default(1)) | default(nodes.b)')).toEqual([
      { nodeId: 'a', offset: 7, soft: true },
      { nodeId: 'b', offset: 39, soft: false },
    ]);
  });

  it('reads only a literal string index of nodes as a reference', () => {
    expect(refs('nodes[1]')).toEqual([]);
    expect(refs('nodes[input.x]')).toEqual([]);
    expect(refs('input.nodes.a')).toEqual([]);
    expect(refs('x.y')).toEqual([]);
    expect(refs('input.nodes["a"]')).toEqual([]);
    expect(refs('input["a"]')).toEqual([]);
    expect(refs('nodes.a.default')).toEqual([{ nodeId: 'a', offset: 6, soft: false }]);
  });
});

describe('parseValue', () => {
  type Call = [string, { path: (string | number)[]; stringOffset?: number }, string];
  const reporter = (calls: Call[]): Reporter => ({ error: (...args: Call) => calls.push(args) }) as unknown as Reporter;

  it('parses the strings of a value, keeping mappings and lists', () => {
    const calls: Call[] = [];
    const v = parseValue(
      { a: ['{{ x }}', 'plain', 2, null], b: { c: 'y {{ z }}' }, d: true },
      ['set'],
      reporter(calls),
    );
    expect(calls).toEqual([]);
    expect(templatesOf(v).map((t) => t.path)).toEqual([
      ['set', 'a', 0],
      ['set', 'b', 'c'],
    ]);
    expect(v).toMatchObject({
      kind: 'object',
      entries: [
        [
          'a',
          {
            kind: 'list',
            items: [
              { kind: 'template' },
              { kind: 'const', value: 'plain' },
              { kind: 'const', value: 2 },
              { kind: 'const', value: null },
            ],
          },
        ],
        ['b', { kind: 'object', entries: [['c', { kind: 'template', template: { kind: 'text' } }]] }],
        ['d', { kind: 'const', value: true }],
      ],
    });
    expect(templatesOf(parseValue('x', [], reporter(calls)))).toEqual([]);
  });

  it('reports every syntax error at its offset in the string, and keeps a null in its place', () => {
    const calls: Call[] = [];
    const v = parseValue({ a: '{{ * }} {{ a b }}' }, ['output'], reporter(calls));
    expect(calls).toEqual([
      ['expression_syntax', { path: ['output', 'a'], stringOffset: 3 }, 'expected a value, found "*"'],
      ['expression_syntax', { path: ['output', 'a'], stringOffset: 13 }, 'unexpected "b" after the expression'],
    ]);
    expect(v).toEqual({ kind: 'object', entries: [['a', { kind: 'const', value: null }]] });
  });

  it('lists the expressions of a template', () => {
    const { template } = parseTemplate('a {{ x }} b {{ "lit" }} {{ y }}');
    expect(expressionsOf(template!).map(show)).toEqual(['x@5-6', '"lit"@15-20', 'y@27-28']);
    expect(expressionsOf(parseTemplate('{{ z }}').template!).map(show)).toEqual(['z@3-4']);
    // Closed by `}}` alone, even right after the expression; a single `}` is not a close.
    expect(expressionsOf(parseTemplate('{{z}}{{ "}" }}').template!).map(show)).toEqual(['z@2-3', '"}"@8-11']);
  });
});
