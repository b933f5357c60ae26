import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import type { GeneratedFile } from '../../../compiler';

/**
 * Prefixes of the sibling folders used during a swap (dotted, so Python never imports them). The
 * pid of the writer is part of the name, so a run never cleans up after one still in progress
 * (`serve --reload` recompiling while `nx run <svc>:codegen` runs).
 */
const staging = (dirName: string) => `.${dirName}.staging-`;
const retired = (dirName: string) => `.${dirName}.retired-`;
const ownPrefix = (prefix: string) => `${prefix}${process.pid}-`;

/** The pid in a staging/retired folder name, when it names a process that is still running. */
function writerIsAlive(entry: string, prefix: string): boolean {
  const pid = Number(/^(\d+)-/.exec(entry.slice(prefix.length))?.[1]);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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

/**
 * Cleans up after an earlier run that crashed: staging folders are removed, and so are retired
 * ones, except that a crash between the two renames of a swap (old tree renamed away, new one not
 * yet in) leaves no output folder at all: then the newest retired tree, complete by construction,
 * is put back first, so the previous output is never lost.
 */
export function recoverLeftovers(outputDir: string): void {
  const parent = dirname(outputDir);
  if (!existsSync(parent)) return;
  const name = basename(outputDir);
  const entries = readdirSync(parent).sort();
  const leftover = (entry: string, prefix: string) => entry.startsWith(prefix) && !writerIsAlive(entry, prefix);
  const retiredDirs = entries
    .filter((entry) => leftover(entry, retired(name)))
    .map((entry) => join(parent, entry))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!existsSync(outputDir) && retiredDirs.length > 0) {
    renameSync(retiredDirs.shift() as string, outputDir);
  }
  for (const dir of retiredDirs) rmSync(dir, { recursive: true, force: true });
  for (const entry of entries) {
    if (leftover(entry, staging(name))) rmSync(join(parent, entry), { recursive: true, force: true });
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
  recoverLeftovers(outputDir);
  if (existsSync(outputDir) && isUpToDate(outputDir, files)) return false;

  const parent = dirname(outputDir);
  const name = basename(outputDir);
  mkdirSync(parent, { recursive: true });
  const stagingDir = mkdtempSync(join(parent, ownPrefix(staging(name))));
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

  const retiredDir = existsSync(outputDir) ? mkdtempSync(join(parent, ownPrefix(retired(name)))) : undefined;
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
