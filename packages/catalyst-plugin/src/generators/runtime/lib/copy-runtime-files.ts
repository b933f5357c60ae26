import type { Tree } from '@nx/devkit';
import { posix } from 'node:path';
import { PLUGIN_PACKAGE_NAME } from '../../../utils/package-root';
import {
  contentHash,
  EMITTED_RECORD_FILE,
  emittedRecordText,
  listTreeFiles,
  pluginVersion,
  RUNTIME_PACKAGE_DIR,
  shippedRuntimeFiles,
} from '../../../utils/runtime-library';

/**
 * Copies the runtime library byte for byte (no templating) from the plugin's `runtime/` folder
 * into `targetDir`. Files of the package that this version no longer ships are removed, so an
 * update never leaves stale modules behind; files outside the package folder (tests, notes the
 * user added) are left alone. Beside them it records which plugin version emitted which content
 * (`catalyst-emitted.json`), so that the sync generator can tell an outdated library, which it
 * may replace, from one edited by hand, which it must not.
 */
export function copyRuntimeFiles(tree: Tree, sourceDir: string, targetDir: string): string[] {
  const shipped = shippedRuntimeFiles(sourceDir);
  const targetPackageDir = posix.join(targetDir, RUNTIME_PACKAGE_DIR);
  for (const stale of listTreeFiles(tree, targetPackageDir)) {
    if (!shipped.has(`${RUNTIME_PACKAGE_DIR}/${stale}`)) tree.delete(posix.join(targetPackageDir, stale));
  }
  for (const [file, content] of shipped) {
    tree.write(posix.join(targetDir, file), content);
  }
  tree.write(
    posix.join(targetDir, EMITTED_RECORD_FILE),
    emittedRecordText({ plugin: PLUGIN_PACKAGE_NAME, version: pluginVersion(), contentHash: contentHash(shipped) }),
  );
  return [...shipped.keys()];
}
