import { DependencyType, type CreateDependencies, type RawProjectGraphDependency } from '@nx/devkit';
import { normalizePluginOptions, type CatalystPluginOptions } from './options';

const CODEGEN_EXECUTOR = '@catalyst/plugin:codegen';

/**
 * Every service (a project with a Catalyst codegen target) depends on the runtime library: its
 * pyproject.toml declares `catalyst-runtime`, and its generated code imports it. The edge makes a
 * runtime change affect every service, and lets `^` inputs of the service reach the runtime.
 */
export const createDependencies: CreateDependencies<CatalystPluginOptions> = (rawOptions, context) => {
  const { runtimeProjectName } = normalizePluginOptions(rawOptions);
  if (!context.projects[runtimeProjectName]) return [];

  const dependencies: RawProjectGraphDependency[] = [];
  for (const [name, project] of Object.entries(context.projects).sort(([a], [b]) => a.localeCompare(b))) {
    if (name === runtimeProjectName) continue;
    const isService = Object.values(project.targets ?? {}).some((t) => t.executor === CODEGEN_EXECUTOR);
    if (!isService) continue;
    const pyproject = `${project.root === '.' ? '' : `${project.root}/`}pyproject.toml`;
    const declaresIt = (context.fileMap.projectFileMap[name] ?? []).some((f) => f.file === pyproject);
    dependencies.push(
      declaresIt
        ? { source: name, target: runtimeProjectName, type: DependencyType.static, sourceFile: pyproject }
        : { source: name, target: runtimeProjectName, type: DependencyType.implicit },
    );
  }
  return dependencies;
};
