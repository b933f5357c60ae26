/** Expression lexer: the characters between `{{` and `}}` become tokens with offsets. */
import { ExprError } from './errors';
import { own } from '../util/own';

export type Token =
  | { kind: 'ident'; value: string; start: number; end: number }
  | { kind: 'number'; value: number; integer: boolean; raw: string; start: number; end: number }
  | { kind: 'string'; value: string; start: number; end: number }
  | { kind: 'op'; value: string; start: number; end: number }
  | { kind: 'eof'; value: ''; start: number; end: number };

const OPERATORS = ['==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', '.', '|'];
/** Operators from other languages, with the spelling this language uses. */
const FOREIGN: Record<string, string> = {
  '&&': 'and',
  '||': 'or',
  '!': 'not',
  '=': '==',
  '===': '==',
  '!==': '!=',
  '**': 'multiplication',
  '//': '/ and | int',
  '?': 'a if condition else b',
  '{': '[ ] lists (mappings are built with set:)',
};
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };

/** Lexes `source` from `start` to `end` (offsets in the enclosing string). */
export function lex(source: string, start: number, end: number): Token[] {
  const tokens: Token[] = [];
  let i = start;
  while (i < end) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < end && /[A-Za-z0-9_]/.test(source[j])) j++;
      tokens.push({ kind: 'ident', value: source.slice(i, j), start: i, end: j });
      i = j;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(source.slice(i, Math.min(end, i + 400)))!;
      const text = m[0];
      if (/[A-Za-z_]/.test(source[i + text.length] ?? ''))
        throw new ExprError(i + text.length, `unexpected "${source[i + text.length]}" after the number ${text}`);
      if (/^0[0-9]/.test(text) && m[1] === undefined && m[2] === undefined)
        throw new ExprError(i, `a number cannot start with 0; write ${text.replace(/^0+(?=.)/, '')}`);
      if ((m[1] !== undefined || m[2] !== undefined) && !Number.isFinite(Number(text)))
        throw new ExprError(i, `the number ${text} is beyond the largest float (about 1.8e308); write a smaller one`);
      tokens.push({
        kind: 'number',
        value: Number(text),
        integer: m[1] === undefined && m[2] === undefined,
        raw: text,
        start: i,
        end: i + text.length,
      });
      i += text.length;
    } else if (c === '"' || c === "'") {
      i = lexString(source, i, end, tokens);
    } else {
      const foreign = ['===', '!==', '&&', '||', '**', '//'].find(
        (op) => source.startsWith(op, i) && i + op.length <= end,
      );
      if (foreign) throw new ExprError(i, `"${foreign}" is not an operator here; use ${FOREIGN[foreign]}`);
      const op = OPERATORS.find((o) => source.startsWith(o, i) && i + o.length <= end);
      if (op) {
        tokens.push({ kind: 'op', value: op, start: i, end: i + op.length });
        i += op.length;
      } else if (own(FOREIGN, c)) {
        throw new ExprError(i, `"${c}" is not an operator here; use ${own(FOREIGN, c)}`);
      } else {
        throw new ExprError(
          i,
          /\p{L}/u.test(c)
            ? `unexpected character ${JSON.stringify(c)}: names in expressions use ASCII letters, digits and "_", like ids`
            : `unexpected character ${JSON.stringify(c)}`,
        );
      }
    }
  }
  tokens.push({ kind: 'eof', value: '', start: end, end });
  return tokens;
}

/** Half of a UTF-16 surrogate pair without its other half: not a character, not encodable as UTF-8. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function lexString(source: string, start: number, end: number, tokens: Token[]): number {
  const quote = source[start];
  let value = '';
  let i = start + 1;
  while (i < end && source[i] !== quote) {
    if (source[i] === '\\') {
      // What follows the backslash counts only up to the end offset (a template's `}}` is past it).
      const e = i + 1 < end ? source[i + 1] : '';
      const hex = source.slice(i + 2, Math.min(i + 6, end));
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) {
        value += String.fromCharCode(parseInt(hex, 16));
        i += 6;
        continue;
      }
      if (own(ESCAPES, e) === undefined)
        throw new ExprError(i, `unknown escape "\\${e}" in string; use \\\\ for a backslash`);
      value += own(ESCAPES, e);
      i += 2;
    } else {
      value += source[i++];
    }
  }
  if (i >= end) throw new ExprError(start, `unterminated string: add the closing ${quote}`);
  if (LONE_SURROGATE.test(value))
    throw new ExprError(
      start,
      'the string holds a lone surrogate (a \\u escape of half a pair), which is not text; escape the whole pair (\\ud83d\\ude00) or write the character',
    );
  tokens.push({ kind: 'string', value, start, end: i + 1 });
  return i + 1;
}
