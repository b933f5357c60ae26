/** The expression AST. Offsets are relative to the start of the string value holding the expression. */

export interface Span {
  start: number;
  end: number;
}

export type BinaryOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%' | 'and' | 'or';

export type Expr =
  /** `raw` keeps an integer's digits: Python integers are exact at any size. */
  | { kind: 'literal'; value: string | number | boolean | null; integer: boolean; raw?: string; span: Span }
  | { kind: 'list'; items: Expr[]; span: Span }
  | { kind: 'root'; name: string; span: Span }
  | { kind: 'member'; object: Expr; name: string; nameSpan: Span; span: Span }
  | { kind: 'index'; object: Expr; index: Expr; span: Span }
  | { kind: 'filter'; input: Expr; name: string; args: Expr[]; nameSpan: Span; span: Span }
  | { kind: 'call'; name: string; args: Expr[]; span: Span }
  | { kind: 'unary'; op: 'not' | '-' | '+'; operand: Expr; span: Span }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; span: Span }
  | { kind: 'conditional'; test: Expr; then: Expr; otherwise: Expr; span: Span };

/** A piece of a string value: literal text, or one `{{ expression }}`. */
export type TextPart = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expr; span: Span };

/** A string value after parsing: exactly one expression (keeps its type), or text to build. */
export type Template = { kind: 'single'; expr: Expr } | { kind: 'text'; parts: TextPart[] };

/** Every direct child of an expression, for walkers. */
export function children(e: Expr): Expr[] {
  switch (e.kind) {
    case 'literal':
    case 'root':
      return [];
    case 'list':
      return e.items;
    case 'member':
      return [e.object];
    case 'index':
      return [e.object, e.index];
    case 'filter':
      return [e.input, ...e.args];
    case 'call':
      return e.args;
    case 'unary':
      return [e.operand];
    case 'binary':
      return [e.left, e.right];
    case 'conditional':
      return [e.test, e.then, e.otherwise];
  }
}
