/**
 * The type checker on its own: the type each expression gets in a known scope, and each problem's
 * code, offset, message and suggestion. Golden `err_*` folders show some of these messages in
 * context; these pin each branch of the checker, including the types nothing prints.
 */
import type { Expr } from './ast';
import { Checker, describe as describeExpr } from './check';
import { parseExpression } from './parser';
import type { Scope } from './scope';
import {
  ANY,
  BOOLEAN,
  INTEGER,
  NUMBER,
  STRING,
  plain,
  typeName,
  type Field,
  type ObjectType,
  type Type,
} from './types';

const f = (type: Type, attr?: string): Field => ({ type, attr });
const ADDRESS: ObjectType = { kind: 'object', model: 'Address', fields: new Map([['city', f(STRING, 'city')]]) };
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
    ['note', f({ ...STRING, nullable: true }, 'note')],
    ['home', f(ADDRESS, 'home')],
    ['address', f({ ...ADDRESS, nullable: true }, 'address')],
    ['meta', f({ kind: 'object', fields: null }, 'meta')],
    ['extra', f({ kind: 'object', model: 'Extra', extra: true, fields: new Map([['a', f(STRING, 'a')]]) }, 'extra')],
    ['empty', f({ kind: 'object', fields: new Map() }, 'empty')],
    ['items', f({ kind: 'array', items: ADDRESS, nullable: true }, 'items')],
    ['homes', f({ kind: 'array', items: ADDRESS }, 'homes')],
  ]),
};
const CALC: Type = {
  kind: 'object',
  fields: new Map([
    ['total', f(INTEGER)],
    ['rows', f({ kind: 'array', items: ANY })],
  ]),
};
const SCOPE: Scope = {
  input: INPUT,
  nodeOutputs: new Map<string, Type>([
    ['fetch', ANY],
    ['calc', CALC],
    ['maybe', STRING],
  ]),
  nodeIds: ['fetch', 'calc', 'maybe', 'later', 'inner'],
  skippable: new Set(['maybe']),
  hidden: (id) => (id === 'inner' ? 'node "inner" from outside its map' : undefined),
};
const IN_MAP: Scope = { ...SCOPE, item: { kind: 'array', items: STRING } };

function run(src: string, scope: Scope = SCOPE) {
  const e = parseExpression(src, 0, src.length);
  const checker = new Checker(scope);
  const t = checker.check(e);
  return { e, t, checker };
}
/** The type's name, or the problems as `code@offset: message [suggestion] (warning)`. */
function check(src: string, scope: Scope = SCOPE): string | string[] {
  const { t, checker } = run(src, scope);
  if (checker.problems.length === 0) return typeName(t);
  return checker.problems.map(
    (p) =>
      `${p.code}@${p.offset}: ${p.message}${p.suggestion ? ` [${p.suggestion}]` : ''}${p.severity ? ` (${p.severity})` : ''}`,
  );
}
const ROOT_LIST = 'input, nodes, env, secrets, global, execution, item, index';

