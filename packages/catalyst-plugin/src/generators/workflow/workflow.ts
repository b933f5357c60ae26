import { addProjectConfiguration, formatFiles, runTasksInSerial, type GeneratorCallback, type Tree } from '@nx/devkit';
import { addUvWorkspaceMember } from '../../utils/pyproject';
import { uvLockTask } from '../../utils/uv-lock-task';
import { initGeneratorInternal } from '../init/init';
import { createFiles } from './lib/create-files';
import { normalizeOptions } from './lib/normalize-options';
import type { WorkflowGeneratorSchema } from './schema';

/** `nx g @catalyst/plugin:workflow <name>`: a new Python workflow service project. */
export async function workflowGenerator(tree: Tree, options: WorkflowGeneratorSchema): Promise<GeneratorCallback> {
  const normalized = normalizeOptions(tree, options);
  const tasks: GeneratorCallback[] = [];

  // Idempotent: registers the plugin, the uv workspace and the runtime library only if missing.
  tasks.push(await initGeneratorInternal(tree, { skipFormat: true, skipUvLock: true }));

  addProjectConfiguration(tree, normalized.name, {
    root: normalized.projectRoot,
    projectType: 'application',
    tags: normalized.tags,
    targets: {},
  });
  createFiles(tree, normalized);
  addUvWorkspaceMember(tree, normalized.projectRoot);

  if (!options.skipUvLock) tasks.push(uvLockTask(tree.root));

  if (!normalized.skipFormat) {
    await formatFiles(tree);
  }
  return runTasksInSerial(...tasks);
}

export default workflowGenerator;
