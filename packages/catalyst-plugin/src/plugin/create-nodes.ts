import type { CreateNodes, CreateNodesContext, CreateNodesResult } from '@nx/devkit';
// Nx's own module rather than the @nx/devkit barrel: Nx's plugin worker has loaded it already,
// while the barrel would load the whole devkit (generators, ejs, semver…) into the worker on every
// project-graph computation, warm or cold. The path is the same in Nx 23 and 24 (e2e covers both).
import { createNodesFromFiles } from 'nx/src/project-graph/plugins/utils';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { PLUGIN_PACKAGE_NAME, pluginPackageRoot } from '../utils/package-root';
import { inferServiceProject, projectOf, type InferredProject } from './infer-project';
import { normalizePluginOptions, type CatalystPluginOptions } from './options';
import { hashFiles, hashKey, hashRootFiles, openProjectCache, projectCachePath } from './project-cache';

/** Workflow definitions: `<projectRoot>/workflows/<name>.workflow.{yaml,yml,json}`. */
export const WORKFLOW_GLOB = '**/workflows/*.workflow.{yaml,yml,json}';

/** The project root that owns a definition file: the folder holding its `workflows/` folder. */
export function projectRootOf(definitionFile: string): string {
  const workflowsDir = posix.dirname(definitionFile.replace(/\\/g, '/'));
  return posix.dirname(workflowsDir);
}

/** The installed plugin's version. */
function pluginVersion(): string {
  try {
    return String(
      (JSON.parse(readFileSync(join(pluginPackageRoot(), 'package.json'), 'utf8')) as { version?: unknown }).version,
    );
  } catch {
    return 'unknown';
  }
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

/**
 * What the cached answers depend on besides the files of each root: the plugin's build (its
 * version and the modules that read a root).
 */
function cacheKey(): string {
  const build = hashFiles(['./infer-project', '../utils/service', '../utils/pyproject'].map((m) => require.resolve(m)));
  return hashKey({ format: 1, version: pluginVersion(), build });
}

async function createNodesInternal(
  definitionFiles: readonly string[],
  rawOptions: CatalystPluginOptions | undefined,
  context: CreateNodesContext,
) {
  const options = normalizePluginOptions(rawOptions);
  const pluginIsExternal = pluginIsAnNpmDependency(context.workspaceRoot);
  const namedInputs = context.nxJsonConfiguration?.namedInputs ?? {};
  const cache = openProjectCache<InferredProject | null>(projectCachePath(context.workspaceRoot, cacheKey()));

  // Several definitions share one project: answer for the first file of each root only.
  const firstFileOfRoot = new Map<string, string>();
  for (const file of [...definitionFiles].sort()) {
    const root = projectRootOf(file);
    if (!firstFileOfRoot.has(root)) firstFileOfRoot.set(root, file);
  }
  const representatives = [...firstFileOfRoot.values()];

  try {
    const results = await createNodesFromFiles(
      (file, _options, ctx): CreateNodesResult => {
        const root = projectRootOf(file);
        const filesHash = hashRootFiles(join(ctx.workspaceRoot, root));
        let inferred = cache.get(root, filesHash);
        if (inferred === undefined) {
          inferred = inferServiceProject(root, ctx.workspaceRoot);
          cache.set(root, filesHash, inferred);
        }
        return inferred ? projectOf(inferred, ctx.workspaceRoot, options, pluginIsExternal, namedInputs) : {};
      },
      representatives,
      options,
      context,
    );
    return results.filter(([, result]) => result.projects !== undefined);
  } finally {
    // Also after a failed root (not cached: it is read again next time), so the others stay cached.
    cache.save();
  }
}

/**
 * Inferred targets for Catalyst services. Registered in nx.json as `"@catalyst/plugin"` (or with
 * options, see {@link CatalystPluginOptions}).
 */
export const createNodesV2: CreateNodes<CatalystPluginOptions> = [WORKFLOW_GLOB, createNodesInternal];

/** Nx 23 reads `createNodes` first; both names point at the same implementation. */
export const createNodes = createNodesV2;
