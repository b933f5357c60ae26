import { DependencyType, type CreateDependenciesContext, type ProjectConfiguration } from '@nx/devkit';
import { createDependencies } from './create-dependencies';

function context(
  projects: Record<string, ProjectConfiguration>,
  files: Record<string, string[]>,
): CreateDependenciesContext {
  const projectFileMap = Object.fromEntries(
    Object.entries(files).map(([name, list]) => [name, list.map((file) => ({ file, hash: 'h' }))]),
  );
  return {
    externalNodes: {},
    projects,
    nxJsonConfiguration: {},
    fileMap: { projectFileMap, nonProjectFiles: [] },
    filesToProcess: { projectFileMap: {}, nonProjectFiles: [] },
    workspaceRoot: '/ws',
  };
}

const codegen = { codegen: { executor: '@catalyst/plugin:codegen' } };

describe('createDependencies', () => {
  it('adds a static edge from every service to the runtime library, from its pyproject.toml', async () => {
    const deps = await createDependencies(
      undefined,
      context(
        {
          'catalyst-runtime': { root: 'libs/catalyst-runtime' },
          'b-svc': { root: 'apps/b-svc', targets: codegen },
          'a-svc': { root: 'apps/a-svc', targets: codegen },
          web: { root: 'apps/web', targets: { build: { executor: 'nx:run-commands' } } },
        },
        { 'a-svc': ['apps/a-svc/pyproject.toml'], 'b-svc': ['apps/b-svc/pyproject.toml'] },
      ),
    );
    expect(deps).toEqual([
      {
        source: 'a-svc',
        target: 'catalyst-runtime',
        type: DependencyType.static,
        sourceFile: 'apps/a-svc/pyproject.toml',
      },
      {
        source: 'b-svc',
        target: 'catalyst-runtime',
        type: DependencyType.static,
        sourceFile: 'apps/b-svc/pyproject.toml',
      },
    ]);
  });

  it('falls back to an implicit edge for a service without pyproject.toml', async () => {
    const deps = await createDependencies(
      undefined,
      context({ 'catalyst-runtime': { root: 'libs/rt' }, svc: { root: 'apps/svc', targets: codegen } }, {}),
    );
    expect(deps).toEqual([{ source: 'svc', target: 'catalyst-runtime', type: DependencyType.implicit }]);
  });

  it('finds the runtime under the configured name, and adds nothing without it', async () => {
    const projects = { rt: { root: 'libs/rt' }, svc: { root: 'apps/svc', targets: codegen } };
    expect(await createDependencies({ runtimeProjectName: 'rt' }, context(projects, {}))).toHaveLength(1);
    expect(await createDependencies(undefined, context(projects, {}))).toEqual([]);
  });
});
