/**
 * The compiler's public types. The compiler is pure: strings in, files and diagnostics out.
 * It never reads or writes the file system of the user's workspace.
 */

/** A workflow definition as read from disk; `path` is relative to the service's project root. */
export interface SourceFile {
  path: string;
  text: string;
}

export interface CompileOptions {
  /** Python import package of the service, e.g. `hello_svc`. */
  packageName: string;
  /** Nx project / distribution name of the service, e.g. `hello-svc`. */
  serviceName: string;
}

/** A file to write; `path` is relative to the `_generated/` folder, with forward slashes. */
export interface GeneratedFile {
  path: string;
  contents: string;
}

/** A position inside a source file: 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

export interface CompileResult {
  files: GeneratedFile[];
  diagnostics: DiagnosticLike[];
}

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
