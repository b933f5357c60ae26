// Placeholder so dependants type-check; replaced by the real pipeline.
import type { CompileOptions, CompileResult, DiagnosticLike, SourceFile } from './api';

export function compileService(_sources: SourceFile[], _options: CompileOptions): CompileResult {
  throw new Error('compiler not implemented yet');
}

export function renderDiagnostics(diagnostics: DiagnosticLike[], _sources: SourceFile[]): string {
  return diagnostics.map((d) => `${d.file}:${d.position.line}:${d.position.column}: ${d.message}`).join('\n');
}
