import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const PLUGIN_PACKAGE_NAME = '@catalyst/plugin';

let cached: string | undefined;

/**
 * The root folder of the installed `@catalyst/plugin` package (the folder holding its
 * package.json). Found by walking up from this file, so it works from `dist/` when installed and
 * from `src/` under ts-jest.
 */
export function pluginPackageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === PLUGIN_PACKAGE_NAME) {
          cached = dir;
          return dir;
        }
      } catch {
        // not a readable manifest: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`Cannot find the ${PLUGIN_PACKAGE_NAME} package root above ${__dirname}.`);
    }
    dir = parent;
  }
}
