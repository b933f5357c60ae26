import { formatFiles, getProjects, runTasksInSerial, type GeneratorCallback, type Tree } from '@nx/devkit';
import { ensureRootPyproject, pyprojectChanges, uvLockNeeded } from '../../utils/pyproject';
import { RUNTIME_PROJECT_NAME } from '../../utils/python-names';
import { uvLockTask } from '../../utils/uv-lock-task';
import { runtimeGenerator } from '../runtime/runtime';
import { addPluginToNxJson } from './lib/add-plugin-to-nx-json';
import { updateGitignore } from './lib/update-gitignore';
import type { InitGeneratorSchema } from './schema';

export const DEFAULT_RUNTIME_DIRECTORY = 'libs/catalyst-runtime';

/**
 * What `nx add @catalyst/plugin` runs. Idempotent: every step checks before it writes, and an
 * existing runtime library is left as it is (update it with the `runtime` generator). `uv lock`
 * runs only when there is no lock file or a pyproject.toml changed.
 */
export async function initGeneratorInternal(tree: Tree, options: InitGeneratorSchema): Promise<GeneratorCallback> {
  const tasks: GeneratorCallback[] = [];
  const pyprojectsBefore = pyprojectChanges(tree);

  addPluginToNxJson(tree);
  ensureRootPyproject(tree);
  updateGitignore(tree);
  if (!getProjects(tree).has(RUNTIME_PROJECT_NAME)) {
    tasks.push(
      await runtimeGenerator(tree, {
        directory: options.runtimeDirectory ?? DEFAULT_RUNTIME_DIRECTORY,
        skipFormat: true,
        skipUvLock: true,
      }),
    );
  }
  if (!options.skipUvLock && uvLockNeeded(tree, pyprojectsBefore)) tasks.push(uvLockTask(tree.root));

  if (!options.skipFormat) {
    await formatFiles(tree);
  }
  return runTasksInSerial(...tasks);
}

export const initGenerator = initGeneratorInternal;
export default initGeneratorInternal;
