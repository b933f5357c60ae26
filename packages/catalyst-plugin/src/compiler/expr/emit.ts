/**
 * Pass: typed expression AST → Python source. Every construct maps to plain Python with the
 * same meaning; precedence decides parentheses. Nothing here ever produces eval/exec/compile.
 */
import type { Expr, Template } from './ast';
import type { Checked } from './check';
import { ATOM, CALL, FILTERS, conditional, tight, toText, type PyCode } from './filters';
import { holdsModel, mayBeNull, withNullable, type Type } from './types';
import { expressionsOf } from './value';
import { tested } from './guards';
import { nodeRefs } from './refs';
import { own } from '../util/own';
import { pyNumber, pyString as pyStringIn, pyStringBody, quoteFor, type Quote } from '../python/literal';

/** The runtime helper that percent-encodes one URL path segment (see `template`). */
export const URL_SEGMENT = 'url_segment';
/** The runtime's `items[index]` or None (`catalyst_runtime.item_at`), for an index under a default. */
const ITEM_AT = 'item_at';

export interface EmitEnv {
  checked: Checked;
  /** Local holding the validated input model. */
  inputVar: string;
  /** `input`: the block reads the input model; `globals`: some expression reads `global`; `item`, `index`: a map's. */
  use(name: 'input' | 'globals' | 'item' | 'index'): void;
  /** The Python local holding node `id`'s value (a parameter inside an async node's function). */
  node(id: string): string;
  /** Called for each `secrets.X` / `env.X` read without a fallback: the service cannot start without it. */
  require(root: 'secrets' | 'env', name: string): void;
  /**
   * Outside nodes (the response), a value that needs a node that may have been skipped is
   * null when it was: these are the nodes that may be skipped.
   */
  guardSkipped?: ReadonlySet<string>;
}

const PREC = {
  conditional: 1,
  or: 2,
  and: 3,
  not: 4,
  comparison: 5,
  additive: 10,
  multiplicative: 11,
  unary: 12,
} as const;
const BINARY_PREC: Record<string, number> = {
  or: 2,
  and: 3,
  '==': 5,
  '!=': 5,
  '<': 5,
  '<=': 5,
  '>': 5,
  '>=': 5,
  '+': 10,
  '-': 10,
  '*': 11,
  '/': 11,
  '%': 11,
};

/** Run-time mappings behind the `secrets`, `env` and `global` roots (see catalyst_runtime.context). */
const MAPPINGS = { secrets: 'ctx.secrets', env: 'ctx.env', global: 'ctx.globals' } as const;
/** `execution.<field>`: what the context offers for each (the checker allows only these). */
const EXECUTION_CODE: Record<string, string> = {
  id: 'ctx.execution_id',
  workflow_id: 'ctx.workflow_id',
  started_at: 'ctx.started_at',
};

const PASS_THROUGH = new Set(['length', 'first', 'last']);

const paren = (p: PyCode, min: number): string => (p.prec >= min ? p.code : `(${p.code})`);

export class ExprEmitter {
  /** Preferred quotes for string literals: the other kind inside an f-string. */
  private quote: Quote = '"';

  /** Names bound with `:=` by this emitter so far (`_d0`, `_d1`, ...). */
  private bound = 0;

  constructor(private readonly env: EmitEnv) {}

  private pyString(s: string): string {
    return pyStringIn(s, this.quote);
  }

  private typeOf(e: Expr): Type {
    return this.env.checked.types.get(e) ?? { kind: 'any' };
  }

  /**
   * A string value: one expression keeps its type; text becomes an f-string or a join.
   * `urlPath`: an http node's `url`, where every interpolation but one that starts the text (the
   * base, such as `{{ env.API_URL }}`) is percent-encoded as one path segment.
   */
  template(t: Template, urlPath = false): PyCode {
    const code = this.templateCode(t, urlPath);
    const skipped = this.env.guardSkipped;
    if (!skipped) return code;
    const needs = [
      ...new Set(
        expressionsOf(t)
          .flatMap((e) => nodeRefs(e))
          .filter((r) => !r.soft && skipped.has(r.nodeId))
          .map((r) => r.nodeId),
      ),
    ];
    // A value that is the skipped node's output itself is already null.
    const whole =
      t.kind === 'single' &&
      t.expr.kind === 'member' &&
      t.expr.object.kind === 'root' &&
      t.expr.object.name === 'nodes';
    if (needs.length === 0 || whole) return code;
    const guards = needs.map((id) => `${this.env.node(id)} is not None`).join(' and ');
    return conditional(paren(code, PREC.conditional + 1), guards, 'None');
  }

