/**
 * `pattern` is checked here by JavaScript's engine (as JSON Schema reads it: ECMA-262, `u`
 * flag) and enforced at run time by pydantic's Rust `regex` engine. Only the subset both read
 * the same way is accepted, and it is written out so both match the same strings:
 *
 * - `\d`, `\w`, `\s` (and `\D`, `\W`, `\S` outside a class) become ASCII classes: Rust reads them
 *   as Unicode (`\d` would accept "١٢٣"); `.` becomes `[^\n\r\u2028\u2029]`, JavaScript's `.`.
 * - Refused, with the construct named: look-ahead and look-behind, backreferences (`\1`,
 *   `\k<name>`), word boundaries (`\b`, `\B`: Unicode in Rust, ASCII in JavaScript), `\0`, `\cX`,
 *   Unicode properties other than a general category (`\p{L}`, `\p{Lu}`), an empty class (`[]`,
 *   `[^]`), `\D`/`\W`/`\S` inside a class, and inside a class an unescaped `[` or `&&`, `--`,
 *   `~~` (Rust's nested classes and set operations).
 */

export type PatternResult = { ok: true; pattern: string } | { ok: false; offset: number; message: string };

const ASCII_CLASS: Record<string, string> = { d: '0-9', w: '0-9A-Za-z_', s: '\\t\\n\\v\\f\\r ' };
const DOT = '[^\\n\\r\\u2028\\u2029]';

export function portablePattern(source: string): PatternResult {
  try {
    new RegExp(source, 'u');
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/\w*: /s, '') : '';
    return { ok: false, offset: 0, message: `"pattern" is not a valid regular expression (${why})` };
  }
  const fail = (offset: number, what: string, instead: string): PatternResult => ({
    ok: false,
    offset,
    message: `"pattern" uses ${what}, which the run-time engine (Rust regex) reads differently or not at all; ${instead}`,
  });
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length;) {
    const c = source[i];
    if (c === '\\') {
      const e = source[i + 1];
      if (/[1-9]/.test(e) || e === 'k') return fail(i, `a backreference (\\${e})`, 'match the text again explicitly');
      if (e === '0') return fail(i, 'the escape \\0', 'write \\x00');
      if (e === 'c') return fail(i, 'a control escape (\\c)', 'write \\xNN');
      if (e === 'b' || e === 'B')
        return fail(
          i,
          `a word boundary or backspace (\\${e})`,
          'spell out the characters around it, e.g. (^|[^0-9A-Za-z_])',
        );
      if (e === 'p' || e === 'P') {
        const m = /^\\[pP]\{([A-Za-z_=]+)\}/.exec(source.slice(i));
        if (!m || !/^[A-Z][a-z]?$/.test(m[1]))
          return fail(
            i,
            'a Unicode property other than a general category',
            'use one like \\p{L} or \\p{Nd}, or list the ranges',
          );
        out += m[0];
        i += m[0].length;
        continue;
      }
      const lower = e.toLowerCase();
      if (lower in ASCII_CLASS) {
        if (e === lower) out += inClass ? ASCII_CLASS[e] : `[${ASCII_CLASS[e]}]`;
        else if (inClass)
          return fail(i, `\\${e} inside a class`, `write the class without it, or use [^${ASCII_CLASS[lower]}]`);
        else out += `[^${ASCII_CLASS[lower]}]`;
        i += 2;
        continue;
      }
      // \uXXXX, \u{...}, \xHH, \t \n \r \f \v and escaped syntax characters: the same in both.
      const m = /^\\(u\{[0-9A-Fa-f]+\}|u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2}|.)/su.exec(source.slice(i))!;
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      else if (c === '[')
        return fail(i, 'an unescaped "[" inside a class (a nested class in Rust)', 'escape it as \\[');
      else if (['&&', '--', '~~'].includes(source.slice(i, i + 2)))
        return fail(i, `"${source.slice(i, i + 2)}" inside a class (a set operation in Rust)`, 'escape one of the two');
      out += c;
      i++;
      continue;
    }
    if (c === '[') {
      const negated = source[i + 1] === '^';
      const first = i + (negated ? 2 : 1);
      if (source[first] === ']')
        return fail(i, `an empty class (${negated ? '[^]' : '[]'})`, 'use [\\s\\S] for any character, or remove it');
      inClass = true;
      out += source.slice(i, first);
      i = first;
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const head = source.slice(i, i + 4);
      if (head.startsWith('(?=') || head.startsWith('(?!'))
        return fail(i, 'a look-ahead', 'match the text itself, or check it in a node');
      if (head.startsWith('(?<=') || head.startsWith('(?<!'))
        return fail(i, 'a look-behind', 'match the text itself, or check it in a node');
    }
    out += c === '.' ? DOT : c;
    i++;
  }
  return { ok: true, pattern: out };
}
