/**
 * The Python emitter on its own: the exact text each checked expression becomes, its precedence
 * (which decides parentheses where it is used), and what it tells its environment (the input
 * read, the variables the service needs). Golden folders hold whole services; these hold each
 * operator, filter and guard alone, where a wrong parenthesis or name shows at once.
 */
import { Checker } from './check';
import { ExprEmitter, type EmitEnv } from './emit';
import { parseExpression } from './parser';
import type { Scope } from './scope';
import { parseTemplate } from './template';
import { ANY, BOOLEAN, INTEGER, NUMBER, STRING, type Field, type ObjectType, type Type } from './types';
import { expressionsOf, parseValue } from './value';
import { valueCode } from './value-code';
import type { Reporter } from '../report/reporter';

const f = (type: Type, attr?: string): Field => ({ type, attr });
const ADDRESS: ObjectType = {
  kind: 'object',
  model: 'Address',
  fields: new Map([
    ['city', f(STRING, 'city')],
    ['zip-code', f(STRING, 'zip_code')],
  ]),
};
const INPUT: ObjectType = {
  kind: 'object',
  model: 'Input',
  fields: new Map([
    ['name', f(STRING, 'name')],
    ['age', f({ ...INTEGER, nullable: true }, 'age')],
    ['score', f(NUMBER, 'score')],
    ['ok', f(BOOLEAN, 'ok')],
    ['tags', f({ kind: 'array', items: STRING }, 'tags')],
    ['nums', f({ kind: 'array', items: INTEGER }, 'nums')],
    ['maybe_tags', f({ kind: 'array', items: { ...STRING, nullable: true } }, 'maybe_tags')],
    ['note', f({ ...STRING, nullable: true }, 'note')],
    ['home', f(ADDRESS, 'home')],
    ['address', f({ ...ADDRESS, nullable: true }, 'address')],
    ['meta', f({ kind: 'object', fields: null }, 'meta')],
    ['extra', f({ kind: 'object', model: 'Extra', extra: true, fields: new Map([['a', f(STRING, 'a')]]) }, 'extra')],
    ['homes', f({ kind: 'array', items: ADDRESS }, 'homes')],
    ['opt_homes', f({ kind: 'array', items: ADDRESS, nullable: true }, 'opt_homes')],
    ['grid', f({ kind: 'array', items: { kind: 'array', items: ADDRESS } }, 'grid')],
    ['plain', f({ kind: 'object', fields: new Map([['k', { type: STRING }]]) }, 'plain')],
  ]),
};
const SCOPE: Scope = {
  input: INPUT,
  nodeOutputs: new Map<string, Type>([
    ['fetch', ANY],
    ['calc', { kind: 'object', fields: new Map([['total', f(INTEGER)]]) }],
    ['maybe', STRING],
    ['list', { kind: 'array', items: ANY }],
  ]),
  nodeIds: ['fetch', 'calc', 'maybe', 'list'],
  skippable: new Set(['maybe', 'fetch']),
  item: STRING,
};

function environment(checker: Checker, extra: Partial<EmitEnv> = {}): { env: EmitEnv; log: string[] } {
  const log: string[] = [];
  const env: EmitEnv = {
    checked: checker.out,
    inputVar: 'inp',
    use: (name) => log.push(`use ${name}`),
    node: (id) => `n_${id}`,
    require: (root, name) => log.push(`require ${root}.${name}`),
    ...extra,
  };
  return { env, log };
}

/** `code` at precedence `prec`, then what it told its environment; the checker must agree. */
function emit(src: string): string {
  const e = parseExpression(src, 0, src.length);
  const checker = new Checker(SCOPE);
  checker.check(e);
  expect(checker.problems.filter((p) => p.severity !== 'warning')).toEqual([]);
  const { env, log } = environment(checker);
  const code = new ExprEmitter(env).value(e);
  return [`${code.code} @${code.prec}`, ...[...new Set(log)]].join(' | ');
}

function template(src: string, options: { urlPath?: boolean; skipped?: string[] } = {}): string {
  const { template: t, errors } = parseTemplate(src);
  expect(errors).toEqual([]);
  const checker = new Checker(SCOPE);
  for (const e of expressionsOf(t!)) checker.check(e);
  expect(checker.problems).toEqual([]);
  const { env, log } = environment(checker, options.skipped ? { guardSkipped: new Set(options.skipped) } : {});
  const code = new ExprEmitter(env).template(t!, options.urlPath);
  return [`${code.code} @${code.prec}`, ...[...new Set(log)]].join(' | ');
}

