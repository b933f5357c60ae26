/**
 * Names shared by the generators, the executors and the inferred targets, so that the package a
 * generator scaffolds is the package codegen writes into and the one `serve`/`test` import.
 */

// The compiler's list, so the two never disagree. Only the hard keywords: a package may be named
// like a soft keyword (`import match` works), so a service may be named after one.
import { PYTHON_HARD_KEYWORDS } from '../compiler/python/names';
import { DEPENDENCY_DISTRIBUTIONS, DEPENDENCY_IMPORT_NAMES, STDLIB_MODULE_NAMES } from './reserved-names';

const STDLIB_LOWER = new Set([...STDLIB_MODULE_NAMES].map((name) => name.toLowerCase()));

/** The runtime library's default Nx project name (the plugin option runtimeProjectName changes it). */
export const RUNTIME_PROJECT_NAME = 'catalyst-runtime';

/** The runtime library's Python distribution name, which services depend on: never renamed. */
export const RUNTIME_DISTRIBUTION_NAME = 'catalyst-runtime';

/** The folder, inside the service's Python package, that codegen owns. */
export const GENERATED_DIR = '_generated';

/**
 * The import name of a Python distribution, as uv_build derives it: PEP 503 normalisation
 * (lower case, runs of `-`, `_`, `.` collapsed) with `_` as the separator.
 * `hello-svc` → `hello_svc`.
 */
export function toPythonPackageName(distributionName: string): string {
  return distributionName.toLowerCase().replace(/[-_.]+/g, '_');
}

const KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Checks a service name given to `nx g @catalyst/plugin:workflow`. Returns a message saying what
 * to change, or undefined when the name is fine.
 */
export function checkServiceName(name: string): string | undefined {
  if (!KEBAB_CASE.test(name)) {
    return (
      `"${name}" is not a valid service name: use kebab-case (lower-case letters and digits, ` +
      `words joined by single hyphens, starting with a letter), e.g. "orders-svc".`
    );
  }
  const pkg = toPythonPackageName(name);
  const instead = `Choose another name, e.g. "${name}-svc".`;
  if (PYTHON_HARD_KEYWORDS.has(pkg)) {
    return `"${name}" cannot be a service name: its Python package "${pkg}" is a Python keyword. ${instead}`;
  }
  if (STDLIB_LOWER.has(pkg)) {
    return `"${name}" cannot be a service name: its Python package "${pkg}" would shadow the standard-library module "${pkg}", and the service could not import. ${instead}`;
  }
  if (DEPENDENCY_DISTRIBUTIONS.has(name)) {
    return `"${name}" cannot be a service name: the workspace depends on the Python distribution "${name}", and uv cannot lock a workspace with a member of the same name. ${instead}`;
  }
  if (DEPENDENCY_IMPORT_NAMES.has(pkg)) {
    return `"${name}" cannot be a service name: its Python package "${pkg}" would shadow a package the service imports. ${instead}`;
  }
  return undefined;
}
