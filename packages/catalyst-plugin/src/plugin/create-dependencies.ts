// Types only: the project graph loads this module, and the @nx/devkit barrel is costly to load.
import type {
  CreateDependencies,
  CreateDependenciesContext,
  DependencyType,
  RawProjectGraphDependency,
} from '@nx/devkit';
import type { CatalystPluginOptions } from './options';
import { RUNTIME_MARKER_FILE, RUNTIME_OPTION_WHERE, runtimeProjectNameOf } from './runtime-project';

const CODEGEN_EXECUTOR = '@catalyst/plugin:codegen';

/** The project that holds the runtime package (`src/catalyst_runtime/__init__.py`), whatever its name. */
function projectHoldingTheRuntime(context: CreateDependenciesContext): string | undefined {
  for (const [name, project] of Object.entries(context.projects)) {
    const marker = `${project.root === '.' ? '' : `${project.root}/`}${RUNTIME_MARKER_FILE}`;
    if ((context.fileMap.projectFileMap[name] ?? []).some((f) => f.file === marker)) return name;
  }
  return undefined;
}

/**
 * Every service (a project with a Catalyst codegen target) depends on the runtime library: its
 * pyproject.toml declares `catalyst-runtime`, and its generated code imports it. The edge makes a
 * runtime change affect every service, and lets `^` inputs of the service reach the runtime.
 *
 * The library is the project named by `runtimeProjectName`. A name that matches no project would
 * drop every edge, and a broken runtime change would leave every service's tests a cache hit: it
 * is an error when the workspace set the name, or when the library is there under another name.
 * Only a workspace with no runtime library at all (before `nx g @catalyst/plugin:runtime`) gets
 * no edges, so that the generator that emits the library can still run.
 */
export const createDependencies: CreateDependencies<CatalystPluginOptions> = (rawOptions, context) => {
  const { name: runtimeProjectName, explicit } = runtimeProjectNameOf(rawOptions);
  const services = Object.entries(context.projects)
    .filter(([name]) => name !== runtimeProjectName)
    .filter(([, project]) => Object.values(project.targets ?? {}).some((t) => t.executor === CODEGEN_EXECUTOR))
    .sort(([a], [b]) => a.localeCompare(b));
  if (services.length === 0) return [];
  if (!context.projects[runtimeProjectName]) {
    const holder = projectHoldingTheRuntime(context);
    if (!explicit && !holder) return [];
    const where = holder
      ? ` The runtime library in ${context.projects[holder].root} is the project "${holder}": set the option to "${holder}".`
      : ` Set it to the Nx project name of the runtime library, or remove it and run \`nx g @catalyst/plugin:runtime\` to emit the library as "catalyst-runtime".`;
    throw new Error(
      `${RUNTIME_OPTION_WHERE} is "${runtimeProjectName}"${explicit ? '' : ' (the default)'}, which matches no project, so no service would depend on the runtime library.${where}`,
    );
  }
  const dependencies: RawProjectGraphDependency[] = [];
  for (const [name, project] of services) {
    const pyproject = `${project.root === '.' ? '' : `${project.root}/`}pyproject.toml`;
    const declaresIt = (context.fileMap.projectFileMap[name] ?? []).some((f) => f.file === pyproject);
    dependencies.push(
      declaresIt
        ? { source: name, target: runtimeProjectName, type: 'static' as DependencyType.static, sourceFile: pyproject }
        : { source: name, target: runtimeProjectName, type: 'implicit' as DependencyType.implicit },
    );
  }
  return dependencies;
};
