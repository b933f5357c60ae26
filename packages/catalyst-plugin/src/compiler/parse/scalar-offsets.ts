/**
 * Maps an offset inside a parsed string value back to the source text, so an error in the
 * middle of an expression points at the exact character. Escapes in double-quoted scalars are
 * stepped over; folding and indentation in plain and block scalars are aligned greedily.
 */

export interface ScalarSource {
  /** yaml's scalar type: PLAIN, QUOTE_DOUBLE, QUOTE_SINGLE, BLOCK_LITERAL, BLOCK_FOLDED. */
  type: string;
  /** The scalar's source text, quotes and block header included. */
  raw: string;
  /** The parsed value. */
  value: string;
  /** Offset of `raw` in the file. */
  start: number;
}

const ESCAPE_LENGTH: Record<string, number> = { x: 4, u: 6, U: 10 };
/** How far ahead to look for a character before giving up on alignment. */
const LOOKAHEAD = 256;

/** Source offset of the character at `index` in the scalar's value (its end when past it). */
export function scalarOffset(scalar: ScalarSource, index: number): number {
  const { raw, type, value } = scalar;
  let p = contentStart(raw, type);
  let mapped = p;
  const last = Math.min(index, value.length);
  for (let i = 0; i <= last && p < raw.length; i++) {
    mapped = p;
    if (i === value.length) break;
    if (type === 'QUOTE_DOUBLE' && raw[p] === '\\') {
      p += ESCAPE_LENGTH[raw[p + 1]] ?? 2;
      continue;
    }
    const found = raw.indexOf(value[i], p);
    if (found >= 0 && found - p < LOOKAHEAD) mapped = p = found;
    p += type === 'QUOTE_SINGLE' && raw[p] === "'" && raw[p + 1] === "'" ? 2 : 1;
  }
  return scalar.start + Math.min(mapped, raw.length);
}

function contentStart(raw: string, type: string): number {
  if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') return 1;
  if (type === 'BLOCK_LITERAL' || type === 'BLOCK_FOLDED') {
    const nl = raw.indexOf('\n');
    return nl < 0 ? raw.length : nl + 1;
  }
  return 0;
}
