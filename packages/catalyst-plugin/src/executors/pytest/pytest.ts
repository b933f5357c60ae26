import { logger, type ExecutorContext } from '@nx/devkit';
import { findUv } from '../../utils/uv';
import { runForwardingSignals } from '../../utils/run-process';
import { serviceFromContext } from '../codegen/codegen';
import type { PytestExecutorSchema } from './schema';

export function pytestArgs(distributionName: string, extra: string[] = []): string[] {
  return ['run', '--package', distributionName, 'pytest', ...extra];
}

export default async function pytestExecutor(
  options: PytestExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const service = serviceFromContext(context);
  let uv: string;
  try {
    uv = findUv();
  } catch (e) {
    logger.error((e as Error).message);
    return { success: false };
  }
  const code = await runForwardingSignals(uv, pytestArgs(service.distributionName, options.args), {
    cwd: service.projectRoot,
    env: process.env,
  });
  return { success: code === 0 };
}
