/**
 * Diagnostics as text: `file:line:col: message`, then the source line and a caret under the
 * spot. Long lines (minified JSON) are cut to a window around the caret.
 */
import type { SourceFile } from '../parse/source';
import { sortDiagnostics, type DiagnosticLike } from './diagnostics';

const WINDOW = 100;

export function renderDiagnostics(diagnostics: DiagnosticLike[], sources: SourceFile[]): string {
  const byPath = new Map(sources.map((s) => [s.path, s.text]));
  const lineCache = new Map<string, string[]>();
  const out: string[] = [];
  for (const d of sortDiagnostics(diagnostics)) {
    const { line, column } = d.position;
    // `file:line:col: message` is the contract; a warning says so at the end of its line.
    out.push(
      `${printable(d.file)}:${line}:${column}: ${printable(d.message)}${d.severity === 'warning' ? ' (warning)' : ''}`,
    );
    const text = byPath.get(d.file);
    if (text === undefined) continue;
    if (!lineCache.has(d.file)) lineCache.set(d.file, text.split(/\r?\n|\r/));
    const src = lineCache.get(d.file)![line - 1];
    if (src === undefined) continue;
    out.push(...excerpt(src, line, column));
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

function excerpt(src: string, line: number, column: number): string[] {
  let start = 0;
  let text = src;
  if (src.length > WINDOW) {
    start = Math.max(0, Math.min(column - 1 - WINDOW / 2, src.length - WINDOW));
    text = `${start > 0 ? '…' : ''}${src.slice(start, start + WINDOW)}${start + WINDOW < src.length ? '…' : ''}`;
  }
  const lead = start > 0 ? 1 : 0;
  const before = text.slice(0, lead + Math.max(0, column - 1 - start)).replace(/[^\t]/g, ' ');
  const gutter = String(line);
  const pad = ' '.repeat(gutter.length);
  return [` ${gutter} | ${printable(text)}`, ` ${pad} | ${before}^`];
}

/**
 * Control characters (other than tab) would garble a terminal; show each as one "�". Diagnostics
 * carry no colour of their own, and this keeps an escape sequence in a file name, a message or a
 * source line from adding one (or moving the cursor), on a terminal or in a log.
 */
function printable(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
}
