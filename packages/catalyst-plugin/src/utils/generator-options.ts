import { posix } from 'node:path';

/**
 * A project folder as given on the command line, made workspace-relative and posix: no leading
 * `./`, no trailing `/`. Absolute paths and `..` segments are refused.
 */
export function normalizeDirectory(directory: string, optionName: string): string {
  const trimmed = directory.trim().replace(/\\/g, '/');
  if (trimmed.length === 0) throw new Error(`--${optionName} must not be empty.`);
  if (posix.isAbsolute(trimmed) || /^[A-Za-z]:/.test(trimmed)) {
    throw new Error(`--${optionName}=${directory} must be relative to the workspace root, e.g. apps/my-svc.`);
  }
  const normalized = posix.normalize(trimmed).replace(/\/+$/, '');
  if (normalized === '.' || normalized === '..' || normalized.startsWith('../')) {
    throw new Error(`--${optionName}=${directory} must name a folder inside the workspace, e.g. apps/my-svc.`);
  }
  return normalized;
}

/** `"a, b,,c"` → `['a', 'b', 'c']`. */
export function parseTags(tags: string | undefined): string[] {
  return (tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}
