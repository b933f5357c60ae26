import type { Tree } from '@nx/devkit';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';

/** What the runtime library consists of, relative to the plugin's `runtime/` folder. */
export const RUNTIME_FILES = ['pyproject.toml', 'README.md'];
export const RUNTIME_PACKAGE_DIR = 'src/catalyst_runtime';

const SKIPPED = new Set(['__pycache__', '.pytest_cache', '.mypy_cache', '.ruff_cache']);

function isSkipped(name: string): boolean {
  return SKIPPED.has(name) || name.endsWith('.pyc') || name.endsWith('.pyo');
}

/** Every file under `dir`, as posix paths relative to `dir`, sorted; caches are skipped. */
function listFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (isSkipped(entry)) continue;
    const full = join(dir, entry);
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(full).isDirectory()) files.push(...listFiles(full, rel));
    else files.push(rel);
  }
  return files;
}

/** Every file the tree holds under `dir` (relative, posix), skipping caches. */
function listTreeFiles(tree: Tree, dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of tree.children(dir)) {
    if (isSkipped(entry)) continue;
    const full = posix.join(dir, entry);
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (tree.isFile(full)) files.push(rel);
    else files.push(...listTreeFiles(tree, full, rel));
  }
  return files;
}

/**
 * Copies the runtime library byte for byte (no templating) from the plugin's `runtime/` folder
 * into `targetDir`. Files of the package that this version no longer ships are removed, so an
 * update never leaves stale modules behind; files outside the package folder (tests, notes the
 * user added) are left alone.
 */
export function copyRuntimeFiles(tree: Tree, sourceDir: string, targetDir: string): string[] {
  const packageSource = join(sourceDir, RUNTIME_PACKAGE_DIR);
  if (!existsSync(packageSource)) {
    throw new Error(
      `The plugin's runtime library is missing: ${packageSource} does not exist. Reinstall @catalyst/plugin.`,
    );
  }
  const shipped = [
    ...RUNTIME_FILES.filter((f) => existsSync(join(sourceDir, f))),
    ...listFiles(packageSource).map((f) => `${RUNTIME_PACKAGE_DIR}/${f}`),
  ];
  const targetPackageDir = posix.join(targetDir, RUNTIME_PACKAGE_DIR);
  const shippedSet = new Set(shipped);
  for (const stale of listTreeFiles(tree, targetPackageDir)) {
    if (!shippedSet.has(`${RUNTIME_PACKAGE_DIR}/${stale}`)) tree.delete(posix.join(targetPackageDir, stale));
  }
  for (const file of shipped) {
    tree.write(posix.join(targetDir, file), readFileSync(join(sourceDir, file)));
  }
  return shipped;
}
