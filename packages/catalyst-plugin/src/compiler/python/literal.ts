/** Python literals for JSON values, byte-for-byte deterministic. */

/** Escapes a character that must not appear raw in a Python string literal. */
function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  switch (c) {
    case '\\':
      return '\\\\';
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
  }
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Characters escaped in literals: backslash, C0/C1 controls, DEL, line and paragraph separators
 * (some tools treat them as line breaks), lone surrogates (not encodable as UTF-8) and the BOM.
 * Everything else, unicode included, is written as itself.
 */
const NEEDS_ESCAPE =
  /[\\\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Text for a comment: backslash doubled, and as `\xNN` / `\uNNNN` every character some tool
 * reads as a line break or hides (controls, DEL, C1, U+2028/2029, the BOM, bidi controls, lone
 * surrogates). What is left is one line that cannot end the comment, whatever the text held.
 */
export function commentText(s: string): string {
  return s.replace(COMMENT_ESCAPE, escapeChar);
}

const COMMENT_ESCAPE =
  /[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The body of a Python string literal delimited by `quote`, without the quotes. */
export function pyStringBody(s: string, quote: Quote): string {
  return s.replace(NEEDS_ESCAPE, escapeChar).split(quote).join(`\\${quote}`);
}

/**
 * A Python string literal in the `preferred` quotes, unless the text holds them and not the
 * other kind (fewer escapes, as `ruff format` chooses).
 */
export function pyString(s: string, preferred: Quote = '"'): string {
  const quote = quoteFor(s, preferred);
  return `${quote}${pyStringBody(s, quote)}${quote}`;
}

export type Quote = '"' | "'";

export function quoteFor(s: string, preferred: Quote = '"'): Quote {
  const other: Quote = preferred === '"' ? "'" : '"';
  return s.includes(preferred) && !s.includes(other) ? other : preferred;
}

export function pyNumber(n: number, integer: boolean): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'float("nan")' : n > 0 ? 'float("inf")' : '-float("inf")';
  if (integer && Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return `${n}.0`;
  return String(n);
}

/** A JSON value as a Python expression: dicts, lists, str, int/float, True/False/None. */
export function pyValue(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return pyNumber(value, Number.isInteger(value));
  if (typeof value === 'string') return pyString(value);
  if (Array.isArray(value)) return `[${value.map(pyValue).join(', ')}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  return `{${entries.map(([k, v]) => `${pyString(k)}: ${pyValue(v)}`).join(', ')}}`;
}
