import {
  createNodesFromFiles,
  type CreateNodes,
  type CreateNodesContext,
  type CreateNodesResult,
  type TargetConfiguration,
} from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { PLUGIN_PACKAGE_NAME } from '../utils/package-root';
import { generatedDirOf, readService, type Service } from '../utils/service';
import { normalizePluginOptions, type CatalystPluginOptions, type NormalizedPluginOptions } from './options';

/** Workflow definitions: `<projectRoot>/workflows/<name>.workflow.{yaml,yml,json}`. */
export const WORKFLOW_GLOB = '**/workflows/*.workflow.{yaml,yml,json}';

/** The project root that owns a definition file: the folder holding its `workflows/` folder. */
export function projectRootOf(definitionFile: string): string {
  const workflowsDir = posix.dirname(definitionFile.replace(/\\/g, '/'));
  return posix.dirname(workflowsDir);
}

/** The `name` in a project.json, if there is one. */
function readProjectJsonName(absoluteRoot: string): string | undefined {
  try {
    const name = JSON.parse(readFileSync(join(absoluteRoot, 'project.json'), 'utf8')).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The service a project root holds, and the name to give its project. A folder is a service
 * project when it has a project.json (which names the project: the service is named after it when
 * pyproject.toml does not), or a pyproject.toml naming a Python project (`[project].name`, then
 * also the project's name). A virtual uv workspace root has neither and is never a service.
 */
function inferServiceProject(root: string, workspaceRoot: string): { service: Service; name?: string } | undefined {
  const absoluteRoot = join(workspaceRoot, root);
  if (existsSync(join(absoluteRoot, 'project.json'))) {
    return { service: readService(workspaceRoot, root, readProjectJsonName(absoluteRoot) ?? posix.basename(root)) };
  }
  const service = readService(workspaceRoot, root, undefined);
  return service && { service, name: service.distributionName };
}

/** Whether the workspace installs the plugin from npm, so Nx knows it as `npm:@catalyst/plugin`. */
function pluginIsAnNpmDependency(workspaceRoot: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(workspaceRoot, 'package.json'), 'utf8'));
    return Boolean(manifest.dependencies?.[PLUGIN_PACKAGE_NAME] ?? manifest.devDependencies?.[PLUGIN_PACKAGE_NAME]);
  } catch {
    return false;
  }
}

export function buildTargets(
  service: Service,
  options: NormalizedPluginOptions,
  pluginIsExternal: boolean,
  namedInputs: Record<string, unknown> = {},
): Record<string, TargetConfiguration> {
  const { codegenTargetName, serveTargetName, testTargetName } = options;
  const dependencyInputs = 'production' in namedInputs ? '^production' : '^default';
  return {
    [codegenTargetName]: {
      executor: '@catalyst/plugin:codegen',
      cache: true,
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
    },
    [serveTargetName]: {
      executor: '@catalyst/plugin:serve',
      continuous: true,
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
    },
    [testTargetName]: {
      executor: '@catalyst/plugin:pytest',
      cache: true,
      dependsOn: [codegenTargetName],
      inputs: [
        // Everything in the project: sources, tests, and what configures pytest beside them
        // (conftest.py, pytest.ini, .env files, data the tests read), as @nx/jest does.
        'default',
        // The runtime library (and anything else the service depends on in the project graph).
        dependencyInputs,
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
    },
  };
}

async function createNodesInternal(
  definitionFiles: readonly string[],
  rawOptions: CatalystPluginOptions | undefined,
  context: CreateNodesContext,
) {
  const options = normalizePluginOptions(rawOptions);
  const pluginIsExternal = pluginIsAnNpmDependency(context.workspaceRoot);
  const namedInputs = context.nxJsonConfiguration?.namedInputs ?? {};

  // Several definitions share one project: answer for the first file of each root only.
  const firstFileOfRoot = new Map<string, string>();
  for (const file of [...definitionFiles].sort()) {
    const root = projectRootOf(file);
    if (!firstFileOfRoot.has(root)) firstFileOfRoot.set(root, file);
  }
  const representatives = [...firstFileOfRoot.values()];

  const results = await createNodesFromFiles(
    (file, _options, ctx): CreateNodesResult => {
      const inferred = inferServiceProject(projectRootOf(file), ctx.workspaceRoot);
      if (!inferred) return {};
      const { service, name } = inferred;
      return {
        projects: {
          [service.root]: {
            ...(name ? { name } : {}),
            targets: buildTargets(service, options, pluginIsExternal, namedInputs),
          },
        },
      };
    },
    representatives,
    options,
    context,
  );
  return results.filter(([, result]) => result.projects !== undefined);
}

/**
 * Inferred targets for Catalyst services. Registered in nx.json as `"@catalyst/plugin"` (or with
 * options, see {@link CatalystPluginOptions}).
 */
export const createNodesV2: CreateNodes<CatalystPluginOptions> = [WORKFLOW_GLOB, createNodesInternal];

/** Nx 23 reads `createNodes` first; both names point at the same implementation. */
export const createNodes = createNodesV2;
