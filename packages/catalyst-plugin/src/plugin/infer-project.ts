import type { CreateNodesResult } from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { readService, type Service } from '../utils/service';
import type { NormalizedPluginOptions } from './options';
import { buildTargets } from './targets';

// What createNodes infers for one project root: reading its files (the costly part, cached by
// createNodes) is kept apart from building its targets from what was read.

/** The `name` in a project.json, if there is one. */
function readProjectJsonName(absoluteRoot: string): string | undefined {
  try {
    const { name } = JSON.parse(readFileSync(join(absoluteRoot, 'project.json'), 'utf8')) as { name?: unknown };
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

/** What a project root holds, as the cache keeps it: its project's name and its service, or none. */
export interface InferredProject {
  /** The project's name when createNodes gives it (a project.json names its own project). */
  name?: string;
  service: Omit<Service, 'absoluteRoot'>;
}

/**
 * The service a project root holds, and the name to give its project. A folder is a service
 * project when it has a project.json (which names the project: the service is named after it when
 * pyproject.toml does not), or a pyproject.toml naming a Python project (`[project].name`, then
 * also the project's name). A virtual uv workspace root has neither and is never a service.
 */
export function inferServiceProject(root: string, workspaceRoot: string): InferredProject | null {
  const absoluteRoot = join(workspaceRoot, root);
  let inferred: { service: Service; name?: string } | undefined;
  if (existsSync(join(absoluteRoot, 'project.json'))) {
    inferred = { service: readService(workspaceRoot, root, readProjectJsonName(absoluteRoot) ?? posix.basename(root)) };
  } else {
    const service = readService(workspaceRoot, root, undefined);
    inferred = service && { service, name: service.distributionName };
  }
  if (!inferred) return null;
  // The absolute root is left out: it is rebuilt from the workspace root, wherever that is now.
  const { root: serviceRoot, distributionName, packageName } = inferred.service;
  return {
    ...(inferred.name ? { name: inferred.name } : {}),
    service: { root: serviceRoot, distributionName, packageName },
  };
}

/** The project createNodes answers for an inferred root: its name and targets. */
export function projectOf(
  inferred: InferredProject,
  workspaceRoot: string,
  options: NormalizedPluginOptions,
  pluginIsExternal: boolean,
  namedInputs: Record<string, unknown>,
): CreateNodesResult {
  const service: Service = { ...inferred.service, absoluteRoot: join(workspaceRoot, inferred.service.root) };
  return {
    projects: {
      [service.root]: {
        ...(inferred.name ? { name: inferred.name } : {}),
        targets: buildTargets(service, options, pluginIsExternal, namedInputs),
      },
    },
  };
}
