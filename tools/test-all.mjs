// `npm test`: every suite, in order of cost, with one closing line that adds them up.
//   1. build the plugin (tsc + assets) — the e2e suite packs what this builds
//   2. lint: prettier --check and eslint with typed rules (`npm run lint`), one check
//   3. plugin unit and golden tests (jest project "plugin")
//   4. the runtime's pytest suite against real PostgreSQL and Redis (tools/runtime-tests.mjs)
//   5. end to end: a real Nx workspace with the packed plugin (jest project "e2e")
//   6. in CI only: the checkout is unchanged (nothing committed was stale)
// Every step runs even if an earlier one failed, so one run reports every failure.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNodeModules } from './lib/bootstrap.mjs';
import { repoRoot } from './uv.mjs';

ensureNodeModules(repoRoot);

const reports = join(repoRoot, 'tmp', 'test-reports');
rmSync(reports, { recursive: true, force: true });
mkdirSync(reports, { recursive: true });

const jestBin = join(repoRoot, 'node_modules', 'jest', 'bin', 'jest.js');
const only = process.argv.slice(2); // e.g. `npm test -- unit runtime`

const steps = [
  { name: 'build', cmd: 'npm', args: ['run', 'build'] },
  { name: 'lint', cmd: 'npm', args: ['run', 'lint'], check: true },
  {
    name: 'unit',
    cmd: process.execPath,
    args: [jestBin, '--selectProjects', 'plugin', '--json', `--outputFile=${join(reports, 'unit.json')}`],
    jest: 'unit.json',
  },
  { name: 'runtime', cmd: process.execPath, args: [join(repoRoot, 'tools', 'runtime-tests.mjs')], pytest: true },
  {
    name: 'e2e',
    cmd: process.execPath,
    args: [jestBin, '--selectProjects', 'e2e', '--runInBand', '--json', `--outputFile=${join(reports, 'e2e.json')}`],
    jest: 'e2e.json',
  },
];

function runStep(step) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(
      `\n=== ${step.name}: ${[step.cmd === process.execPath ? 'node' : step.cmd, ...step.args.map((a) => a.replace(repoRoot + '/', ''))].join(' ')}`,
    );
    const child = spawn(step.cmd, step.args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let captured = '';
    child.stdout.on('data', (d) => {
      captured += d;
      process.stdout.write(d);
    });
    child.stderr.on('data', (d) => {
      captured += d;
      process.stderr.write(d);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, captured, seconds: (Date.now() - started) / 1000 }));
  });
}

/** Counts from a jest --json report, or from pytest's summary lines ("=== 12 passed, 1 skipped in 2s ==="). */
function countsOf(step, captured) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  if (step.jest) {
    try {
      const report = JSON.parse(readFileSync(join(reports, step.jest), 'utf8'));
      counts.passed = report.numPassedTests;
      counts.failed = report.numFailedTests + (report.numRuntimeErrorTestSuites ?? 0);
      counts.skipped = report.numPendingTests + report.numTodoTests;
    } catch {
      counts.failed = 1; // jest died before writing its report
    }
  } else if (step.pytest) {
    for (const line of captured.split('\n')) {
      if (!/^=+ .* in [\d.]+s/.test(line)) continue;
      for (const [, n, what] of line.matchAll(/(\d+) (passed|failed|skipped|errors?)/g)) {
        const key = what.startsWith('error') ? 'failed' : what;
        counts[key] += Number(n);
      }
    }
  }
  return counts;
}

const total = { passed: 0, failed: 0, skipped: 0 };
const table = [];
let anyFailed = false;
for (const step of steps) {
  if (only.length && !only.includes(step.name) && step.name !== 'build') continue;
  const { code, captured, seconds } = await runStep(step);
  const counts = countsOf(step, captured);
  if (code !== 0 && counts.failed === 0) counts.failed = 1; // a step that failed without a test result
  if (code === 0 && step.check) counts.passed = 1; // a step that is one check, like the clean-tree check
  anyFailed ||= code !== 0;
  for (const k of Object.keys(total)) total[k] += counts[k];
  table.push(
    `${step.name.padEnd(8)} exit ${String(code).padEnd(3)} ${String(seconds.toFixed(0)).padStart(5)} s  ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`,
  );
}

// In CI (a clean clone), the suite must leave the tree as it found it: a build that rewrites a
// committed file (the shipped JSON Schema, a lock file, a golden) means the commit was stale.
if (process.env.CI && !only.length) {
  const status = spawnSync('git', ['status', '--porcelain'], { cwd: repoRoot, encoding: 'utf8' });
  const changed = status.status === 0 ? status.stdout.trim() : `git status failed: ${status.stderr}`;
  const ok = changed === '';
  if (!ok) console.error(`\n=== clean-tree: npm test changed the checkout; commit what it regenerated:\n${changed}`);
  anyFailed ||= !ok;
  total.passed += ok ? 1 : 0;
  total.failed += ok ? 0 : 1;
  table.push(`${'clean'.padEnd(8)} ${ok ? 'tree unchanged by the build and tests' : 'tree CHANGED (see above)'}`);
}

console.log('\n=== summary');
for (const row of table) console.log(row);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(anyFailed ? 1 : 0);
