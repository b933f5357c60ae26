// `npm run bench`: issue 9's scenarios side by side (the generated service against the bare-ASGI
// floor, hand-written FastAPI and LangGraph inside FastAPI), written to docs/benchmarks.md with
// PNG charts in docs/benchmarks/. Not part of `npm test`.
//
//   npm run bench                          full run of every scenario, writes docs/ (the estimate
//                                          is each scenario's `estimate` summed, printed first and
//                                          in the report: about 17 minutes for A to F,
//                                          with the build about 18)
//   npm run bench -- --quick               1 round of 2 s runs, a few minutes
//   options: --scenario a,b  --rounds N (3)  --duration S (5)  --warmup S (1)  --no-build  --out DIR
//   Only a full run of every scenario writes docs/; --quick, or a --scenario selection, writes to
//   a temporary folder (printed at the end) unless --out DIR.
//   --scenario observability: the optional study of what metrics and tracing cost.
//   --render DIR: rewrite DIR/benchmarks.md from DIR/benchmarks/runs.json, measuring nothing.
//
// Steps: wrk (installed with apt-get when missing and we may), the plugin built
// (tools/build-plugin.mjs), the contenders' environment synced from its lock
// (tools/bench/contenders), then every selected scenario (tools/bench/scenarios/*.mjs, see
// tools/bench/lib/harness.mjs for the interface) in a temporary folder, servers on 127.0.0.1 and
// free ports; then the report and the charts. One bench at a time: a second copy refuses to start.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Harness, which } from './lib/harness.mjs';
import { renderReport, writeCharts } from './lib/report.mjs';
import { ensureUv, repoRoot, uvEnv } from '../uv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const contendersDir = join(here, 'contenders');
const t0 = performance.now();
const log = (message) =>
  console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${message}`);

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const known = ['--quick', '--no-build', '--scenario', '--rounds', '--duration', '--warmup', '--out', '--render'];
for (const a of argv) {
  if (a.startsWith('--') && !known.includes(a)) {
    console.error(`bench: unknown option ${a} (known: ${known.join(' ')})`);
    process.exit(2);
  }
}
const value = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const options = {
  quick,
  rounds: Number(value('--rounds') ?? (quick ? 1 : 3)),
  duration: Number(value('--duration') ?? (quick ? 2 : 5)),
  warmup: Number(value('--warmup') ?? 1),
};

const scenarioFiles = readdirSync(join(here, 'scenarios'))
  .filter((f) => f.endsWith('.mjs'))
  .sort();
const all = [];
for (const f of scenarioFiles) {
  const module = await import(pathToFileURL(join(here, 'scenarios', f)).href);
  if (module.id && module.run) all.push(module); // a helper module beside them is not a scenario
}
const wanted = value('--scenario')?.toLowerCase().split(',');
// An `optional` scenario (not one of issue 9's) runs only when --scenario names it.
const scenarios = wanted ? all.filter((s) => wanted.includes(s.id)) : all.filter((s) => !s.optional);
if (wanted && scenarios.length !== wanted.length) {
  console.error(`bench: unknown scenario in ${wanted.join(',')} (known: ${all.map((s) => s.id).join(',')})`);
  process.exit(2);
}
// docs/ only for a full run of every scenario; a quick run or a selection goes to a temp folder.
const complete = !quick && all.filter((s) => !s.optional).every((s) => scenarios.includes(s));
const outDir = value('--out')
  ? resolve(value('--out'))
  : complete
    ? join(repoRoot, 'docs')
    : mkdtempSync(join(tmpdir(), 'catalyst-bench-'));
// A scenario's estimate is for 3 rounds of 5 s; scale it to the options. A scenario whose length
// does not follow them (a fixed 60 s, an outage of 5 s) gives its --quick time as estimate.quick.
const scale = (options.rounds * (options.duration + options.warmup)) / (3 * 6);
const guess = (s) =>
  quick && s.estimate?.quick !== undefined ? s.estimate.quick : (s.estimate?.seconds ?? 120) * scale;
const estimate = 60 + scenarios.reduce((a, s) => a + guess(s), 0);
const estimateFull = 60 + all.filter((s) => !s.optional).reduce((a, s) => a + (s.estimate?.seconds ?? 120), 0);

// --render DIR: write DIR/benchmarks.md again from DIR/benchmarks/runs.json (the report's wording
// changed, the measurements did not); the charts stay as they are.
if (value('--render')) {
  const dir = resolve(value('--render'));
  const saved = JSON.parse(readFileSync(join(dir, 'benchmarks', 'runs.json'), 'utf8'));
  const sections = saved.scenarios.map(({ id, ...result }) => ({ scenario: all.find((s) => s.id === id), result }));
  writeFileSync(join(dir, 'benchmarks.md'), renderReport(saved.meta, sections, 'benchmarks'));
  console.error(`bench: wrote ${join(dir, 'benchmarks.md')} from its runs.json`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// One bench at a time on this machine: two would measure each other.

// One machine-wide path, not $TMPDIR's: two benches with different TMPDIRs still share the cores.
const lockFile = existsSync('/tmp') ? '/tmp/catalyst-bench.lock' : join(tmpdir(), 'catalyst-bench.lock');
try {
  const fd = openSync(lockFile, 'wx');
  writeFileSync(fd, String(process.pid));
  closeSync(fd);
} catch {
  const pid = Number(readFileSync(lockFile, 'utf8'));
  let alive = false;
  try {
    process.kill(pid, 0);
    alive = true;
  } catch {
    /* stale */
  }
  if (alive) {
    console.error(`bench: another bench is running (pid ${pid}, ${lockFile}); wait for it to finish.`);
    process.exit(1);
  }
  writeFileSync(lockFile, String(process.pid));
}

// ---------------------------------------------------------------------------------------------
// Preconditions: wrk, the plugin, the contenders' environment

function ensureWrk() {
  if (which('wrk')) return which('wrk');
  const root = process.getuid?.() === 0;
  const sudo = !root && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!root && !sudo) {
    console.error('bench: wrk is not installed and installing it needs root: sudo apt-get install -y wrk');
    process.exit(1);
  }
  log('installing wrk from Debian packages');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) =>
    spawnSync(sudo ? 'sudo' : 'apt-get', sudo ? ['apt-get', ...args] : args, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
  apt(['update']);
  if (apt(['install', '-y', '--no-install-recommends', 'wrk']).status !== 0 || !which('wrk')) {
    console.error('bench: apt-get install wrk failed');
    process.exit(1);
  }
  return which('wrk');
}

const wrk = ensureWrk();
const uv = ensureUv();
if (!argv.includes('--no-build')) {
  log('building the plugin');
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
log('syncing the contenders environment (tools/bench/contenders, uv.lock)');
const sync = spawnSync(uv, ['sync', '--locked', '--project', contendersDir], {
  stdio: ['ignore', 'ignore', 'inherit'],
  env: uvEnv(),
});
if (sync.status !== 0) {
  // The lock includes the runtime's dependencies (an editable path dependency): a change to the
  // runtime's pyproject.toml makes it stale until it is locked again.
  console.error(
    "bench: the contenders environment did not sync; if its lock is stale after a change to the runtime's " +
      'dependencies: node tools/uv.mjs lock --project tools/bench/contenders',
  );
  process.exit(sync.status ?? 1);
}
const python = join(contendersDir, '.venv', 'bin', 'python');
const packages = [
  'catalyst-runtime', 'fastapi', 'starlette', 'uvicorn', 'uvloop', 'httptools', 'granian', 'pydantic',
  'pydantic-core', 'orjson', 'aiohttp', 'httpx', 'langgraph', 'langchain-core', 'matplotlib',
]; // prettier-ignore
const probe = spawnSync(
  python,
  ['-c', 'import sys, importlib.metadata as m; print(sys.version.split()[0]); ' +
    `print(", ".join(f"{p} {m.version(p)}" for p in ${JSON.stringify(packages)}))`],
  { encoding: 'utf8' },
); // prettier-ignore
if (probe.status !== 0) {
  console.error(probe.stderr);
  process.exit(1);
}
const [pythonVersion, packageVersions] = probe.stdout.trim().split('\n');
const wrkVersion = spawnSync(wrk, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].split(' [')[0].trim();

// ---------------------------------------------------------------------------------------------
// Run

const work = mkdtempSync(join(tmpdir(), 'catalyst-bench-'));
const harness = new Harness({
  python,
  work,
  pythonPath: [join(here, 'http')],
  wrk,
  options,
  log,
});
let finished = false;
function cleanup() {
  harness.killAll();
  rmSync(work, { recursive: true, force: true });
  try {
    if (readFileSync(lockFile, 'utf8') === String(process.pid)) rmSync(lockFile);
  } catch {
    /* gone */
  }
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    if (!finished) log(`${signal}: stopping the servers`);
    harness.killAll();
    await harness.runDeferred();
    process.exit(130);
  });
}

const startedAt = new Date().toISOString();
const loadBefore = loadavg().map((v) => v.toFixed(2));
log(
  `scenarios ${scenarios.map((s) => s.id).join(', ')}; ${options.rounds} round(s) of ${options.warmup} s warm-up + ` +
    `${options.duration} s per run; estimated ${Math.ceil(estimate / 60)} min; load average ${loadBefore.join(' / ')}; ` +
    `${harness.pinned ? 'servers on CPU 0, wrk on CPU 1' : 'NOT pinned (no taskset or one core)'}`,
);
const sections = [];
for (const scenario of scenarios) {
  log(`scenario ${scenario.id.toUpperCase()}: ${scenario.title}`);
  let result;
  try {
    result = await scenario.run(harness, { ...options });
  } catch (error) {
    log(`scenario ${scenario.id.toUpperCase()} failed: ${error.stack ?? error}`);
    result = { error: String(error.message ?? error) };
  }
  harness.killAll();
  await harness.runDeferred();
  sections.push({ scenario, result });
  for (const v of result.verdicts ?? [])
    log(`  ${v.met === true ? 'met    ' : v.met === false ? 'NOT MET' : '   ?   '} ${v.target}: ${v.measured}`);
}

const chartsDir = join(outDir, 'benchmarks');
mkdirSync(chartsDir, { recursive: true });
const specs = sections.flatMap(({ result }) => result.charts ?? []);
writeCharts(python, specs, chartsDir);
const meta = {
  command: `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`,
  startedAt,
  elapsedS: (performance.now() - t0) / 1000,
  estimate: estimateFull,
  quick,
  options,
  pinned: harness.pinned,
  machine: {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadBefore,
    loadAfter: loadavg().map((v) => v.toFixed(2)),
    otherCores: harness.otherCores().toFixed(2),
  },
  versions: { python: pythonVersion, packages: packageVersions, wrk: wrkVersion, node: process.version },
};
const md = renderReport(meta, sections, 'benchmarks');
writeFileSync(join(outDir, 'benchmarks.md'), md);
writeFileSync(
  join(chartsDir, 'runs.json'),
  `${JSON.stringify({ meta, scenarios: sections.map(({ scenario, result }) => ({ id: scenario.id, ...result })) }, null, 1)}\n`,
);
finished = true;
const where = relative(repoRoot, outDir).startsWith('..') ? outDir : relative(repoRoot, outDir) || '.';
log(`wrote ${join(where, 'benchmarks.md')} and ${specs.length} chart(s) in ${join(where, 'benchmarks')}/`);
process.exit(sections.some(({ result }) => result.error) ? 1 : 0);
