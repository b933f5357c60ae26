// `npm run test:runtime`: the Python side of the test suite.
//
//   1. uv sync --locked the runtime project (packages/catalyst-plugin/runtime) with its dev group:
//      fails, instead of silently re-resolving, when runtime/uv.lock no longer matches
//      pyproject.toml;
//   2. start real PostgreSQL and Redis on loopback (tools/services), unless the environment
//      already names them (CATALYST_TEST_POSTGRES_DSN and CATALYST_TEST_REDIS_URL);
//   3. ruff and mypy --strict over the runtime and the repository's Python scripts that import it
//      (the loopback LLM provider, the examples' seeding scripts);
//   4. pytest -W error over packages/catalyst-plugin/testdata (the compiler's golden Python) in the
//      same environment, so a warning raised by generated code fails the run (testdata has no
//      pytest config of its own to say so); "no tests collected" (exit 5) is fine there while it
//      has none;
//   5. the runtime's pytest suite with coverage (last, so its summary closes the output);
//   6. stop the services, whatever happened.
// Exits non-zero if any step failed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUv, repoRoot, uvEnv } from './uv.mjs';
import { startServices, stopServices } from './services/services.mjs';

const runtimeDir = join(repoRoot, 'packages', 'catalyst-plugin', 'runtime');
const testdataDir = join(repoRoot, 'packages', 'catalyst-plugin', 'testdata');
const NO_TESTS_COLLECTED = 5;
// Relative to runtimeDir, where ruff and mypy run so the runtime's settings apply.
const scripts = ['../../../tools/lib/loopback_provider.py', '../../../examples/help-answer/seed_qdrant.py'];

function step(title, command, args, options = {}) {
  console.log(`\n[runtime-tests] ${title}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

async function main() {
  const uv = ensureUv();
  const scratch = mkdtempSync(join(tmpdir(), 'catalyst-runtime-tests-'));
  const baseEnv = uvEnv({ COVERAGE_FILE: join(scratch, '.coverage') });
  const sync = ['sync', '--locked', '--project', runtimeDir];
  if (step('uv sync --locked', uv, sync, { env: baseEnv }) !== 0) return 1;

  let services;
  const given = baseEnv.CATALYST_TEST_POSTGRES_DSN && baseEnv.CATALYST_TEST_REDIS_URL;
  const stop = async () => {
    const started = services;
    services = undefined;
    await stopServices(started);
  };
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => stop().finally(() => process.exit(130)));
  }
  try {
    if (!given) {
      console.log('\n[runtime-tests] starting PostgreSQL and Redis on loopback');
      services = await startServices();
    }
    const env = { ...baseEnv, ...(services?.env ?? {}) };
    const uvRun = (...args) => ['run', '--project', runtimeDir, '--no-sync', ...args];
    const failures = [];
    const check = (title, status) => {
      if (status !== 0) failures.push(`${title} (exit ${status})`);
    };

    check('ruff', step('ruff check', uv, uvRun('ruff', 'check', 'src', 'tests', ...scripts), { cwd: runtimeDir, env }));
    check('mypy', step('mypy --strict', uv, uvRun('mypy', 'src', 'tests', ...scripts), { cwd: runtimeDir, env }));
    if (existsSync(testdataDir)) {
      const status = step('pytest -W error testdata (golden Python)', uv, uvRun('pytest', '-W', 'error', testdataDir), {
        cwd: repoRoot,
        env,
      });
      if (status === NO_TESTS_COLLECTED) console.log('[runtime-tests] testdata has no Python tests yet');
      else check('testdata pytest', status);
    }
    check(
      'runtime pytest',
      step(
        'pytest runtime (with coverage)',
        uv,
        uvRun('pytest', 'tests', '--cov=catalyst_runtime', '--cov-report=term-missing:skip-covered'),
        { cwd: runtimeDir, env },
      ),
    );
    if (failures.length) {
      console.error(`\n[runtime-tests] failed: ${failures.join(', ')}`);
      return 1;
    }
    console.log('\n[runtime-tests] all passed');
    return 0;
  } finally {
    await stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[runtime-tests] ${error.stack ?? error}`);
    process.exit(1);
  },
);
