/** `_generated/__init__.py`: one `router` including every workflow's router, sorted by id. */
import { initTemplate } from './templates';

export function emitInit(workflowIds: string[]): string {
  return initTemplate({ modules: [...workflowIds].sort() });
}
