import type { TargetConfiguration } from '@nx/devkit';
import { PLUGIN_PACKAGE_NAME } from '../utils/package-root';
import { generatedDirOf, type Service } from '../utils/service';
import type { NormalizedPluginOptions } from './options';

/**
 * The targets inferred for a service, under the names the plugin options give them. One function
 * per target, as @nx/jest and @nx/vite build theirs, so each target reads on its own.
 */
export function buildTargets(
  service: Service,
  options: NormalizedPluginOptions,
  pluginIsExternal: boolean,
  namedInputs: Record<string, unknown> = {},
): Record<string, TargetConfiguration> {
  const { codegenTargetName, serveTargetName, testTargetName } = options;
  return {
    [codegenTargetName]: codegenTarget(service, pluginIsExternal),
    [serveTargetName]: serveTarget(service, codegenTargetName),
    [testTargetName]: testTarget(service, codegenTargetName, namedInputs),
  };
}

/** Compiles the definitions into `src/<pkg>/_generated`; cached on the definitions. */
function codegenTarget(service: Service, pluginIsExternal: boolean): TargetConfiguration {
  return {
    executor: '@catalyst/plugin:codegen',
    cache: true,
    // Before codegen runs (and in `nx sync:check`), the workspace is checked against the
    // installed plugin: the runtime library, the uv workspace members, each service's dependency.
    syncGenerators: ['@catalyst/plugin:sync'],
    inputs: [
      '{projectRoot}/workflows/**/*',
      // [project].name decides the package the code is generated into.
      '{projectRoot}/pyproject.toml',
      // A new plugin version may compile the same definitions differently.
      ...(pluginIsExternal ? [{ externalDependencies: [PLUGIN_PACKAGE_NAME] }] : []),
    ],
    // The package comes from the options, so that overriding `packageName` in project.json moves
    // the cached output with it.
    options: { packageName: service.packageName },
    outputs: ['{projectRoot}/src/{options.packageName}/_generated'],
    metadata: {
      technologies: ['python'],
      description: `Compile the workflow definitions in workflows/ into Python (FastAPI) code in ${generatedDirOf(service.packageName)}`,
    },
  };
}

/**
 * Serves the service with uvicorn until stopped, after compiling it. Not `continuous`: Nx 23
 * reports a continuous task run on its own as a success whatever its exit code, so a service
 * that cannot start would look as if it had served. A project that needs the server running
 * under another target sets `"continuous": true` on its serve target in project.json.
 */
function serveTarget(service: Service, codegenTargetName: string): TargetConfiguration {
  return {
    executor: '@catalyst/plugin:serve',
    dependsOn: [codegenTargetName],
    options: {},
    metadata: {
      technologies: ['python'],
      description: `Serve ${service.distributionName} with uvicorn (uvloop, httptools) on 127.0.0.1`,
      help: {
        command: `uv run --package ${service.distributionName} python -m catalyst_runtime.serve --help`,
        example: { options: { port: 8080, reload: true } },
      },
    },
  };
}

/** Runs the service's pytest suite against its generated code; cached on everything pytest reads. */
function testTarget(
  service: Service,
  codegenTargetName: string,
  namedInputs: Record<string, unknown>,
): TargetConfiguration {
  return {
    executor: '@catalyst/plugin:pytest',
    cache: true,
    dependsOn: [codegenTargetName],
    inputs: [
      // Everything in the project: sources, tests, and what configures pytest beside them
      // (conftest.py, pytest.ini, .env files, data the tests read), as @nx/jest does.
      'default',
      // The runtime library (and anything else the service depends on in the project graph).
      'production' in namedInputs ? '^production' : '^default',
      // Dependency versions, workspace membership and the Python version uv picks.
      '{workspaceRoot}/pyproject.toml',
      '{workspaceRoot}/uv.lock',
      '{workspaceRoot}/.python-version',
      // Generated code is git-ignored, and Nx does not hash git-ignored plain inputs: take it
      // from the outputs of the codegen task instead.
      { dependentTasksOutputFiles: '**/*.py', transitive: true },
    ],
    outputs: [],
    metadata: {
      technologies: ['python'],
      description: `Run the pytest suite of ${service.distributionName} against its generated code`,
      help: {
        command: `uv run --package ${service.distributionName} pytest --help`,
        example: { options: { args: ['-k', 'hello', '-x'] } },
      },
    },
  };
}
