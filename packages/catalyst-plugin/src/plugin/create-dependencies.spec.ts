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

  it('finds the runtime under the configured name', async () => {
    const projects = { rt: { root: 'libs/rt' }, svc: { root: 'apps/svc', targets: codegen } };
    expect(await createDependencies({ runtimeProjectName: 'rt' }, context(projects, {}))).toEqual([
      { source: 'svc', target: 'rt', type: DependencyType.implicit },
    ]);
  });

  it('fails naming the option when the configured name matches no project, instead of dropping every edge', () => {
    const projects = { 'catalyst-runtime': { root: 'libs/rt' }, svc: { root: 'apps/svc', targets: codegen } };
    const files = { 'catalyst-runtime': ['libs/rt/src/catalyst_runtime/__init__.py'] };
    expect(() => createDependencies({ runtimeProjectName: 'catalyst-rutime' }, context(projects, files))).toThrow(
      'runtimeProjectName (nx.json, plugins → "@catalyst/plugin" → options) is "catalyst-rutime", which matches no project, so no service would depend on the runtime library. The runtime library in libs/rt is the project "catalyst-runtime": set the option to "catalyst-runtime".',
    );
    expect(() => createDependencies({ runtimeProjectName: 'nope' }, context({ svc: projects.svc }, {}))).toThrow(
      /"nope", which matches no project.*remove it and run `nx g @catalyst\/plugin:runtime`/,
    );
  });

  it('fails when the runtime library was renamed and the option not set', () => {
    const projects = { rt: { root: 'libs/rt' }, svc: { root: 'apps/svc', targets: codegen } };
    const files = { rt: ['libs/rt/src/catalyst_runtime/__init__.py'] };
    expect(() => createDependencies(undefined, context(projects, files))).toThrow(
      /is "catalyst-runtime" \(the default\), which matches no project.*is the project "rt": set the option to "rt"/,
    );
  });

  it('adds nothing, and lets the runtime generator run, in a workspace with no runtime library yet', async () => {
    const projects = { svc: { root: 'apps/svc', targets: codegen } };
    expect(await createDependencies(undefined, context(projects, {}))).toEqual([]);
  });
});
