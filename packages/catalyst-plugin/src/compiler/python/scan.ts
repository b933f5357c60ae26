/**
 * The names a piece of generated Python reads: identifiers outside string literals and
 * comments, not after a `.` (attributes) and not before a single `=` (keyword arguments and
 * assignment targets). Inside an f-string, the code between braces counts. Enough of Python's
 * lexical rules for the code this compiler writes, which is how a module's imports are derived
 * from the code itself rather than kept in step with it by hand.
 */

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_]/;
const STRING_PREFIX = /^[rRbBuUfF]{1,2}$/;

export function namesRead(code: string): Set<string> {
  const names = new Set<string>();
  scan(code, names);
  return names;
}

function scan(code: string, names: Set<string>): void {
  let i = 0;
  while (i < code.length) {
    const c = code[i];
    if (c === '#') {
      while (i < code.length && code[i] !== '\n') i++;
    } else if (c === '"' || c === "'") {
      i = skipString(code, i, false, names);
    } else if (/[0-9]/.test(c)) {
      while (i < code.length && /[0-9A-Za-z_.]/.test(code[i])) i++;
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < code.length && IDENT.test(code[i])) i++;
      const word = code.slice(start, i);
      if ((code[i] === '"' || code[i] === "'") && STRING_PREFIX.test(word)) {
        i = skipString(code, i, /[fF]/.test(word), names);
        continue;
      }
      if (!isAttribute(code, start) && !isTarget(code, start, i)) names.add(word);
    } else {
      i++;
    }
  }
}

/** True when the identifier starting at `start` follows a `.`. */
function isAttribute(code: string, start: number): boolean {
  let j = start - 1;
  while (j >= 0 && code[j] === ' ') j--;
  return j >= 0 && code[j] === '.';
}

/**
 * True for a keyword argument or an assignment target: a single `=` follows (not `==`) and the
 * name starts a line or follows `(` or `,`. (`x: Any = None` reads `Any`.)
 */
function isTarget(code: string, start: number, end: number): boolean {
  let j = end;
  while (j < code.length && code[j] === ' ') j++;
  if (code[j] !== '=' || code[j + 1] === '=') return false;
  let k = start - 1;
  while (k >= 0 && code[k] === ' ') k--;
  return k < 0 || code[k] === '\n' || code[k] === '(' || code[k] === ',';
}

/** Skips the string literal opening at `i`; in an f-string, scans the code between braces. */
function skipString(code: string, i: number, formatted: boolean, names: Set<string>): number {
  const quote = code[i];
  const triple = code.startsWith(quote.repeat(3), i);
  const close = triple ? quote.repeat(3) : quote;
  i += close.length;
  while (i < code.length && !code.startsWith(close, i)) {
    if (code[i] === '\\') {
      i += 2;
    } else if (formatted && (code.startsWith('{{', i) || code.startsWith('}}', i))) {
      i += 2;
    } else if (formatted && code[i] === '{') {
      const end = matchingBrace(code, i);
      scan(code.slice(i + 1, end), names);
      i = end + 1;
    } else {
      i++;
    }
  }
  return i + close.length;
}

/** The index of the `}` closing the `{` at `open`, skipping nested brackets and strings. */
function matchingBrace(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'") {
      for (i++; i < code.length && code[i] !== c; i++) if (code[i] === '\\') i++;
    } else if (c === '{' || c === '[' || c === '(') {
      depth++;
    } else if (c === '}' || c === ']' || c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return code.length;
}