describe('Checker types', () => {
  it.each([
    ['1', 'integer'],
    ['1.5', 'number'],
    ['"a"', 'string'],
    ['true', 'boolean'],
    ['null', 'null'],
    ['[]', 'list'],
    ['[1, 2]', 'list of integer'],
    ['[1, 2.5]', 'list of number'],
    ['[1, null]', 'list of integer'],
    ['[1, null][0]', 'integer or null'],
    ['[input.home]', 'list of object'],
    ['input', 'object'],
    ['input.name', 'string'],
    ['input.age', 'integer or null'],
    ['input["name"]', 'string'],
    ['input.tags', 'list of string'],
    ['input.tags[0]', 'string'],
    ['input.tags[nodes.fetch]', 'string'],
    ['input.name[0]', 'string'],
    ['input.meta.x', 'any'],
    ['input.meta["x"]', 'any'],
    ['input.meta[input.name]', 'any'],
    ['input.meta[nodes.fetch]', 'any'],
    ['input.extra.a', 'string'],
    ['input.extra.other', 'any'],
    ['input.home.city', 'string'],
    ['nodes.fetch', 'any'],
    ['nodes.fetch.a.b', 'any'],
    // A field named like a root is a field: only the root itself reads a variable.
    ['nodes.fetch.secrets.K', 'any'],
    ['input.meta.env.K', 'any'],
    ['nodes.fetch.nodes.calc', 'any'],
    // An argument of unknown type is taken, as an operand of unknown type is.
    ['input.tags | join(nodes.fetch.sep)', 'string'],
    // `and` and `or` give one of their operands: a boolean that may be null makes the result so.
    ['input.ok and input.ok', 'boolean'],
    // Only "/" and "%" fail on a zero divisor.
    ['input.score * 0', 'number'],
    ['input.score - 0', 'number'],
    ['input.score / 2', 'number'],
    ['input.score % input.score', 'number'],
    ['input.ok and [true, null][0]', 'boolean or null'],
    ['[true, null][0] or input.ok', 'boolean or null'],
    ['input.score | round(nodes.fetch.digits)', 'number'],
    ['input.meta.nodes.calc.total', 'any'],
    // Under a default a variable may be missing: its default decides the type.
    ['secrets.KEY | default(1)', 'any'],
    ['env.KEY | default(null)', 'string or null'],
    ['nodes.fetch[0]', 'any'],
    ['nodes.calc.total', 'integer'],
    ['nodes["calc"].total', 'integer'],
    ['nodes.later', 'any'],
    ['execution.id', 'string'],
    ['execution.workflow_id', 'string'],
    ['execution.started_at', 'string'],
    ['secrets.KEY', 'string'],
    ['env.KEY', 'string'],
    ['global.KEY', 'any'],
    ['secrets.KEY | default("x")', 'string'],
    ['global.KEY | default(1)', 'any'],
    ['uuid()', 'string'],
    ['now()', 'string'],
    ['not 1', 'boolean'],
    ['-1', 'integer'],
    ['-1.5', 'number'],
    ['+nodes.fetch', 'any'],
    ['1 + 2', 'integer'],
    ['1 + 2.5', 'number'],
    ['2.5 + 1', 'number'],
    ['"a" + "b"', 'string'],
    ['input.tags + input.tags', 'list of string'],
    ['input.tags + input.nums', 'list'],
    ['nodes.fetch + 1', 'any'],
    ['1 + nodes.fetch', 'any'],
    ['5 - 2', 'integer'],
    ['5 * 2', 'integer'],
    ['5 % 2', 'integer'],
    ['5 / 2', 'number'],
    ['5.0 * 2', 'number'],
    ['5 * 2.0', 'number'],
    ['5 - nodes.fetch', 'any'],
    ['true and false', 'boolean'],
    ['true or false', 'boolean'],
    ['1 or 2', 'integer'],
    ['true and 1', 'any'],
    ['input.name or "x"', 'string'],
    ['1 == 1.5', 'boolean'],
    ['"a" != "b"', 'boolean'],
    ['input.age == null', 'boolean'],
    ['null == 1', 'boolean'],
    ['nodes.fetch == 1', 'boolean'],
    ['1 < 2.5', 'boolean'],
    ['"a" >= "b"', 'boolean'],
    ['nodes.fetch < 1', 'boolean'],
    ['1 if true else 2', 'integer'],
    ['1 if true else 2.5', 'number'],
    ['1 if true else null', 'integer or null'],
    ['null if true else 1', 'integer or null'],
    ['[null, 1][0]', 'integer or null'],
    ['input.home if true else input.home', 'object'],
    ['(input.home if true else input.home).city', 'string'],
    ['(input.home if true else input.meta).zz', 'any'],
    ['input.address if true else input.meta', 'object or null'],
    ['1 if true else input.meta', 'any'],
    ['input.meta if true else 1', 'any'],
    // A type without models is kept as it is, so its fields stay known through nested conditionals.
    ['((nodes.calc if true else nodes.calc) if true else nodes.calc).total', 'integer'],
    ['(input.extra if true else input.extra).a', 'any'],
    ['1 if true else "a"', 'any'],
    ['input.tags if true else input.nums', 'list'],
    ['input.tags if true else 1', 'any'],
    ['input.age if true else 1', 'integer or null'],
    ['1.5 if true else input.age', 'number or null'],
    ['null if true else null', 'null'],
    ['input.items if true else input.items', 'list of object or null'],
    ['[input.tags]', 'list of list of string'],
    ['[input.home][0].city', 'string'],
    ['input.tags if true else input.tags', 'list of string'],
    ['input.age | default(0)', 'integer'],
    ['null | default(0)', 'integer'],
    ['input.note | default("x")', 'string'],
    ['input.address.city | default("x")', 'string'],
    ['input.items[0].city | default("x")', 'string'],
    // A default between two of the same model keeps its fields (an open mapping before).
    ['(input.address | default(input.home)).city', 'string'],
    ['(input.address | default(input.home))', 'object'],
    // Two different records joined are an open mapping: any field, unchecked.
    ['(nodes.calc if input.ok else input.empty).zzz', 'any'],
    // Each numeric filter takes integers and numbers alike.
    ['nodes.calc.total | round', 'integer'],
    ['input.score | round', 'integer'],
    ['nodes.calc.total | int', 'integer'],
    ['input.score | int', 'integer'],
    ['input.name | int', 'integer'],
    ['input.ok | int', 'integer'],
    ['nodes.calc.total | float', 'number'],
    ['input.score | float', 'number'],
    ['input.name | float', 'number'],
    ['nodes.maybe | default("x")', 'string'],
    ['input.tags | length', 'integer'],
    ['input.tags | first', 'string or null'],
    ['input.tags | last', 'string or null'],
    ['input.name | first', 'string or null'],
    ['input.name | last', 'string or null'],
    ['input.nums | first', 'integer or null'],
    ['input.nums | last', 'integer or null'],
    ['input.tags | json', 'string'],
    ['input.name | upper', 'string'],
    ['input.name | lower', 'string'],
    ['input.name | trim', 'string'],
    ['input.tags | join', 'string'],
    ['input.tags | join(", ")', 'string'],
    ['input.home | keys', 'list of string'],
    ['input.home | values', 'list of string'],
    ['input.meta | values', 'list'],
    ['input.score | round', 'integer'],
    ['input.score | round(2)', 'number'],
    ['input.name | int', 'integer'],
    ['input.ok | int', 'integer'],
    ['input.name | float', 'number'],
    ['input.tags | string', 'string'],
    ['input.age | string', 'string'],
    ['input.age | json', 'string'],
    ['nodes.fetch | upper', 'string'],
  ])('%s is %s', (src, type) => {
    expect(check(src)).toBe(type);
  });

  it('gives item and index inside a map', () => {
    expect(check('item', IN_MAP)).toBe('list of string');
    expect(check('index', IN_MAP)).toBe('integer');
    expect(check('item[index]', IN_MAP)).toBe('string');
  });

  it('records the type of every sub-expression, and of the roots of variables and nodes as any', () => {
    const { e, checker } = run('input.name + secrets.A');
    const bin = e as Expr & { kind: 'binary' };
    expect(checker.out.types.get(bin)).toEqual(STRING);
    expect(checker.out.types.get(bin.left)).toEqual(STRING);
    const right = bin.right as Expr & { kind: 'member' };
    expect(checker.out.types.get(right.object)).toEqual(ANY);
    const n = run('nodes.calc').e as Expr & { kind: 'member' };
    const { checker: c2 } = { checker: new Checker(SCOPE) };
    c2.check(n);
    expect(c2.out.types.get(n.object)).toEqual(ANY);
    const k = run('input["name"]');
    expect(k.checker.out.types.get((k.e as Expr & { kind: 'index' }).index)).toEqual(STRING);
  });
});

