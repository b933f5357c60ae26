import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import type { GeneratedFile } from '../../../compiler';

/** Prefixes of the sibling folders used during a swap (dotted, so Python never imports them). */
const staging = (dirName: string) => `.${dirName}.staging-`;
const retired = (dirName: string) => `.${dirName}.retired-`;

function assertInside(path: string): void {
  const normalized = posix.normalize(path);
  if (isAbsolute(path) || normalized.startsWith('../') || normalized === '..' || normalized === '.') {
    throw new Error(`refusing to write generated file outside the output folder: ${path}`);
  }
}

/** Every file under `dir` (relative posix path → bytes). */
function snapshot(dir: string, prefix = ''): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir)) {
    const full = join(dir, entry);
    const rel = prefix ? `${prefix}/${entry}` : entry;
    if (statSync(full).isDirectory()) {
      if (entry === '__pycache__') continue;
      for (const [k, v] of snapshot(full, rel)) files.set(k, v);
    } else {
      files.set(rel, readFileSync(full));
    }
  }
  return files;
}

/** Whether `dir` already holds exactly these files with exactly these bytes. */
export function isUpToDate(dir: string, files: GeneratedFile[]): boolean {
  const current = snapshot(dir);
  if (current.size !== files.length) return false;
  return files.every((f) => current.get(posix.normalize(f.path))?.equals(Buffer.from(f.contents, 'utf8')) ?? false);
}

/** Removes staging/retired folders a crashed earlier run may have left next to `outputDir`. */
function removeLeftovers(outputDir: string): void {
  const parent = dirname(outputDir);
  if (!existsSync(parent)) return;
  const name = basename(outputDir);
  for (const entry of readdirSync(parent)) {
    if (entry.startsWith(staging(name)) || entry.startsWith(retired(name))) {
      rmSync(join(parent, entry), { recursive: true, force: true });
    }
  }
}

/**
 * Replaces `outputDir` with exactly `files`. Everything is written to a staging folder next to
 * it first; only then is the old folder renamed away, the new one renamed in, and the old one
 * removed. A reader sees the old tree or the new one, never a half-written mix, and a failure
 * before the swap leaves the old tree as it was. Returns false when the folder was already up
 * to date (nothing is touched, so file watchers do not fire).
 */
export function writeGeneratedAtomically(outputDir: string, files: GeneratedFile[]): boolean {
  for (const file of files) assertInside(file.path);
  removeLeftovers(outputDir);
  if (existsSync(outputDir) && isUpToDate(outputDir, files)) return false;

  const parent = dirname(outputDir);
  const name = basename(outputDir);
  mkdirSync(parent, { recursive: true });
  const stagingDir = mkdtempSync(join(parent, staging(name)));
  try {
    for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
      const target = join(stagingDir, ...posix.normalize(file.path).split('/'));
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.contents, 'utf8');
    }
  } catch (e) {
    rmSync(stagingDir, { recursive: true, force: true });
    throw e;
  }

  const retiredDir = existsSync(outputDir) ? mkdtempSync(join(parent, retired(name))) : undefined;
  if (retiredDir) {
    rmSync(retiredDir, { recursive: true, force: true });
    renameSync(outputDir, retiredDir);
  }
  try {
    renameSync(stagingDir, outputDir);
  } catch (e) {
    if (retiredDir) renameSync(retiredDir, outputDir);
    rmSync(stagingDir, { recursive: true, force: true });
    throw e;
  }
  if (retiredDir) rmSync(retiredDir, { recursive: true, force: true });
  return true;
}
