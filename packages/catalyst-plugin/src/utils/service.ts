import { existsSync, readFileSync } from 'node:fs';
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
