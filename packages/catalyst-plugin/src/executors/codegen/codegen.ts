import type { ExecutorContext } from '@nx/devkit';
import { serviceFromContext } from '../../utils/service';
import { runCodegen } from './lib/run-codegen';
import type { CodegenExecutorSchema } from './schema';

// Nx starts a process per task (outside batch mode): this module imports only what compiling
// needs. Not @nx/devkit (its logger is console.info/console.error, and loading the devkit costs
// more than compiling a service), so a task pays for the compiler and nothing else.
export default function codegenExecutor(
  options: CodegenExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const outcome = runCodegen(serviceFromContext(context, options.packageName));
  if (outcome.success) console.info(outcome.report);
  else console.error(outcome.report);
  return Promise.resolve({ success: outcome.success });
}