  private templateCode(t: Template, urlPath: boolean): PyCode {
    if (t.kind === 'single') return this.value(t.expr);
    // String literals inside text are text: `{{ "{{" }}` is how a literal "{{" is written.
    const pieces: { text?: string; expr?: Expr }[] = [];
    for (const p of t.parts) {
      const literal =
        p.kind === 'text'
          ? p.text
          : p.expr.kind === 'literal' && typeof p.expr.value === 'string'
            ? p.expr.value
            : undefined;
      const last = pieces[pieces.length - 1];
      if (literal === undefined) pieces.push({ expr: (p as { expr: Expr }).expr });
      else if (last?.text !== undefined) last.text += literal;
      else pieces.push({ text: literal });
    }
    const text = pieces.map((p) => p.text ?? '').join('');
    if (pieces.every((p) => p.expr === undefined)) return { code: this.pyString(text), prec: ATOM };
    const part = (p: { expr?: Expr }, i: number): PyCode & { bare?: boolean } => {
      const code = this.textOf(p.expr!);
      if (!urlPath || i === 0) return code;
      return { code: `${URL_SEGMENT}(${code.code})`, prec: CALL };
    };
    // The f-string takes the quotes its text needs fewest escapes with, code inside the other
    // kind (Python 3.11 allows neither its own quotes nor backslashes inside the braces).
    const preferred = quoteFor(text);
    for (const quote of [preferred, preferred === '"' ? "'" : '"'] as Quote[]) {
      const inner: Quote = quote === '"' ? "'" : '"';
      const codes = pieces.map((p, i) => (p.expr ? this.withQuote(inner, () => part(p, i)) : undefined));
      if (codes.some((c) => c !== undefined && (/[\\\n\r{}#:!]/.test(c.code) || c.code.includes(quote)))) continue;
      const body = pieces
        .map((p, i) => (p.expr ? `{${codes[i]!.code}}` : pyStringBody(p.text!, quote).replace(/[{}]/g, '$&$&')))
        .join('');
      return { code: `f${quote}${body}${quote}`, prec: ATOM };
    }
    const items = pieces.map((p, i) => (p.expr ? this.strCode(part(p, i)) : this.pyString(p.text!)));
    return { code: `"".join((${items.join(', ')}))`, prec: CALL };
  }

  private withQuote<T>(quote: Quote, f: () => T): T {
    const saved = this.quote;
    this.quote = quote;
    try {
      return f();
    } finally {
      this.quote = saved;
    }
  }

  /** An expression inside text; numbers stay bare for f-strings (formatted like str()). */
  private textOf(e: Expr): PyCode & { bare?: boolean } {
    const t = this.typeOf(e);
    const v = this.value(e);
    if (t.kind === 'integer' || t.kind === 'number' || t.kind === 'any') return { ...v, bare: true };
    return toText(v, t);
  }

  private strCode(p: PyCode & { bare?: boolean }): string {
    return p.bare ? `str(${p.code})` : p.code;
  }

  /** An expression used as a value: pydantic models are dumped to plain dicts. */
  value(e: Expr): PyCode {
    const code = this.emit(e);
    const t = this.typeOf(e);
    // A part that may give None under a default (an item past the end) is dumped only if it is there.
    if (!holdsModel(t)) return code;
    if (!this.env.checked.nullable.has(e) || t.nullable) return dump(code, t, 0);
    return { code: `(${dump(code, withNullable(t, true), 0).code})`, prec: ATOM };
  }

  private emit(e: Expr): PyCode {
    switch (e.kind) {
      case 'literal':
        if (e.value === null) return { code: 'None', prec: ATOM };
        if (typeof e.value === 'boolean') return { code: e.value ? 'True' : 'False', prec: ATOM };
        if (typeof e.value === 'number')
          return { code: e.integer && e.raw ? e.raw : pyNumber(e.value, e.integer), prec: ATOM };
        return { code: this.pyString(e.value), prec: ATOM };
      case 'list':
        return { code: `[${e.items.map((i) => this.value(i).code).join(', ')}]`, prec: ATOM };
      case 'root':
        if (e.name === 'item' || e.name === 'index') {
          this.env.use(e.name);
          return { code: e.name, prec: ATOM };
        }
        if (e.name === 'input') this.env.use('input');
        return { code: e.name === 'input' ? this.env.inputVar : 'None', prec: ATOM };
      case 'member':
        return this.access(e, e.object, e.name);
      case 'index':
        if (e.index.kind === 'literal' && typeof e.index.value === 'string')
          return this.access(e, e.object, e.index.value);
        if (this.env.checked.lenient.has(e)) {
          // Under a default: a mapping's missing key, or a list's or unknown data's missing item, is None.
          if (this.typeOf(e.object).kind === 'object')
            return { code: `${tight(this.emit(e.object))}.get(${this.value(e.index).code})`, prec: CALL };
          return { code: `${ITEM_AT}(${this.emit(e.object).code}, ${this.value(e.index).code})`, prec: CALL };
        }
        return { code: `${tight(this.emit(e.object))}[${this.value(e.index).code}]`, prec: CALL };
      case 'filter':
        return this.filter(e);
      case 'call':
        if (e.name === 'uuid') {
          return { code: 'str(uuid4())', prec: CALL };
        }
        return { code: 'datetime.now(UTC).isoformat()', prec: CALL };
      case 'unary':
        if (e.op === 'not') return { code: `not ${paren(this.value(e.operand), PREC.not)}`, prec: PREC.not };
        return { code: `${e.op}${paren(this.value(e.operand), PREC.unary)}`, prec: PREC.unary };
      case 'binary':
        return this.binary(e);
      case 'conditional': {
        const c = PREC.conditional;
        return conditional(
          paren(this.lazy(e.then), c + 1),
          paren(this.value(e.test), c + 1),
          paren(this.lazy(e.otherwise), c),
        );
      }
    }
  }

  private access(e: Expr, object: Expr, name: string): PyCode {
    if (object.kind === 'root' && object.name === 'nodes') return { code: this.env.node(name), prec: ATOM };
    const lenient = this.env.checked.lenient.has(e);
    if (object.kind === 'root' && (object.name === 'secrets' || object.name === 'env' || object.name === 'global')) {
      const mapping = MAPPINGS[object.name];
      if (object.name === 'global') this.env.use('globals');
      // Read by subscript, a missing variable would fail the request: declare it for start-up.
      if (!lenient && object.name !== 'global') this.env.require(object.name, name);
      return {
        code: lenient ? `${mapping}.get(${this.pyString(name)})` : `${mapping}[${this.pyString(name)}]`,
        prec: CALL,
      };
    }
    if (object.kind === 'root' && object.name === 'execution') return { code: EXECUTION_CODE[name], prec: CALL };
    const t = this.typeOf(object);
    const obj = tight(this.emit(object));
    const field = t.kind === 'object' && t.model !== undefined ? t.fields?.get(name) : undefined;
    if (field?.attr) return { code: `${obj}.${field.attr}`, prec: CALL };
    if (t.kind === 'object' && t.model !== undefined && t.extra) {
      const key = this.pyString(name);
      return { code: lenient ? `${obj}.model_extra.get(${key})` : `${obj}.model_extra[${key}]`, prec: CALL };
    }
    return { code: lenient ? `${obj}.get(${this.pyString(name)})` : `${obj}[${this.pyString(name)}]`, prec: CALL };
  }

  private filter(e: Expr & { kind: 'filter' }): PyCode {
    if (e.name === 'default') return this.defaultFilter(e.input, e.args[0]);
    const spec = own(FILTERS, e.name);
    if (!spec) throw new Error(`unchecked filter "${e.name}"`);
    // These look at a list or string, not into its items: models inside need no dump first.
    const t = this.typeOf(e.input);
    const container = t.kind === 'array' || t.kind === 'string';
    const input = PASS_THROUGH.has(e.name) && container ? this.emit(e.input) : this.value(e.input);
    return spec.emit(
      input,
      e.args.map((a) => this.value(a)),
      this.typeOf(e.input),
    );
  }

  /**
   * `x | default(d)`: `x if <each nullable part of x> and x is not None else d`. The operand is
   * written twice, which for a path or a lookup costs less than binding it; an operand that holds
   * another default is bound once with `:=` instead, or each level of a chain would double the
   * code (and the work), and so is one that computes (a conditional, an operator).
   */
  private defaultFilter(operand: Expr, fallback: Expr): PyCode {
    // A secret or variable is a string or absent, never null: the mapping's own default says it all.
    if (
      operand.kind === 'member' &&
      operand.object.kind === 'root' &&
      (operand.object.name === 'secrets' || operand.object.name === 'env')
    ) {
      return {
        code: `${MAPPINGS[operand.object.name]}.get(${this.pyString(operand.name)}, ${this.value(fallback).code})`,
        prec: CALL,
      };
    }
    const guards = this.guards(operand);
    let v = this.value(operand);
    const c = PREC.conditional;
    if (mayBeNull(this.typeOf(operand)) || this.env.checked.nullable.has(operand)) {
      if (holdsDefault(operand) || operand.kind === 'conditional' || operand.kind === 'binary') {
        const name = `_d${this.bound++}`;
        guards.push(`(${name} := ${v.code}) is not None`);
        v = { code: name, prec: ATOM };
      } else {
        // The test reads the value before any dump, so the dump needs no test of its own.
        const code = this.emit(operand);
        guards.push(`${paren(code, PREC.comparison + 1)} is not None`);
        const t = this.typeOf(operand);
        if (holdsModel(t)) v = dump(code, withNullable(t, false), 0);
      }
    }
    if (guards.length === 0) return v; // never null: the checker warned that the default is unused
    // A fallback inside another default is computed only sometimes: lazy, like a branch.
    return conditional(paren(v, c + 1), guards.join(' and '), paren(this.lazy(fallback), c));
  }

  /** A test for each part of `x` that may be null, before `x` is computed (see guards.ts). */
  private guards(x: Expr): string[] {
    return tested(x)
      .filter((p) => p !== x && this.env.checked.nullable.has(p))
      .map((p) => `${paren(this.emit(p), PREC.comparison + 1)} is not None`);
  }

  /**
   * A conditional's branch or the right of `and`/`or`: computed only sometimes, so a default
   * around it cannot test its parts first. It tests them itself and gives None, which the default
   * then answers for (the checker marks the conditional or `and`/`or` as maybe null).
   */
  private lazy(x: Expr): PyCode {
    const v = this.value(x);
    const guards = this.guards(x);
    if (guards.length === 0) return v;
    // In brackets: a conditional inside another's branch reads more easily so.
    const { code } = conditional(paren(v, PREC.conditional + 1), guards.join(' and '), 'None');
    return { code: `(${code})`, prec: ATOM };
  }

  private binary(e: Expr & { kind: 'binary' }): PyCode {
    const prec = BINARY_PREC[e.op];
    const left = this.value(e.left);
    const right = e.op === 'and' || e.op === 'or' ? this.lazy(e.right) : this.value(e.right);
    let op: string = e.op;
    const literal = (x: Expr): boolean => x.kind === 'literal' && (x.value === null || typeof x.value === 'boolean');
    // `x == None` and `x == True` are lint errors and subtly wrong; identity is what is meant.
    if ((op === '==' || op === '!=') && (literal(e.left) || literal(e.right))) op = op === '==' ? 'is' : 'is not';
    const leftMin = prec === PREC.comparison ? prec + 1 : prec;
    return { code: `${paren(left, leftMin)} ${op} ${paren(right, prec + 1)}`, prec };
  }
}

/** Whether a `default` filter sits anywhere inside `e`. */
function holdsDefault(e: Expr): boolean {
  switch (e.kind) {
    case 'filter':
      return e.name === 'default' || holdsDefault(e.input) || e.args.some(holdsDefault);
    case 'member':
      return holdsDefault(e.object);
    case 'index':
      return holdsDefault(e.object) || holdsDefault(e.index);
    case 'unary':
      return holdsDefault(e.operand);
    case 'binary':
      return holdsDefault(e.left) || holdsDefault(e.right);
    case 'conditional':
      return holdsDefault(e.test) || holdsDefault(e.then) || holdsDefault(e.otherwise);
    case 'list':
    case 'call':
      return (e.kind === 'list' ? e.items : e.args).some(holdsDefault);
    default:
      return false;
  }
}

function dump(code: PyCode, t: Type, depth: number): PyCode {
  if (t.kind === 'object' && t.model !== undefined) {
    const call = `${tight(code)}.model_dump(by_alias=True)`;
    return t.nullable
      ? conditional(call, `${paren(code, PREC.comparison + 1)} is not None`, 'None')
      : { code: call, prec: CALL };
  }
  if (t.kind === 'array') {
    const v = `_m${depth}`;
    const inner = dump({ code: v, prec: ATOM }, t.items, depth + 1);
    // Python refuses `:=` (a bound default, as in `grid[x | default(0)]`) in a comprehension's
    // iterable, so a list read so is dumped with `map` instead.
    const comp = code.code.includes(':=')
      ? `list(map(lambda ${v}: ${inner.code}, ${code.code}))`
      : `[${inner.code} for ${v} in ${paren(code, PREC.or)}]`;
    return t.nullable
      ? conditional(comp, `${paren(code, PREC.comparison + 1)} is not None`, 'None')
      : { code: comp, prec: ATOM };
  }
  return code;
}
