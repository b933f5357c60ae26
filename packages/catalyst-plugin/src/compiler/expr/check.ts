/**
 * Pass: type-check an expression against the scope, annotating every sub-expression with its
 * type. Unknown names, wrong types and impossible comparisons become problems with offsets.
 */
import type { Expr } from './ast';
import { FILTER_NAMES, FILTERS } from './filters';
import { tested } from './guards';
import { ROOTS, type ExprProblem, type Scope } from './scope';
import {
  ANY,
  BOOLEAN,
  INTEGER,
  NULL,
  NUMBER,
  STRING,
  isNumeric,
  join,
  joinAll,
  mayBeNull,
  plain,
  typeName,
  type Type,
} from './types';
import { own } from '../util/own';
import { didYouMean, suggest } from '../util/suggest';

export const FUNCTIONS: Record<string, Type> = { uuid: STRING, now: STRING };
const EXECUTION_FIELDS: Record<string, Type> = { id: STRING, workflow_id: STRING, started_at: STRING };
const VARIABLE_KIND = { secrets: 'secret', env: 'environment variable', global: 'global value' } as const;

export interface Checked {
  types: Map<Expr, Type>;
  /** Sub-expressions whose value may be null and that a `default` must guard. */
  nullable: Set<Expr>;
  /** Key lookups in open mappings under a `default`: a missing key reads as null (`.get`). */
  lenient: Set<Expr>;
}

export class Checker {
  readonly problems: ExprProblem[] = [];
  private defaultDepth = 0;

  constructor(
    private readonly scope: Scope,
    readonly out: Checked = { types: new Map(), nullable: new Set(), lenient: new Set() },
  ) {}

  check(e: Expr): Type {
    const t = this.infer(e);
    this.out.types.set(e, t);
    return t;
  }

  private fail(
    e: { span: { start: number } },
    code: ExprProblem['code'],
    message: string,
    suggestion?: string,
    offset?: number,
  ): Type {
    this.problems.push({ code, offset: offset ?? e.span.start, message, suggestion });
    return ANY;
  }

  private infer(e: Expr): Type {
    switch (e.kind) {
      case 'literal':
        if (e.value === null) return NULL;
        if (typeof e.value === 'string') return STRING;
        if (typeof e.value === 'boolean') return BOOLEAN;
        return e.integer ? INTEGER : NUMBER;
      case 'list':
        return { kind: 'array', items: plain(joinAll(e.items.map((i) => this.check(i)))) };
      case 'root':
        return this.root(e);
      case 'member':
        return this.member(e, e.object, e.name, e.nameSpan.start);
      case 'index':
        return this.index(e);
      case 'filter':
        return this.filter(e);
      case 'call': {
        e.args.forEach((a) => this.check(a));
        const result = own(FUNCTIONS, e.name);
        if (!result)
          return this.fail(
            e,
            'unknown_function',
            `unknown function "${e.name}"${didYouMean(e.name, Object.keys(FUNCTIONS))}; functions are ${Object.keys(
              FUNCTIONS,
            )
              .map((f) => `${f}()`)
              .join(', ')}`,
            suggest(e.name, Object.keys(FUNCTIONS)),
          );
        if (e.args.length > 0) return this.fail(e.args[0], 'filter_arguments', `${e.name}() takes no arguments`);
        return result;
      }
      case 'unary': {
        const t = this.check(e.operand);
        if (e.op === 'not') return BOOLEAN;
        this.noneFails(e.operand, t);
        if (t.kind !== 'any' && !isNumeric(t))
          return this.fail(e, 'operator_type', `"${e.op}" needs a number, not ${typeName(t)}`);
        if (t.kind !== 'any' && mayBeNull(t))
          return this.fail(
            e,
            'operator_type',
            `${describe(e.operand)} may be null, which "${e.op}" cannot negate; add "| default(0)" to it`,
          );
        return t;
      }
      case 'binary':
        return this.binary(e);
      case 'conditional': {
        this.check(e.test);
        const t = plain(join(this.check(e.then), this.check(e.otherwise)));
        // A branch may give None under a default (emit.ts' `lazy`): so may the conditional.
        if (this.mayGiveNone(e.then) || this.mayGiveNone(e.otherwise)) this.out.nullable.add(e);
        return t;
      }
    }
  }

