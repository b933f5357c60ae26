/**
 * Expression parser: tokens → AST, by recursive descent. Lowest to highest precedence:
 * `a if c else b`, `or`, `and`, `not`, comparisons (not chained), `+ -`, `* / %`, unary `-`,
 * then postfix `.name`, `[index]` and `| filter(args)`, then atoms.
 */
import type { BinaryOp, Expr, Span } from './ast';
import { ExprError } from './errors';
import { lex, type Token } from './lexer';
import { own } from '../util/own';

/** Deepest AST allowed: nesting, and chains like `a + b + ...` or `x | f | g ...`, count alike. */
const MAX_DEPTH = 64;
const KEYWORDS = new Set(['and', 'or', 'not', 'if', 'else', 'true', 'false', 'null']);
const PYTHON_SPELLINGS: Record<string, string> = {
  True: 'true',
  False: 'false',
  None: 'null',
  nil: 'null',
  undefined: 'null',
  is: '==',
  in: 'a comparison',
  lambda: 'a filter',
};
const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** Parses the expression between offsets `start` and `end` of `source`. */
export function parseExpression(source: string, start: number, end: number): Expr {
  const parser = new Parser(lex(source, start, end));
  if (parser.peek().kind === 'eof') throw new ExprError(start, 'empty expression: write something between {{ and }}');
  const expr = parser.expression();
  const next = parser.peek();
  if (next.kind !== 'eof') throw new ExprError(next.start, `unexpected ${describe(next)} after the expression`);
  return expr;
}

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of expression';
  if (t.kind === 'string') return 'string';
  return `"${t.value}"`;
}

