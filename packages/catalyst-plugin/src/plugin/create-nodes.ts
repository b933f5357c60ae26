import type { CreateNodes, CreateNodesContext, CreateNodesResult } from '@nx/devkit';
// Nx's own module rather than the @nx/devkit barrel: Nx's plugin worker has loaded it already,
// while the barrel would load the whole devkit (generators, ejs, semver…) into the worker on every
// project-graph computation, warm or cold. The path is the same in Nx 23 and 24 (e2e covers both).
import { createNodesFromFiles } from 'nx/src/project-graph/plugins/utils';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { PLUGIN_PACKAGE_NAME } from '../utils/package-root';
import { readService, type Service } from '../utils/service';
import { normalizePluginOptions, type CatalystPluginOptions } from './options';
import { buildTargets } from './targets';

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
    const { name } = JSON.parse(readFileSync(join(absoluteRoot, 'project.json'), 'utf8')) as { name?: unknown };
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
    const manifest = JSON.parse(readFileSync(join(workspaceRoot, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    return Boolean(manifest.dependencies?.[PLUGIN_PACKAGE_NAME] ?? manifest.devDependencies?.[PLUGIN_PACKAGE_NAME]);
  } catch {
    return false;
  }
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
