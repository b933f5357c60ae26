/**
 * The closed set of filters: for each, the argument count, the result type for an input type
 * (or why the input is wrong), and the Python it compiles to. Adding a filter is one entry here.
 */
import { ANY, INTEGER, NUMBER, STRING, isNumeric, join, joinAll, plain, type Type } from './types';

export interface PyCode {
  code: string;
  /** Python precedence of `code` (see emit.ts); higher binds tighter. */
  prec: number;
  /** For `a if b else c`: the three parts, so a long one can be laid out on three lines. */
  cond?: { body: string; test: string; orelse: string };
}

/** `body if test else orelse`, keeping its parts for layout. */
export function conditional(body: string, test: string, orelse: string): PyCode {
  return { code: `${body} if ${test} else ${orelse}`, prec: 1, cond: { body, test, orelse } };
}

export interface FilterSpec {
  /** Minimum and maximum number of arguments. */
  args: [number, number];
  /** Accepted input kinds ("any" input is always accepted). */
  accepts: Type['kind'][];
  /** The kind each argument must have, when it matters. */
  argKinds?: Type['kind'][];
  result(input: Type, args: Type[]): Type;
  /** Python code, given the input and argument code and the input's type. */
  emit(input: PyCode, args: PyCode[], inputType: Type): PyCode;
}

export const ATOM = 16;
export const CALL = 15;

const call = (code: string): PyCode => ({ code, prec: CALL });
/** Python precedence of `or` (see emit.ts). */
const OR = 2;

/** `p` parenthesised unless it binds at least as tightly as `min`. */
export const operand = (p: PyCode, min: number): string => (p.prec >= min ? p.code : `(${p.code})`);

/** Wraps code that is used as the object of `.method()` or `[i]`. */
export const tight = (p: PyCode): string => operand(p, CALL);

export const FILTERS: Record<string, FilterSpec> = {
  length: {
    args: [0, 0],
    accepts: ['string', 'array', 'object'],
    result: () => INTEGER,
    emit: (x) => call(`len(${x.code})`),
  },
  first: {
    args: [0, 0],
    accepts: ['array', 'string'],
    result: (t) => (t.kind === 'array' ? { ...t.items, nullable: true } : { ...STRING, nullable: true }),
    emit: (x) => call(`(${operand(x, OR + 1)} or [None])[0]`),
  },
  last: {
    args: [0, 0],
    accepts: ['array', 'string'],
    result: (t) => (t.kind === 'array' ? { ...t.items, nullable: true } : { ...STRING, nullable: true }),
    emit: (x) => call(`(${operand(x, OR + 1)} or [None])[-1]`),
  },
  // `default` is compiled by the expression emitter itself: it guards the operand's null parts.
  default: {
    args: [1, 1],
    accepts: [],
    // The input's non-null part joined with the default's; a value that is only ever null has none.
    result: (t, [d]) => plain(t.kind === 'null' ? d : join({ ...t, nullable: undefined }, d)),
    emit: (x) => x,
  },
  json: {
    args: [0, 0],
    accepts: [],
    result: () => STRING,
    emit: (x) => call(`to_json(${x.code})`),
  },
  upper: { args: [0, 0], accepts: ['string'], result: () => STRING, emit: (x) => call(`${tight(x)}.upper()`) },
  lower: { args: [0, 0], accepts: ['string'], result: () => STRING, emit: (x) => call(`${tight(x)}.lower()`) },
  trim: { args: [0, 0], accepts: ['string'], result: () => STRING, emit: (x) => call(`${tight(x)}.strip()`) },
  join: {
    args: [0, 1],
    accepts: ['array'],
    argKinds: ['string'],
    result: () => STRING,
    emit: (x, [sep], t) => {
      const items =
        t.kind === 'array' && t.items.kind === 'string' && !t.items.nullable ? x.code : `map(str, ${x.code})`;
      return call(`${sep ? tight(sep) : '""'}.join(${items})`);
    },
  },
  keys: {
    args: [0, 0],
    accepts: ['object'],
    result: () => ({ kind: 'array', items: STRING }),
    emit: (x) => call(`list(${x.code})`),
  },
  values: {
    args: [0, 0],
    accepts: ['object'],
    result: (t) => ({
      kind: 'array',
      items: t.kind === 'object' && t.fields ? joinAll([...t.fields.values()].map((f) => f.type)) : ANY,
    }),
    emit: (x) => call(`list(${tight(x)}.values())`),
  },
  round: {
    args: [0, 1],
    accepts: ['integer', 'number'],
    argKinds: ['integer'],
    result: (_t, args) => (args.length === 0 ? INTEGER : NUMBER),
    emit: (x, [digits]) => call(digits ? `round(${x.code}, ${digits.code})` : `round(${x.code})`),
  },
  int: {
    args: [0, 0],
    accepts: ['integer', 'number', 'string', 'boolean'],
    result: () => INTEGER,
    emit: (x) => call(`int(${x.code})`),
  },
  float: {
    args: [0, 0],
    accepts: ['integer', 'number', 'string'],
    result: () => NUMBER,
    emit: (x) => call(`float(${x.code})`),
  },
  string: { args: [0, 0], accepts: [], result: () => STRING, emit: (x, _a, t) => toText(x, t) },
};

/**
 * A value as text, for `| string` and for expressions inside mixed text: strings as they are,
 * numbers in Python's (and JSON's) notation, everything else as compact JSON (`true`, `null`, ...).
 */
export function toText(x: PyCode, t: Type): PyCode {
  if (t.kind === 'string') return x;
  if ((isNumeric(t) && !t.nullable) || t.kind === 'any') return call(`str(${x.code})`);
  return call(`to_json(${x.code})`);
}

export const FILTER_NAMES = Object.keys(FILTERS);
