import type { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runtimeProjectNameInNxJson } from '../../../plugin/runtime-project';
import { PLUGIN_PACKAGE_NAME } from '../../../utils/package-root';
import {
  EMITTED_RECORD_FILE,
  libraryFilesOnDisk,
  libraryState,
  parseEmittedRecord,
  pluginVersion,
  shippedRuntimeDir,
  shippedRuntimeFiles,
} from '../../../utils/runtime-library';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * After a failed test run: one line saying how to repair the runtime library when it is not the
 * one the installed plugin ships (a bare `ImportError: cannot import name … from
 * 'catalyst_runtime'` from generated code is how that drift shows up), else undefined. Nx skips
 * sync generators in CI, so a drifted library reaches the tests there.
 */
export function runtimeDriftHint(context: ExecutorContext): string | undefined {
  const name = runtimeProjectNameInNxJson(context.nxJsonConfiguration);
  const project = context.projectsConfigurations?.projects[name];
  if (!project) return undefined;
  const root = join(context.root, project.root);
  const recorded = parseEmittedRecord(readText(join(root, EMITTED_RECORD_FILE)));
  const state = libraryState(libraryFilesOnDisk(root), shippedRuntimeFiles(shippedRuntimeDir()), recorded);
  const version = pluginVersion();
  if (state.kind === 'in-step') return undefined;
  const differ = `the runtime library ${name} (${project.root}) is not the one ${PLUGIN_PACKAGE_NAME} ${version} ships (${state.changed.slice(0, 3).join(', ')}${state.changed.length > 3 ? ', …' : ''} differ), so the generated code may not import`;
  return state.kind === 'outdated'
    ? `${differ}: run \`nx sync\` to update it.`
    : `${differ}; it was edited by hand: run \`nx sync:check\` to see why, \`nx g ${PLUGIN_PACKAGE_NAME}:runtime\` to replace it.`;
}
