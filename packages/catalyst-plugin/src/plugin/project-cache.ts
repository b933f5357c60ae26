import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// Nx's own module (loaded in its plugin worker already), not the @nx/devkit barrel. Present with
// this name in Nx 23 and 24; NX_WORKSPACE_DATA_DIRECTORY moves it, `nx reset` empties it.
import { workspaceDataDirectoryForWorkspace } from 'nx/src/utils/cache-directory';

/**
 * What createNodes read in each project root (the project's name, the service's names), kept on
 * disk between project-graph computations: Nx computes the graph on every command without the
 * daemon, and reading and parsing every service's pyproject.toml was most of createNodes' time.
 * An entry is reused when the files read for that root (project.json, pyproject.toml) hash the
 * same; the file's name carries the plugin build that read them, so an upgrade starts afresh.
 * The targets are built from the entry on every computation, so the options need no key.
 */
export interface ProjectCache<T> {
  /** The entry for `root` if its files still hash to `filesHash`. */
  get(root: string, filesHash: string): T | undefined;
  set(root: string, filesHash: string, value: T): void;
  /** Writes the entries set or reused in this run (atomically: rename of a complete file), if any changed. */
  save(): void;
}

interface Entry<T> {
  hash: string;
  value: T;
}

/** The files createNodes reads in a project root; their contents key the root's entry. */
export const FILES_READ_PER_ROOT = ['project.json', 'pyproject.toml'];

/** sha256 over files (absolute paths); a missing file hashes differently from an empty one. */
export function hashFiles(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    let content: Buffer | undefined;
    try {
      content = readFileSync(path);
    } catch {
      content = undefined;
    }
    hash.update(content === undefined ? `${path}\0-\0` : `${path}\0${content.length}\0`);
    if (content) hash.update(content);
  }
  return hash.digest('hex');
}

/** The hash of the files createNodes reads in a project root: its cache entry's key. */
export function hashRootFiles(absoluteRoot: string): string {
  return hashFiles(FILES_READ_PER_ROOT.map((file) => join(absoluteRoot, file)));
}

/** A short hash of a JSON-able value (the cache file's key). */
export function hashKey(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** The cache file for `key` in the workspace's data directory (`.nx/workspace-data` by default). */
export function projectCachePath(workspaceRoot: string, key: string): string {
  return join(workspaceDataDirectoryForWorkspace(workspaceRoot), `catalyst-projects-${key}.json`);
}

/**
 * Opens the cache at `path`. Never fails the graph: an unreadable or malformed file is an empty
 * cache, a file that cannot be written is left as it was. `NX_CACHE_PROJECT_GRAPH=false` (Nx's
 * switch for its own graph cache) turns reading off, as @nx plugins do.
 */
export function openProjectCache<T>(path: string): ProjectCache<T> {
  let previous: Record<string, Entry<T>> = {};
  if (process.env.NX_CACHE_PROJECT_GRAPH !== 'false') {
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) previous = parsed as Record<string, Entry<T>>;
    } catch {
      previous = {};
    }
  }
  // Only the roots of this run are written back, so removed projects drop out of the file.
  const next: Record<string, Entry<T>> = {};
  let changed = false;
  return {
    get(root, filesHash) {
      const entry = Object.prototype.hasOwnProperty.call(previous, root) ? previous[root] : undefined;
      if (!entry || entry.hash !== filesHash) return undefined;
      next[root] = entry;
      return entry.value;
    },
    set(root, filesHash, value) {
      next[root] = { hash: filesHash, value };
      changed = true;
    },
    save() {
      if (!changed && Object.keys(next).length === Object.keys(previous).length) return;
      // Another nx process may compute the graph at the same time: each writes its own
      // temporary file and renames it over the cache, so a reader sees one whole file or the other.
      const temporary = `${path}.${process.pid}.tmp`;
      try {
        mkdirSync(join(path, '..'), { recursive: true });
        writeFileSync(temporary, JSON.stringify(next));
        renameSync(temporary, path);
      } catch {
        rmSync(temporary, { force: true });
      }
    },
  };
}
