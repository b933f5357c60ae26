// Finds uv, installing the pinned version from PyPI into .tools/venv when it is missing.
// Used by every script that runs Python, so a fresh clone needs only Node and Python 3.11+.
//   import { ensureUv } from './uv.mjs'     -> absolute path of the uv binary
//   node tools/uv.mjs <uv args...>           -> runs uv with those arguments
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const UV_VERSION = '0.13.9';
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const venv = join(repoRoot, '.tools', 'venv');
const venvUv = join(venv, 'bin', 'uv');

function versionOf(bin) {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().split(/\s+/)[1];
  } catch {
    return undefined;
  }
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const out = spawnSync(candidate, ['-c', 'import sys; print(sys.version_info >= (3, 11))'], { encoding: 'utf8' });
    if (out.status === 0 && out.stdout.trim() === 'True') return candidate;
  }
  throw new Error('Python 3.11 or newer is required: install it, or point PYTHON at it.');
}

/** Environment for uv: never download a Python build (the machine's Python is the one to use). */
export function uvEnv(extra = {}) {
  return { ...process.env, UV_PYTHON_DOWNLOADS: 'never', UV_NO_PROGRESS: '1', ...extra };
}

export function ensureUv() {
  if (process.env.UV && versionOf(process.env.UV)) return process.env.UV;
  if (existsSync(venvUv) && versionOf(venvUv) === UV_VERSION) return venvUv;
  const python = findPython();
  console.error(`[uv] installing uv ${UV_VERSION} into ${venv}`);
  execFileSync(python, ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(
    join(venv, 'bin', 'python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `uv==${UV_VERSION}`],
    {
      stdio: 'inherit',
    },
  );
  return venvUv;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const uv = ensureUv();
  const result = spawnSync(uv, process.argv.slice(2), { stdio: 'inherit', env: uvEnv() });
  process.exit(result.status ?? 1);
}
