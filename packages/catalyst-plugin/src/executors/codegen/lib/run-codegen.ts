import { join } from 'node:path';
import { compileService, renderDiagnostics, type CompileResult, type SourceFile } from '../../../compiler';
import { generatedDirOf, type Service } from '../../../utils/service';
import { readDefinitions, WORKFLOWS_DIR } from './read-definitions';
import { recoverLeftovers, writeGeneratedAtomically } from './write-atomically';

export interface CodegenOutcome {
  success: boolean;
  /** Diagnostics and a summary, ready to print. */
  report: string;
  /** Whether files on disk changed. */
  changed: boolean;
}

export type Compile = (sources: SourceFile[]) => CompileResult;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Reads the definitions, compiles them and, only when there is no error, swaps the output in. The
 * one codegen run: the codegen executor's, and serve's on every definition edit with --reload.
 */
export function runCodegen(service: Service, compile: Compile = compileService): CodegenOutcome {
  const outputRel = generatedDirOf(service.packageName);
  const outputDir = join(service.absoluteRoot, ...outputRel.split('/'));
  const where = service.root;
  let sources: SourceFile[];
  try {
    recoverLeftovers(outputDir);
    sources = readDefinitions(service.absoluteRoot);
  } catch (e) {
    // A definition renamed or removed while it is read (editors save by rename; serve --reload
    // recompiles on every change) must fail this run with a message, not crash the process.
    return {
      success: false,
      changed: false,
      report: `Cannot read the definitions in ${where}/${WORKFLOWS_DIR}/ or clean up after an earlier run: ${(e as Error).message}\n${outputRel} was left untouched.`,
    };
  }
  if (sources.length === 0) {
    return {
      success: false,
      changed: false,
      report: `No workflow definitions in ${where}/${WORKFLOWS_DIR}/ (expected *.workflow.yaml, *.workflow.yml or *.workflow.json).`,
    };
  }

  let result: CompileResult;
  try {
    result = compile(sources);
  } catch (e) {
    return {
      success: false,
      changed: false,
      report: `The compiler failed on ${where} (this is a bug in @catalyst/plugin): ${(e instanceof Error ? e.stack : undefined) ?? String(e)}\n${outputRel} was left untouched.`,
    };
  }

  const errors = result.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = result.diagnostics.length - errors;
  const lines: string[] = [];
  if (result.diagnostics.length > 0) lines.push(renderDiagnostics(result.diagnostics, sources));
  if (errors > 0) {
    lines.push(
      `${plural(errors, 'error')}${warnings ? `, ${plural(warnings, 'warning')}` : ''} in ${where}; ${outputRel} was left untouched.`,
    );
    return { success: false, changed: false, report: lines.join('\n') };
  }

  let changed: boolean;
  try {
    changed = writeGeneratedAtomically(outputDir, result.files);
  } catch (e) {
    return {
      success: false,
      changed: false,
      report: `Cannot write ${where}/${outputRel}: ${(e as Error).message}\nThe previous output was kept; fix the problem (permissions, disk space) and run codegen again.`,
    };
  }
  lines.push(
    `${changed ? 'Generated' : 'Up to date:'} ${plural(result.files.length, 'file')} in ${where}/${outputRel} from ${plural(sources.length, 'definition')}` +
      (warnings ? ` (${plural(warnings, 'warning')})` : '') +
      '.',
  );
  return { success: true, changed, report: lines.join('\n') };
}
