import { logger, type ExecutorContext } from '@nx/devkit';
import { serviceFromContext } from '../../utils/service';
import { runCodegen } from './lib/run-codegen';
import type { CodegenExecutorSchema } from './schema';

export default function codegenExecutor(
  options: CodegenExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const outcome = runCodegen(serviceFromContext(context, options.packageName));
  if (outcome.success) logger.info(outcome.report);
  else logger.error(outcome.report);
  return Promise.resolve({ success: outcome.success });
}