  private root(e: Expr & { kind: 'root' }): Type {
    switch (e.name) {
      case 'input':
        return this.scope.input;
      case 'nodes':
        return this.fail(e, 'bad_access', "write nodes.<id> to use a node's output");
      case 'execution':
        return { kind: 'object', fields: new Map(Object.entries(EXECUTION_FIELDS).map(([k, type]) => [k, { type }])) };
      case 'item':
      case 'index':
        if (!this.scope.item)
          return this.fail(
            e,
            'unknown_root',
            `"${e.name}" exists only inside a map node's nodes; outside, read the map's values (nodes.<map id>)`,
          );
        return e.name === 'index' ? INTEGER : this.scope.item;
      case 'secrets':
      case 'env':
      case 'global':
        return this.fail(e, 'bad_access', `write ${e.name}.NAME to read one ${VARIABLE_KIND[e.name]}`);
      default:
        return this.fail(
          e,
          'unknown_root',
          `unknown name "${e.name}"${didYouMean(e.name, ROOTS)}; expressions start from ${ROOTS.join(', ')}`,
          suggest(e.name, ROOTS),
        );
    }
  }

  private member(e: Expr, object: Expr, name: string, nameOffset: number): Type {
    if (object.kind === 'root' && (object.name === 'secrets' || object.name === 'env' || object.name === 'global')) {
      // Read at run time through the context, by name; the value never enters generated code.
      this.out.types.set(object, ANY);
      // Under a default the value is optional: read with `.get`, so it may be null.
      if (this.defaultDepth > 0) this.out.lenient.add(e);
      if (object.name === 'global') return ANY;
      return this.defaultDepth > 0 ? { ...STRING, nullable: true } : STRING;
    }
    if (object.kind === 'root' && object.name === 'nodes') {
      this.out.types.set(object, ANY);
      const hidden = this.scope.hidden?.(name);
      if (hidden) return this.fail(e, 'out_of_scope', `cannot read ${hidden}`, undefined, nameOffset);
      const output = this.scope.nodeOutputs.get(name);
      if (output === undefined) {
        if (this.scope.nodeIds.includes(name)) return ANY; // part of a cycle; reported by the graph pass
        return this.fail(
          e,
          'unknown_node',
          `unknown node "${name}"${didYouMean(name, this.scope.nodeIds)}`,
          suggest(name, this.scope.nodeIds),
          nameOffset,
        );
      }
      if (this.defaultDepth > 0 && this.scope.skippable.has(name)) this.out.nullable.add(e);
      return output;
    }
    const t = this.check(object);
    if (name.startsWith('_'))
      return this.fail(
        e,
        'bad_access',
        `"${name}": names starting with "_" cannot be used in expressions`,
        undefined,
        nameOffset,
      );
    return this.field(e, object, t, name, nameOffset);
  }

