import { existsSync, readFileSync } from 'node:fs';
import type { ExecutorContext } from '@nx/devkit';
import { basename, join } from 'node:path';
import { readProjectName } from './pyproject';
import { GENERATED_DIR, toPythonPackageName } from './python-names';

/** How a service project is known to Python: its distribution name and its import package. */
export interface ServiceNames {
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

/** The Python names of a service, read from disk: pyproject `[project].name`, else the fallback. */
export function resolveServiceNames(absoluteProjectRoot: string, fallbackName?: string): ServiceNames {
  const pyproject = readText(join(absoluteProjectRoot, 'pyproject.toml'));
  const distributionName =
    (pyproject !== undefined ? readProjectName(pyproject) : undefined) ?? fallbackName ?? basename(absoluteProjectRoot);
  return { distributionName, packageName: toPythonPackageName(distributionName) };
}

/** `src/<pkg>/_generated`, relative to the project root, with forward slashes. */
export function generatedDirOf(packageName: string): string {
  return `src/${packageName}/${GENERATED_DIR}`;
}

/** The `name` in a project.json, if there is one. */
export function readProjectJsonName(absoluteProjectRoot: string): string | undefined {
  const file = join(absoluteProjectRoot, 'project.json');
  if (!existsSync(file)) return undefined;
  try {
    const name = JSON.parse(readFileSync(file, 'utf8')).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a service is and what it is called, from the executor context. Kept here, away from the
 * compiler, so the serve and pytest executors start without loading it.
 */
export function serviceFromContext(context: ExecutorContext, packageNameOverride?: string) {
  const projectName = context.projectName;
  const project = projectName ? context.projectsConfigurations?.projects[projectName] : undefined;
  if (!projectName || !project) throw new Error('The Catalyst executors must run on a project target.');
  const projectRoot = join(context.root, project.root);
  const names = resolveServiceNames(projectRoot, projectName);
  return {
    projectName,
    displayRoot: project.root,
    projectRoot,
    distributionName: names.distributionName,
    // An explicit package is used as given: the schema only admits Python identifiers, and the
    // codegen target's outputs name the same string.
    packageName: packageNameOverride || names.packageName,
  };
}
