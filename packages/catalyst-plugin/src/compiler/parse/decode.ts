/**
 * Definition bytes → text. Definitions are UTF-8; a file that is not is read with U+FFFD in
 * place of the bad bytes (so the rest can still be shown) and marked, and the compiler reports
 * it at the first bad byte instead of compiling text the user never wrote.
 */
import type { SourceFile } from './source';

/** The definition at `path` from its bytes (a UTF-8 byte order mark is kept, as text). */
export function decodeDefinition(path: string, bytes: Uint8Array): SourceFile {
  const text = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
  const bad = firstInvalidByte(bytes);
  if (bad === undefined) return { path, text };
  const offset = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes.subarray(0, bad)).length;
  return { path, text, notUtf8: { offset, byte: bytes[bad] } };
}

/** Index of the first byte that does not belong to a well-formed UTF-8 sequence. */
export function firstInvalidByte(bytes: Uint8Array): number | undefined {
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    // Lead byte: length and the range of the second byte (no overlongs, surrogates or > U+10FFFF).
    let length: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k < length; k++) {
      const c = bytes[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += length;
  }
  return undefined;
}