  private field(e: Expr, object: Expr, t: Type, name: string, offset: number): Type {
    if (t.kind === 'any') {
      // A field of unknown data (an http body) under a default: a missing key or a null object
      // gives the default (read with `.get`, the object tested for None), not a failed request.
      if (this.defaultDepth > 0) {
        this.out.lenient.add(e);
        this.out.nullable.add(object);
      }
      return ANY;
    }
    if (mayBeNull(t) && t.kind !== 'null') {
      if (this.defaultDepth === 0)
        return this.fail(
          e,
          'bad_access',
          `${describe(object)} may be null here (it is optional); add "| default(...)" to the expression, or make it required`,
          undefined,
          offset,
        );
      this.out.nullable.add(object);
    }
    if (t.kind !== 'object')
      return this.fail(
        e,
        'bad_access',
        `${describe(object)} is ${typeName(t)}, which has no field "${name}"${t.kind === 'array' ? '; use [index], | first or | last' : ''}`,
        undefined,
        offset,
      );
    if (t.fields === null) {
      if (this.defaultDepth > 0) this.out.lenient.add(e);
      return ANY;
    }
    const field = t.fields.get(name);
    if (field) return field.type;
    if (t.extra) {
      // An undeclared field of a model that keeps extras: any value, read from `model_extra`.
      if (this.defaultDepth > 0) this.out.lenient.add(e);
      return ANY;
    }
    const names = [...t.fields.keys()];
    const code = rootOf(object) === 'input' ? 'unknown_input_field' : 'unknown_output_field';
    const known = names.length > 0 ? `; it has ${names.map((n) => `"${n}"`).join(', ')}` : '; it has no fields';
    const hint = didYouMean(name, names);
    return this.fail(
      e,
      code,
      `${describe(object)} has no field "${name}"${hint || known}`,
      suggest(name, names),
      offset,
    );
  }

  private index(e: Expr & { kind: 'index' }): Type {
    const key = e.index;
    if (key.kind === 'literal' && typeof key.value === 'string') {
      this.out.types.set(key, STRING);
      return this.member(e, e.object, key.value, key.span.start);
    }
    const t = this.check(e.object);
    const k = this.check(key);
    // Python cannot index by None: a key that may be null needs its fallback first.
    if (k.kind !== 'any' && mayBeNull(k) && this.defaultDepth === 0)
      return this.fail(
        key,
        'bad_access',
        `${describe(key)} may be null here, so it cannot be an index; add "| default(...)" to it`,
      );
    this.noneFails(key, k);
    if (t.kind === 'any') {
      // Unknown data (an http body) under a default: a short list, a missing key or a null
      // object gives the default (read with `item_at`, the object tested for None).
      if (this.defaultDepth > 0) {
        this.out.lenient.add(e);
        this.out.nullable.add(e.object);
      }
      return ANY;
    }
    if (mayBeNull(t)) {
      if (this.defaultDepth === 0)
        return this.fail(
          e,
          'bad_access',
          `${describe(e.object)} may be null here (it is optional); add "| default(...)"`,
        );
      this.out.nullable.add(e.object);
    }
    if ((t.kind === 'array' || t.kind === 'string') && (k.kind === 'integer' || k.kind === 'any')) {
      // Under a default an index past the end gives the default, as a null item does.
      if (this.defaultDepth > 0) {
        this.out.nullable.add(e);
        this.out.lenient.add(e);
      }
      return t.kind === 'array' ? t.items : STRING;
    }
    if (t.kind === 'object' && t.model === undefined && (k.kind === 'string' || k.kind === 'any')) {
      if (this.defaultDepth > 0) this.out.lenient.add(e);
      return ANY;
    }
    return this.fail(
      key,
      'bad_access',
      `${describe(e.object)} is ${typeName(t)} and cannot be indexed by ${typeName(k)}${t.kind === 'object' ? '; use a literal key' : ''}`,
    );
  }

