/**
 * `_generated/__init__.py`: one `WorkflowRouter` including every workflow's router, sorted by id;
 * `include_router` unions the pools, secrets and variables each one declares.
 */
import { byType, importLine } from '../python/imports';
import { initTemplate } from './templates';

export function emitInit(workflowIds: string[]): string {
  const modules = [...workflowIds].sort();
  // The import line in isort's order (CONSTANT-like ids such as `UTC` first), as ruff wants it.
  const imported = [...modules].sort(byType);
  return initTemplate({ modules, importLine: modules.length > 0 ? importLine('.', imported) : undefined });
}