describe('ExprEmitter values', () => {
  it.each([
    ['1', '1 @16'],
    ['1.5', '1.5 @16'],
    ['1e3', '1000.0 @16'],
    ['12345678901234567890', '12345678901234567890 @16'],
    ['"a"', '"a" @16'],
    ['true', 'True @16'],
    ['false', 'False @16'],
    ['null', 'None @16'],
    ['[]', '[] @16'],
    ['[1, input.home]', '[1, inp.home.model_dump(by_alias=True)] @16 | use input'],
    ['item', 'item @16 | use item'],
    ['index', 'index @16 | use index'],
    ['input', 'inp.model_dump(by_alias=True) @15 | use input'],
    ['input.name', 'inp.name @15 | use input'],
    ['input.home', 'inp.home.model_dump(by_alias=True) @15 | use input'],
    ['input.home.city', 'inp.home.city @15 | use input'],
    ['input.home["zip-code"]', 'inp.home.zip_code @15 | use input'],
    ['input.extra.a', 'inp.extra.a @15 | use input'],
    ['input.extra.zz', 'inp.extra.model_extra["zz"] @15 | use input'],
    ['input.meta.k', 'inp.meta["k"] @15 | use input'],
    ['input.meta[input.name]', 'inp.meta[inp.name] @15 | use input'],
    ['input.plain.k', 'inp.plain["k"] @15 | use input'],
    ['input.tags[0]', 'inp.tags[0] @15 | use input'],
    ['(input.tags + input.tags)[0]', '(inp.tags + inp.tags)[0] @15 | use input'],
    ['nodes.calc', 'n_calc @16'],
    ['nodes["calc"]', 'n_calc @16'],
    ['nodes.calc.total', 'n_calc["total"] @15'],
    ['secrets.K', 'ctx.secrets["K"] @15 | require secrets.K'],
    ['env.K', 'ctx.env["K"] @15 | require env.K'],
    ['global.K', 'ctx.globals["K"] @15 | use globals'],
    ['execution.id', 'ctx.execution_id @15'],
    ['execution.workflow_id', 'ctx.workflow_id @15'],
    ['execution.started_at', 'ctx.started_at @15'],
    ['uuid()', 'str(uuid4()) @15'],
    ['now()', 'datetime.now(UTC).isoformat() @15'],
  ])('%s', (src, code) => {
    expect(emit(src)).toBe(code);
  });

  it('writes strings in the quotes they need fewest escapes with', () => {
    expect(emit(`"it's"`)).toBe(`"it's" @16`);
    expect(emit(`'say "hi"'`)).toBe(`'say "hi"' @16`);
  });
});

describe('ExprEmitter operators', () => {
  it.each([
    ['not input.ok', 'not inp.ok @4 | use input'],
    ['not (input.ok and true)', 'not (inp.ok and True) @4 | use input'],
    ['not not true', 'not not True @4'],
    ['not input.ok == true', 'not inp.ok is True @4 | use input'],
    ['(not input.ok) == true', '(not inp.ok) is True @5 | use input'],
    ['-input.score', '-inp.score @12 | use input'],
    ['-(1 + 2)', '-(1 + 2) @12'],
    ['-(1 * 2)', '-(1 * 2) @12'],
    ['-1 * 2', '-1 * 2 @11'],
    ['+1', '+1 @12'],
    ['1 + 2 * 3', '1 + 2 * 3 @10'],
    ['(1 + 2) * 3', '(1 + 2) * 3 @11'],
    ['1 - (2 - 3)', '1 - (2 - 3) @10'],
    ['(1 - 2) - 3', '1 - 2 - 3 @10'],
    ['1 / 2 % 3', '1 / 2 % 3 @11'],
    ['1 * (2 / 3)', '1 * (2 / 3) @11'],
    ['1 % (2 * 3)', '1 % (2 * 3) @11'],
    ['1 < 2', '1 < 2 @5'],
    ['1 <= 2', '1 <= 2 @5'],
    ['1 > 2', '1 > 2 @5'],
    ['1 >= 2', '1 >= 2 @5'],
    ['(1 < 2) == true', '(1 < 2) is True @5'],
    ['true == (1 < 2)', 'True is (1 < 2) @5'],
    ['input.ok == true', 'inp.ok is True @5 | use input'],
    ['input.ok != false', 'inp.ok is not False @5 | use input'],
    ['input.age == null', 'inp.age is None @5 | use input'],
    ['null != input.age', 'None is not inp.age @5 | use input'],
    ['input.name == "a"', 'inp.name == "a" @5 | use input'],
    ['input.name != "a"', 'inp.name != "a" @5 | use input'],
    ['1 == 2', '1 == 2 @5'],
    ['input.ok and (true or false)', 'inp.ok and (True or False) @3 | use input'],
    ['input.ok or true and false', 'inp.ok or True and False @2 | use input'],
    ['(input.ok or true) and false', '(inp.ok or True) and False @3 | use input'],
    ['(input.ok and true) or false', 'inp.ok and True or False @2 | use input'],
    ['(input.ok or false) == true', '(inp.ok or False) is True @5 | use input'],
    ['1 if input.ok else 2', '1 if inp.ok else 2 @1 | use input'],
    ['(1 if input.ok else 2) if true else 3', '(1 if inp.ok else 2) if True else 3 @1 | use input'],
    ['1 if (true if input.ok else false) else 2', '1 if (True if inp.ok else False) else 2 @1 | use input'],
    ['1 if true else (2 if false else 3)', '1 if True else 2 if False else 3 @1'],
    ['(1 if true else 2) + 1', '(1 if True else 2) + 1 @10'],
    ['not (1 if true else 2)', 'not (1 if True else 2) @4'],
    ['-(1 if true else 2)', '-(1 if True else 2) @12'],
  ])('%s', (src, code) => {
    expect(emit(src)).toBe(code);
  });

  it('writes computed values holding models as plain data, dumping each model once', () => {
    expect(emit('input.home or input.home')).toBe(
      'inp.home.model_dump(by_alias=True) or inp.home.model_dump(by_alias=True) @2 | use input',
    );
    expect(emit('input.homes + input.homes')).toBe(
      '[_m0.model_dump(by_alias=True) for _m0 in inp.homes] + [_m0.model_dump(by_alias=True) for _m0 in inp.homes] @10 | use input',
    );
    expect(emit('input.home if input.ok else input.home')).toBe(
      'inp.home.model_dump(by_alias=True) if inp.ok else inp.home.model_dump(by_alias=True) @1 | use input',
    );
  });

  it('reads a field of a computed model as a key', () => {
    expect(emit('(input.home if input.ok else input.home).city')).toBe(
      '(inp.home.model_dump(by_alias=True) if inp.ok else inp.home.model_dump(by_alias=True))["city"] @15 | use input',
    );
    // A default between two of the same model keeps its fields: the key is read from the dict.
    expect(emit('(input.address | default(input.home)).city')).toBe(
      '(inp.address.model_dump(by_alias=True) if inp.address is not None else inp.home.model_dump(by_alias=True))["city"] @15 | use input',
    );
  });

  it('refuses to write a filter the checker does not know', () => {
    const e = parseExpression('1 | nope', 0, 8);
    const { env } = environment(new Checker(SCOPE));
    expect(() => new ExprEmitter(env).value(e)).toThrow('unchecked filter "nope"');
  });

  it('dumps models in lists and optional models', () => {
    expect(emit('input.homes')).toBe('[_m0.model_dump(by_alias=True) for _m0 in inp.homes] @16 | use input');
    expect(emit('input.grid')).toBe(
      '[[_m1.model_dump(by_alias=True) for _m1 in _m0] for _m0 in inp.grid] @16 | use input',
    );
    expect(emit('input.opt_homes')).toBe(
      '[_m0.model_dump(by_alias=True) for _m0 in inp.opt_homes] if inp.opt_homes is not None else None @1 | use input',
    );
    expect(emit('input.address')).toBe(
      'inp.address.model_dump(by_alias=True) if inp.address is not None else None @1 | use input',
    );
    expect(emit('input.homes[0]')).toBe('inp.homes[0].model_dump(by_alias=True) @15 | use input');
    expect(emit('[input.homes]')).toBe('[[_m0.model_dump(by_alias=True) for _m0 in inp.homes]] @16 | use input');
  });
});

