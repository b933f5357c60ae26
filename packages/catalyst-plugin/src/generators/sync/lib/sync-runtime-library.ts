import type { Tree } from '@nx/devkit';
import { posix } from 'node:path';
import {
  EMITTED_RECORD_FILE,
  emittedRecordText,
  libraryFilesInTree,
  libraryState,
  parseEmittedRecord,
  pluginVersion,
  shippedRuntimeDir,
  shippedRuntimeFiles,
  contentHash,
} from '../../../utils/runtime-library';
import { PLUGIN_PACKAGE_NAME } from '../../../utils/package-root';
import { copyRuntimeFiles } from '../../runtime/lib/copy-runtime-files';

/**
 * Brings the runtime library at `libraryRoot` to what the installed plugin ships, when that loses
 * nothing: the files are what an earlier plugin emitted (its record says so), or only the record
 * is missing. Returns what it did, for the out-of-sync message, or undefined when in step. A
 * library edited by hand is never overwritten: that is an error saying how to choose.
 */
export function syncRuntimeLibrary(tree: Tree, libraryRoot: string, projectName: string): string | undefined {
  const shipped = shippedRuntimeFiles(shippedRuntimeDir());
  const recordPath = posix.join(libraryRoot, EMITTED_RECORD_FILE);
  const recorded = parseEmittedRecord(tree.read(recordPath, 'utf-8'));
  const state = libraryState(libraryFilesInTree(tree, libraryRoot), shipped, recorded);
  const version = pluginVersion();
  const record = emittedRecordText({ plugin: PLUGIN_PACKAGE_NAME, version, contentHash: contentHash(shipped) });

  if (state.kind === 'in-step') {
    if (tree.read(recordPath, 'utf-8') === record) return undefined;
    tree.write(recordPath, record);
    return `${libraryRoot}/${EMITTED_RECORD_FILE} does not record the runtime ${PLUGIN_PACKAGE_NAME} ${version} ships.`;
  }
  if (state.kind === 'outdated') {
    copyRuntimeFiles(tree, shippedRuntimeDir(), libraryRoot);
    return `${libraryRoot} holds the runtime of ${PLUGIN_PACKAGE_NAME} ${state.recorded.version}, not of the installed ${version} (${state.changed.length} files differ).`;
  }
  const shown = state.changed.slice(0, 5).join(', ') + (state.changed.length > 5 ? ', …' : '');
  throw new Error(
    `The runtime library ${projectName} (${libraryRoot}) differs from what ${PLUGIN_PACKAGE_NAME} ${version} ships ` +
      `and from what ${state.recorded ? `${PLUGIN_PACKAGE_NAME} ${state.recorded.version} emitted` : 'any plugin emitted (it has no ' + EMITTED_RECORD_FILE + ')'}: ` +
      `${shown} changed by hand, so sync does not overwrite it. ` +
      `Run \`nx g ${PLUGIN_PACKAGE_NAME}:runtime\` to replace it with the shipped runtime (hand edits are lost), ` +
      `or add "${PLUGIN_PACKAGE_NAME}:sync" to sync.disabledTaskSyncGenerators in nx.json to keep them.`,
  );
}
