// Monorepo scale: a real Nx workspace of N services (default 200, two workflows each), built
// through the plugin's own generators, and what Nx and the plugin cost in it:
//   1. project-graph computation with and without the plugin (cold: after `nx reset`; warm);
//   2. `run-many -t codegen`: cold and cached, unbatched and in Nx's batch mode;
//   3. `nx affected -t codegen` after one definition edit (asserts exactly one task ran);
//   4. the projects a runtime library change affects (asserts every service);
//   5. batched codegen with two broken services (asserts exactly those two tasks fail);
//   and beside each of the plugin's costs, Nx's own floor measured in the same run: an empty plugin
//   (createNodes answering nothing) for the graph, plugins loaded in Nx's process
//   (NX_ISOLATE_PLUGINS=false) to show the worker's part, and a trivial executor for the process
//   Nx starts per task.
// Runs unattended, about 10–15 minutes on two idle cores at 200 services (an estimate from its
// parts: about 110 nx commands for the graph, 200 task processes each for the unbatched cold run
// and its floor, the rest seconds); at a load average of 35 on two cores its npm install alone took
// 13 minutes, so expect well over an hour there, and run it with `nice -n 19`.
//   node tools/bench/scale.mjs                 build + pack the plugin, then measure (200 services)
//   node tools/bench/scale.mjs --services=20   a smaller workspace (a quick check of the script)
//   node tools/bench/scale.mjs --nx=24         on the pinned Nx 24 instead of Nx 23
//   --baseline=<plugin .tgz>                   also measure another build of the plugin (e.g. main's), its runs
//                                              interleaved with this build's in the same workspace (sections 2, 3, 7)
//   --only=graph,codegen,affected,runtime,broken,startup   measure only those sections
//   --repeats=3                                 fewer rounds of the graph and start-up measurements (default 5)
//   KEEP_WORKSPACE=1 ...                       leave the workspace in /tmp for a look
// Writes tools/bench/results/scale.md (and .json); docs/nx-plugin.md quotes it.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const lib = require(join(repoRoot, 'tools', 'lib', 'workspace.cjs'));
const arg = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const SERVICES = Number(arg('services', '200'));
const NX_MAJOR = Number(arg('nx', '23'));
const REPEATS = Number(arg('repeats', '5')); // rounds of the graph and start-up measurements
// --only=graph,codegen,... measures only those sections (the workspace is always built).
const ONLY = arg('only', '') ? new Set(arg('only', '').split(',')) : undefined;
const measures = (section) => !ONLY || ONLY.has(section);

const log = (line) => console.log(`[scale] ${line}`);
const fail = (message) => {
  console.error(`[scale] FAILED: ${message}`);
  process.exit(1);
};