describe('ExprEmitter filters', () => {
  it.each([
    ['input.name | upper', 'inp.name.upper() @15 | use input'],
    ['(input.name + "a") | upper', '(inp.name + "a").upper() @15 | use input'],
    ['input.name | lower', 'inp.name.lower() @15 | use input'],
    ['input.name | trim', 'inp.name.strip() @15 | use input'],
    ['input.tags | join', '"".join(inp.tags) @15 | use input'],
    ['input.tags | join(", ")', '", ".join(inp.tags) @15 | use input'],
    ['input.tags | join(input.name + ",")', '(inp.name + ",").join(inp.tags) @15 | use input'],
    ['input.maybe_tags | join', '"".join(map(str, inp.maybe_tags)) @15 | use input'],
    ['input.nums | join("-")', '"-".join(map(str, inp.nums)) @15 | use input'],
    ['nodes.fetch | join', '"".join(map(str, n_fetch)) @15'],
    ['input.home | keys', 'list(inp.home.model_dump(by_alias=True)) @15 | use input'],
    ['input.home | values', 'list(inp.home.model_dump(by_alias=True).values()) @15 | use input'],
    ['input.meta | values', 'list(inp.meta.values()) @15 | use input'],
    ['input.score | round', 'round(inp.score) @15 | use input'],
    ['input.score | round(2)', 'round(inp.score, 2) @15 | use input'],
    ['(input.score + 1) | round', 'round(inp.score + 1) @15 | use input'],
    ['input.name | int', 'int(inp.name) @15 | use input'],
    ['input.name | float', 'float(inp.name) @15 | use input'],
    ['input.tags | json', 'to_json(inp.tags) @15 | use input'],
    ['input.homes | json', 'to_json([_m0.model_dump(by_alias=True) for _m0 in inp.homes]) @15 | use input'],
    [
      'input.address | json',
      'to_json(inp.address.model_dump(by_alias=True) if inp.address is not None else None) @15 | use input',
    ],
    ['input.name | string', 'inp.name @15 | use input'],
    ['input.score | string', 'str(inp.score) @15 | use input'],
    ['nodes.fetch | string', 'str(n_fetch) @15'],
    ['input.age | string', 'to_json(inp.age) @15 | use input'],
    ['input.ok | string', 'to_json(inp.ok) @15 | use input'],
    ['(1 if true else 2) | string', 'str(1 if True else 2) @15'],
    ['input.tags | length', 'len(inp.tags) @15 | use input'],
    ['input.homes | length', 'len(inp.homes) @15 | use input'],
    ['input.home | length', 'len(inp.home.model_dump(by_alias=True)) @15 | use input'],
    ['(input.tags + input.tags) | length', 'len(inp.tags + inp.tags) @15 | use input'],
    ['input.tags | first', '(inp.tags or [None])[0] @15 | use input'],
    ['input.tags | last', '(inp.tags or [None])[-1] @15 | use input'],
    ['input.name | last', '(inp.name or [None])[-1] @15 | use input'],
    ['(input.tags or input.tags) | first', '((inp.tags or inp.tags) or [None])[0] @15 | use input'],
    ['(input.ok and input.tags) | first', '(inp.ok and inp.tags or [None])[0] @15 | use input'],
    [
      '(input.tags if input.ok else input.nums) | last',
      '((inp.tags if inp.ok else inp.nums) or [None])[-1] @15 | use input',
    ],
    ['(input.ok and input.tags) | last', '(inp.ok and inp.tags or [None])[-1] @15 | use input'],
    [
      'input.homes | first',
      '(inp.homes or [None])[0].model_dump(by_alias=True) if (inp.homes or [None])[0] is not None else None @1 | use input',
    ],
  ])('%s', (src, code) => {
    expect(emit(src)).toBe(code);
  });
});

