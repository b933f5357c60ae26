import { logger } from 'nx/src/utils/logger';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** What to tell a user who has no uv. */
export const UV_INSTALL_HINT =
  'Catalyst runs Python through uv, which was not found. Install it with `pip install uv` ' +
  '(or see https://docs.astral.sh/uv/getting-started/installation/), or point the UV ' +
  'environment variable at a uv binary.';

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks a command up on PATH (PATHEXT on Windows), like `which`. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env['PATH'] ?? env['Path'] ?? '').split(delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (env['PATHEXT'] ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = join(dir, command + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * The uv binary to run: `$UV` when it names an executable (an explicit choice wins, so CI and
 * the repo's scripts can pin a version), else `uv` on PATH. Throws with install instructions
 * when neither exists.
 */
export function findUv(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env['UV'];
  if (fromEnv) {
    if (isExecutableFile(fromEnv)) return fromEnv;
    const onPath = findOnPath(fromEnv, env);
    if (onPath) return onPath;
  }
  const uv = findOnPath('uv', env);
  if (uv) return uv;
  throw new Error(fromEnv ? `UV=${fromEnv} is not an executable. ${UV_INSTALL_HINT}` : UV_INSTALL_HINT);
}

/**
 * {@link findUv} for the executors and generators, which need uv but must not crash without it:
 * answers undefined after passing the reason (with the install instructions) to `report`, an
 * error by default; a generator, which can do without uv, reports a warning instead.
 */
export function requireUv(
  report: (message: string) => void = (message) => logger.error(message),
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  try {
    return findUv(env);
  } catch (e) {
    report((e as Error).message);
    return undefined;
  }
}
