/** Checks across the workflows of one service: unique ids (module names) and unique routes. */
import type { Diagnostic } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import type { WorkflowIR } from './resolve';

export function serviceConflicts(workflows: { ir: WorkflowIR; reporter: Reporter }[]): Diagnostic[] {
  const ids = new Map<string, string>();
  const routes = new Map<string, string>();
  const out: Diagnostic[] = [];
  for (const { ir, reporter } of workflows) {
    const file = reporter.source.file.path;
    const before = reporter.diagnostics.length;
    const otherId = ids.get(ir.id);
    if (otherId !== undefined)
      reporter.error(
        'duplicate_id',
        { path: ['id'] },
        `workflow id "${ir.id}" is already used by ${otherId}; workflow ids must be unique in a service`,
      );
    else ids.set(ir.id, file);
    const route = `${ir.method} ${ir.route}`;
    const otherRoute = routes.get(route);
    if (otherRoute !== undefined)
      reporter.error(
        'duplicate_route',
        { path: ['trigger'] },
        `route ${route} is already served by ${otherRoute}; give this workflow another "trigger.path"`,
      );
    else routes.set(route, file);
    for (const d of reporter.diagnostics.slice(before)) out.push(d);
  }
  return out;
}
