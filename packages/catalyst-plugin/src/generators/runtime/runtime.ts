import {
  addProjectConfiguration,
  formatFiles,
  getProjects,
  readProjectConfiguration,
  updateProjectConfiguration,
  type GeneratorCallback,
  type Tree,
} from '@nx/devkit';
import { join } from 'node:path';
import { normalizeDirectory, parseTags } from '../../utils/generator-options';
import { pluginPackageRoot } from '../../utils/package-root';
import { addUvWorkspaceMember, pyprojectChanges, uvLockNeeded } from '../../utils/pyproject';
import { uvLockTask } from '../../utils/uv-lock-task';
import { RUNTIME_PROJECT_NAME } from '../../utils/python-names';
import { copyRuntimeFiles } from './lib/copy-runtime-files';
import type { RuntimeGeneratorSchema } from './schema';

interface NormalizedRuntimeOptions {
  directory: string;
  tags: string[];
  /** The plugin's `runtime/` folder the files are copied from. */
  sourceDir: string;
}

function normalizeOptions(tree: Tree, options: RuntimeGeneratorSchema): NormalizedRuntimeOptions {
  const existing = getProjects(tree).get(RUNTIME_PROJECT_NAME);
  const directory = normalizeDirectory(options.directory ?? existing?.root ?? 'libs/catalyst-runtime', 'directory');
  if (existing && existing.root !== directory) {
    throw new Error(
      `The project "${RUNTIME_PROJECT_NAME}" already exists in ${existing.root}. Run the generator with --directory=${existing.root} to update it there.`,
    );
  }
  if (!existing && tree.exists(directory) && tree.children(directory).length > 0) {
    throw new Error(
      `Cannot create the runtime library in ${directory}: the folder is not empty. Choose another --directory.`,
    );
  }
  return { directory, tags: parseTags(options.tags), sourceDir: join(pluginPackageRoot(), 'runtime') };
}

/** Emits the shared runtime library, or updates it to this plugin version's files. */
export async function runtimeGenerator(tree: Tree, options: RuntimeGeneratorSchema): Promise<GeneratorCallback> {
  const normalized = normalizeOptions(tree, options);
  const pyprojectsBefore = pyprojectChanges(tree);

  if (getProjects(tree).has(RUNTIME_PROJECT_NAME)) {
    if (options.tags !== undefined) {
      const config = readProjectConfiguration(tree, RUNTIME_PROJECT_NAME);
      updateProjectConfiguration(tree, RUNTIME_PROJECT_NAME, { ...config, tags: normalized.tags });
    }
  } else {
    addProjectConfiguration(tree, RUNTIME_PROJECT_NAME, {
      root: normalized.directory,
      projectType: 'library',
      tags: normalized.tags,
      targets: {},
    });
  }
  copyRuntimeFiles(tree, normalized.sourceDir, normalized.directory);
  addUvWorkspaceMember(tree, normalized.directory);

  if (!options.skipFormat) {
    await formatFiles(tree);
  }
  return options.skipUvLock || !uvLockNeeded(tree, pyprojectsBefore) ? () => undefined : uvLockTask(tree.root);
}

export default runtimeGenerator;
