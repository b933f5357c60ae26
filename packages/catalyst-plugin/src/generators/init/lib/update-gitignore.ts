import type { Tree } from '@nx/devkit';

/**
 * Ignored because they are derived: codegen output (rebuilt by `nx run <svc>:codegen`, and cached
 * by Nx as a task output), uv's virtual environment and Python's caches; and `.env` at any depth,
 * because it holds secrets: a service that misses one tells the user to put it there.
 */
export const GITIGNORE_ENTRIES = ['**/_generated/', '.venv/', '__pycache__/', '.pytest_cache/', '.env'];

function normalizeEntry(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/$/, '');
}

/** Appends the entries .gitignore lacks, under one comment; leaves existing lines alone. */
export function updateGitignore(tree: Tree): void {
  const existing = tree.exists('.gitignore') ? (tree.read('.gitignore', 'utf-8') ?? '') : '';
  const present = new Set(existing.split(/\r?\n/).map(normalizeEntry));
  const missing = GITIGNORE_ENTRIES.filter((entry) => !present.has(normalizeEntry(entry)));
  if (missing.length === 0) return;
  const prefix = existing.length === 0 || existing.endsWith('\n') ? existing : `${existing}\n`;
  const separator = prefix.length > 0 ? '\n' : '';
  tree.write(
    '.gitignore',
    `${prefix}${separator}# Catalyst: generated code, Python environments, local secrets\n${missing.join('\n')}\n`,
  );
}
