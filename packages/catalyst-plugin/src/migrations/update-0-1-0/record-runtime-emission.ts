import { getProjects, readNxJson, type Tree } from '@nx/devkit';
import { posix } from 'node:path';
import { RUNTIME_MARKER_FILE, runtimeProjectNameInNxJson } from '../../plugin/runtime-project';
import { copyRuntimeFiles } from '../../generators/runtime/lib/copy-runtime-files';
import { PLUGIN_PACKAGE_NAME } from '../../utils/package-root';
import {
  changedPaths,
  EMITTED_RECORD_FILE,
  libraryFilesInTree,
  pluginVersion,
  shippedRuntimeDir,
  shippedRuntimeFiles,
} from '../../utils/runtime-library';

/** The runtime library's root: the project runtimeProjectName names, else the one holding the package. */
function runtimeLibraryRoot(tree: Tree): string | undefined {
  const projects = getProjects(tree);
  const named = projects.get(runtimeProjectNameInNxJson(readNxJson(tree)));
  if (named) return named.root;
  return [...projects.values()].find((p) => tree.exists(posix.join(p.root, RUNTIME_MARKER_FILE)))?.root;
}

/**
 * Since 0.1.0 the runtime library records what emitted it (`catalyst-emitted.json`), and
 * `nx sync` reads the record to tell a library an earlier plugin emitted, which it replaces, from
 * one edited by hand, which it never overwrites. A library emitted before 0.1.0 has no record, so
 * after an upgrade sync would report it as edited by hand and stop every codegen run. This is the
 * upgrade the user asked for: the library becomes this version's (files and record), and when
 * its files differed the next steps name them, so that an edit of the user's own can be taken
 * back from the diff.
 */
export default function recordRuntimeEmission(tree: Tree): string[] {
  const root = runtimeLibraryRoot(tree);
  if (root === undefined || tree.exists(posix.join(root, EMITTED_RECORD_FILE))) return [];
  const shipped = shippedRuntimeFiles(shippedRuntimeDir());
  const changed = changedPaths(libraryFilesInTree(tree, root), shipped);
  const pyproject = posix.join(root, 'pyproject.toml');
  const pyprojectBefore = tree.read(pyproject, 'utf-8');
  copyRuntimeFiles(tree, shippedRuntimeDir(), root);
  if (changed.length === 0) return [];
  const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? `, and ${changed.length - 5} more` : '');
  return [
    `${root}: the runtime library was emitted by ${PLUGIN_PACKAGE_NAME} before 0.1.0 and is now the runtime ${pluginVersion()} ships (${shown}). ` +
      `If you had edited these files yourself, take your changes back from \`git diff -- ${root}\`.`,
    ...(tree.read(pyproject, 'utf-8') !== pyprojectBefore
      ? [`${pyproject} changed: run \`uv lock\` at the workspace root.`]
      : []),
  ];
}