describe('plain', () => {
  it('turns the models held in the fields of a plain object into plain data too', () => {
    const held: Type = {
      kind: 'object',
      fields: new Map([
        ['n', f(INTEGER)],
        ['home', f(ADDRESS, 'home')],
      ]),
    };
    expect(plain(held)).toEqual({
      kind: 'object',
      fields: new Map([
        ['n', { type: INTEGER }],
        ['home', { type: { kind: 'object', fields: new Map([['city', { type: STRING }]]) } }],
      ]),
    });
  });
});

describe('Checker problems', () => {
  it.each([
    ['nodes', ["bad_access@0: write nodes.<id> to use a node's output"]],
    ['secrets', ['bad_access@0: write secrets.NAME to read one secret']],
    ['env', ['bad_access@0: write env.NAME to read one environment variable']],
    ['global', ['bad_access@0: write global.NAME to read one global value']],
    [
      'inptu',
      [`unknown_root@0: unknown name "inptu" (did you mean "input"?); expressions start from ${ROOT_LIST} [input]`],
    ],
    ['zzzzzz', [`unknown_root@0: unknown name "zzzzzz"; expressions start from ${ROOT_LIST}`]],
    [
      'item',
      [`unknown_root@0: "item" exists only inside a map node's nodes; outside, read the map's values (nodes.<map id>)`],
    ],
    [
      'index',
      [
        `unknown_root@0: "index" exists only inside a map node's nodes; outside, read the map's values (nodes.<map id>)`,
      ],
    ],
    ['nodes.inner', ['out_of_scope@6: cannot read node "inner" from outside its map']],
    ['nodes.clac', ['unknown_node@6: unknown node "clac" (did you mean "calc"?) [calc]']],
    ['nodes.qqqqqq', ['unknown_node@6: unknown node "qqqqqq"']],
    ['nodes["clac"]', ['unknown_node@6: unknown node "clac" (did you mean "calc"?) [calc]']],
    ['input._x', ['bad_access@6: "_x": names starting with "_" cannot be used in expressions']],
    ['input.nmae', ['unknown_input_field@6: input has no field "nmae" (did you mean "name"?) [name]']],
    ['input.home.zzzzz', ['unknown_input_field@11: input.home has no field "zzzzz"; it has "city"']],
    ['input.empty.a', ['unknown_input_field@12: input.empty has no field "a"; it has no fields']],
    // The code names the input through an index and a filter too (a model's fields survive a default).
    [
      '(input.address | default(input.home)).zzz',
      ['unknown_input_field@38: input.address | default has no field "zzz"; it has "city"'],
    ],
    ['input.homes[0].zzz', ['unknown_input_field@15: input.homes[0] has no field "zzz"; it has "city"']],
    // Python cannot index by None.
    [
      'input.tags[input.age]',
      ['bad_access@11: input.age may be null here, so it cannot be an index; add "| default(...)" to it'],
    ],
    [
      'input.meta[input.note]',
      ['bad_access@11: input.note may be null here, so it cannot be an index; add "| default(...)" to it'],
    ],
    // A default without its fallback inside another is refused, not a crash.
    ['(input.note | default()) | default("x")', ['filter_arguments@14: filter "default" takes 1 argument, not 0']],
    [
      '(input.address | default(input.address)).city',
      [
        'bad_access@41: input.address | default may be null here (it is optional); add "| default(...)" to the expression, or make it required',
      ],
    ],
    ['nodes.calc.totl', ['unknown_output_field@11: nodes.calc has no field "totl" (did you mean "total"?) [total]']],
    [
      'execution.nope',
      ['unknown_output_field@10: execution has no field "nope"; it has "id", "workflow_id", "started_at"'],
    ],
    [
      'input.address.city',
      [
        'bad_access@14: input.address may be null here (it is optional); add "| default(...)" to the expression, or make it required',
      ],
    ],
    ['input.name.x', ['bad_access@11: input.name is string, which has no field "x"']],
    [
      'input.tags.x',
      ['bad_access@11: input.tags is list of string, which has no field "x"; use [index], | first or | last'],
    ],
    ['null.x', ['bad_access@5: null is null, which has no field "x"']],
    ['input.items[0]', ['bad_access@0: input.items may be null here (it is optional); add "| default(...)"']],
    [
      'input.tags["a"]',
      ['bad_access@11: input.tags is list of string, which has no field "a"; use [index], | first or | last'],
    ],
    ['input.tags[1.5]', ['bad_access@11: input.tags is list of string and cannot be indexed by number']],
    ['input.tags[input.name]', ['bad_access@11: input.tags is list of string and cannot be indexed by string']],
    ['input.home[1]', ['bad_access@11: input.home is object and cannot be indexed by integer; use a literal key']],
    ['input.meta[1]', ['bad_access@11: input.meta is object and cannot be indexed by integer; use a literal key']],
    [
      'input.home[input.name]',
      ['bad_access@11: input.home is object and cannot be indexed by string; use a literal key'],
    ],
    ['input.ok[0]', ['bad_access@9: input.ok is boolean and cannot be indexed by integer']],
    ['foo()', ['unknown_function@0: unknown function "foo"; functions are uuid(), now()']],
    [
      'uid()',
      ['unknown_function@0: unknown function "uid" (did you mean "uuid"?); functions are uuid(), now() [uuid]'],
    ],
    ['now(1)', ['filter_arguments@4: now() takes no arguments']],
    [
      'foo(inptu)',
      [
        `unknown_root@4: unknown name "inptu" (did you mean "input"?); expressions start from ${ROOT_LIST} [input]`,
        'unknown_function@0: unknown function "foo"; functions are uuid(), now()',
      ],
    ],
    ['-"a"', ['operator_type@0: "-" needs a number, not string']],
    ['+input.name', ['operator_type@0: "+" needs a number, not string']],
    ['-input.age', ['operator_type@0: input.age may be null, which "-" cannot negate; add "| default(0)" to it']],
    ['-null', ['operator_type@0: "-" needs a number, not null']],
    [
      '1 == "a"',
      ['comparison_type@0: comparing integer with string is never true; convert one side (| string, | int)'],
    ],
    [
      'input.name != 1',
      ['comparison_type@0: comparing string with integer is always true; convert one side (| string, | int)'],
    ],
    [
      'input.tags == input.home',
      ['comparison_type@0: comparing list of string with object is never true; convert one side (| string, | int)'],
    ],
    ['1 < "a"', ['comparison_type@0: cannot order integer and string with "<"; compare two numbers or two strings']],
    ['"a" < 1', ['comparison_type@0: cannot order string and integer with "<"; compare two numbers or two strings']],
    ['input.tags + 1', ['operator_type@0: cannot add list of string and integer']],
    ['1 + input.tags', ['operator_type@0: cannot add integer and list of string']],
    [
      'true >= false',
      ['comparison_type@0: cannot order boolean and boolean with ">="; compare two numbers or two strings'],
    ],
    [
      'input.age > 1',
      [
        'comparison_type@0: input.age may be null, which ">" cannot order; add "| default(...)" to it, e.g. (input.age | default(0)) > ...',
      ],
    ],
    [
      '1 <= input.age',
      [
        'comparison_type@5: input.age may be null, which "<=" cannot order; add "| default(...)" to it, e.g. (input.age | default(0)) <= ...',
      ],
    ],
    [
      '1 + "a"',
      [
        'operator_type@0: cannot add integer and string; convert with | string, or write both in text: "{{ a }}{{ b }}"',
      ],
    ],
    [
      '"a" + 1',
      [
        'operator_type@0: cannot add string and integer; convert with | string, or write both in text: "{{ a }}{{ b }}"',
      ],
    ],
    [
      'input.note + "a"',
      [
        'operator_type@0: cannot add string or null and string; convert with | string, or write both in text: "{{ a }}{{ b }}"',
      ],
    ],
    [
      '"a" + input.note',
      [
        'operator_type@0: cannot add string and string or null; convert with | string, or write both in text: "{{ a }}{{ b }}"',
      ],
    ],
    ['true + 1', ['operator_type@0: cannot add boolean and integer']],
    [
      'input.age + 1',
      ['operator_type@0: cannot add integer or null and integer; add "| default(...)" to the side that may be null'],
    ],
    [
      '1.5 + input.age',
      ['operator_type@0: cannot add number and integer or null; add "| default(...)" to the side that may be null'],
    ],
    [
      'input.items + input.items',
      [
        'operator_type@0: cannot add list of object or null and list of object or null; add "| default(...)" to the side that may be null',
      ],
    ],
    ['1 / 0', ['operator_type@4: "/" by zero always fails; use a divisor other than 0']],
    ['nodes.fetch % 0', ['operator_type@14: "%" by zero always fails; use a divisor other than 0']],
    ['"a" * 2', ['operator_type@0: "*" needs two numbers, not string and integer']],
    ['input.age - 1', ['operator_type@0: "-" needs two numbers, not integer or null and integer']],
    ['1 - input.age', ['operator_type@0: "-" needs two numbers, not integer and integer or null']],
    [
      'input.tags | lenght',
      [
        'unknown_filter@13: unknown filter "lenght" (did you mean "length"?); filters are length, first, last, default, json, upper, lower, trim, join, keys, values, round, int, float, string [length]',
      ],
    ],
    [
      'input.tags | qqqqqqq',
      [
        'unknown_filter@13: unknown filter "qqqqqqq"; filters are length, first, last, default, json, upper, lower, trim, join, keys, values, round, int, float, string',
      ],
    ],
    ['input.tags | length(1)', ['filter_arguments@13: filter "length" takes 0 arguments, not 1']],
    ['input.tags | first(1)', ['filter_arguments@13: filter "first" takes 0 arguments, not 1']],
    ['input.tags | last(1)', ['filter_arguments@13: filter "last" takes 0 arguments, not 1']],
    ['input.tags | json(1)', ['filter_arguments@13: filter "json" takes 0 arguments, not 1']],
    ['input.name | upper(1)', ['filter_arguments@13: filter "upper" takes 0 arguments, not 1']],
    ['input.name | lower(1)', ['filter_arguments@13: filter "lower" takes 0 arguments, not 1']],
    ['input.name | trim(1)', ['filter_arguments@13: filter "trim" takes 0 arguments, not 1']],
    ['input.home | keys(1)', ['filter_arguments@13: filter "keys" takes 0 arguments, not 1']],
    ['input.home | values(1)', ['filter_arguments@13: filter "values" takes 0 arguments, not 1']],
    ['input.ok | first', ['filter_type@11: filter "first" needs array or string, but input.ok is boolean']],
    ['input.ok | last', ['filter_type@11: filter "last" needs array or string, but input.ok is boolean']],
    ['input.ok | upper', ['filter_type@11: filter "upper" needs string, but input.ok is boolean']],
    ['input.ok | lower', ['filter_type@11: filter "lower" needs string, but input.ok is boolean']],
    ['input.ok | trim', ['filter_type@11: filter "trim" needs string, but input.ok is boolean']],
    ['input.ok | join', ['filter_type@11: filter "join" needs array, but input.ok is boolean']],
    ['input.ok | keys', ['filter_type@11: filter "keys" needs object, but input.ok is boolean']],
    ['input.ok | values', ['filter_type@11: filter "values" needs object, but input.ok is boolean']],
    ['input.score | round(1, 2)', ['filter_arguments@14: filter "round" takes 0 or 1 argument, not 2']],
    ['input.score | int(1)', ['filter_arguments@14: filter "int" takes 0 arguments, not 1']],
    ['input.score | float(1)', ['filter_arguments@14: filter "float" takes 0 arguments, not 1']],
    ['input.name | string(1)', ['filter_arguments@13: filter "string" takes 0 arguments, not 1']],
    ['input.name | round', ['filter_type@13: filter "round" needs integer or number, but input.name is string']],
    [
      'input.home | int',
      ['filter_type@13: filter "int" needs integer or number or string or boolean, but input.home is object'],
    ],
    [
      'input.home | float',
      ['filter_type@13: filter "float" needs integer or number or string, but input.home is object'],
    ],
    ['input.age | default', ['filter_arguments@12: filter "default" takes 1 argument, not 0']],
    ['input.tags | join(1, 2)', ['filter_arguments@13: filter "join" takes 0 or 1 argument, not 2']],
    ['input.tags | join(1)', ['filter_arguments@18: the argument of filter "join" must be a string, not integer']],
    [
      'input.tags | join(input.note)',
      ['filter_arguments@18: the argument of filter "join" must be a string, not string or null'],
    ],
    [
      'input.score | round("a")',
      ['filter_arguments@20: the argument of filter "round" must be an integer, not string'],
    ],
    [
      'input.name | length | upper',
      ['filter_type@22: filter "upper" needs string, but input.name | length is integer'],
    ],
    ['input.ok | length', ['filter_type@11: filter "length" needs string or array or object, but input.ok is boolean']],
    ['input.note | upper', ['filter_type@13: input.note may be null; add "| default(...)" before "| upper"']],
    [
      'input.name | default("x")',
      ['useless_default@13: input.name is never null, so this default is never used (warning)'],
    ],
    ['1 | default(2)', ['useless_default@4: 1 is never null, so this default is never used (warning)']],
  ])('%s', (src, problems) => {
    expect(check(src)).toEqual(problems);
  });

  it('checks the arguments of an unknown filter', () => {
    expect(check('input.name | nope(inptu)')).toEqual([
      `unknown_root@18: unknown name "inptu" (did you mean "input"?); expressions start from ${ROOT_LIST} [input]`,
      'unknown_filter@13: unknown filter "nope"; filters are length, first, last, default, json, upper, lower, trim, join, keys, values, round, int, float, string',
    ]);
  });

  it('finds no problem in a default over a value it guards', () => {
    expect(check('nodes.fetch.a | default(1)')).toBe('any');
    expect(check('input.meta.a | default(1)')).toBe('any');
    expect(check('input.extra.zz | default(1)')).toBe('any');
    expect(check('input.tags[0] | default("x")')).toBe('string');
    expect(check('input.meta["k"] | default(1)')).toBe('any');
    expect(check('input.meta[input.name] | default(1)')).toBe('any');
    expect(check('env.X | default("x")')).toBe('string');
  });

  it('finds a useless default when nothing below it may be null', () => {
    expect(check('nodes.calc.total | default(1)')).toEqual([
      'useless_default@19: nodes.calc.total is never null, so this default is never used (warning)',
    ]);
    expect(check('input.extra.a | default("x")')).toEqual([
      'useless_default@16: input.extra.a is never null, so this default is never used (warning)',
    ]);
    // Counted from the guards before it: a default earlier in the expression does not hide it.
    expect(check('[input.meta.k | default(1), input.name | default("x")]')).toEqual([
      'useless_default@41: input.name is never null, so this default is never used (warning)',
    ]);
  });
});