describe('ExprEmitter defaults', () => {
  it.each([
    ['input.age | default(0)', 'inp.age if inp.age is not None else 0 @1 | use input'],
    ['input.age | default(1 if true else 2)', 'inp.age if inp.age is not None else 1 if True else 2 @1 | use input'],
    ['(input.age | default(0)) + 1', '(inp.age if inp.age is not None else 0) + 1 @10 | use input'],
    ['-input.age | default(0)', '-(inp.age if inp.age is not None else 0) @12 | use input'],
    ['input.note | default("a") | upper', '(inp.note if inp.note is not None else "a").upper() @15 | use input'],
    ['input.address.city | default("x")', 'inp.address.city if inp.address is not None else "x" @1 | use input'],
    [
      'input.opt_homes[0].city | default("x")',
      'item_at(inp.opt_homes, 0).city if inp.opt_homes is not None and item_at(inp.opt_homes, 0) is not None else "x" @1 | use input',
    ],
    [
      'input.address.city | length | default(0)',
      'len(inp.address.city) if inp.address is not None else 0 @1 | use input',
    ],
    [
      'nodes.fetch.a.b | default(1)',
      'n_fetch.get("a").get("b") if n_fetch is not None and n_fetch.get("a") is not None and n_fetch.get("a").get("b") is not None else 1 @1',
    ],
    [
      'nodes.fetch[0] | default(1)',
      'item_at(n_fetch, 0) if n_fetch is not None and item_at(n_fetch, 0) is not None else 1 @1',
    ],
    ['nodes.list[0] | default(1)', 'item_at(n_list, 0) if item_at(n_list, 0) is not None else 1 @1'],
    ['nodes.maybe | default("x")', 'n_maybe if n_maybe is not None else "x" @1'],
    ['nodes.maybe | upper | default("x")', 'n_maybe.upper() if n_maybe is not None else "x" @1'],
    ['input.meta.k | default(1)', 'inp.meta.get("k") if inp.meta.get("k") is not None else 1 @1 | use input'],
    [
      'input.meta[input.name] | default(1)',
      'inp.meta.get(inp.name) if inp.meta.get(inp.name) is not None else 1 @1 | use input',
    ],
    [
      'input.extra.zz | default(1)',
      'inp.extra.model_extra.get("zz") if inp.extra.model_extra.get("zz") is not None else 1 @1 | use input',
    ],
    ['secrets.K | default("x")', 'ctx.secrets.get("K", "x") @15'],
    ['env.K | default(input.name)', 'ctx.env.get("K", inp.name) @15 | use input'],
    ['global.K | default(1)', 'ctx.globals.get("K") if ctx.globals.get("K") is not None else 1 @1 | use globals'],
    [
      'input.address | default(input.home)',
      'inp.address.model_dump(by_alias=True) if inp.address is not None else inp.home.model_dump(by_alias=True) @1 | use input',
    ],
    [
      'nodes.fetch.a | default(1) | default(2)',
      '_d0 if (_d0 := n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) is not None else 2 @1',
    ],
    [
      '(nodes.fetch.a | default(1)).b | default(2)',
      '_d0 if (n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) is not None and (_d0 := (n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1).get("b")) is not None else 2 @1',
    ],
    // A filter without arguments holds no default of its own: its value is tested, not bound.
    [
      'input.tags | first | default("x")',
      '(inp.tags or [None])[0] if (inp.tags or [None])[0] is not None else "x" @1 | use input',
    ],
    [
      '[input.age | default(0)] | first | default(1)',
      '_d0 if (_d0 := ([inp.age if inp.age is not None else 0] or [None])[0]) is not None else 1 @1 | use input',
    ],
    [
      'nodes.fetch.a | default(nodes.fetch.b | default(1))',
      'n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else n_fetch.get("b") if n_fetch is not None and n_fetch.get("b") is not None else 1 @1',
    ],
    [
      '-(nodes.fetch.a | default(1))',
      '-(n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) @12',
    ],
    ['input.name | default("x")', 'inp.name @15 | use input'],
  ])('%s', (src, code) => {
    expect(emit(src)).toBe(code);
  });

  it('binds each nested default to its own name', () => {
    expect(emit('(nodes.fetch.a | default(1) | default(2)) + (nodes.fetch.b | default(3) | default(4))')).toBe(
      '(_d0 if (_d0 := n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) is not None else 2) + (_d1 if (_d1 := n_fetch.get("b") if n_fetch is not None and n_fetch.get("b") is not None else 3) is not None else 4) @10',
    );
  });

  it.each([
    [
      '[nodes.fetch.a | default(1)][0] | default(2)',
      '_d0 if (_d0 := item_at([n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1], 0)) is not None else 2 @1',
    ],
    [
      'nodes.list[nodes.fetch.i | default(0)] | default(2)',
      '_d0 if (_d0 := item_at(n_list, n_fetch.get("i") if n_fetch is not None and n_fetch.get("i") is not None else 0)) is not None else 2 @1',
    ],
    [
      '(nodes.fetch.a | default(1)) + nodes.fetch.b | default(2)',
      '(n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) + (n_fetch.get("b") if n_fetch is not None and n_fetch.get("b") is not None else 2) @10',
    ],
    [
      '(nodes.fetch.a if (nodes.fetch.t | default(true)) else 1) | default(2)',
      '_d0 if (_d0 := (n_fetch.get("a") if n_fetch is not None else None) if (n_fetch.get("t") if n_fetch is not None and n_fetch.get("t") is not None else True) else 1) is not None else 2 @1',
    ],
    [
      '(-(nodes.fetch.a | default(1))) | default(2)',
      '_d0 if (_d0 := -(n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1)) is not None else 2 @1',
    ],
    [
      '((nodes.fetch.a | default(1)) + 1) | default(2)',
      '_d0 if (_d0 := (n_fetch.get("a") if n_fetch is not None and n_fetch.get("a") is not None else 1) + 1) is not None else 2 @1',
    ],
    // An operand holding no default, nor computing at its top, is written twice, not bound.
    [
      '[input.nums[0] + 1][5] | default(0)',
      'item_at([item_at(inp.nums, 0) + 1], 5) if item_at(inp.nums, 0) is not None and item_at([item_at(inp.nums, 0) + 1], 5) is not None else 0 @1 | use input',
    ],
    [
      '[1 if input.ok else 2][5] | default(0)',
      'item_at([1 if inp.ok else 2], 5) if item_at([1 if inp.ok else 2], 5) is not None else 0 @1 | use input',
    ],
    ['[1, 2][5] | default(0)', 'item_at([1, 2], 5) if item_at([1, 2], 5) is not None else 0 @1'],
    [
      '[input.age | default(1), 2][5] | default(0)',
      '_d0 if (_d0 := item_at([inp.age if inp.age is not None else 1, 2], 5)) is not None else 0 @1 | use input',
    ],
    [
      '[(input.age | default(1)) + 1][5] | default(0)',
      '_d0 if (_d0 := item_at([(inp.age if inp.age is not None else 1) + 1], 5)) is not None else 0 @1 | use input',
    ],
    [
      '[1 + (input.age | default(1))][5] | default(0)',
      '_d0 if (_d0 := item_at([1 + (inp.age if inp.age is not None else 1)], 5)) is not None else 0 @1 | use input',
    ],
    [
      '[(input.age | default(1)) if input.ok else 2][5] | default(0)',
      '_d0 if (_d0 := item_at([(inp.age if inp.age is not None else 1) if inp.ok else 2], 5)) is not None else 0 @1 | use input',
    ],
    [
      '[1 if input.ok else (input.age | default(2))][5] | default(0)',
      '_d0 if (_d0 := item_at([1 if inp.ok else inp.age if inp.age is not None else 2], 5)) is not None else 0 @1 | use input',
    ],
    [
      "[1 if (input.note | default('')) == 'a' else 2][5] | default(0)",
      '_d0 if (_d0 := item_at([1 if (inp.note if inp.note is not None else "") == "a" else 2], 5)) is not None else 0 @1 | use input',
    ],
    ["[uuid()][5] | default('x')", 'item_at([str(uuid4())], 5) if item_at([str(uuid4())], 5) is not None else "x" @1'],
    // A secret read by index under a default is read with `.get`, then tested.
    ['secrets["K"] | default("x")', 'ctx.secrets.get("K") if ctx.secrets.get("K") is not None else "x" @1'],
    // A field named secrets under a node is a field, even under a default.
    [
      "nodes.fetch.secrets.K | default('x')",
      'n_fetch.get("secrets").get("K") if n_fetch is not None and n_fetch.get("secrets") is not None and n_fetch.get("secrets").get("K") is not None else "x" @1',
    ],
  ])('binds an operand holding a default anywhere or computing at its top, and no other: %s', (src, code) => {
    expect(emit(src)).toBe(code);
  });
});

