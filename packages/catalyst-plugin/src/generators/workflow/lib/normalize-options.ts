import { getProjects, type Tree } from '@nx/devkit';
import { normalizeDirectory, parseTags } from '../../../utils/generator-options';
import { findUvMemberNamed } from '../../../utils/pyproject';
import { checkServiceName, toPythonPackageName } from '../../../utils/python-names';
import type { WorkflowGeneratorSchema } from '../schema';

export interface NormalizedWorkflowOptions {
  /** Nx project name and Python distribution name, e.g. `hello-svc`. */
  name: string;
  /** Python import package, e.g. `hello_svc`. */
  packageName: string;
  /** Project root, workspace-relative, e.g. `apps/hello-svc`. */
  projectRoot: string;
  tags: string[];
  skipFormat: boolean;
}

/** Checks everything before anything is written, so a bad or taken name leaves no trace. */
export function normalizeOptions(tree: Tree, options: WorkflowGeneratorSchema): NormalizedWorkflowOptions {
  const name = (options.name ?? '').trim();
  const problem = checkServiceName(name);
  if (problem) throw new Error(problem);

  const projectRoot = normalizeDirectory(options.directory ?? `apps/${name}`, 'directory');
  const existing = getProjects(tree).get(name);
  if (existing) {
    throw new Error(`A project named "${name}" already exists (in ${existing.root}). Choose another name.`);
  }
  const sameDistribution = findUvMemberNamed(tree, name);
  if (sameDistribution) {
    throw new Error(
      `A Python project named "${name}" already exists in the uv workspace (${sameDistribution}/pyproject.toml); uv allows one member per name. Choose another name.`,
    );
  }
  if (tree.exists(projectRoot) && (tree.isFile(projectRoot) || tree.children(projectRoot).length > 0)) {
    throw new Error(
      `Cannot create "${name}" in ${projectRoot}: the folder already exists and is not empty. Choose another --directory.`,
    );
  }
  return {
    name,
    packageName: toPythonPackageName(name),
    projectRoot,
    tags: parseTags(options.tags),
    skipFormat: options.skipFormat ?? false,
  };
}