  private filter(e: Expr & { kind: 'filter' }): Type {
    const spec = own(FILTERS, e.name);
    const guardsBefore = this.out.nullable.size + this.out.lenient.size;
    if (e.name === 'default') this.defaultDepth++;
    const input = this.check(e.input);
    if (e.name === 'default') this.defaultDepth--;
    else if (e.name !== 'json' && e.name !== 'string') this.noneFails(e.input, input);
    if (e.name === 'default' && !mayBeNull(input) && this.out.nullable.size + this.out.lenient.size === guardsBefore) {
      this.problems.push({
        code: 'useless_default',
        severity: 'warning',
        offset: e.nameSpan.start,
        message: `${describe(e.input)} is never null, so this default is never used`,
      });
    }
    const args = e.args.map((a) => this.check(a));
    if (e.name !== 'default') e.args.forEach((a, i) => this.noneFails(a, args[i]));
    // A default's fallback is computed only when needed (lazy, like a branch): inside another
    // default, one that may give None makes this default's value maybe None too.
    else if (e.args.length === 1 && this.mayGiveNone(e.args[0])) this.out.nullable.add(e);
    if (!spec)
      return this.fail(
        e,
        'unknown_filter',
        `unknown filter "${e.name}"${didYouMean(e.name, FILTER_NAMES)}; filters are ${FILTER_NAMES.join(', ')}`,
        suggest(e.name, FILTER_NAMES),
        e.nameSpan.start,
      );
    const [min, max] = spec.args;
    if (args.length < min || args.length > max) {
      const want = min === max ? `${min}` : `${min} or ${max}`;
      return this.fail(
        e,
        'filter_arguments',
        `filter "${e.name}" takes ${want} argument${max === 1 ? '' : 's'}, not ${args.length}`,
        undefined,
        e.nameSpan.start,
      );
    }
    const badArg = args.findIndex(
      (a, i) => spec.argKinds?.[i] !== undefined && a.kind !== 'any' && (a.kind !== spec.argKinds[i] || a.nullable),
    );
    if (badArg >= 0) {
      return this.fail(
        e.args[badArg],
        'filter_arguments',
        `the argument of filter "${e.name}" must be ${spec.argKinds?.[badArg] === 'integer' ? 'an integer' : `a ${spec.argKinds?.[badArg]}`}, not ${typeName(args[badArg])}`,
      );
    }
    if (input.kind !== 'any' && spec.accepts.length > 0 && !spec.accepts.includes(input.kind)) {
      return this.fail(
        e,
        'filter_type',
        `filter "${e.name}" needs ${spec.accepts.join(' or ')}, but ${describe(e.input)} is ${typeName(input)}`,
        undefined,
        e.nameSpan.start,
      );
    }
    if (input.nullable && e.name !== 'default' && e.name !== 'json' && e.name !== 'string') {
      return this.fail(
        e,
        'filter_type',
        `${describe(e.input)} may be null; add "| default(...)" before "| ${e.name}"`,
        undefined,
        e.nameSpan.start,
      );
    }
    return spec.result(input, args);
  }

  /**
   * Under a default, a lenient read (`.get`, `item_at`) gives None for what is missing; where None
   * would fail (arithmetic, ordering, a filter, an index) the default tests it first, so it
   * answers instead. The same for a value typed as maybe null that reaches here without a type
   * error of its own (unknown data, `nodes.fetch.x | default(null)`, an index key).
   */
  private noneFails(x: Expr, t: Type): void {
    if (this.defaultDepth > 0 && (this.out.lenient.has(x) || t.nullable === true)) this.out.nullable.add(x);
  }

  /**
   * Under a default, whether `x` may give None where a value was read: a part read leniently or
   * from something that may be null (the default, or a lazy part's own test, gives None then).
   */
  private mayGiveNone(x: Expr): boolean {
    if (this.defaultDepth === 0) return false;
    const { nullable, lenient } = this.out;
    return lenient.has(x) || tested(x).some((p) => nullable.has(p));
  }

