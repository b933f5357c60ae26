// `npm run mutate`: mutation testing, a check of the tests rather than of the code. Each mutant is
// one small deliberate bug (a `<` made `<=`, a branch emptied, a string blanked); a test that
// fails on it "kills" it. A surviving mutant is a bug the suite would not notice, or a change
// that does not change behaviour (an equivalent mutant). Too slow for `npm test`: run it on a
// change (`--since main`) or one area at a time. docs/testing.md has the scores and how to read
// a report.
//
//   npm run mutate                          every area, one after the other
//   npm run mutate -- --area expr           one area (repeat --area for several)
//   npm run mutate -- --only ts|py          only the TypeScript (StrykerJS) or Python (mutmut) areas
//   npm run mutate -- --since main          only what changed against main: the changed lines of
//                                           the TypeScript files, the changed Python modules
//   npm run mutate -- --area expr --file parser.ts
//                                           only the area's files whose path ends so (repeatable;
//                                           `--file name.ts:10-40` for those lines of a file)
//   npm run mutate -- --concurrency 2       test processes at once (default 1; the machine is shared)
//   npm run mutate -- --timeout 20000       TypeScript: ms a mutant's run may take beyond its dry-run
//                                           time before it counts as killed (default 60000; lower
//                                           for --focused runs, whose honest runs take seconds)
//   npm run mutate -- --area graph --file resolve.ts --label resolve
//                                           reports in tmp/mutation/graph-resolve/ instead of graph/, so
//                                           runs of one area's files can go at once and keep their reports
//   npm run mutate -- --area expr --focused TypeScript: the area's focused specs only, not the golden
//                                           folders: what they kill is killed; the score is a lower
//                                           bound (re-run the survivors' lines without --focused)
//   npm run mutate -- --fresh               Python: forget earlier results (after adding tests)
//   npm run mutate -- --list                the areas, their files and the tests that judge them
//
// TypeScript: StrykerJS with the jest runner, perTest coverage (a mutant runs only the tests that
// reach it) and a jest config limited to the specs of the area. Python: mutmut on a copy of the
// runtime in tmp/mutation/py-<area>/ (kept, so a re-run tests only the functions that changed),
// with the runtime's own tests against real PostgreSQL and Redis started here (tools/services).
// Reports: tmp/mutation/<area>/ (git-ignored); events/ there holds one file per mutant tested, so a
// run stopped before its end still says what it found (tools/mutate/events.mjs). Exits non-zero if an area falls below its
// threshold, or a run failed.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureNodeModules } from './lib/bootstrap.mjs';
import { startServices, stopServices } from './services/services.mjs';
import { ensureUv, repoRoot, uvEnv } from './uv.mjs';

const PLUGIN = 'packages/catalyst-plugin';
const SRC = `${PLUGIN}/src`;
const RUNTIME = `${PLUGIN}/runtime`;
const OUT = join(repoRoot, 'tmp', 'mutation');
const MUTATE_PROJECT = join(repoRoot, 'tools', 'mutate');
/** Below this share of killed mutants an area fails (issue: ≥ 85 % in each area). */
const THRESHOLD = 85;

// The specs that judge the compiler: the golden folders (every definition to its exact Python) and
// the expression properties. fuzz.spec.ts is left out: it reaches every line and only asks for
// "no crash", so it would run for every mutant and kill almost none. Specs run in the order an
// area lists them and a mutant's run stops at its first failing test (tools/mutate/jest-*.cjs):
// an area lists its small focused specs first, and these, the slowest, last.
const COMPILER_SPECS = [
  `${SRC}/compiler/report/render.spec.ts`,
  `${SRC}/compiler/examples.spec.ts`,
  `${SRC}/compiler/golden.spec.ts`,
];

// Tests serving an app in a uvicorn subprocess: mutmut's mutants live in the test process only
// (a subprocess importing the mutated copy fails to start), so they can judge none of them.
const SUBPROCESS_SERVER_TESTS = [
  'test_http_limits.py::test_a_client_that_leaves_cancels_the_upstream_call',
  'test_http_limits.py::test_shutdown_does_not_wait_for_ever_on_a_running_request',
];

