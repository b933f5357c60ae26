// Micro-benchmarks of catalyst_runtime's hot paths, with pyperf, in the runtime's uv environment.
//   node tools/bench/runtime-micro.mjs            full run (about two minutes)
//   node tools/bench/runtime-micro.mjs --fast     quick look
// Writes tools/bench/results/runtime-micro.md and .json; docs/runtime.md quotes the table.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureUv, repoRoot, uvEnv } from '../uv.mjs';

const runtimeDir = join(repoRoot, 'packages', 'catalyst-plugin', 'runtime');
const results = join(repoRoot, 'tools', 'bench', 'results');
mkdirSync(results, { recursive: true });
const json = join(results, 'runtime-micro.json');
rmSync(json, { force: true });

const uv = ensureUv();
const run = (args) => spawnSync(uv, args, { stdio: 'inherit', env: uvEnv(), cwd: repoRoot }).status ?? 1;
let status = run(['sync', '--project', runtimeDir]);
if (status === 0) {
  status = run([
    'run', '--project', runtimeDir, '--no-sync', 'python', join(repoRoot, 'tools', 'bench', 'runtime_micro.py'),
    '--quiet', '--output', json, '--table', join(results, 'runtime-micro.md'), ...process.argv.slice(2),
  ]); // prettier-ignore
}
process.exit(status);
