import type { ExecutorContext } from '@nx/devkit';
import { runtimeDriftHint } from './lib/runtime-drift';
import { requireUv } from '../../utils/uv';
import { runForwardingSignals } from '../../utils/run-process';
import { serviceFromContext } from '../../utils/service';
import type { PytestExecutorSchema } from './schema';

export function pytestArgs(distributionName: string, extra: string[] = []): string[] {
  return ['run', '--package', distributionName, 'pytest', ...extra];
}

/**
 * The arguments for pytest from the command line: Nx hands the executor every override as raw
 * text (`$source: 'unparsed'`), both what came after `--` and this executor's own `--args`,
 * which already arrived parsed in `options.args`; the latter are dropped here.
 */
export function passthroughArgs(unparsed: readonly string[] = []): string[] {
  const out: string[] = [];
  for (let i = 0; i < unparsed.length; i++) {
    const arg = unparsed[i];
    if (arg.startsWith('--args=')) continue;
    if (arg === '--args') {
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

export default async function pytestExecutor(
  options: PytestExecutorSchema,
  context: ExecutorContext,
): Promise<{ success: boolean }> {
  const service = serviceFromContext(context);
  const uv = requireUv();
  if (!uv) return { success: false };
  const extra = [...(options.args ?? []), ...passthroughArgs(options.__unparsed__)];
  const code = await runForwardingSignals(uv, pytestArgs(service.distributionName, extra), {
    cwd: service.absoluteRoot,
    env: process.env,
  });
  if (code !== 0) {
    const hint = runtimeDriftHint(context);
    if (hint) console.error(`\n${service.distributionName}: ${hint}`);
  }
  return { success: code === 0 };
}
