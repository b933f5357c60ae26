/**
 * The lexer on its own: each token's kind, value and offsets in the enclosing string, and each
 * refusal's offset and message. Golden folders reach the lexer only through whole definitions;
 * these pin what they cannot see (positions past a prefix, every escape, every foreign operator).
 */
import { ExprError } from './errors';
import { LONE_SURROGATE, lex, type Token } from './lexer';

const tokens = (s: string, start = 0, end = s.length): Token[] => lex(s, start, end);
const brief = (s: string): string[] =>
  lex(s, 0, s.length).map((t) => (t.kind === 'eof' ? 'eof' : `${t.kind}:${String(t.value)}@${t.start}-${t.end}`));

function refusal(s: string, start = 0, end = s.length): { offset: number; message: string } {
  try {
    lex(s, start, end);
  } catch (err) {
    if (err instanceof ExprError) return { offset: err.offset, message: err.message };
    throw err;
  }
  throw new Error(`lexed ${JSON.stringify(s)} without an error`);
}

describe('lex', () => {
  it('gives offsets in the enclosing string and stops at the end offset', () => {
    expect(tokens('ab {{ x }} cd', 5, 8)).toEqual([
      { kind: 'ident', value: 'x', start: 6, end: 7 },
      { kind: 'eof', value: '', start: 8, end: 8 },
    ]);
    // The identifier stops at `end` even when letters follow it.
    expect(tokens('abcdef', 1, 3)).toEqual([
      { kind: 'ident', value: 'bc', start: 1, end: 3 },
      { kind: 'eof', value: '', start: 3, end: 3 },
    ]);
  });

  it('skips spaces, tabs, newlines and carriage returns', () => {
    expect(brief(' a\tb\nc\rd ')).toEqual(['ident:a@1-2', 'ident:b@3-4', 'ident:c@5-6', 'ident:d@7-8', 'eof']);
  });

  it('reads names of ASCII letters, digits and underscores', () => {
    expect(brief('_a9Z b_1')).toEqual(['ident:_a9Z@0-4', 'ident:b_1@5-8', 'eof']);
    expect(brief('Zz')).toEqual(['ident:Zz@0-2', 'eof']);
  });

  it('reads integers, decimals and exponents, keeping the digits', () => {
    expect(tokens('12 3.5 1e3 2E-2 4e+1 1.5e2')).toEqual([
      { kind: 'number', value: 12, integer: true, raw: '12', start: 0, end: 2 },
      { kind: 'number', value: 3.5, integer: false, raw: '3.5', start: 3, end: 6 },
      { kind: 'number', value: 1000, integer: false, raw: '1e3', start: 7, end: 10 },
      { kind: 'number', value: 0.02, integer: false, raw: '2E-2', start: 11, end: 15 },
      { kind: 'number', value: 40, integer: false, raw: '4e+1', start: 16, end: 20 },
      { kind: 'number', value: 150, integer: false, raw: '1.5e2', start: 21, end: 26 },
      { kind: 'eof', value: '', start: 26, end: 26 },
    ]);
    expect(tokens('0')[0]).toMatchObject({ value: 0, integer: true, raw: '0' });
    expect(tokens('0.5')[0]).toMatchObject({ value: 0.5, integer: false, raw: '0.5' });
    expect(tokens('00.5')[0]).toMatchObject({ raw: '00.5', integer: false });
    expect(tokens('12345678901234567890123')[0]).toMatchObject({ raw: '12345678901234567890123', integer: true });
    // A leading zero is refused only on an integer: with a fraction or an exponent it is a float.
    expect(tokens('00e1')[0]).toMatchObject({ value: 0, raw: '00e1', integer: false });
    expect(tokens('01.25')[0]).toMatchObject({ value: 1.25, raw: '01.25', integer: false });
  });

  it('reads a number only up to the end offset', () => {
    expect(tokens('123', 0, 2)).toEqual([
      { kind: 'number', value: 12, integer: true, raw: '12', start: 0, end: 2 },
      { kind: 'eof', value: '', start: 2, end: 2 },
    ]);
  });

  it('stops a number at a dot not followed by a digit, and at the end offset', () => {
    expect(brief('1.x')).toEqual(['number:1@0-1', 'op:.@1-2', 'ident:x@2-3', 'eof']);
    expect(brief('1.')).toEqual(['number:1@0-1', 'op:.@1-2', 'eof']);
    expect(brief('2 e')).toEqual(['number:2@0-1', 'ident:e@2-3', 'eof']);
    expect(brief('(1)')).toEqual(['op:(@0-1', 'number:1@1-2', 'op:)@2-3', 'eof']);
  });

  it('refuses letters glued to a number, at the letter', () => {
    expect(refusal('x 12ab')).toEqual({ offset: 4, message: 'unexpected "a" after the number 12' });
    expect(refusal('1_0')).toEqual({ offset: 1, message: 'unexpected "_" after the number 1' });
    expect(refusal('1e')).toEqual({ offset: 1, message: 'unexpected "e" after the number 1' });
  });

  it('refuses integers with a leading zero, saying how to write them', () => {
    expect(refusal('a 007')).toEqual({ offset: 2, message: 'a number cannot start with 0; write 7' });
    expect(refusal('00')).toEqual({ offset: 0, message: 'a number cannot start with 0; write 0' });
    expect(refusal('0012')).toEqual({ offset: 0, message: 'a number cannot start with 0; write 12' });
  });

  it('refuses a float beyond the largest double', () => {
    expect(refusal('x 1e309')).toEqual({
      offset: 2,
      message: 'the number 1e309 is beyond the largest float (about 1.8e308); write a smaller one',
    });
    expect(refusal(`${'9'.repeat(310)}.0`).message).toMatch(/^the number 9+\.0 is beyond the largest float/);
    // A huge integer is exact in Python: kept.
    expect(tokens('9'.repeat(320))[0]).toMatchObject({ integer: true, raw: '9'.repeat(320) });
  });

  it('reads every operator, longest first', () => {
    const ops = ['==', '!=', '<=', '>=', '<', '>', '+', '-', '*', '/', '%', '(', ')', '[', ']', ',', '.', '|'];
    expect(brief(ops.join(' '))).toEqual([
      ...ops.map((o, i) => {
        const start = ops.slice(0, i).reduce((n, p) => n + p.length + 1, 0);
        return `op:${o}@${start}-${start + o.length}`;
      }),
      'eof',
    ]);
    expect(brief('a<=b')).toEqual(['ident:a@0-1', 'op:<=@1-3', 'ident:b@3-4', 'eof']);
  });

  it('does not read an operator across the end offset', () => {
    // "<=" straddles the end: only "<" is inside.
    expect(tokens('a<=', 0, 2).map((t) => t.value)).toEqual(['a', '<', '']);
    expect(refusal('a==', 0, 2)).toEqual({ offset: 1, message: '"=" is not an operator here; use ==' });
  });

  it('names the spelling to use for operators of other languages', () => {
    const cases: [string, string][] = [
      ['===', 'use =='],
      ['!==', 'use !='],
      ['&&', 'use and'],
      ['||', 'use or'],
      ['**', 'use multiplication'],
      ['//', 'use / and | int'],
      ['!', 'use not'],
      ['=', 'use =='],
      ['?', 'use a if condition else b'],
      ['{', 'use [ ] lists (mappings are built with set:)'],
    ];
    for (const [op, advice] of cases)
      expect(refusal(`a ${op} b`)).toEqual({ offset: 2, message: `"${op}" is not an operator here; ${advice}` });
  });

  it('reads a foreign operator only when all of it is inside the expression', () => {
    // "**" cut by the end offset is one "*".
    expect(tokens('a**', 0, 2).map((t) => t.value)).toEqual(['a', '*', '']);
    expect(tokens('a//', 0, 2).map((t) => t.value)).toEqual(['a', '/', '']);
    expect(refusal('a&&', 0, 2)).toEqual({ offset: 1, message: 'unexpected character "&"' });
    // One that ends exactly at the end offset is inside.
    expect(refusal('a**')).toEqual({ offset: 1, message: '"**" is not an operator here; use multiplication' });
  });

  it('refuses other characters, with a hint for non-ASCII letters', () => {
    expect(refusal('a $')).toEqual({ offset: 2, message: 'unexpected character "$"' });
    expect(refusal('x é')).toEqual({
      offset: 2,
      message: 'unexpected character "é": names in expressions use ASCII letters, digits and "_", like ids',
    });
    expect(refusal('a ;')).toEqual({ offset: 2, message: 'unexpected character ";"' });
  });

  it('reads strings in either quote, with their offsets', () => {
    expect(tokens(`x "a'b" 'c"d'`)).toEqual([
      { kind: 'ident', value: 'x', start: 0, end: 1 },
      { kind: 'string', value: "a'b", start: 2, end: 7 },
      { kind: 'string', value: 'c"d', start: 8, end: 13 },
      { kind: 'eof', value: '', start: 13, end: 13 },
    ]);
    expect(tokens('""')[0]).toEqual({ kind: 'string', value: '', start: 0, end: 2 });
  });

  it('reads every escape', () => {
    expect(tokens(String.raw`"\n\t\r\\\'\"\0"`)[0]).toMatchObject({ value: '\n\t\r\\\'"\0' });
    expect(tokens(String.raw`'\u00e9\u00E9x\u0041'`)[0]).toMatchObject({ value: 'ééxA', end: 21 });
    expect(tokens(String.raw`"\ud83d\ude00"`)[0]).toMatchObject({ value: '😀' });
    // Four hex digits after another escape are text: only \u reads them.
    expect(tokens(String.raw`"\n0041\t00e9"`)[0]).toMatchObject({ value: '\n0041\t00e9', end: 14 });
  });

  it('refuses unknown escapes at the backslash', () => {
    expect(refusal(String.raw`x "ab\q"`)).toEqual({
      offset: 5,
      message: String.raw`unknown escape "\q" in string; use \\ for a backslash`,
    });
    // \u with fewer than four hex digits is not an escape.
    expect(refusal(String.raw`"\u12g4"`)).toEqual({
      offset: 1,
      message: String.raw`unknown escape "\u" in string; use \\ for a backslash`,
    });
    // A backslash as the last character inside the expression.
    expect(refusal('"\\', 0, 2)).toEqual({
      offset: 1,
      message: String.raw`unknown escape "\" in string; use \\ for a backslash`,
    });
    expect(refusal('"\\')).toEqual({
      offset: 1,
      message: String.raw`unknown escape "\" in string; use \\ for a backslash`,
    });
    // What follows the backslash past the end offset is not read: neither an escape's letter
    // nor a \u's digits.
    expect(refusal(String.raw`"\n"`, 0, 2)).toEqual({
      offset: 1,
      message: String.raw`unknown escape "\" in string; use \\ for a backslash`,
    });
    expect(refusal(String.raw`"\u0041"`, 0, 6)).toEqual({
      offset: 1,
      message: String.raw`unknown escape "\u" in string; use \\ for a backslash`,
    });
  });

  it('refuses an unterminated string at its opening quote', () => {
    expect(refusal(`a "bc`)).toEqual({ offset: 2, message: 'unterminated string: add the closing "' });
    expect(refusal(`a 'bc`)).toEqual({ offset: 2, message: "unterminated string: add the closing '" });
    // The closing quote past the end offset does not count.
    expect(refusal(`"ab"`, 0, 3)).toEqual({ offset: 0, message: 'unterminated string: add the closing "' });
    // An escape past the end offset is not read.
    expect(refusal(String.raw`"a\n"`, 0, 2)).toEqual({ offset: 0, message: 'unterminated string: add the closing "' });
  });

  it('refuses a lone surrogate, and accepts a whole pair', () => {
    const message =
      'the string holds a lone surrogate (a \\u escape of half a pair), which is not text; escape the whole pair (\\ud83d\\ude00) or write the character';
    expect(refusal(String.raw`x "\ud83d"`)).toEqual({ offset: 2, message });
    expect(refusal(String.raw`"\ude00"`)).toEqual({ offset: 0, message });
    expect(LONE_SURROGATE.test('\ud83d')).toBe(true);
    expect(LONE_SURROGATE.test('\ude00a')).toBe(true);
    expect(LONE_SURROGATE.test('a\ud83d\ude00b')).toBe(false);
  });
});