  private binary(e: Expr & { kind: 'binary' }): Type {
    const l = this.check(e.left);
    const r = this.check(e.right);
    const known = l.kind !== 'any' && r.kind !== 'any';
    if (e.op !== 'and' && e.op !== 'or' && e.op !== '==' && e.op !== '!=') {
      this.noneFails(e.left, l);
      this.noneFails(e.right, r);
    }
    switch (e.op) {
      case 'and':
      case 'or':
        // Either operand is the value: computed, so models inside are plain data (see `plain`).
        // Two booleans join to a boolean, null when either side may be (`true and null` is null).
        if (this.mayGiveNone(e.left) || this.mayGiveNone(e.right)) this.out.nullable.add(e);
        return plain(join(l, r));
      case '==':
      case '!=':
        if (known && l.kind !== 'null' && r.kind !== 'null' && !comparable(l, r)) {
          const always = e.op === '==' ? 'never true' : 'always true';
          return this.fail(
            e,
            'comparison_type',
            `comparing ${typeName(l)} with ${typeName(r)} is ${always}; convert one side (| string, | int)`,
          );
        }
        return BOOLEAN;
      case '<':
      case '<=':
      case '>':
      case '>=':
        if (known && !((isNumeric(l) && isNumeric(r)) || (l.kind === 'string' && r.kind === 'string'))) {
          return this.fail(
            e,
            'comparison_type',
            `cannot order ${typeName(l)} and ${typeName(r)} with "${e.op}"; compare two numbers or two strings`,
          );
        }
        // Python cannot order None: a value that may be null needs its fallback first.
        for (const [side, t] of [
          [e.left, l],
          [e.right, r],
        ] as const) {
          if (t.kind !== 'any' && mayBeNull(t))
            return this.fail(
              side,
              'comparison_type',
              `${describe(side)} may be null, which "${e.op}" cannot order; add "| default(...)" to it, e.g. (${describe(side)} | default(0)) ${e.op} ...`,
            );
        }
        return BOOLEAN;
      case '+': {
        if (!known) return ANY;
        // Python cannot add None to anything: a side that may be null needs its fallback first.
        const nullable = l.nullable === true || r.nullable === true;
        if (isNumeric(l) && isNumeric(r) && !nullable)
          return l.kind === 'integer' && r.kind === 'integer' ? INTEGER : NUMBER;
        if (l.kind === 'string' && r.kind === 'string' && !nullable) return STRING;
        if (l.kind === 'array' && r.kind === 'array' && !nullable) return plain(join(l, r));
        const hint =
          l.kind === 'string' || r.kind === 'string'
            ? '; convert with | string, or write both in text: "{{ a }}{{ b }}"'
            : nullable
              ? '; add "| default(...)" to the side that may be null'
              : '';
        return this.fail(e, 'operator_type', `cannot add ${typeName(l)} and ${typeName(r)}${hint}`);
      }
      default:
        if ((e.op === '/' || e.op === '%') && e.right.kind === 'literal' && e.right.value === 0)
          return this.fail(e.right, 'operator_type', `"${e.op}" by zero always fails; use a divisor other than 0`);
        if (!known) return ANY;
        if (isNumeric(l) && isNumeric(r) && !l.nullable && !r.nullable)
          return e.op === '/' || l.kind === 'number' || r.kind === 'number' ? NUMBER : INTEGER;
        return this.fail(e, 'operator_type', `"${e.op}" needs two numbers, not ${typeName(l)} and ${typeName(r)}`);
    }
  }
}

function comparable(a: Type, b: Type): boolean {
  if (isNumeric(a) && isNumeric(b)) return true;
  return a.kind === b.kind;
}

function rootOf(e: Expr): string | undefined {
  while (e.kind === 'member' || e.kind === 'index' || e.kind === 'filter') e = e.kind === 'filter' ? e.input : e.object;
  return e.kind === 'root' ? e.name : undefined;
}

/** The expression as the user wrote it, for messages: `input.user.name`, `nodes.a.rows[0]`. */
export function describe(e: Expr): string {
  switch (e.kind) {
    case 'root':
      return e.name;
    case 'member':
      return `${describe(e.object)}.${e.name}`;
    case 'index':
      return e.index.kind === 'literal'
        ? `${describe(e.object)}[${JSON.stringify(e.index.value)}]`
        : `${describe(e.object)}[...]`;
    case 'filter':
      return `${describe(e.input)} | ${e.name}`;
    case 'literal':
      return JSON.stringify(e.value);
    default:
      return 'the value';
  }
}