const span = (a: { span: Span } | Token, b: { span: Span } | Token): Span => ({
  start: 'span' in a ? a.span.start : a.start,
  end: 'span' in b ? b.span.end : b.end,
});

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  peek(): Token {
    return this.tokens[this.pos];
  }

  private next(): Token {
    return this.tokens[this.pos++];
  }

  private isOp(value: string): boolean {
    const t = this.peek();
    return (t.kind === 'op' || t.kind === 'ident') && t.value === value;
  }

  private expect(value: string, what: string): Token {
    const t = this.peek();
    if (!this.isOp(value)) throw new ExprError(t.start, `expected ${what}, found ${describe(t)}`);
    return this.next();
  }

  expression(): Expr {
    if (++this.depth > MAX_DEPTH)
      throw new ExprError(this.peek().start, `expression nested more than ${MAX_DEPTH} levels deep`);
    const test = this.binary(0);
    let result = test;
    if (this.isOp('if')) {
      this.next();
      const cond = this.binary(0);
      this.expect('else', '"else" (conditionals read: a if condition else b)');
      const otherwise = this.expression();
      result = { kind: 'conditional', test: cond, then: test, otherwise, span: span(test, otherwise) };
    }
    this.depth--;
    return result;
  }

  /** Binary levels: 0 or, 1 and, 2 not, 3 comparison, 4 additive, 5 multiplicative. */
  private binary(level: number): Expr {
    if (level === 2) {
      if (this.isOp('not')) {
        const op = this.next();
        const operand = this.nested(() => this.binary(2));
        return { kind: 'unary', op: 'not', operand, span: span(op, operand) };
      }
      return this.binary(3);
    }
    if (level === 6) return this.unary();
    let left = this.binary(level + 1);
    for (let chain = 1; ; chain++) {
      const t = this.peek();
      const op = String(t.value);
      const matches =
        (level === 0 && op === 'or' && t.kind === 'ident') ||
        (level === 1 && op === 'and' && t.kind === 'ident') ||
        (level === 3 && t.kind === 'op' && COMPARISONS.has(op)) ||
        (level === 4 && t.kind === 'op' && (op === '+' || op === '-')) ||
        (level === 5 && t.kind === 'op' && (op === '*' || op === '/' || op === '%'));
      if (!matches) return left;
      this.checkChain(chain, t.start);
      this.next();
      const right = this.nested(() => this.binary(level + 1));
      left = { kind: 'binary', op: op as BinaryOp, left, right, span: span(left, right) };
      if (level === 3 && this.peek().kind === 'op' && COMPARISONS.has(String(this.peek().value))) {
        throw new ExprError(this.peek().start, 'comparisons cannot be chained; join them with "and"');
      }
    }
  }

  private checkChain(length: number, offset: number): void {
    if (this.depth + length > MAX_DEPTH)
      throw new ExprError(offset, `expression nested more than ${MAX_DEPTH} levels deep; split it across nodes`);
  }

  private nested<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH)
      throw new ExprError(this.peek().start, `expression nested more than ${MAX_DEPTH} levels deep`);
    const result = f();
    this.depth--;
    return result;
  }

  private unary(): Expr {
    if (this.isOp('-') || this.isOp('+')) {
      const op = this.next();
      const operand = this.nested(() => this.unary());
      return { kind: 'unary', op: op.value as '-' | '+', operand, span: span(op, operand) };
    }
    return this.postfix();
  }

  private postfix(): Expr {
    let e = this.atom();
    for (let chain = 1; ; chain++) {
      this.checkChain(chain, this.peek().start);
      if (this.isOp('.')) {
        this.next();
        const name = this.next();
        if (name.kind !== 'ident')
          throw new ExprError(name.start, `expected a field name after ".", found ${describe(name)}`);
        e = {
          kind: 'member',
          object: e,
          name: name.value,
          nameSpan: { start: name.start, end: name.end },
          span: span(e, name),
        };
      } else if (this.isOp('[')) {
        this.next();
        const index = this.nested(() => this.expression());
        const close = this.expect(']', '"]" to close the index');
        e = { kind: 'index', object: e, index, span: span(e, close) };
      } else if (this.isOp('|')) {
        this.next();
        const name = this.next();
        if (name.kind !== 'ident')
          throw new ExprError(name.start, `expected a filter name after "|", found ${describe(name)}`);
        const { args, end } = this.isOp('(') ? this.arguments() : { args: [], end: name };
        e = {
          kind: 'filter',
          input: e,
          name: name.value,
          args,
          nameSpan: { start: name.start, end: name.end },
          span: span(e, end),
        };
      } else {
        return e;
      }
    }
  }

  private arguments(): { args: Expr[]; end: Token } {
    this.expect('(', '"("');
    const args: Expr[] = [];
    while (!this.isOp(')')) {
      args.push(this.nested(() => this.expression()));
      if (!this.isOp(',')) break;
      this.next();
    }
    return { args, end: this.expect(')', '")" or ","') };
  }

  private atom(): Expr {
    const t = this.next();
    const s = { start: t.start, end: t.end };
    switch (t.kind) {
      case 'number':
        return { kind: 'literal', value: t.value, integer: t.integer, raw: t.raw, span: s };
      case 'string':
        return { kind: 'literal', value: t.value, integer: false, span: s };
      case 'ident':
        return this.identifier(t);
      case 'op':
        if (t.value === '(') {
          const inner = this.nested(() => this.expression());
          this.expect(')', '")" to close "("');
          return inner;
        }
        if (t.value === '[') {
          const items: Expr[] = [];
          while (!this.isOp(']')) {
            items.push(this.nested(() => this.expression()));
            if (!this.isOp(',')) break;
            this.next();
          }
          const close = this.expect(']', '"]" or ","');
          return { kind: 'list', items, span: span(t, close) };
        }
        throw new ExprError(t.start, `expected a value, found ${describe(t)}`);
      case 'eof':
        throw new ExprError(t.start, 'expected a value, found end of expression');
    }
  }

  private identifier(t: Token & { kind: 'ident' }): Expr {
    const s = { start: t.start, end: t.end };
    if (t.value === 'true' || t.value === 'false')
      return { kind: 'literal', value: t.value === 'true', integer: false, span: s };
    if (t.value === 'null') return { kind: 'literal', value: null, integer: false, span: s };
    const spelling = own(PYTHON_SPELLINGS, t.value);
    if (spelling) throw new ExprError(t.start, `"${t.value}" is not part of the expression language; use ${spelling}`);
    if (KEYWORDS.has(t.value)) throw new ExprError(t.start, `expected a value, found "${t.value}"`);
    if (this.isOp('(')) {
      const { args, end } = this.arguments();
      return { kind: 'call', name: t.value, args, span: span(t, end) };
    }
    return { kind: 'root', name: t.value, span: s };
  }
}
