/**
 * The compiler driver: definitions in, Python modules and diagnostics out. Each step is one
 * pass in its own file; a file whose earlier steps fail stops there, other files go on.
 */
import type { CompileResult, GeneratedFile, SourceFile } from './api';
// The passes, in the order they run.
import { parseSource, ParsedSource } from './parse/source';
import { sweepExpressions } from './validate/sweep';
import { validate } from './validate/validate';
import { buildInputModel } from './model/input-model';
import { checkTraceInput } from './check/trace-input';
import { resolve, type WorkflowIR } from './resolve/resolve';
import { serviceConflicts } from './resolve/service';
import { planWorkflow, reportUnused } from './plan/plan';
import { typecheck } from './check/typecheck';
import { emitInit } from './emit/init';
import { emitMermaid } from './emit/mermaid';
import { emitWorkflow } from './emit/workflow';
// Shared by all of them.
import { sortDiagnostics, type Diagnostic } from './report/diagnostics';
import { Reporter } from './report/reporter';
import { pascalCase } from './python/names';

export { renderDiagnostics } from './report/render';

interface CompiledWorkflow {
  ir: WorkflowIR;
  reporter: Reporter;
  files: GeneratedFile[];
}

export function compileService(sources: SourceFile[]): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const workflows: CompiledWorkflow[] = [];
  for (const source of [...sources].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    const result = compileWorkflow(source, diagnostics);
    if (result) workflows.push(result);
  }
  append(diagnostics, serviceConflicts(workflows));
  if (diagnostics.some((d) => d.severity === 'error')) return { files: [], diagnostics: capDiagnostics(diagnostics) };
  const files = [
    { path: '__init__.py', contents: emitInit(workflows.map((w) => w.ir.id)) },
    ...workflows.flatMap((w) => w.files),
  ];
  return { files: files.sort((a, b) => (a.path < b.path ? -1 : 1)), diagnostics: capDiagnostics(diagnostics) };
}

function compileWorkflow(file: SourceFile, diagnostics: Diagnostic[]): CompiledWorkflow | undefined {
  // 1. Parse YAML/JSON, keeping the source position of every key and value.
  const { source, problems } = parseSource(file);
  if (!source) {
    append(
      diagnostics,
      problems.map((p) => problemDiagnostic(file, p.code, p.offset, p.message)),
    );
    return undefined;
  }
  const reporter = new Reporter(source);
  try {
    // 2. Validate the shape against the zod schemas (if it is wrong, still report expression syntax).
    const definition = validate(source.value, reporter);
    if (!definition) {
      sweepExpressions(source.value, reporter);
      return done(reporter, diagnostics);
    }
    // 3. Build the input model; resolve ids, templates and dependencies.
    const input = buildInputModel(definition.input, `${pascalCase(definition.id) || 'Workflow'}Input`, reporter);
    checkTraceInput(definition.trace?.input, input, reporter);
    const ir = resolve(definition, reporter);
    // 4. Order nodes into ready sets; report cycles.
    const plan = planWorkflow(ir, reporter);
    // 5. Type-check every expression against the input and node output types.
    const { checked, outputs, items } = typecheck(ir, plan, input, reporter);
    if (reporter.hasErrors) return done(reporter, diagnostics, ir);
    reportUnused(ir.all, ir.output, reporter); // only once all is well: an error often causes it
    // 6. Emit the Python module and the Mermaid diagram.
    const nodeLocation = (node: { path: readonly (string | number)[] }) => source.position(source.locate(node.path));
    const python = emitWorkflow({ ir, plan, input, checked, outputs, items, sourcePath: file.path, nodeLocation });
    const files = [
      { path: `${ir.id}.py`, contents: python },
      { path: `${ir.id}.mmd`, contents: emitMermaid(ir, plan, file.path) },
    ];
    append(diagnostics, reporter.diagnostics);
    return { ir, reporter, files };
  } catch (err) {
    // A compiler bug must still end as a diagnostic, never as a stack trace in the user's face.
    reporter.error(
      'internal',
      { path: [] },
      `internal compiler error (${err instanceof Error ? err.message : String(err)}); please report it`,
    );
    return done(reporter, diagnostics);
  }
}

function done(reporter: Reporter, diagnostics: Diagnostic[], ir?: WorkflowIR): CompiledWorkflow | undefined {
  append(diagnostics, reporter.diagnostics);
  return ir ? { ir, reporter, files: [] } : undefined;
}

function problemDiagnostic(file: SourceFile, code: Diagnostic['code'], offset: number, message: string): Diagnostic {
  const position = ParsedSource.positionIn(file.text, offset);
  return { code, severity: 'error', file: file.path, message, position, path: [], offset };
}

/** Appends without spreading: a file with 150k nodes can have 150k warnings, more than a call's arguments. */
function append<T>(to: T[], items: readonly T[]): void {
  for (const item of items) to.push(item);
}

/** At most this many diagnostics are shown per file; the rest are counted in one last line. */
export const MAX_DIAGNOSTICS_PER_FILE = 100;

/** Sorted, and at most `MAX_DIAGNOSTICS_PER_FILE` per file plus one saying how many more there were. */
function capDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  const sorted = sortDiagnostics(diagnostics);
  for (let i = 0; i < sorted.length;) {
    let end = i;
    while (end < sorted.length && sorted[end].file === sorted[i].file) end++;
    append(out, sorted.slice(i, Math.min(end, i + MAX_DIAGNOSTICS_PER_FILE)));
    if (end - i > MAX_DIAGNOSTICS_PER_FILE) {
      const rest = sorted.slice(i + MAX_DIAGNOSTICS_PER_FILE, end);
      const last = rest[rest.length - 1];
      out.push({
        file: last.file,
        position: last.position,
        path: last.path,
        offset: last.offset,
        code: 'too_many_diagnostics',
        severity: rest.some((d) => d.severity === 'error') ? 'error' : 'warning',
        message: `${rest.length} more diagnostics in this file are not shown (at most ${MAX_DIAGNOSTICS_PER_FILE} per file); fix these first`,
      });
    }
    i = end;
  }
  return out;
}
