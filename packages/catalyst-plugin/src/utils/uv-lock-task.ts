import type { GeneratorCallback } from '@nx/devkit';
import { logger } from 'nx/src/utils/logger';
import { spawnSync } from 'node:child_process';
import { requireUv } from './uv';

/**
 * The generators' install step: `uv lock` at the workspace root, so uv.lock (an input of every
 * test target) exists and matches the workspace before the first task runs. Never fails the
 * generator: without uv, or offline, it says what to run later.
 */
export function uvLockTask(workspaceRoot: string): GeneratorCallback {
  return () => {
    const uv = requireUv((message) => logger.warn(`${message}\nThen run \`uv lock\` at the workspace root.`));
    if (!uv) return;
    const result = spawnSync(uv, ['lock'], {
      cwd: workspaceRoot,
      stdio: 'inherit',
      env: { UV_NO_PROGRESS: '1', ...process.env },
    });
    if (result.status !== 0) {
      logger.warn('`uv lock` did not succeed (see above). Fix the problem and run `uv lock` at the workspace root.');
    }
  };
}
