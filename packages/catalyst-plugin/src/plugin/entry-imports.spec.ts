import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pluginPackageRoot } from '../utils/package-root';

// Nx loads the plugin entry in its plugin worker for every project-graph computation, warm or
// cold: what it imports is paid on every `nx` command. Checked on the build (`npm run build`
// precedes the unit tests), as Nx loads it.
describe('the plugin entry (dist/index.js)', () => {
  it('loads neither the compiler nor the @nx/devkit barrel', () => {
    const entry = join(pluginPackageRoot(), 'dist', 'index.js');
    const script = `require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(require.cache)));`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const loaded = (JSON.parse(result.stdout) as string[]).map((file) => file.replace(/\\/g, '/'));
    expect(loaded).toContain(entry.replace(/\\/g, '/'));
    expect(loaded.filter((file) => file.includes('/@nx/devkit/'))).toEqual([]);
    expect(loaded.filter((file) => file.includes('/dist/compiler/') && !file.endsWith('/python/names.js'))).toEqual([]);
  });
});
