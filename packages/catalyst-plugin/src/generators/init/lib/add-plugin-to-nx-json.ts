import { readNxJson, updateNxJson, type Tree } from '@nx/devkit';
import { PLUGIN_PACKAGE_NAME } from '../../../utils/package-root';

/** Whether nx.json already registers the plugin, as a string or as `{ plugin, options }`. */
export function hasPluginRegistered(tree: Tree): boolean {
  const plugins = readNxJson(tree)?.plugins ?? [];
  return plugins.some((p) => (typeof p === 'string' ? p : p.plugin) === PLUGIN_PACKAGE_NAME);
}

/** Adds `"@catalyst/plugin"` to nx.json's plugins unless it is there already (in any form). */
export function addPluginToNxJson(tree: Tree): void {
  const nxJson = readNxJson(tree) ?? {};
  if (hasPluginRegistered(tree)) return;
  nxJson.plugins = [...(nxJson.plugins ?? []), PLUGIN_PACKAGE_NAME];
  updateNxJson(tree, nxJson);
}
