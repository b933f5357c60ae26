/**
 * Diagnostics are data: a code, where (a JSON path into the definition, resolved to a source
 * position) and a message that says how to fix it. Rendering lives in `render.ts`.
 */
import type { JsonPath, SourcePosition } from '../parse/source';

export type { JsonPath } from '../parse/source';

/**
 * The minimal shape every diagnostic has. The compiler's own `Diagnostic` union (with a `code`
 * per kind of mistake) extends this; renderers only rely on these fields.
 */
export interface DiagnosticLike {
  code: string;
  severity: 'error' | 'warning';
  file: string;
  message: string;
  position: SourcePosition;
}

export type DiagnosticCode =
  // reading the file
  | 'syntax'
  | 'not_json'
  | 'not_utf8'
  | 'empty_file'
  | 'too_large'
  | 'too_deep'
  | 'constant_value'
  | 'too_many_diagnostics'
  // shape of the definition
  | 'invalid_type'
  | 'invalid_value'
  | 'missing_field'
  | 'unknown_field'
  | 'unknown_node_kind'
  | 'invalid_definition'
  // names and graph
  | 'invalid_id'
  | 'duplicate_id'
  | 'duplicate_route'
  | 'unknown_node'
  | 'unknown_after'
  | 'out_of_scope'
  | 'empty_graph'
  | 'cycle'
  | 'unused_node'
  | 'unsafe_retry'
  | 'secret_to_chosen_host'
  | 'unsupported'
  | 'sql_expression'
  | 'sql_parameter'
  | 'not_cacheable'
  // expressions
  | 'expression_syntax'
  | 'unknown_root'
  | 'unknown_input_field'
  | 'unknown_output_field'
  | 'unknown_filter'
  | 'unknown_function'
  | 'filter_type'
  | 'operator_type'
  | 'comparison_type'
  | 'bad_access'
  | 'filter_arguments'
  | 'input_schema'
  | 'useless_default'
  // a bug in the compiler, reported instead of thrown
  | 'internal';

export interface Diagnostic extends DiagnosticLike {
  code: DiagnosticCode;
  /** Where in the definition (JSON path); `[]` is the whole file. */
  path: JsonPath;
  /** Offset of `position` in the source text, for sorting. */
  offset: number;
  /** The closest valid name, when one is close (also part of `message`). */
  suggestion?: string;
}

export function comparePositions(a: SourcePosition, b: SourcePosition): number {
  return a.line - b.line || a.column - b.column;
}

/** Sort by file, then position, then message, so output is stable whatever order passes ran in. */
export function sortDiagnostics<T extends DiagnosticLike>(diagnostics: T[]): T[] {
  return [...diagnostics].sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      comparePositions(a.position, b.position) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** JSON path as users read it: `nodes[2].set.message`. */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out === '' ? '(top level)' : out;
}
