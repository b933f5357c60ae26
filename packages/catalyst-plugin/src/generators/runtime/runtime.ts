import {
  addProjectConfiguration,
  formatFiles,
  getProjects,
  readNxJson,
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
import { runtimeProjectNameInNxJson, RUNTIME_OPTION_WHERE } from '../../plugin/runtime-project';
import { copyRuntimeFiles } from './lib/copy-runtime-files';
import type { RuntimeGeneratorSchema } from './schema';

interface NormalizedRuntimeOptions {
  /** The library's Nx project name: the plugin's runtimeProjectName option, else catalyst-runtime. */
  name: string;
  directory: string;
  tags: string[];
  /** The plugin's `runtime/` folder the files are copied from. */
  sourceDir: string;
}

function normalizeOptions(tree: Tree, options: RuntimeGeneratorSchema): NormalizedRuntimeOptions {
  const name = runtimeProjectNameInNxJson(readNxJson(tree));
  const projects = getProjects(tree);
  const existing = projects.get(name);
  const directory = normalizeDirectory(options.directory ?? existing?.root ?? 'libs/catalyst-runtime', 'directory');
  if (existing && existing.root !== directory) {
    throw new Error(
      `The project "${name}" already exists in ${existing.root}. Run the generator with --directory=${existing.root} to update it there.`,
    );
  }
  const occupant = [...projects].find(([, p]) => p.root === directory)?.[0];
  if (!existing && occupant) {
    throw new Error(
      `${directory} holds the project "${occupant}", but ${RUNTIME_OPTION_WHERE} is "${name}". Set the option to "${occupant}" to update the library there, or choose another --directory.`,
    );
  }
  if (!existing && tree.exists(directory) && tree.children(directory).length > 0) {
    throw new Error(
      `Cannot create the runtime library in ${directory}: the folder is not empty. Choose another --directory.`,
    );
  }
  return { name, directory, tags: parseTags(options.tags), sourceDir: join(pluginPackageRoot(), 'runtime') };
}

/** Emits the shared runtime library, or updates it to this plugin version's files. */
export async function runtimeGenerator(tree: Tree, options: RuntimeGeneratorSchema): Promise<GeneratorCallback> {
  const normalized = normalizeOptions(tree, options);
  const pyprojectsBefore = pyprojectChanges(tree);

  if (getProjects(tree).has(normalized.name)) {
    if (options.tags !== undefined) {
      const config = readProjectConfiguration(tree, normalized.name);
      updateProjectConfiguration(tree, normalized.name, { ...config, tags: normalized.tags });
    }
  } else {
    addProjectConfiguration(tree, normalized.name, {
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
