import { formatFiles, getProjects, readNxJson, runTasksInSerial, type GeneratorCallback, type Tree } from '@nx/devkit';
import { runtimeProjectNameInNxJson } from '../../plugin/runtime-project';
import { ensureRootPyproject, pyprojectChanges, uvLockNeeded } from '../../utils/pyproject';
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
  // Under the name the plugin's options give it (runtimeProjectName), as the project graph finds it.
  if (!getProjects(tree).has(runtimeProjectNameInNxJson(readNxJson(tree)))) {
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
