import type { Tree } from '@nx/devkit';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';

const FORMATTED = new Set(['.json', '.yaml', '.yml', '.md']);

/**
 * A stand-in for `formatFiles` in the generator specs. Nx's own loads prettier with a dynamic
 * `import()` (and prettier 3 loads itself that way too), which Jest cannot run without
 * `--experimental-vm-modules`: under Jest it warns and formats nothing, so a spec could not tell
 * whether a generator formats. This one runs the prettier CLI on copies of the files the tree
 * changed, with the tree's `.prettierrc`, and does nothing in a tree without one, as
 * `formatFiles` does in a workspace with no formatter.
 */
export function formatWithPrettier(tree: Tree): Promise<void> {
  if (!tree.exists('.prettierrc')) return Promise.resolve();
  const files = tree
    .listChanges()
    .filter((change) => change.type !== 'DELETE' && change.content && FORMATTED.has(extname(change.path)));
  const dir = mkdtempSync(join(tmpdir(), 'catalyst-format-'));
  try {
    writeFileSync(join(dir, '.prettierrc'), tree.read('.prettierrc') ?? '{}');
    for (const { path, content } of files) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), content ?? '');
    }
    const cli = require.resolve('prettier/bin/prettier.cjs');
    execFileSync(process.execPath, [cli, '--write', '--log-level=warn', ...files.map((f) => f.path)], { cwd: dir });
    for (const { path, content } of files) {
      const formatted = readFileSync(join(dir, path));
      if (content && !formatted.equals(content)) tree.write(path, formatted);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return Promise.resolve();
}