/** `mutate`: files, or `file:from-to` line ranges (Stryker's syntax). */
const AREAS = [
  {
    name: 'expr',
    tool: 'ts',
    mutate: [`${SRC}/compiler/expr/**/*.ts`, `!${SRC}/compiler/expr/**/*.spec.ts`],
    // The expression code's own unit specs first: they kill most mutants in milliseconds.
    // property.spec.ts is left out: it compiles its 800 cases in a beforeAll, which Stryker counts
    // as reached by no test ("static"), so every mutant it reaches ran all the area's tests (84 %
    // of the mutants, 10 s or more each).
    specs: [...['lexer', 'parser', 'check', 'emit'].map((s) => `${SRC}/compiler/expr/${s}.spec.ts`), ...COMPILER_SPECS],
  },
  {
    name: 'graph',
    tool: 'ts',
    // plan.ts orders the nodes; resolve.ts builds the graph they are ordered in (resolve()'s body
    // from the root graph on, then dependencies() to the end: buildGraph and the scope rules; the
    // trigger checks and id helpers in between are another concern). Line ranges: keep them in
    // step when resolve.ts changes.
    mutate: [
      `${SRC}/compiler/plan/plan.ts`,
      `${SRC}/compiler/resolve/resolve.ts:93-153`,
      `${SRC}/compiler/resolve/resolve.ts:179-340`,
    ],
    specs: [`${SRC}/compiler/plan/plan.spec.ts`, `${SRC}/compiler/resolve/resolve.spec.ts`, ...COMPILER_SPECS],
  },
  {
    name: 'emit',
    tool: 'ts',
    mutate: [`${SRC}/compiler/emit/**/*.ts`, `!${SRC}/compiler/emit/**/*.spec.ts`],
    // The emit code's own unit specs first (each module's output read whole), then the goldens.
    specs: [
      ...['init', 'router', 'input-classes', 'run', 'workflow', 'mermaid', 'graphs', 'header'].map(
        (s) => `${SRC}/compiler/emit/${s}.spec.ts`,
      ),
      ...COMPILER_SPECS,
    ],
  },
  {
    name: 'write',
    tool: 'ts',
    // The codegen executor's write path: the atomic swap of _generated/.
    mutate: [`${SRC}/executors/codegen/lib/write-atomically.ts`],
    specs: [`${SRC}/executors/codegen/lib/write-atomically.spec.ts`, `${SRC}/executors/codegen/codegen.spec.ts`],
  },
  {
    name: 'rate_limit',
    tool: 'py',
    modules: ['rate_limit.py'],
    tests: ['test_rate_limit.py', 'test_rate_limit_node.py'],
  },
  {
    name: 'cache',
    tool: 'py',
    modules: ['cache.py', 'cache_node.py'],
    tests: ['test_cache.py', 'test_cache_node.py'],
  },
  {
    name: 'bodies',
    tool: 'py',
    modules: ['bodies.py'],
    tests: ['test_bodies.py', 'test_http_limits.py', 'test_pools.py'],
    deselect: SUBPROCESS_SERVER_TESTS,
  },
  {
    name: 'context',
    tool: 'py',
    modules: ['context.py'],
    // test_map_node.py runs items on clones whose timings and notes are merged back; the metrics
    // test reads each node's kind off its histogram (the rest of test_metrics.py serves from a
    // subprocess).
    tests: [
      'test_context.py',
      'test_node_scope.py',
      'test_node_tasks.py',
      'test_map_node.py',
      'test_metrics.py::test_node_durations_are_labelled_with_the_nodes_kind',
    ],
    // Reads tools/bench/ next to the runtime, which the copy in tmp/mutation/ has not.
    deselect: ['test_context.py::test_slots_use_less_memory_than_a_plain_class'],
  },
  {
    name: 'http_node',
    tool: 'py',
    modules: ['http_node.py'],
    tests: ['test_http_node.py', 'test_http_limits.py'],
    deselect: SUBPROCESS_SERVER_TESTS,
  },
];