// 0. The plugin as users get it: built and packed.
log(
  `${SERVICES} services: about ${SERVICES >= 100 ? '10–15 minutes' : 'a few minutes'} on two idle cores, far longer on a loaded machine (load average now ${loadavg()[0].toFixed(1)})`,
);
if (!process.argv.includes('--no-build')) {
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const packDir = mkdtempSync(join(tmpdir(), 'catalyst-scale-pack-'));
const ws = lib.createWorkspace({ tarball: lib.packPlugin(packDir), nxMajor: NX_MAJOR, log });
const nxBin = join(ws.root, 'node_modules', '.bin', 'nx');

// Nx's own floors, measured beside the plugin: a package (installed into node_modules, as a
// plugin from the registry would be) holding an Nx plugin whose createNodes matches the same
// definition files and answers nothing — what any plugin's worker costs — and, with the option
// noopTarget, infers a target `noop` on each service whose executor returns success at once —
// what Nx's process per task costs whatever the executor does.
const floorDir = join(ws.root, 'node_modules', 'catalyst-bench-floor');
mkdirSync(floorDir, { recursive: true });
writeFileSync(
  join(floorDir, 'package.json'),
  JSON.stringify({ name: 'catalyst-bench-floor', version: '0.0.0', main: 'index.js', executors: './executors.json' }),
);
writeFileSync(
  join(floorDir, 'executors.json'),
  JSON.stringify({
    executors: { noop: { implementation: './noop.js', schema: './schema.json', description: 'nothing' } },
  }),
);
writeFileSync(join(floorDir, 'schema.json'), JSON.stringify({ type: 'object', properties: {} }));
writeFileSync(join(floorDir, 'noop.js'), 'module.exports = async function noop() { return { success: true }; };\n');
writeFileSync(
  join(floorDir, 'index.js'),
  `const { dirname } = require('node:path');
exports.createNodesV2 = [
  '**/workflows/*.workflow.{yaml,yml,json}',
  (files, options) =>
    options && options.noopTarget
      ? files.map((file) => [file, { projects: { [dirname(dirname(file))]: { targets: { noop: { executor: 'catalyst-bench-floor:noop', cache: false } } } } }])
      : [],
];
exports.createDependencies = () => [];
`,
);

// Two builds of the plugin in one workspace: the installed package's code (dist/) is swapped
// between runs, so that both are measured under the same load, turn about. The runtime library
// stays this build's (the workspace's library is emitted from it, so the sync generator finds it
// in step under either build).
const BASELINE = arg('baseline', '');
const builds = BASELINE ? ['baseline', 'current'] : ['current'];
const installed = join(ws.root, 'node_modules', '@catalyst', 'plugin');
const buildsDir = join(ws.root, 'node_modules', '.catalyst-builds');
if (BASELINE) {
  mkdirSync(join(buildsDir, 'baseline'), { recursive: true });
  ws.must('tar', ['-xzf', BASELINE, '-C', join(buildsDir, 'baseline')]);
  cpSync(join(buildsDir, 'baseline', 'package', 'dist'), join(buildsDir, 'baseline', 'dist'), { recursive: true });
  cpSync(join(installed, 'dist'), join(buildsDir, 'current', 'dist'), { recursive: true });
}
let inUse = 'current';
function usePlugin(build) {
  if (build === inUse) return;
  rmSync(join(installed, 'dist'), { recursive: true, force: true });
  cpSync(join(buildsDir, build, 'dist'), join(installed, 'dist'), { recursive: true });
  inUse = build;
}
/** The 1-minute load average, as the table reports it beside the timings. */
const load = () => Number(loadavg()[0].toFixed(2));
const loads = {};
const section = (name, f) => {
  if (!measures(name)) return undefined;
  const before = load();
  const result = f();
  loads[name] = [before, load()];
  return result;
};

/** Runs nx; returns the result and its wall time in seconds. */
function timedNx(args, env = {}) {
  const started = process.hrtime.bigint();
  const style = ['run-many', 'affected'].includes(args[0]) ? ['--output-style=static'] : [];
  const result = ws.sh(nxBin, [...args, ...style], { env: { ...ws.env, ...env } });
  return { ...result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
// CPU time is what the machine's load does not stretch (much): every Node process an nx command
// starts (the CLI, Nx's plugin workers, task processes) records its own as it exits.
const cpuTracer = join(repoRoot, 'tools', 'bench', 'scale-probes', 'process-cpu.cjs');
const cpuTrace = join(packDir, 'cpu-trace.jsonl');
/** Runs nx like mustNx and adds the CPU milliseconds of its processes: in all, and by kind. */
function cpuNx(args, env = {}) {
  rmSync(cpuTrace, { force: true });
  const result = mustNx(args, { ...env, NODE_OPTIONS: `--require ${cpuTracer}`, PROCESS_CPU_LOG: cpuTrace });
  const processes = readFileSync(cpuTrace, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const sum = (f) => processes.filter(f).reduce((total, p) => total + p.cpuMs, 0);
  const ours = (p) => /plugin-worker/.test(p.script) && p.arg === '@catalyst/plugin';
  const taskProcesses = processes.filter((p) => /run-executor|batch/.test(p.script)).map((p) => p.cpuMs);
  return {
    ...result,
    cpuMs: sum(() => true),
    cliCpuMs: sum((p) => /bin\/nx$/.test(p.script)),
    pluginWorkerCpuMs: sum(ours),
    pluginWorkerStarts: processes.filter(ours).length,
    floorWorkerCpuMs: sum((p) => /plugin-worker/.test(p.script) && p.arg.includes('catalyst-bench-floor')),
    nxWorkersCpuMs: sum(
      (p) => /plugin-worker/.test(p.script) && p.arg !== '@catalyst/plugin' && !p.arg.includes('catalyst-bench-floor'),
    ),
    taskProcessesCpuMs: sum((p) => /run-executor|batch/.test(p.script)),
    taskProcessMedianCpuMs: taskProcesses.length ? median(taskProcesses) : 0,
    taskProcessCount: taskProcesses.length,
  };
}

function mustNx(args, env) {
  const result = timedNx(args, env);
  if (result.code !== 0) fail(`nx ${args.join(' ')} exited ${result.code}:\n${result.output.slice(-4000)}`);
  return result;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// With --output-style=static every task prints `> nx run <project>:<target>` before its output.
const ranTasks = (output, target) =>
  [...output.matchAll(new RegExp(`^> {1,2}nx run ([^:\\s]+):${target}`, 'gm'))].map((m) => m[1]);
const cacheHits = (output) =>
  Number(/from the cache instead of running the command for (\d+) out of/.exec(output)?.[1] ?? 0);

// 1. The services, through the generators, in one process (the Nx CLI would take one process
//    per service): `workflow` with a second definition each, then one `uv lock`.
log(`generating ${SERVICES} services`);
const generate = `
const { FsTree, flushChanges } = require('nx/src/generators/tree');
const { workflowGenerator } = require('@catalyst/plugin/dist/generators/workflow/workflow');
(async () => {
  const tree = new FsTree(process.cwd(), false);
  for (let i = 1; i <= ${SERVICES}; i++) {
    const name = 'svc-' + String(i).padStart(3, '0');
    await workflowGenerator(tree, { name, skipUvLock: true, skipFormat: true });
    const hello = tree.read('apps/' + name + '/workflows/hello.workflow.yaml', 'utf-8');
    tree.write('apps/' + name + '/workflows/bye.workflow.yaml', hello.replace('id: hello', 'id: bye').replace('/hello', '/bye'));
  }
  flushChanges(tree.root, tree.listChanges());
})().catch((e) => { console.error(e); process.exit(1); });
`;
const generated = ws.sh(process.execPath, ['-e', generate]);
if (generated.code !== 0) fail(`generating the services:\n${generated.output}`);
ws.must(ws.uv, ['lock']);
ws.commit(`${SERVICES} services`);
const projects = JSON.parse(mustNx(['show', 'projects', '--json']).stdout);
if (projects.length !== SERVICES + 1) fail(`expected ${SERVICES + 1} projects, got ${projects.length}`);

// 2. Project graph with and without the plugin: `nx show projects` with the graph cache cleared
//    (cold) and kept (warm), alternating so that the machine's noise falls on all alike. Beside
//    them, Nx's floors: an empty plugin in the plugin's place (its worker is what any plugin
//    costs), and the plugin with and without Nx's plugin workers (NX_ISOLATE_PLUGINS=false loads
//    plugins into Nx's own process: what is left is the plugin's own code).
const nxJsonPath = join(ws.root, 'nx.json');
const withPlugin = readFileSync(nxJsonPath, 'utf8');
const withPlugins = (plugins) => JSON.stringify({ ...JSON.parse(withPlugin), plugins }, null, 2);
const withoutPlugin = withPlugins([]);
const emptyPlugin = withPlugins(['catalyst-bench-floor']);
const inProcess = { NX_ISOLATE_PLUGINS: 'false' };
const GRAPH_VARIANTS = {
  baseline: { nxJson: withPlugin, build: 'baseline' },
  with: { nxJson: withPlugin },
  empty: { nxJson: emptyPlugin },
  without: { nxJson: withoutPlugin },
  withInProcess: { nxJson: withPlugin, env: inProcess },
  emptyInProcess: { nxJson: emptyPlugin, env: inProcess },
  withoutInProcess: { nxJson: withoutPlugin, env: inProcess },
};
// `with` is this build; `baseline` the other build when one is given. Cold also removes the
// plugin's own cache of what it read (in .nx/workspace-data); warm keeps it.
const graph = section('graph', () => {
  const variants = Object.keys(GRAPH_VARIANTS).filter((v) => v !== 'baseline' || BASELINE);
  const times = Object.fromEntries(
    variants.map((v) => [
      v,
      { cold: [], warm: [], coldCpuMs: [], warmCpuMs: [], coldWorkerCpuMs: [], warmWorkerCpuMs: [] },
    ]),
  );
  for (let i = 0; i < REPEATS; i++) {
    for (const variant of variants) {
      const { nxJson, build = 'current', env = {} } = GRAPH_VARIANTS[variant];
      writeFileSync(nxJsonPath, nxJson);
      usePlugin(build);
      mustNx(['reset', '--only-cache']);
      rmSync(join(ws.root, '.nx', 'workspace-data'), { recursive: true, force: true });
      for (const kind of ['cold', 'warm']) {
        const run = cpuNx(['show', 'projects'], env);
        times[variant][kind].push(run.seconds);
        times[variant][`${kind}CpuMs`].push(run.cpuMs);
        times[variant][`${kind}WorkerCpuMs`].push(variant === 'empty' ? run.floorWorkerCpuMs : run.pluginWorkerCpuMs);
      }
    }
  }
  writeFileSync(nxJsonPath, withPlugin);
  usePlugin('current');
  log(`graph: ${JSON.stringify(times)}`);
  return times;
});

// 3. codegen over every service: cold (no cache, no output) and cached, unbatched and batched.
const coldCodegen = () => {
  mustNx(['reset', '--only-cache']);
  ws.must('git', ['clean', '-fdXq', 'apps']); // the git-ignored _generated/ folders
};
// Nx's sync generators as a workspace may register ours instead of on the codegen target: as a
// global sync generator, which `nx sync` and `nx sync:check` run and a task run does not.
const withGlobalSync = JSON.stringify(
  {
    ...JSON.parse(withPlugin),
    sync: { disabledTaskSyncGenerators: ['@catalyst/plugin:sync'], globalGenerators: ['@catalyst/plugin:sync'] },
  },
  null,
  2,
);
const withNoopTargets = withPlugins([
  ...JSON.parse(withPlugin).plugins,
  { plugin: 'catalyst-bench-floor', options: { noopTarget: true } },
]);
const cpuOf = (run) => ({
  seconds: run.seconds,
  cpuMs: run.cpuMs,
  cliCpuMs: run.cliCpuMs,
  pluginWorkerCpuMs: run.pluginWorkerCpuMs,
  pluginWorkerStarts: run.pluginWorkerStarts,
  nxWorkersCpuMs: run.nxWorkersCpuMs,
  taskProcessesCpuMs: run.taskProcessesCpuMs,
  taskProcessMedianCpuMs: run.taskProcessMedianCpuMs,
  taskProcessCount: run.taskProcessCount,
});
// codegen[build][mode]; with a baseline, the two builds run turn about for each mode.
const codegen = section('codegen', () => {
  const result = Object.fromEntries(builds.map((b) => [b, {}]));
  for (const [mode, env] of [
    ['unbatched', {}],
    ['batched', { NX_BATCH_MODE: 'true' }],
  ]) {
    for (const build of builds) {
      usePlugin(build);
      coldCodegen();
      const cold = cpuNx(['run-many', '-t', 'codegen'], env);
      if (new Set(ranTasks(cold.output, 'codegen')).size !== SERVICES)
        fail(`${mode} cold run-many ran ${ranTasks(cold.output, 'codegen').length} tasks`);
      const cached = cpuNx(['run-many', '-t', 'codegen'], env);
      // Recorded rather than asserted: the table shows a partial hit for what it is.
      const hits = cacheHits(cached.output);
      // Outside CI and without the daemon, Nx computes the project graph a second time to run the
      // tasks' sync generators (ours is registered on codegen): the same run without them, and
      // with ours registered as a global sync generator instead (nx sync:check still runs it).
      const cachedSkipSync = cpuNx(['run-many', '-t', 'codegen', '--skip-sync'], env);
      writeFileSync(nxJsonPath, withGlobalSync);
      // Nx hashes nx.json into every task: the first run under the changed file fills the cache.
      mustNx(['run-many', '-t', 'codegen'], env);
      const cachedGlobalSync = cpuNx(['run-many', '-t', 'codegen'], env);
      writeFileSync(nxJsonPath, withPlugin);
      // With the daemon (as on a developer's machine) the graph is kept in memory between runs.
      const daemon = { ...env, NX_DAEMON: 'true' };
      mustNx(['run-many', '-t', 'codegen'], daemon); // starts the daemon and computes its graph
      const cachedDaemon = mustNx(['run-many', '-t', 'codegen'], daemon);
      const daemonHits = cacheHits(cachedDaemon.output);
      mustNx(['daemon', '--stop']);
      // Nx's plugin workers are Nx's default; NX_ISOLATE_PLUGINS=false loads every plugin into
      // Nx's own process instead: the same cold and cached runs without any worker to start.
      let inProcess = {};
      if (mode === 'batched') {
        coldCodegen();
        const coldInProcess = cpuNx(['run-many', '-t', 'codegen'], { ...env, NX_ISOLATE_PLUGINS: 'false' });
        const cachedInProcess = cpuNx(['run-many', '-t', 'codegen'], { ...env, NX_ISOLATE_PLUGINS: 'false' });
        inProcess = {
          coldInProcess: cpuOf(coldInProcess),
          cachedInProcess: { ...cpuOf(cachedInProcess), hits: cacheHits(cachedInProcess.output) },
        };
      }
      result[build][mode] = {
        ...inProcess,
        cold: cpuOf(cold),
        cached: { ...cpuOf(cached), hits },
        cachedSkipSync: cpuOf(cachedSkipSync),
        cachedGlobalSync: { ...cpuOf(cachedGlobalSync), hits: cacheHits(cachedGlobalSync.output) },
        cachedDaemon: { seconds: cachedDaemon.seconds, hits: daemonHits },
      };
      log(`codegen ${build} ${mode}: ${JSON.stringify(result[build][mode])}`);
    }
  }
  usePlugin('current');
  // Nx's own floor of the unbatched run: the same run-many over a target whose executor returns
  // success at once (a process per task, as for codegen, and nothing in it).
  writeFileSync(nxJsonPath, withNoopTargets);
  const noop = cpuNx(['run-many', '-t', 'noop']);
  writeFileSync(nxJsonPath, withPlugin);
  if (new Set(ranTasks(noop.output, 'noop')).size !== SERVICES)
    fail(`run-many -t noop ran ${ranTasks(noop.output, 'noop').length} tasks`);
  result.noopFloor = cpuOf(noop);
  log(`noop floor: ${JSON.stringify(result.noopFloor)}`);
  return result;
});

// 4. One definition edited: affected runs exactly that service's codegen.
const affected = section('affected', () => {
  const one = `svc-${String(Math.min(7, SERVICES)).padStart(3, '0')}`;
  const definition = join(ws.root, 'apps', one, 'workflows', 'hello.workflow.yaml');
  const original = readFileSync(definition, 'utf8');
  writeFileSync(definition, original.replace('Hello, ', 'Hi, '));
  const run = mustNx(['affected', '-t', 'codegen', '--base=HEAD'], { NX_BATCH_MODE: 'true' });
  // Nx may print a batched task's header twice (once as it starts, once with its output).
  const ran = [...new Set(ranTasks(run.output, 'codegen'))];
  if (ran.length !== 1 || ran[0] !== one) fail(`affected after one edit ran ${JSON.stringify(ran)}`);
  writeFileSync(definition, original);
  return { tasks: ran, seconds: run.seconds };
});

// 5. A runtime library change affects every service (the project-graph edge).
const affectedByRuntime = section('runtime', () => {
  const runtimeModule = join(ws.root, 'libs', 'catalyst-runtime', 'src', 'catalyst_runtime', '__init__.py');
  const runtimeText = readFileSync(runtimeModule, 'utf8');
  writeFileSync(runtimeModule, `${runtimeText}\n# a runtime change\n`);
  const run = mustNx(['show', 'projects', '--affected', '-t', 'test', '--base=HEAD', '--json']);
  const count = JSON.parse(run.stdout).length;
  if (count !== SERVICES) fail(`a runtime change affects ${count} services, not ${SERVICES}`);
  writeFileSync(runtimeModule, runtimeText);
  return count;
});

// 6. Two broken services in one batched run: exactly their two tasks fail.
const twoBroken = section('broken', () => {
  const broken = ['svc-003', `svc-${String(Math.min(100, SERVICES)).padStart(3, '0')}`];
  for (const name of broken) {
    const file = join(ws.root, 'apps', name, 'workflows', 'bye.workflow.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('{{ nodes.greet.message }}', '{{ nodes.gret.message }}'));
  }
  const run = timedNx(['run-many', '-t', 'codegen'], { NX_BATCH_MODE: 'true' });
  const failed = [...run.output.matchAll(/^\s*- (\S+):codegen$/gm)].map((m) => m[1]).sort();
  if (run.code === 0 || JSON.stringify(failed) !== JSON.stringify(broken)) {
    fail(`two broken services: exit ${run.code}, failed tasks ${JSON.stringify(failed)}\n${run.output.slice(-3000)}`);
  }
  ws.must('git', ['checkout', '--', '.']);
  return { failedTasks: failed, seconds: run.seconds };
});

// 7. The unbatched executor's start-up, in CPU milliseconds (the machine's load stretches wall
//    time, not CPU time): (a) loading the executor in a process that has Nx's run command loaded,
//    as Nx's task process has; (b) the whole task process of one `nx run <svc>:codegen`, which Nx
//    starts per task outside batch mode (Nx's own start-up, then the executor, then the compile).
const startup = section('startup', () => {
  const loadScript = `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
require('nx/src/command-line/run/run');
const before = new Set(Object.keys(require.cache));
const t = cpu();
require('@catalyst/plugin/dist/executors/codegen/codegen');
const loaded = Object.keys(require.cache).filter((m) => !before.has(m));
console.log(JSON.stringify({ cpuMs: cpu() - t, modules: loaded.length, zod: loaded.filter((m) => m.includes('/zod/')).length }));
`;
  // Reports the CPU time of Nx's task process (run-executor.js) as it exits.
  const tracer = join(packDir, 'task-cpu.cjs');
  const traceOut = join(packDir, 'task-cpu.jsonl');
  writeFileSync(
    tracer,
    `if (/run-executor\\.js$/.test(process.argv[1] || '')) process.on('exit', () => { const u = process.cpuUsage(); require('fs').appendFileSync(${JSON.stringify(traceOut)}, JSON.stringify({ cpuMs: (u.user + u.system) / 1000 }) + '\\n'); });\n`,
  );
  // (c) Loading the plugin entry as Nx's plugin worker does (its plugin loader loaded first),
  //     beside loading the empty plugin the same way.
  const entryScript = (id) => `
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
require('nx/src/project-graph/plugins/load-resolved-plugin');
require('nx/src/project-graph/plugins/utils');
const before = new Set(Object.keys(require.cache));
const t = cpu();
require(${JSON.stringify(id)});
console.log(JSON.stringify({ cpuMs: cpu() - t, modules: Object.keys(require.cache).filter((m) => !before.has(m)).length }));
`;
  const result = {};
  const rounds = Object.fromEntries(builds.map((b) => [b, { load: [], task: [], entry: [], floorEntry: [] }]));
  for (let i = 0; i < REPEATS; i++) {
    for (const build of builds) {
      usePlugin(build);
      rounds[build].load.push(JSON.parse(ws.must(process.execPath, ['-e', loadScript]).stdout));
      rounds[build].entry.push(JSON.parse(ws.must(process.execPath, ['-e', entryScript('@catalyst/plugin')]).stdout));
      rounds[build].floorEntry.push(
        JSON.parse(ws.must(process.execPath, ['-e', entryScript('catalyst-bench-floor')]).stdout),
      );
      rmSync(traceOut, { force: true });
      mustNx(['run', 'svc-001:codegen', '--skip-nx-cache', '--skip-sync'], { NODE_OPTIONS: `--require ${tracer}` });
      rounds[build].task.push(JSON.parse(readFileSync(traceOut, 'utf8').trim().split('\n')[0]).cpuMs);
    }
  }
  for (const build of builds) {
    const samples = rounds[build].load;
    result[build] = {
      executorLoadCpuMs: median(samples.map((x) => x.cpuMs)),
      executorModules: samples[0].modules,
      zodModules: samples[0].zod,
      taskProcessCpuMs: median(rounds[build].task),
      entryLoadCpuMs: median(rounds[build].entry.map((x) => x.cpuMs)),
      entryModules: rounds[build].entry[0].modules,
      emptyPluginEntryLoadCpuMs: median(rounds[build].floorEntry.map((x) => x.cpuMs)),
    };
  }
  usePlugin('current');
  log(`executor start-up: ${JSON.stringify(result)}`);
  return result;
});

// 8. Record.
const nxVersion = JSON.parse(readFileSync(join(ws.root, 'node_modules', 'nx', 'package.json'), 'utf8')).version;
const uvVersion = execFileSync(ws.uv, ['--version'], { encoding: 'utf8' }).trim();
const s2 = (x) => x.toFixed(2);
// A variant's share: its median less the median without any plugin, under the same isolation.
const share = (variant, kind) =>
  median(graph[variant][kind]) - median(graph[variant.endsWith('InProcess') ? 'withoutInProcess' : 'without'][kind]);
const ms0 = (x) => x.toFixed(0);
const result = {
  services: SERVICES,
  workflowsPerService: 2,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  versions: { node: process.version, nx: nxVersion, uv: uvVersion },
  baseline: BASELINE || undefined,
  loadAverage: loads,
  graphSeconds: graph,
  pluginGraphOverheadSeconds: graph && { cold: share('with', 'cold'), warm: share('with', 'warm') },
  pluginGraphOverheadCpuMs: graph && {
    cold: share('with', 'coldCpuMs'),
    warm: share('with', 'warmCpuMs'),
    emptyPluginCold: share('empty', 'coldCpuMs'),
    emptyPluginWarm: share('empty', 'warmCpuMs'),
    inProcessCold: share('withInProcess', 'coldCpuMs'),
    inProcessWarm: share('withInProcess', 'warmCpuMs'),
    emptyPluginInProcessWarm: share('emptyInProcess', 'warmCpuMs'),
  },
  baselineGraphOverheadSeconds: graph?.baseline && { cold: share('baseline', 'cold'), warm: share('baseline', 'warm') },
  codegenSeconds: codegen,
  affectedAfterOneEdit: affected,
  servicesAffectedByARuntimeChange: affectedByRuntime,
  twoBrokenServices: twoBroken,
  codegenExecutorStartup: startup,
};
const loadOf = (name) => (loads[name] ? ` (load average ${loads[name].join(' → ')})` : '');
const label = (build) => (build === 'current' ? 'this build' : 'baseline');
const md = [
  `# Monorepo scale: ${SERVICES} services, two workflows each`,
  '',
  `Measured by \`node tools/bench/scale.mjs${SERVICES === 200 ? '' : ` --services=${SERVICES}`}${REPEATS === 5 ? '' : ` --repeats=${REPEATS}`}${NX_MAJOR === 23 ? '' : ` --nx=${NX_MAJOR}`}${BASELINE ? ' --baseline=<tarball>' : ''}${ONLY ? ` --only=${[...ONLY].join(',')}` : ''}\` on ${result.machine.cpus} × ${result.machine.cpu} (${result.machine.memoryGiB} GiB), ` +
    `Node ${process.version}, Nx ${nxVersion}, ${uvVersion}; daemon off unless said; a machine shared with other work, so single runs are noisy` +
    (BASELINE
      ? `; "baseline" is ${BASELINE.split('/').pop()} measured turn about with this build in the same workspace`
      : '') +
    '.',
  '',
];
if (graph) {
  const variantName = {
    baseline: 'the baseline plugin',
    with: 'the plugin',
    empty: 'an empty plugin (createNodes answers nothing)',
    without: 'no plugin',
    withInProcess: 'the plugin, `NX_ISOLATE_PLUGINS=false`',
    emptyInProcess: 'an empty plugin, `NX_ISOLATE_PLUGINS=false`',
    withoutInProcess: 'no plugin, `NX_ISOLATE_PLUGINS=false`',
  };
  const variants = Object.keys(variantName).filter((v) => graph[v]);
  const shareOf = (v) =>
    v.startsWith('without') ? '' : `${ms0(share(v, 'coldCpuMs'))} / ${ms0(share(v, 'warmCpuMs'))}`;
  md.push(
    `Project graph (\`nx show projects\`), median of ${REPEATS}${loadOf('graph')}. Cold: \`nx reset --only-cache\` and \`.nx/workspace-data\` removed; warm: the next run. CPU: every process of the command; the worker: the process Nx starts for the measured plugin; share: less the same run without any plugin.`,
    '',
    '| variant | wall cold / warm, s | CPU cold / warm, ms | its worker, CPU cold / warm, ms | share, CPU cold / warm, ms |',
    '|---|---|---|---|---|',
    ...variants.map(
      (v) =>
        `| ${variantName[v]} | ${s2(median(graph[v].cold))} / ${s2(median(graph[v].warm))} | ${ms0(median(graph[v].coldCpuMs))} / ${ms0(median(graph[v].warmCpuMs))} | ${['with', 'baseline', 'empty'].includes(v) ? `${ms0(median(graph[v].coldWorkerCpuMs))} / ${ms0(median(graph[v].warmWorkerCpuMs))}` : '–'} | ${shareOf(v)} |`,
    ),
    '',
  );
}
if (codegen) {
  const cell = (r, extra = '') => `${s2(r.seconds)} s, ${s2(r.cpuMs / 1000)} s CPU${extra}`;
  const parts = (r) =>
    `CLI ${s2(r.cliCpuMs / 1000)}, Nx's plugin workers ${s2(r.nxWorkersCpuMs / 1000)}, the plugin's worker ${s2(r.pluginWorkerCpuMs / 1000)} (started ${r.pluginWorkerStarts}×), task processes ${s2(r.taskProcessesCpuMs / 1000)}`;
  md.push(
    `\`run-many -t codegen\` over every service${loadOf('codegen')}: wall time, CPU of every process, and the CPU by process (seconds):`,
    '',
    `| run | ${builds.map(label).join(' | ')} |`,
    `|---|${builds.map(() => '---|').join('')}`,
  );
  const row = (title, f) => md.push(`| ${title} | ${builds.map((b) => f(codegen[b])).join(' | ')} |`);
  for (const mode of ['unbatched', 'batched']) {
    const how = mode === 'batched' ? ', batched (`NX_BATCH_MODE=true`)' : ', unbatched';
    row(`cold${how}`, (c) => `${cell(c[mode].cold)}: ${parts(c[mode].cold)}`);
    if (mode === 'unbatched')
      row(
        `cold, unbatched: one task process, median CPU`,
        (c) => `${ms0(c[mode].cold.taskProcessMedianCpuMs)} ms (${c[mode].cold.taskProcessCount} processes)`,
      );
    row(
      `fully cached${how}`,
      (c) => `${cell(c[mode].cached, `, ${c[mode].cached.hits} hits`)}: ${parts(c[mode].cached)}`,
    );
    row(
      `fully cached${how}, \`--skip-sync\``,
      (c) => `${cell(c[mode].cachedSkipSync)}: ${parts(c[mode].cachedSkipSync)}`,
    );
    row(
      `fully cached${how}, the sync generator global instead of on the target`,
      (c) =>
        `${cell(c[mode].cachedGlobalSync, `, ${c[mode].cachedGlobalSync.hits} hits`)}: ${parts(c[mode].cachedGlobalSync)}`,
    );
    if (mode === 'batched') {
      row(
        `cold${how}, \`NX_ISOLATE_PLUGINS=false\``,
        (c) => `${cell(c[mode].coldInProcess)}: ${parts(c[mode].coldInProcess)}`,
      );
      row(
        `fully cached${how}, \`NX_ISOLATE_PLUGINS=false\``,
        (c) =>
          `${cell(c[mode].cachedInProcess, `, ${c[mode].cachedInProcess.hits} hits`)}: ${parts(c[mode].cachedInProcess)}`,
      );
    }
    row(
      `fully cached${how}, with the daemon (second run)`,
      (c) => `${s2(c[mode].cachedDaemon.seconds)} s, ${c[mode].cachedDaemon.hits} hits`,
    );
  }
  const noop = codegen.noopFloor;
  md.push(
    '',
    `Nx's floor for a process per task, in the same run: \`run-many -t noop\` over the ${SERVICES} services, an executor that returns success at once: ${cell(noop)}: ${parts(noop)}; one task process, median ${ms0(noop.taskProcessMedianCpuMs)} ms CPU (${noop.taskProcessCount} processes).`,
    '',
  );
}
if (affected)
  md.push(
    `\`affected -t codegen\` after one definition edit ran exactly ${affected.tasks.join(', ')}: ${s2(affected.seconds)} s${loadOf('affected')}.`,
    '',
  );
if (twoBroken)
  md.push(
    `Batched \`run-many -t codegen\` with two broken services failed exactly ${twoBroken.failedTasks.join(', ')}: ${s2(twoBroken.seconds)} s.`,
    '',
  );
if (affectedByRuntime !== undefined)
  md.push(
    `A change to the runtime library affects all ${affectedByRuntime} services (\`nx show projects --affected -t test\`).`,
    '',
  );
if (startup) {
  md.push(
    `The unbatched codegen task, CPU milliseconds, median of ${REPEATS}${loadOf('startup')}:`,
    '',
    `| measurement | ${builds.map(label).join(' | ')} |`,
    `|---|${builds.map(() => '---|').join('')}`,
    `| loading the executor in a process with Nx's run command loaded | ${builds.map((b) => `${startup[b].executorLoadCpuMs.toFixed(0)} (${startup[b].executorModules} modules, ${startup[b].zodModules} of zod)`).join(' | ')} |`,
    `| Nx's whole task process for one \`nx run svc-001:codegen\` | ${builds.map((b) => startup[b].taskProcessCpuMs.toFixed(0)).join(' | ')} |`,
    `| loading the plugin entry as Nx's plugin worker does (the empty plugin's: ${startup.current.emptyPluginEntryLoadCpuMs.toFixed(0)}) | ${builds.map((b) => `${startup[b].entryLoadCpuMs.toFixed(0)} (${startup[b].entryModules} modules)`).join(' | ')} |`,
    '',
  );
}
const results = join(repoRoot, 'tools', 'bench', 'results');
mkdirSync(results, { recursive: true });
const name = arg('out', 'scale');
writeFileSync(join(results, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(results, `${name}.md`), md.join('\n'));
console.log(`\n${md.join('\n')}`);

if (process.env.KEEP_WORKSPACE) log(`workspace kept at ${ws.root}`);
else ws.remove();
rmSync(packDir, { recursive: true, force: true });
