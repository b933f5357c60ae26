import type { GeneratorCallback, ProjectGraph, Tree } from '@nx/devkit';
// Nx's own modules rather than the @nx/devkit barrel: Nx runs this generator before every task
// graph that holds a codegen task, in its CLI process, which has these loaded already; the barrel
// would add about 120 modules (60-80 ms of CPU) to every `nx run-many -t codegen`.
import { readNxJson } from 'nx/src/generators/utils/project-configuration';
import { createProjectGraphAsync, readCachedProjectGraph } from 'nx/src/project-graph/project-graph';
import { RUNTIME_OPTION_WHERE, runtimeProjectNameOf, pluginOptionsInNxJson } from '../../plugin/runtime-project';
import { PLUGIN_PACKAGE_NAME } from '../../utils/package-root';
import { pyprojectChanges, uvLockNeeded } from '../../utils/pyproject';
import { uvLockTask } from '../../utils/uv-lock-task';
import { syncRuntimeLibrary } from './lib/sync-runtime-library';
import { syncRuntimeDependency, syncUvMembers } from './lib/sync-uv-workspace';

/** Nx's SyncGeneratorResult (not exported by @nx/devkit 23). */
export interface SyncResult {
  outOfSyncMessage?: string;
  outOfSyncDetails?: string[];
  callback?: GeneratorCallback;
}

/** What the sync generator needs of a project. */
export interface SyncProject {
  root: string;
  targets?: Record<string, { executor?: string }>;
}

const CODEGEN_EXECUTOR = `${PLUGIN_PACKAGE_NAME}:codegen`;

/**
 * Keeps the workspace in step with the installed plugin: the runtime library is the one it ships
 * (replaced when it is an earlier plugin's, untouched and reported when edited by hand), every
 * service and the library are members of the root uv workspace, and every service depends on
 * the library. `projects` is the project graph's (inferred services included).
 */
export function syncWorkspace(tree: Tree, projects: Record<string, SyncProject>): SyncResult {
  const { name: runtimeName } = runtimeProjectNameOf(pluginOptionsInNxJson(readNxJson(tree)));
  const runtime = projects[runtimeName];
  if (!runtime) {
    throw new Error(
      `No project is named "${runtimeName}", the runtime library (${RUNTIME_OPTION_WHERE}). Run \`nx g ${PLUGIN_PACKAGE_NAME}:runtime\` to emit it, or set the option to its project name.`,
    );
  }
  const pyprojectsBefore = pyprojectChanges(tree);
  const details: string[] = [];

  const library = syncRuntimeLibrary(tree, runtime.root, runtimeName);
  if (library) details.push(library);

  const services = Object.entries(projects)
    .filter(([, p]) => Object.values(p.targets ?? {}).some((t) => t.executor === CODEGEN_EXECUTOR))
    .sort(([a], [b]) => a.localeCompare(b));
  const added = syncUvMembers(tree, [runtime.root, ...services.map(([, p]) => p.root)]);
  if (added.length) details.push(`the root pyproject.toml's uv workspace misses ${added.join(', ')}.`);
  const undeclared = services.filter(([, p]) => syncRuntimeDependency(tree, p.root)).map(([n]) => n);
  if (undeclared.length) {
    details.push(`${undeclared.join(', ')} ${undeclared.length === 1 ? 'does' : 'do'} not depend on catalyst-runtime.`);
  }

  if (details.length === 0) return {};
  return {
    outOfSyncMessage: `${details.join(' ')} \`nx sync\` brings the workspace in step with ${PLUGIN_PACKAGE_NAME}.`,
    ...(uvLockNeeded(tree, pyprojectsBefore) ? { callback: uvLockTask(tree.root) } : {}),
  };
}

/**
 * `@catalyst/plugin:sync`, registered on every codegen target (`syncGenerators`): `nx sync:check`
 * fails while the workspace drifted from the installed plugin, and `nx sync` repairs it.
 */
export async function syncGenerator(tree: Tree): Promise<SyncResult> {
  // Nx computes the graph before it runs sync generators: read that one rather than compute it
  // again (at 200 services a second computation would cost about as much as the first).
  let graph: ProjectGraph;
  try {
    graph = readCachedProjectGraph();
  } catch {
    graph = await createProjectGraphAsync({ exitOnError: false });
  }
  const projects = Object.fromEntries(Object.entries(graph.nodes).map(([name, node]) => [name, node.data]));
  return syncWorkspace(tree, projects);
}

export default syncGenerator;
