/**
 * `_generated/__init__.py`: one `WorkflowRouter` including every workflow's router, sorted by id;
 * `include_router` unions the pools, secrets and variables each one declares.
 */
import { importLine } from '../python/imports';
import { initTemplate } from './templates';

export function emitInit(workflowIds: string[]): string {
  const modules = [...workflowIds].sort();
  return initTemplate({ modules, importLine: modules.length > 0 ? importLine('.', modules) : undefined });
}
