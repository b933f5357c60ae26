// Compiles benchmark workflows with the built compiler's API (packages/catalyst-plugin/dist, as
// the Nx executor does), into <work>/<package>/_generated: a package the contender apps import.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { repoRoot } from '../../uv.mjs';

const require = createRequire(import.meta.url);
export const pluginDir = join(repoRoot, 'packages', 'catalyst-plugin');

/**
 * files: workflow definitions (absolute paths). Returns { dir, files, sameAsGolden } where
 * sameAsGolden compares with `golden` (a testdata expected/ folder) when given.
 */
export function compileWorkflows(work, files, packageName, { golden } = {}) {
  const { compileService } = require(join(pluginDir, 'dist', 'compiler'));
  const sources = files.map((f) => ({ path: `workflows/${basename(f)}`, text: readFileSync(f, 'utf8') }));
  const result = compileService(sources, { packageName, serviceName: packageName.replace(/_/g, '-') });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${packageName}: ${JSON.stringify(errors)}`);
  const out = join(work, packageName, '_generated');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(work, packageName, '__init__.py'), '');
  let sameAsGolden = golden ? true : undefined;
  for (const file of result.files) {
    mkdirSync(dirname(join(out, file.path)), { recursive: true });
    writeFileSync(join(out, file.path), file.contents);
    if (golden) {
      let expected;
      try {
        expected = readFileSync(join(golden, file.path), 'utf8');
      } catch {
        expected = undefined;
      }
      if (expected !== file.contents) sameAsGolden = false;
    }
  }
  return { dir: out, files: result.files.map((f) => f.path).sort(), sameAsGolden };
}
