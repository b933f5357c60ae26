/** Collects the diagnostics of one file, turning JSON paths into source positions. */
import type { Diagnostic, DiagnosticCode, JsonPath } from './diagnostics';
import type { ParsedSource } from '../parse/source';

export interface At {
  path: JsonPath;
  /** Point at the key rather than the value. */
  key?: boolean;
  /** Point at this character inside a string value. */
  stringOffset?: number;
}

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];

  constructor(readonly source: ParsedSource) {}

  error(code: DiagnosticCode, at: At, message: string, suggestion?: string): void {
    this.add('error', code, at, message, suggestion);
  }

  warning(code: DiagnosticCode, at: At, message: string, suggestion?: string): void {
    this.add('warning', code, at, message, suggestion);
  }

  get hasErrors(): boolean {
    return this.diagnostics.some((d) => d.severity === 'error');
  }

  private add(
    severity: Diagnostic['severity'],
    code: DiagnosticCode,
    at: At,
    message: string,
    suggestion?: string,
  ): void {
    const offset = this.source.locate(at.path, at);
    const diagnostic: Diagnostic = {
      code,
      severity,
      file: this.source.file.path,
      message,
      position: this.source.position(offset),
      path: at.path,
      offset,
    };
    if (suggestion !== undefined) diagnostic.suggestion = suggestion;
    this.diagnostics.push(diagnostic);
  }
}
