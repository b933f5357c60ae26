import type { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { readProjectNameOrThrow } from './pyproject';
import { GENERATED_DIR, toPythonPackageName } from './python-names';

/**
 * A service project: where it is and how Python knows it. The inferred targets and every executor
 * read it with {@link readService}, so they agree on the package codegen writes and `serve` and
 * `test` import. Kept away from the compiler, so the serve and pytest executors start without it.
 */
export interface Service {
  /** The project root relative to the workspace root, as Nx knows it, e.g. `apps/hello-svc`. */
  root: string;
  /** The same folder, absolute. */
  absoluteRoot: string;
  /** `[project].name` of its pyproject.toml (what `uv run --package` takes), e.g. `hello-svc`. */
  distributionName: string;
  /** The import package under `src/`, e.g. `hello_svc`. */
  packageName: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The service at `root` (relative to `workspaceRoot`). It is named by its pyproject.toml's
 * `[project].name`, else by `fallbackName`; with neither, the folder is no service: undefined.
 * A pyproject.toml that is not valid TOML, or whose `[project].name` is not a string, is an
 * error naming the file and line (the inferred targets and the executors fail with it).
 */
export function readService(workspaceRoot: string, root: string, fallbackName: string): Service;
export function readService(workspaceRoot: string, root: string, fallbackName: string | undefined): Service | undefined;
export function readService(
  workspaceRoot: string,
  root: string,
  fallbackName: string | undefined,
): Service | undefined {
  const absoluteRoot = join(workspaceRoot, root);
  const pyproject = readText(join(absoluteRoot, 'pyproject.toml'));
  const file = posix.join(root.replace(/\\/g, '/'), 'pyproject.toml');
  const distributionName =
    (pyproject !== undefined ? readProjectNameOrThrow(pyproject, file) : undefined) ?? fallbackName;
  if (distributionName === undefined) return undefined;
  return { root, absoluteRoot, distributionName, packageName: toPythonPackageName(distributionName) };
}

/** `src/<pkg>/_generated`, relative to the project root, with forward slashes. */
export function generatedDirOf(packageName: string): string {
  return `src/${packageName}/${GENERATED_DIR}`;
}

/** The service an executor runs on: the project of its target, named after it when pyproject.toml is not. */
export function serviceFromContext(context: ExecutorContext, packageNameOverride?: string): Service {
  const projectName = context.projectName;
  const project = projectName ? context.projectsConfigurations?.projects[projectName] : undefined;
  if (!projectName || !project) throw new Error('The Catalyst executors must run on a project target.');
  const service = readService(context.root, project.root, projectName);
  // An explicit package is used as given: the schema only admits Python identifiers, and the
  // codegen target's outputs name the same string.
  return packageNameOverride ? { ...service, packageName: packageNameOverride } : service;
}