const { values: opts } = parseArgs({
  options: {
    area: { type: 'string', multiple: true },
    only: { type: 'string' },
    since: { type: 'string' },
    file: { type: 'string', multiple: true },
    concurrency: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '60000' },
    label: { type: 'string' },
    list: { type: 'boolean', default: false },
    fresh: { type: 'boolean', default: false },
    focused: { type: 'boolean', default: false },
  },
});
if (opts.only && !['ts', 'py'].includes(opts.only)) fail(`--only takes ts or py, not "${opts.only}"`);
for (const name of ['concurrency', 'timeout'])
  if (!/^[1-9]\d*$/.test(opts[name])) fail(`--${name} takes a whole number above 0, not "${opts[name]}"`);
if (opts.label !== undefined && !/^[\w.-]+$/.test(opts.label))
  fail(`--label takes letters, digits, '.', '-' and '_', not "${opts.label}"`);
for (const name of opts.area ?? [])
  if (!AREAS.some((a) => a.name === name))
    fail(`unknown area "${name}"; the areas are: ${AREAS.map((a) => a.name).join(', ')}`);

function fail(message) {
  console.error(`mutate: ${message}`);
  process.exit(2);
}

function run(cmd, args, options = {}) {
  console.log(`\n[mutate] ${[cmd, ...args].map((a) => relative(repoRoot, a) || a).join(' ')}`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: repoRoot, ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/** Changed line ranges against `base` per file (committed on this branch and not yet committed). */
function changedLines(base) {
  const diff = spawnSync('git', ['diff', '-U0', '--no-color', `${base}...HEAD`], { cwd: repoRoot, encoding: 'utf8' });
  const work = spawnSync('git', ['diff', '-U0', '--no-color', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' });
  if (diff.status !== 0) fail(`git diff ${base}...HEAD failed: ${diff.stderr.trim()}`);
  const ranges = new Map();
  let file;
  for (const line of `${diff.stdout}\n${work.stdout}`.split('\n')) {
    const name = /^\+\+\+ b\/(.*)$/.exec(line);
    if (name) file = name[1];
    else if (line.startsWith('+++ ')) file = undefined; // a deleted file
    const hunk = /^@@ -\S+ \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (hunk && file) {
      const from = Number(hunk[1]);
      const count = hunk[2] === undefined ? 1 : Number(hunk[2]);
      if (count > 0) ranges.set(file, [...(ranges.get(file) ?? []), [from, from + count - 1]]);
    }
  }
  return ranges;
}

/** `glob` as a RegExp over repo-relative paths (only `**` and `*`, as the areas use). */
function globRegExp(glob) {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*\*\//g, '\uE000')
    .replace(/\*/g, '[^/]*')
    .replace(/\uE000/g, '(?:.*/)?');
  return new RegExp(`^${body}$`);
}

/** The area's `mutate` list cut down to the lines changed against `--since`. */
function sinceMutate(area, ranges) {
  const include = area.mutate.filter((m) => !m.startsWith('!'));
  const exclude = area.mutate.filter((m) => m.startsWith('!')).map((m) => globRegExp(m.slice(1)));
  const out = [];
  for (const [file, lines] of ranges) {
    if (!file.endsWith('.ts') || exclude.some((re) => re.test(file))) continue;
    for (const entry of include) {
      const [glob, span] = entry.split(':');
      if (!globRegExp(glob).test(file)) continue;
      const [lo, hi] = span ? span.split('-').map(Number) : [1, Infinity];
      for (const [from, to] of lines) {
        const a = Math.max(from, lo);
        const b = Math.min(to, hi);
        if (a <= b) out.push(`${file}:${a}-${b}`);
      }
    }
  }
  return [...new Set(out)];
}

/** The folder name of a run's report and sandbox: the area's, or `<area>-<label>` (`--label`). */
const runName = (area) => (opts.label ? `${area.name}-${opts.label}` : area.name);

function strykerConfig(area, mutate, reportDir) {
  return {
    $schema: '../../../node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    packageManager: 'npm',
    testRunner: 'jest',
    coverageAnalysis: 'perTest',
    mutate,
    concurrency: Number(opts.concurrency),
    // A timeout counts as killed, so it must not be reached by a slow run that would have passed:
    // on the shared machine a mutant's run can take ten times its dry-run time (ten seconds was
    // reached by most compiler mutants before runs stopped at their first failure, and by some
    // after, under load). A loop that goes round forever is ended sooner anyway: StrykerJS stops a
    // run once the mutant is reached 100 times as often as in the dry run (a "hit limit" timeout).
    timeoutMS: Number(opts.timeout),
    timeoutFactor: 1.5,
    // The first run (every spec, with coverage) on a loaded machine can take minutes.
    dryRunTimeoutMinutes: 30,
    thresholds: { high: 90, low: THRESHOLD, break: null },
    // event-recorder: one JSON file per mutant as it is tested, which a stopped run still leaves.
    reporters: ['clear-text', 'html', 'json', 'progress-append-only', 'event-recorder'],
    eventReporter: { baseDir: relative(repoRoot, join(reportDir, 'events')) },
    htmlReporter: { fileName: relative(repoRoot, join(reportDir, 'index.html')) },
    jsonReporter: { fileName: relative(repoRoot, join(reportDir, 'mutation.json')) },
    clearTextReporter: { allowEmojis: false, logTests: false, maxTestsToLog: 0 },
    tempDirName: `tmp/mutation/.stryker-tmp-${runName(area)}`,
    cleanTempDir: true,
    // The sandbox needs the plugin's sources, its golden folders and the examples; nothing built.
    ignorePatterns: ['tmp', 'dist', '.tools', '.nx', 'packages/e2e', '**/.venv', '**/__pycache__', 'coverage'],
    jest: {
      projectType: 'custom',
      enableFindRelatedTests: false,
      config: {
        // No rootDir: Stryker runs jest in its sandbox, the copy holding the mutants.
        // Node's environment, skipping the rest of a mutant's tests once one has failed (it is
        // killed then); StrykerJS sets jest's own `bail` off, and a compiler mutant used to run
        // every golden case that reaches it. Absolute: StrykerJS loads it by this name.
        testEnvironment: join(repoRoot, 'tools', 'mutate', 'jest-fail-fast-environment.cjs'),
        // The area's specs in its order (focused ones first), not jest's slowest-first.
        testSequencer: join(repoRoot, 'tools', 'mutate', 'jest-spec-order.cjs'),
        testMatch: (opts.focused ? area.specs.filter((s) => !COMPILER_SPECS.includes(s)) : area.specs).map(
          (s) => `<rootDir>/${s}`,
        ),
        transform: {
          '^.+\\.ts$': ['ts-jest', { tsconfig: `<rootDir>/${PLUGIN}/tsconfig.spec.json` }],
        },
      },
    },
  };
}

/** Whether `--file` (if given) names this path: the path ends with one of its values. */
const fileChosen = (path) => !opts.file || opts.file.some((f) => path.split(':')[0].endsWith(f));

/** The area's `mutate` entries for the files `--file` names; a glob becomes those of its files. */
function chosenMutate(area) {
  if (!opts.file) return area.mutate;
  const exclude = area.mutate.filter((m) => m.startsWith('!'));
  const out = [];
  for (const entry of area.mutate.filter((m) => !m.startsWith('!'))) {
    if (!entry.includes('*')) {
      // `--file write-atomically.ts:26-51`: those lines only.
      for (const f of opts.file.filter((f) => entry.split(':')[0].endsWith(f.split(':')[0])))
        out.push(f.includes(':') ? `${entry.split(':')[0]}:${f.split(':')[1]}` : entry);
      continue;
    }
    for (const f of opts.file) {
      // `--file run.ts:120-140` in a glob's folder: that file's lines.
      const [name, span] = f.split(':');
      const path = `${entry.slice(0, entry.indexOf('*'))}${name}`.replace(/\/+/g, '/');
      if (globRegExp(entry).test(path) && existsSync(join(repoRoot, path))) out.push(span ? `${path}:${span}` : path);
    }
  }
  return out.length ? [...out, ...exclude] : [];
}

function runTs(area, ranges) {
  const chosen = { ...area, mutate: chosenMutate(area) };
  const mutate = ranges ? sinceMutate(chosen, ranges) : chosen.mutate;
  if (!mutate.some((m) => !m.startsWith('!'))) return { area: area.name, skipped: 'nothing changed' };
  const reportDir = join(OUT, runName(area));
  rmSync(reportDir, { recursive: true, force: true });
  mkdirSync(reportDir, { recursive: true });
  const configFile = join(reportDir, 'stryker.config.json');
  writeFileSync(configFile, `${JSON.stringify(strykerConfig(area, mutate, reportDir), null, 2)}\n`);
  const stryker = join(repoRoot, 'node_modules', '@stryker-mutator', 'core', 'bin', 'stryker.js');
  const status = run(process.execPath, [stryker, 'run', configFile]);
  const report = join(reportDir, 'mutation.json');
  if (!existsSync(report)) return { area: area.name, error: `stryker exited ${status} without a report` };
  const json = JSON.parse(readFileSync(report, 'utf8'));
  writeFileSync(join(reportDir, 'survivors.txt'), strykerSurvivors(json));
  return { area: area.name, ...strykerScore(json), report: join(reportDir, 'index.html') };
}

/** One line per surviving mutant: where, which mutator, and what the code became. */
function strykerSurvivors(report) {
  const out = [];
  for (const [file, { mutants }] of Object.entries(report.files))
    for (const m of mutants)
      if (m.status === 'Survived' || m.status === 'NoCoverage')
        out.push(
          `${file}:${m.location.start.line}:${m.location.start.column} ${m.status} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? '')}`,
        );
  return `${out.sort((a, b) => a.localeCompare(b, 'en', { numeric: true })).join('\n')}\n`;
}

/** Stryker's mutation score: (killed + timeout) / (those + survived + no coverage); compile errors and ignored left out. */
function strykerScore(report) {
  const counts = {};
  for (const file of Object.values(report.files))
    for (const m of file.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
  const killed = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const survived = (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  return { killed, survived, counts };
}

let services;
let venv;

async function pythonEnv() {
  if (!venv) {
    const uv = ensureUv();
    // tools/mutate/ is a uv project of its own (the runtime, its tests' needs and mutmut), so the
    // runtime's environment and lock are left as they are.
    const env = uvEnv();
    if (run(uv, ['sync', '--locked', '--project', MUTATE_PROJECT], { env }) !== 0)
      throw new Error(
        "uv sync --locked failed: when the runtime's dependencies changed, relock with `node tools/uv.mjs lock --project tools/mutate` and commit tools/mutate/uv.lock",
      );
    venv = { env };
  }
  if (!services && !(process.env.CATALYST_TEST_POSTGRES_DSN && process.env.CATALYST_TEST_REDIS_URL)) {
    console.log('\n[mutate] starting PostgreSQL and Redis on loopback');
    services = await startServices();
  }
  return { ...venv.env, ...(services?.env ?? {}) };
}

/** The runtime's pyproject.toml with a [tool.mutmut] section for one area. */
function mutmutProject(area) {
  const toml = (list) => `[${list.map((s) => JSON.stringify(s)).join(', ')}]`;
  return `${readFileSync(join(repoRoot, RUNTIME, 'pyproject.toml'), 'utf8')}
[tool.mutmut]
source_paths = ["src/"]
only_mutate = ${toml(area.modules.map((m) => `src/catalyst_runtime/${m}`))}
pytest_add_cli_args_test_selection = ${toml([...area.tests.map((t) => `tests/${t}`), ...(area.deselect ?? []).flatMap((t) => ['--deselect', `tests/${t}`])])}
pytest_add_cli_args = ["-p", "no:cacheprovider"]
`;
}

async function runPy(area, ranges) {
  const modules = area.modules.filter(
    (m) => fileChosen(m) && (!ranges || ranges.has(`${RUNTIME}/src/catalyst_runtime/${m}`)),
  );
  if (!modules.length) return { area: area.name, skipped: 'nothing changed' };
  const env = await pythonEnv();
  const work = join(OUT, `py-${area.name}`);
  if (opts.fresh) rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  // A fresh copy of the sources and tests each time; mutmut's own state (mutants/) is kept, so
  // functions whose code is unchanged keep their results (new tests need --fresh to count).
  for (const dir of ['src', 'tests']) {
    rmSync(join(work, dir), { recursive: true, force: true });
    cpSync(join(repoRoot, RUNTIME, dir), join(work, dir), {
      recursive: true,
      filter: (p) => !p.includes('__pycache__'),
    });
  }
  writeFileSync(join(work, 'pyproject.toml'), mutmutProject({ ...area, modules }));
  const mutmut = join(MUTATE_PROJECT, '.venv', 'bin', 'mutmut');
  const status = run(mutmut, ['run', '--max-children', opts.concurrency], { cwd: work, env });
  const results = spawnSync(mutmut, ['results', '--all', 'true'], { cwd: work, env, encoding: 'utf8' });
  const lines = results.stdout.split('\n').filter((l) => /^\s*\S+: \S/.test(l));
  writeFileSync(join(work, 'results.txt'), `${lines.join('\n')}\n`);
  // Each survivor as the diff `mutmut show <name>` gives, all from one process.
  const python = join(MUTATE_PROJECT, '.venv', 'bin', 'python');
  const shown = spawnSync(python, [join(MUTATE_PROJECT, 'survivors.py')], {
    cwd: work,
    env,
    input: lines.join('\n'),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  writeFileSync(join(work, 'survivors.txt'), shown.stdout);
  const counts = {};
  for (const l of lines) {
    const status = l.split(': ').pop().trim();
    counts[status] = (counts[status] ?? 0) + 1;
  }
  const killed = (counts.killed ?? 0) + (counts.timeout ?? 0) + (counts.segfault ?? 0);
  const survived = (counts.survived ?? 0) + (counts['no tests'] ?? 0);
  if (!killed && !survived)
    return { area: area.name, error: `mutmut exited ${status} with no mutant tested (see its output above)` };
  return { area: area.name, killed, survived, counts, report: join(work, 'survivors.txt') };
}

async function main() {
  // Stopped (Ctrl-C, kill): the servers this run started go too.
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => stopServices(services).finally(() => process.exit(130)));
  ensureNodeModules(repoRoot);
  const ranges = opts.since ? changedLines(opts.since) : undefined;
  const chosen = AREAS.filter(
    (a) => (!opts.area || opts.area.includes(a.name)) && (!opts.only || a.tool === opts.only),
  );
  if (opts.list) {
    for (const a of chosen)
      console.log(
        `${a.name} (${a.tool}): ${(a.mutate ? chosenMutate(a) : a.modules.filter(fileChosen)).join(' ')}\n    tests: ${(a.specs ?? a.tests).join(' ')}`,
      );
    return 0;
  }
  const results = [];
  try {
    for (const area of chosen) results.push(area.tool === 'ts' ? runTs(area, ranges) : await runPy(area, ranges));
  } finally {
    await stopServices(services);
  }
  console.log('\n[mutate] summary (killed includes timeouts; survived includes mutants no test reaches)');
  let bad = false;
  for (const r of results) {
    if (r.skipped || r.error) {
      console.log(`${r.area.padEnd(11)} ${r.skipped ?? `ERROR: ${r.error}`}`);
      bad ||= Boolean(r.error);
      continue;
    }
    const total = r.killed + r.survived;
    const score = total ? (100 * r.killed) / total : 100;
    bad ||= score < THRESHOLD;
    console.log(
      `${r.area.padEnd(11)} ${score.toFixed(1).padStart(5)} % killed  (${r.killed} of ${total}; ${JSON.stringify(r.counts)})  ${relative(repoRoot, r.report)}`,
    );
  }
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`[mutate] ${error.stack ?? error}`);
    process.exit(1);
  },
);