describe('ExprEmitter defaults over computed values', () => {
  // Each part that may be null is tested before the operand is computed, wherever the operand
  // always computes it: an operator's sides, a list's items, an index's key, a filter's input.
  it.each([
    [
      "(input.tags[5] + 'x') | default('y')",
      'item_at(inp.tags, 5) + "x" if item_at(inp.tags, 5) is not None else "y" @1 | use input',
    ],
    [
      "(input.address.city + 'x') | default('y')",
      'inp.address.city + "x" if inp.address is not None else "y" @1 | use input',
    ],
    [
      "(input.address.city == 'x') | default(false)",
      'inp.address.city == "x" if inp.address is not None else False @1 | use input',
    ],
    ['[input.address.city] | default([])', '[inp.address.city] if inp.address is not None else [] @1 | use input'],
    [
      '(-input.nums[3]) | default(0)',
      '-item_at(inp.nums, 3) if item_at(inp.nums, 3) is not None else 0 @1 | use input',
    ],
    ["(nodes.maybe + 'x') | default('y')", 'n_maybe + "x" if n_maybe is not None else "y" @1'],
    [
      "input.tags[input.nums[9]] | default('y')",
      'item_at(inp.tags, item_at(inp.nums, 9)) if item_at(inp.nums, 9) is not None and item_at(inp.tags, item_at(inp.nums, 9)) is not None else "y" @1 | use input',
    ],
    [
      '(input.meta.x + 1) | default(0)',
      '_d0 if inp.meta.get("x") is not None and (_d0 := inp.meta.get("x") + 1) is not None else 0 @1 | use input',
    ],
    [
      '(input.meta.x | upper) | default("x")',
      'inp.meta.get("x").upper() if inp.meta.get("x") is not None else "x" @1 | use input',
    ],
  ])('tests the parts it computes: %s', (src, code) => {
    expect(emit(src)).toBe(code);
  });

  // A conditional's branch or the right of `and`/`or` is computed only sometimes: it tests its
  // own parts and gives None, and the default answers for the whole.
  it.each([
    [
      "(input.address.city if input.ok else 'z') | default('y')",
      '_d0 if (_d0 := (inp.address.city if inp.address is not None else None) if inp.ok else "z") is not None else "y" @1 | use input',
    ],
    [
      "(input.tags[0] if input.ok else 'z') | default('y')",
      '_d0 if (_d0 := item_at(inp.tags, 0) if inp.ok else "z") is not None else "y" @1 | use input',
    ],
    [
      "((input.address.city if input.ok else 'z') + 'x') | default('y')",
      '((inp.address.city if inp.address is not None else None) if inp.ok else "z") + "x" if ((inp.address.city if inp.address is not None else None) if inp.ok else "z") is not None else "y" @1 | use input',
    ],
    [
      "(input.ok and input.address.city == 'x') | default(false)",
      '_d0 if (_d0 := inp.ok and (inp.address.city == "x" if inp.address is not None else None)) is not None else False @1 | use input',
    ],
    [
      '(input.ok or input.meta.x) | default(false)',
      '_d0 if (_d0 := inp.ok or inp.meta.get("x")) is not None else False @1 | use input',
    ],
    ["('a' if input.ok else input.name) | default('y')", '"a" if inp.ok else inp.name @1 | use input'],
  ])('lets a part computed only sometimes give None: %s', (src, code) => {
    expect(emit(src)).toBe(code);
  });

  it.each([
    // A model that may be missing is dumped only if it is there, in a branch or right of `and`.
    [
      '(input.homes[5] if input.ok else input.home) | default(input.home)',
      '_d0 if (_d0 := (item_at(inp.homes, 5).model_dump(by_alias=True) if item_at(inp.homes, 5) is not None else None) if inp.ok else inp.home.model_dump(by_alias=True)) is not None else inp.home.model_dump(by_alias=True) @1 | use input',
    ],
    [
      '(input.ok and input.homes[5]) | default(input.home)',
      '_d0 if (_d0 := inp.ok and (item_at(inp.homes, 5).model_dump(by_alias=True) if item_at(inp.homes, 5) is not None else None)) is not None else inp.home.model_dump(by_alias=True) @1 | use input',
    ],
    [
      '(input.grid[0] if input.ok else input.homes) | default([])',
      '_d0 if (_d0 := ([_m0.model_dump(by_alias=True) for _m0 in item_at(inp.grid, 0)] if item_at(inp.grid, 0) is not None else None) if inp.ok else [_m0.model_dump(by_alias=True) for _m0 in inp.homes]) is not None else [] @1 | use input',
    ],
    // Unknown data read as an index key or a filter argument is tested like any operand.
    [
      "input.tags[input.meta.i] | default('y')",
      'item_at(inp.tags, inp.meta.get("i")) if inp.meta.get("i") is not None and item_at(inp.tags, inp.meta.get("i")) is not None else "y" @1 | use input',
    ],
    [
      "(input.tags | join(input.meta.sep)) | default('')",
      'inp.meta.get("sep").join(inp.tags) if inp.meta.get("sep") is not None else "" @1 | use input',
    ],
    // A fallback inside another default is computed only when needed: lazy, like a branch.
    [
      "(input.note | default(input.address.city)) | default('q')",
      '_d0 if (_d0 := inp.note if inp.note is not None else (inp.address.city if inp.address is not None else None)) is not None else "q" @1 | use input',
    ],
    [
      "(input.note | default(input.address.city if input.ok else 'z')) | default('q')",
      '_d0 if (_d0 := inp.note if inp.note is not None else (inp.address.city if inp.address is not None else None) if inp.ok else "z") is not None else "q" @1 | use input',
    ],
    // Unknown data a default inside may leave null is tested before an operator reads it.
    [
      '((input.meta.x | default(null)) + 1) | default(0)',
      '_d0 if (inp.meta.get("x") if inp.meta.get("x") is not None else None) is not None and (_d0 := (inp.meta.get("x") if inp.meta.get("x") is not None else None) + 1) is not None else 0 @1 | use input',
    ],
    // Python refuses `:=` in a comprehension's iterable: a list of models read so is mapped.
    [
      'input.grid[(input.meta.x if input.ok else 0) | default(0)]',
      'list(map(lambda _m0: _m0.model_dump(by_alias=True), inp.grid[_d0 if (_d0 := inp.meta.get("x") if inp.ok else 0) is not None else 0])) @16 | use input',
    ],
    // An index key typed as maybe null is tested like unknown data.
    [
      "input.tags[input.age] | default('y')",
      'item_at(inp.tags, inp.age) if inp.age is not None and item_at(inp.tags, inp.age) is not None else "y" @1 | use input',
    ],
    // A list without models that may be missing is not dumped (only models are).
    [
      '[input.tags][3] | default([])',
      'item_at([inp.tags], 3) if item_at([inp.tags], 3) is not None else [] @1 | use input',
    ],
    // A branch that is a conditional itself keeps its brackets inside its own test.
    [
      "(('a' if input.nums[2] > input.nums[3] else 'b') if input.ok else 'c') | default('y')",
      '_d0 if (_d0 := (("a" if item_at(inp.nums, 2) > item_at(inp.nums, 3) else "b") if item_at(inp.nums, 2) is not None and item_at(inp.nums, 3) is not None else None) if inp.ok else "c") is not None else "y" @1 | use input',
    ],
    // Only `and` and `or` make their right side lazy: `+` computes both sides, tested first.
    [
      "('x' + input.address.city) | default('y')",
      '"x" + inp.address.city if inp.address is not None else "y" @1 | use input',
    ],
    [
      "(input.ok or input.address.city == 'x') | default(false)",
      '_d0 if (_d0 := inp.ok or (inp.address.city == "x" if inp.address is not None else None)) is not None else False @1 | use input',
    ],
    // The left of `and` always runs: tested first. A default inside answers for its own parts.
    [
      "(input.address.city == 'x' and input.ok) | default(false)",
      '_d0 if inp.address is not None and (_d0 := inp.address.city == "x" and inp.ok) is not None else False @1 | use input',
    ],
    [
      "((input.address.city | default('a')) + 'x') | default('y')",
      '(inp.address.city if inp.address is not None else "a") + "x" @10 | use input',
    ],
    // A conditional's test always runs: tested first.
    [
      "('a' if input.address.city == 'x' else 'b') | default('z')",
      '("a" if inp.address.city == "x" else "b") if inp.address is not None else "z" @1 | use input',
    ],
  ])('answers for models, keys, arguments and fallbacks: %s', (src, code) => {
    expect(emit(src)).toBe(code);
  });
});

