import type { NxJsonConfiguration } from '@nx/devkit';
import { PLUGIN_PACKAGE_NAME } from '../utils/package-root';
import { RUNTIME_PROJECT_NAME } from '../utils/python-names';
import type { CatalystPluginOptions } from './options';

/** Where the option lives, as messages name it. */
export const RUNTIME_OPTION_WHERE = `runtimeProjectName (nx.json, plugins → "${PLUGIN_PACKAGE_NAME}" → options)`;

/** The options of the first `plugins` entry of nx.json that registers the plugin, if it has any. */
export function pluginOptionsInNxJson(nxJson: NxJsonConfiguration | null | undefined): CatalystPluginOptions {
  for (const entry of nxJson?.plugins ?? []) {
    if (typeof entry === 'string') {
      if (entry === PLUGIN_PACKAGE_NAME) return {};
    } else if (entry.plugin === PLUGIN_PACKAGE_NAME) {
      return entry.options ?? {};
    }
  }
  return {};
}

/**
 * The Nx project name of the runtime library, as the generators, executors and the project graph
 * all read it: the plugin's `runtimeProjectName` option, else `catalyst-runtime`. `explicit`
 * says whether the workspace set it (a name it set that matches no project is an error).
 */
export function runtimeProjectNameOf(options: CatalystPluginOptions | undefined): { name: string; explicit: boolean } {
  const configured = options?.runtimeProjectName;
  if (configured === undefined) return { name: RUNTIME_PROJECT_NAME, explicit: false };
  if (typeof configured !== 'string' || configured.trim() === '') {
    throw new Error(`${RUNTIME_OPTION_WHERE} must be a non-empty string, the runtime library's Nx project name.`);
  }
  return { name: configured, explicit: true };
}

/** {@link runtimeProjectNameOf} for the plugin entry of an nx.json. */
export function runtimeProjectNameInNxJson(nxJson: NxJsonConfiguration | null | undefined): string {
  return runtimeProjectNameOf(pluginOptionsInNxJson(nxJson)).name;
}

/** The file every runtime library holds (its package's `__init__.py`), relative to the project root. */
export const RUNTIME_MARKER_FILE = 'src/catalyst_runtime/__init__.py';
