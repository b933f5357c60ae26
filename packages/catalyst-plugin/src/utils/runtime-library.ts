import type { Tree } from '@nx/devkit';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { pluginPackageRoot } from './package-root';

/**
 * The runtime library a workspace holds is a copy of the plugin's `runtime/` folder. This module
 * says which files that copy consists of, hashes them, and reads the record a library keeps of
 * what it was emitted from, so that drift (a plugin upgrade, a hand edit) can be told apart.
 */

/** Files of the library outside its package folder, relative to the plugin's `runtime/` folder. */
export const RUNTIME_FILES = ['pyproject.toml', 'README.md'];
export const RUNTIME_PACKAGE_DIR = 'src/catalyst_runtime';
/** The record of what the library was emitted from, at the library's root. */
export const EMITTED_RECORD_FILE = 'catalyst-emitted.json';

const SKIPPED = new Set(['__pycache__', '.pytest_cache', '.mypy_cache', '.ruff_cache']);

export function isSkipped(name: string): boolean {
  return SKIPPED.has(name) || name.endsWith('.pyc') || name.endsWith('.pyo');
}

/** Every file under `dir` on disk, as posix paths relative to `dir`, sorted; caches are skipped. */
function listDiskFiles(dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    if (isSkipped(entry)) continue;
    const full = join(dir, entry);
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(full).isDirectory()) files.push(...listDiskFiles(full, rel));
    else files.push(rel);
  }
  return files;
}

/** Every file the tree holds under `dir` (relative, posix, sorted), skipping caches. */
export function listTreeFiles(tree: Tree, dir: string, prefix = ''): string[] {
  const files: string[] = [];
  for (const entry of [...tree.children(dir)].sort()) {
    if (isSkipped(entry)) continue;
    const full = posix.join(dir, entry);
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (tree.isFile(full)) files.push(rel);
    else files.push(...listTreeFiles(tree, full, rel));
  }
  return files;
}

/** Library-relative path → contents. */
export type LibraryFiles = Map<string, Buffer>;

/** The installed plugin's `runtime/` folder, which the library is copied from. */
export const shippedRuntimeDir = (): string => join(pluginPackageRoot(), 'runtime');

/** The files of the runtime library a plugin folder ships (`runtime/` of the installed plugin). */
export function shippedRuntimeFiles(sourceDir: string): LibraryFiles {
  const packageSource = join(sourceDir, RUNTIME_PACKAGE_DIR);
  if (!existsSync(packageSource)) {
    throw new Error(
      `The plugin's runtime library is missing: ${packageSource} does not exist. Reinstall @catalyst/plugin.`,
    );
  }
  const files: LibraryFiles = new Map();
  for (const file of RUNTIME_FILES) {
    if (existsSync(join(sourceDir, file))) files.set(file, readFileSync(join(sourceDir, file)));
  }
  for (const file of listDiskFiles(packageSource)) {
    files.set(`${RUNTIME_PACKAGE_DIR}/${file}`, readFileSync(join(packageSource, file)));
  }
  return files;
}

/** The same files as a workspace's library holds them (in a generator's tree). */
export function libraryFilesInTree(tree: Tree, libraryRoot: string): LibraryFiles {
  const files: LibraryFiles = new Map();
  for (const file of RUNTIME_FILES) {
    const content = tree.read(posix.join(libraryRoot, file));
    if (content) files.set(file, content);
  }
  for (const file of listTreeFiles(tree, posix.join(libraryRoot, RUNTIME_PACKAGE_DIR))) {
    const path = `${RUNTIME_PACKAGE_DIR}/${file}`;
    files.set(path, tree.read(posix.join(libraryRoot, path)) ?? Buffer.alloc(0));
  }
  return files;
}

/** The same files on disk (for an executor, which has no tree). */
export function libraryFilesOnDisk(absoluteLibraryRoot: string): LibraryFiles {
  const files: LibraryFiles = new Map();
  for (const file of RUNTIME_FILES) {
    const path = join(absoluteLibraryRoot, file);
    if (existsSync(path)) files.set(file, readFileSync(path));
  }
  const packageDir = join(absoluteLibraryRoot, RUNTIME_PACKAGE_DIR);
  if (existsSync(packageDir)) {
    for (const file of listDiskFiles(packageDir)) {
      files.set(`${RUNTIME_PACKAGE_DIR}/${file}`, readFileSync(join(packageDir, file)));
    }
  }
  return files;
}

/** `sha256:<hex>` over the sorted paths and contents: equal exactly when the file sets are. */
export function contentHash(files: LibraryFiles): string {
  const hash = createHash('sha256');
  for (const path of [...files.keys()].sort()) {
    const content = files.get(path) ?? Buffer.alloc(0);
    hash.update(`${path}\0${content.length}\0`);
    hash.update(content);
  }
  return `sha256:${hash.digest('hex')}`;
}

/** What a library records about the plugin that emitted it. */
export interface EmittedRecord {
  plugin: string;
  version: string;
  contentHash: string;
}

/** The installed plugin's version (its package.json). */
export function pluginVersion(): string {
  const manifest = JSON.parse(readFileSync(join(pluginPackageRoot(), 'package.json'), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

export function emittedRecordText(record: EmittedRecord): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** The record, or undefined when the file is missing or is not the record's shape. */
export function parseEmittedRecord(text: string | undefined | null): EmittedRecord | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<EmittedRecord>;
    if (typeof value.contentHash === 'string' && typeof value.version === 'string') {
      return { plugin: String(value.plugin ?? ''), version: value.version, contentHash: value.contentHash };
    }
  } catch {
    // not JSON: the same as no record
  }
  return undefined;
}

/**
 * How a library compares with what the installed plugin ships:
 * - `in-step`: the same files;
 * - `outdated`: the files are exactly what an earlier emission recorded (another plugin version,
 *   never edited since), so replacing them loses nothing;
 * - `edited`: they match neither (changed by hand, or emitted before records existed), so
 *   replacing them could lose work.
 */
export type LibraryState =
  | { kind: 'in-step'; recorded: EmittedRecord | undefined }
  | { kind: 'outdated'; recorded: EmittedRecord; changed: string[] }
  | { kind: 'edited'; recorded: EmittedRecord | undefined; changed: string[] };

/** The paths that differ between two file sets (added, removed or changed), sorted. */
export function changedPaths(a: LibraryFiles, b: LibraryFiles): string[] {
  const paths = new Set([...a.keys(), ...b.keys()]);
  return [...paths].filter((p) => !(a.get(p) && b.get(p) && a.get(p)?.equals(b.get(p) as Buffer))).sort();
}

export function libraryState(
  present: LibraryFiles,
  shipped: LibraryFiles,
  recorded: EmittedRecord | undefined,
): LibraryState {
  if (contentHash(present) === contentHash(shipped)) return { kind: 'in-step', recorded };
  const changed = changedPaths(present, shipped);
  if (recorded && recorded.contentHash === contentHash(present)) return { kind: 'outdated', recorded, changed };
  return { kind: 'edited', recorded, changed };
}