describe('ExprEmitter templates', () => {
  it.each([
    ['{{ input.name }}', 'inp.name @15 | use input'],
    ['{{ input.ok }}', 'inp.ok @15 | use input'],
    ['Hi {{ input.name }}!', 'f"Hi {inp.name}!" @16 | use input'],
    ['{{ input.score }} pts', 'f"{inp.score} pts" @16 | use input'],
    ['{{ input.age }} y', 'f"{inp.age} y" @16 | use input'],
    ['a {{ input.ok }}', 'f"a {to_json(inp.ok)}" @16 | use input'],
    ['a {{ input.tags }}', 'f"a {to_json(inp.tags)}" @16 | use input'],
    ['a {{ nodes.fetch }}', 'f"a {n_fetch}" @16'],
    ['say "{{ input.name }}"', `f'say "{inp.name}"' @16 | use input`],
    [`it's {{ input.name }}`, `f"it's {inp.name}" @16 | use input`],
    [`both " and ' {{ input.name }}`, `f"both \\" and ' {inp.name}" @16 | use input`],
    ['{{ "{{" }} x', '"{{ x" @16'],
    ['a{b}', '"a{b}" @16'],
    ['{{ "a" }}{{ "b" }}', '"ab" @16'],
    ['x {{ "a" }} {{ input.name }}', 'f"x a {inp.name}" @16 | use input'],
    ['{b} {{ input.name }}', 'f"{{b}} {inp.name}" @16 | use input'],
    ['x {{ input.home.city + "\\n" }}', '"".join(("x ", inp.home.city + "\\n")) @15 | use input'],
    ['x {{ input.meta["k:v"] }}', '"".join(("x ", str(inp.meta["k:v"]))) @15 | use input'],
    ['x {{ input.meta["a#"] }}', '"".join(("x ", str(inp.meta["a#"]))) @15 | use input'],
    ['x {{ input.meta["a!"] }}', '"".join(("x ", str(inp.meta["a!"]))) @15 | use input'],
    ['x {{ input.meta["a{"] }}', '"".join(("x ", str(inp.meta["a{"]))) @15 | use input'],
    ['x {{ input.meta["a}"] }}', '"".join(("x ", str(inp.meta["a}"]))) @15 | use input'],
    ['x {{ input.meta["a\\\\b"] }}', '"".join(("x ", str(inp.meta["a\\\\b"]))) @15 | use input'],
    ['x {{ input.meta["a\\rb"] }}', '"".join(("x ", str(inp.meta["a\\rb"]))) @15 | use input'],
    ['{{ input.meta["a\\"b"] }} x', `"".join((str(inp.meta['a"b']), " x")) @15 | use input`],
    [`{{ input.meta["a'b"] }} "x"`, `"".join((str(inp.meta["a'b"]), ' "x"')) @15 | use input`],
    [`{{ input.meta["a'b"] }} x`, `"".join((str(inp.meta["a'b"]), " x")) @15 | use input`],
  ])('%s', (src, code) => {
    expect(template(src)).toBe(code);
  });

  it('percent-encodes every interpolation of a URL path but the first at its start', () => {
    expect(template('{{ env.BASE }}/users/{{ input.name }}/{{ input.score }}', { urlPath: true })).toBe(
      `f"{ctx.env['BASE']}/users/{url_segment(inp.name)}/{url_segment(inp.score)}" @16 | require env.BASE | use input`,
    );
    expect(template('/u/{{ input.name }}', { urlPath: true })).toBe('f"/u/{url_segment(inp.name)}" @16 | use input');
    expect(template('{{ input.name }}', { urlPath: true })).toBe('inp.name @15 | use input');
    expect(template('/u/{{ input.meta["a:"] }}', { urlPath: true })).toBe(
      '"".join(("/u/", url_segment(inp.meta["a:"]))) @15 | use input',
    );
  });

  it('guards a value outside the nodes with the nodes it needs that may be skipped', () => {
    const skipped = ['maybe', 'fetch'];
    expect(template('{{ nodes.maybe }}', { skipped })).toBe('n_maybe @16');
    expect(template('{{ nodes.maybe | upper }}', { skipped })).toBe(
      'n_maybe.upper() if n_maybe is not None else None @1',
    );
    expect(template('x {{ nodes.maybe }} {{ nodes.fetch.a }} {{ nodes.maybe }}', { skipped })).toBe(
      `f"x {n_maybe} {n_fetch['a']} {n_maybe}" if n_maybe is not None and n_fetch is not None else None @1`,
    );
    expect(template('{{ nodes.maybe | default("x") }}', { skipped })).toBe(
      'n_maybe if n_maybe is not None else "x" @1',
    );
    expect(template('{{ nodes.maybe + nodes.maybe }}', { skipped })).toBe(
      'n_maybe + n_maybe if n_maybe is not None else None @1',
    );
    expect(template('{{ nodes.calc.total }}', { skipped })).toBe('n_calc["total"] @15');
    expect(template('{{ nodes["maybe"] }}', { skipped })).toBe('n_maybe if n_maybe is not None else None @1');
    expect(template('{{ input.home.city }}', { skipped })).toBe('inp.home.city @15 | use input');
    expect(template('{{ 1 if nodes.maybe == "a" else 2 }}', { skipped })).toBe(
      '(1 if n_maybe == "a" else 2) if n_maybe is not None else None @1',
    );
    expect(template('{{ nodes.maybe }}', { skipped: [] })).toBe('n_maybe @16');
    // Fields named like the roots are fields.
    expect(template('{{ nodes.fetch.env.x }}{{ nodes.fetch.global.y }}{{ nodes.fetch.execution.id }}')).toBe(
      "f\"{n_fetch['env']['x']}{n_fetch['global']['y']}{n_fetch['execution']['id']}\" @16",
    );
    // Only a value that is the skipped node's output itself goes unguarded, not a field named `nodes`.
    expect(template('{{ nodes.fetch.nodes.x }}', { skipped })).toBe(
      'n_fetch["nodes"]["x"] if n_fetch is not None else None @1',
    );
  });

  it('keeps a number written in text as code, and quotes code inside an f-string with the other quotes', () => {
    expect(template('a{{ 1 }}b')).toBe('f"a{1}b" @16');
    expect(template('he said "{{ input.note | default(\'x\') }}"')).toBe(
      `f'he said "{inp.note if inp.note is not None else "x"}"' @16 | use input`,
    );
  });
});

