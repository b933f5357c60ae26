/**
 * The compiler's public types. The compiler is pure: strings in, files and diagnostics out.
 * It never reads or writes the file system of the user's workspace.
 */
import type { DiagnosticLike } from './report/diagnostics';

export type { SourceFile, SourcePosition } from './parse/source';
export type { DiagnosticLike } from './report/diagnostics';

/** A file to write; `path` is relative to the `_generated/` folder, with forward slashes. */
export interface GeneratedFile {
  path: string;
  contents: string;
}

export interface CompileResult {
  files: GeneratedFile[];
  diagnostics: DiagnosticLike[];
}