describe('Checker guards', () => {
  /** The source text of each expression in a set, by its span. */
  const texts = (src: string, set: Set<Expr>): string[] =>
    [...set].map((e) => src.slice(e.span.start, e.span.end)).sort();
  const guards = (src: string, scope: Scope = SCOPE) => {
    const { checker } = run(src, scope);
    return { nullable: texts(src, checker.out.nullable), lenient: texts(src, checker.out.lenient) };
  };

  it('marks the null parts a default must guard, and the lookups that may miss', () => {
    expect(guards('input.address.city | default("x")')).toEqual({ nullable: ['input.address'], lenient: [] });
    expect(guards('nodes.maybe | default("x")')).toEqual({ nullable: ['nodes.maybe'], lenient: [] });
    expect(guards('nodes.fetch.a.b | default(1)')).toEqual({
      nullable: ['nodes.fetch', 'nodes.fetch.a'],
      lenient: ['nodes.fetch.a', 'nodes.fetch.a.b'],
    });
    expect(guards('input.meta.k | default(1)')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    expect(guards('input.extra.zz | default(1)')).toEqual({ nullable: [], lenient: ['input.extra.zz'] });
    expect(guards('secrets.K | default("x")')).toEqual({ nullable: [], lenient: ['secrets.K'] });
    // A variable that may be missing is null to a filter or an operator before the default.
    expect(check('secrets.K | upper | default("x")')).toEqual([
      'filter_type@12: secrets.K may be null; add "| default(...)" before "| upper"',
    ]);
    expect(check('(env.K + "x") | default("x")')).toEqual([
      'operator_type@1: cannot add string or null and string; convert with | string, or write both in text: "{{ a }}{{ b }}"',
    ]);
    expect(guards('input.tags[0] | default("x")')).toEqual({ nullable: ['input.tags[0]'], lenient: ['input.tags[0]'] });
    expect(guards('input.items[0] | default(input.home)')).toEqual({
      nullable: ['input.items', 'input.items[0]'],
      lenient: ['input.items[0]'],
    });
    // Unknown data's item: the object is tested for None, the item read with item_at.
    expect(guards('nodes.fetch.a[1] | default(1)')).toEqual({
      nullable: ['nodes.fetch', 'nodes.fetch.a'],
      lenient: ['nodes.fetch.a', 'nodes.fetch.a[1]'],
    });
    expect(guards('input.meta[input.name] | default(1)')).toEqual({
      nullable: [],
      lenient: ['input.meta[input.name]'],
    });
  });

  it('marks a lenient read where None fails, and a computation a lazy part may leave None', () => {
    // An operator, a unary minus, a filter: None would fail there, so the default tests it first.
    expect(guards('(input.meta.k + 1) | default(0)')).toEqual({
      nullable: ['input.meta.k'],
      lenient: ['input.meta.k'],
    });
    expect(guards('(-input.meta.k) | default(0)')).toEqual({ nullable: ['input.meta.k'], lenient: ['input.meta.k'] });
    expect(guards('(input.meta.k | upper) | default("x")')).toEqual({
      nullable: ['input.meta.k'],
      lenient: ['input.meta.k'],
    });
    // Comparing for equality, `json` and `string` take None as it is.
    expect(guards('(input.meta.k == 1) | default(false)')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    expect(guards('(input.meta.k != 1) | default(false)')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    expect(guards('(input.meta.k | json) | default("x")')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    expect(guards('(input.meta.k | string) | default("x")')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    // A branch or the right of `and`/`or` that may give None makes the whole maybe None.
    expect(guards("(input.address.city if input.ok else 'z') | default('y')")).toEqual({
      nullable: ['input.address', "input.address.city if input.ok else 'z'"],
      lenient: [],
    });
    expect(guards("('z' if input.ok else input.meta.k) | default('y')")).toEqual({
      nullable: ["'z' if input.ok else input.meta.k"],
      lenient: ['input.meta.k'],
    });
    expect(guards('(input.ok and input.meta.k) | default(1)')).toEqual({
      nullable: ['input.ok and input.meta.k'],
      lenient: ['input.meta.k'],
    });
    expect(guards('(input.meta.k or input.ok) | default(1)')).toEqual({
      nullable: ['input.meta.k or input.ok'],
      lenient: ['input.meta.k'],
    });
    expect(guards("(input.name if input.ok else 'z') | default('y')")).toEqual({ nullable: [], lenient: [] });
    expect(guards('(input.ok and input.ok) | default(false)')).toEqual({ nullable: [], lenient: [] });
  });

  it('marks nothing outside a default', () => {
    expect(guards('nodes.fetch.a.b')).toEqual({ nullable: [], lenient: [] });
    expect(guards('nodes.maybe')).toEqual({ nullable: [], lenient: [] });
    expect(guards('input.meta.k')).toEqual({ nullable: [], lenient: [] });
    expect(guards('input.extra.zz')).toEqual({ nullable: [], lenient: [] });
    expect(guards('input.tags[0]')).toEqual({ nullable: [], lenient: [] });
    expect(guards('input.meta[input.name]')).toEqual({ nullable: [], lenient: [] });
    expect(guards('secrets.K')).toEqual({ nullable: [], lenient: [] });
    // Only a default's input is inside it: another filter opens no default and closes none.
    expect(guards('input.meta.k | json')).toEqual({ nullable: [], lenient: [] });
    // (The lenient key is tested too: `+` cannot add its None.)
    expect(guards('((input.name | upper) + input.meta.k) | default("x")')).toEqual({
      nullable: ['input.meta.k'],
      lenient: ['input.meta.k'],
    });
    // Unknown data a default left maybe null is tested only under another default.
    expect(guards('(input.meta.k | default(null)) + 1')).toEqual({ nullable: [], lenient: ['input.meta.k'] });
    // After a default closes, its depth is back to none.
    expect(guards('(input.age | default(1)) + nodes.fetch.a')).toEqual({ nullable: [], lenient: [] });
  });
});

describe('describe', () => {
  it('writes expressions as the user did, for messages', () => {
    const d = (s: string): string => describeExpr(parseExpression(s, 0, s.length));
    expect(d('input.a["b"][0][x] | f')).toBe('input.a["b"][0][...] | f');
    expect(d('"s"')).toBe('"s"');
    expect(d('1 + 2')).toBe('the value');
  });
});