describe('valueCode', () => {
  // Nothing here is malformed: a reporter that is called fails the test.
  const reporter = {
    error: () => {
      throw new Error('unexpected syntax error');
    },
  } as unknown as Reporter;
  /** The value's Python at `indent`, after `used` characters; checked first, as the emitter reads the checker's notes. */
  const code = (value: unknown, indent = 0, used = 0): string => {
    const v = parseValue(value, [], reporter);
    const checker = new Checker(SCOPE);
    const { env } = environment(checker);
    const walk = (x: unknown): void => {
      if (x && typeof x === 'object' && 'kind' in x && (x as { kind: string }).kind === 'template')
        for (const e of expressionsOf((x as unknown as { template: Parameters<typeof expressionsOf>[0] }).template))
          checker.check(e);
      else if (x && typeof x === 'object') Object.values(x).forEach(walk);
    };
    walk(v);
    return valueCode(v, new ExprEmitter(env), indent, used);
  };

  it('writes a value template with its mappings and lists', () => {
    expect(code({ a: [1, '{{ input.name }}', 'x'], b: {}, c: [], 'd"': null })).toBe(
      `{"a": [1, inp.name, "x"], "b": {}, "c": [], 'd"': None}`,
    );
  });

  it('breaks a value too long for one line: one entry a line, a long conditional on three', () => {
    const half = 'x'.repeat(30);
    // The entries would fit on one line of their own; a mapping still takes one line each.
    expect(code({ a: half, b: half }, 4, 20)).toBe(`{
        "a": "${half}",
        "b": "${half}",
    }`);
    // An empty list or mapping keeps its brackets on its line when its mapping breaks.
    expect(code({ a: half, b: [], c: {}, d: half }, 4, 20)).toBe(`{
        "a": "${half}",
        "b": [],
        "c": {},
        "d": "${half}",
    }`);
    const long = 'x'.repeat(60);
    expect(code({ greeting: `{{ input.name if input.ok else "${long}" }}`, tags: ['{{ input.name }}', long] }, 4, 4))
      .toBe(`{
        "greeting": inp.name
        if inp.ok
        else "${long}",
        "tags": [
            inp.name,
            "${long}",
        ],
    }`);
  });
});
