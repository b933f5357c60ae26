/**
 * Splits a string value into literal text and `{{ expression }}` parts and parses each
 * expression. A value that is exactly one `{{ }}` keeps the expression's type; anything else
 * builds a string. Write a literal `{{` as `{{ "{{" }}`.
 */
import type { Template, TextPart } from './ast';
import { ExprError } from './errors';
import { parseExpression } from './parser';

export const MAX_TEMPLATE_CHARS = 100_000;

/** Parses a string value; every expression is parsed even when an earlier one fails. */
export function parseTemplate(value: string): { template?: Template; errors: ExprError[] } {
  if (value.length > MAX_TEMPLATE_CHARS && value.includes('{{')) {
    return {
      errors: [new ExprError(0, `a string with expressions may hold at most ${MAX_TEMPLATE_CHARS} characters`)],
    };
  }
  const parts: TextPart[] = [];
  const errors: ExprError[] = [];
  let text = '';
  let i = 0;
  while (i < value.length) {
    const open = value.indexOf('{{', i);
    if (open < 0) {
      text += value.slice(i);
      break;
    }
    text += value.slice(i, open);
    // An unterminated string literal hides the real "}}"; fall back to it so the lexer can say so.
    let close = findClose(value, open + 2);
    if (close < 0) close = value.indexOf('}}', open + 2);
    if (close < 0) {
      errors.push(
        new ExprError(open, 'unclosed "{{": add "}}" after the expression (write a literal "{{" as {{ "{{" }})'),
      );
      break;
    }
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
    try {
      parts.push({
        kind: 'expr',
        expr: parseExpression(value, open + 2, close),
        span: { start: open, end: close + 2 },
      });
    } catch (err) {
      if (!(err instanceof ExprError)) throw err;
      errors.push(err);
    }
    i = close + 2;
  }
  if (text !== '') parts.push({ kind: 'text', text });
  if (errors.length > 0) return { errors };
  if (parts.length === 1 && parts[0].kind === 'expr')
    return { template: { kind: 'single', expr: parts[0].expr }, errors };
  return { template: { kind: 'text', parts }, errors };
}

/** Offset of the `}}` closing an expression that starts at `from`, skipping string literals. */
function findClose(value: string, from: number): number {
  let i = from;
  while (i < value.length) {
    const c = value[i];
    if (c === '"' || c === "'") {
      i++;
      while (i < value.length && value[i] !== c) i += value[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '}' && value[i + 1] === '}') {
      return i;
    } else {
      i++;
    }
  }
  return -1;
}
