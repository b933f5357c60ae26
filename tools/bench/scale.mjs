// Monorepo scale: a real Nx workspace of N services (default 200, two workflows each), built
// through the plugin's own generators, and what Nx and the plugin cost in it:
//   1. project-graph computation with and without the plugin (cold: after `nx reset`; warm);
//   2. `run-many -t codegen`: cold and cached, unbatched and in Nx's batch mode;
//   3. `nx affected -t codegen` after one definition edit (asserts exactly one task ran);
//   4. the projects a runtime library change affects (asserts every service);
//   5. batched codegen with two broken services (asserts exactly those two tasks fail).
//   node tools/bench/scale.mjs                 build + pack the plugin, then measure (200 services)
//   node tools/bench/scale.mjs --services=20   a smaller workspace (a quick check of the script)
//   node tools/bench/scale.mjs --nx=24         on the pinned Nx 24 instead of Nx 23
//   KEEP_WORKSPACE=1 ...                       leave the workspace in /tmp for a look
// Writes tools/bench/results/scale.md (and .json); docs/nx-plugin.md quotes it.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const lib = require(join(repoRoot, 'tools', 'lib', 'workspace.cjs'));
const arg = (name, fallback) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const SERVICES = Number(arg('services', '200'));
const NX_MAJOR = Number(arg('nx', '23'));
const REPEATS = 5;

const log = (line) => console.log(`[scale] ${line}`);
const fail = (message) => {
  console.error(`[scale] FAILED: ${message}`);
  process.exit(1);
};

// 0. The plugin as users get it: built and packed.
if (!process.argv.includes('--no-build')) {
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const packDir = mkdtempSync(join(tmpdir(), 'catalyst-scale-pack-'));
const ws = lib.createWorkspace({ tarball: lib.packPlugin(packDir), nxMajor: NX_MAJOR, log });
const nxBin = join(ws.root, 'node_modules', '.bin', 'nx');

/** Runs nx; returns the result and its wall time in seconds. */
function timedNx(args, env = {}) {
  const started = process.hrtime.bigint();
  const style = ['run-many', 'affected'].includes(args[0]) ? ['--output-style=static'] : [];
  const result = ws.sh(nxBin, [...args, ...style], { env: { ...ws.env, ...env } });
  return { ...result, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
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
//    (cold) and kept (warm), alternating so that the machine's noise falls on both alike.
const nxJsonPath = join(ws.root, 'nx.json');
const withPlugin = readFileSync(nxJsonPath, 'utf8');
const withoutPlugin = JSON.stringify({ ...JSON.parse(withPlugin), plugins: [] }, null, 2);
const graph = { with: { cold: [], warm: [] }, without: { cold: [], warm: [] } };
for (let i = 0; i < REPEATS; i++) {
  for (const variant of ['with', 'without']) {
    writeFileSync(nxJsonPath, variant === 'with' ? withPlugin : withoutPlugin);
    mustNx(['reset', '--only-cache']);
    rmSync(join(ws.root, '.nx', 'workspace-data'), { recursive: true, force: true });
    graph[variant].cold.push(mustNx(['show', 'projects']).seconds);
    graph[variant].warm.push(mustNx(['show', 'projects']).seconds);
  }
}
writeFileSync(nxJsonPath, withPlugin);
log(`graph: ${JSON.stringify(graph)}`);

// 3. codegen over every service: cold (no cache, no output) and cached, unbatched and batched.
const coldCodegen = () => {
  mustNx(['reset', '--only-cache']);
  ws.must('git', ['clean', '-fdXq', 'apps']); // the git-ignored _generated/ folders
};
const codegen = {};
for (const [mode, env] of [
  ['unbatched', {}],
  ['batched', { NX_BATCH_MODE: 'true' }],
]) {
  coldCodegen();
  const cold = mustNx(['run-many', '-t', 'codegen'], env);
  if (new Set(ranTasks(cold.output, 'codegen')).size !== SERVICES)
    fail(`${mode} cold run-many ran ${ranTasks(cold.output, 'codegen').length} tasks`);
  const cached = mustNx(['run-many', '-t', 'codegen'], env);
  // Recorded rather than asserted: the table shows a partial hit for what it is.
  const hits = cacheHits(cached.output);
  // Outside CI and without the daemon, Nx computes the project graph a second time to run the
  // tasks' sync generators (ours is registered on codegen): the same run without them.
  const cachedSkipSync = mustNx(['run-many', '-t', 'codegen', '--skip-sync'], env);
  codegen[mode] = {
    cold: cold.seconds,
    cached: cached.seconds,
    cacheHits: hits,
    cachedSkipSync: cachedSkipSync.seconds,
  };
  log(`codegen ${mode}: ${JSON.stringify(codegen[mode])}`);
}

// 4. One definition edited: affected runs exactly that service's codegen.
const one = `svc-${String(Math.min(7, SERVICES)).padStart(3, '0')}`;
const definition = join(ws.root, 'apps', one, 'workflows', 'hello.workflow.yaml');
const original = readFileSync(definition, 'utf8');
writeFileSync(definition, original.replace('Hello, ', 'Hi, '));
const affectedOne = mustNx(['affected', '-t', 'codegen', '--base=HEAD'], { NX_BATCH_MODE: 'true' });
// Nx may print a batched task's header twice (once as it starts, once with its output).
const ranOne = [...new Set(ranTasks(affectedOne.output, 'codegen'))];
if (ranOne.length !== 1 || ranOne[0] !== one) fail(`affected after one edit ran ${JSON.stringify(ranOne)}`);
writeFileSync(definition, original);

// 5. A runtime library change affects every service (the project-graph edge).
const runtimeModule = join(ws.root, 'libs', 'catalyst-runtime', 'src', 'catalyst_runtime', '__init__.py');
const runtimeText = readFileSync(runtimeModule, 'utf8');
writeFileSync(runtimeModule, `${runtimeText}\n# a runtime change\n`);
const affectedRuntime = mustNx(['show', 'projects', '--affected', '-t', 'test', '--base=HEAD', '--json']);
const affectedByRuntime = JSON.parse(affectedRuntime.stdout).length;
if (affectedByRuntime !== SERVICES) fail(`a runtime change affects ${affectedByRuntime} services, not ${SERVICES}`);
writeFileSync(runtimeModule, runtimeText);

// 6. Two broken services in one batched run: exactly their two tasks fail.
const broken = ['svc-003', `svc-${String(Math.min(100, SERVICES)).padStart(3, '0')}`];
for (const name of broken) {
  const file = join(ws.root, 'apps', name, 'workflows', 'bye.workflow.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('{{ nodes.greet.message }}', '{{ nodes.gret.message }}'));
}
const brokenRun = timedNx(['run-many', '-t', 'codegen'], { NX_BATCH_MODE: 'true' });
const failed = [...brokenRun.output.matchAll(/^\s*- (\S+):codegen$/gm)].map((m) => m[1]).sort();
if (brokenRun.code === 0 || JSON.stringify(failed) !== JSON.stringify(broken)) {
  fail(
    `two broken services: exit ${brokenRun.code}, failed tasks ${JSON.stringify(failed)}\n${brokenRun.output.slice(-3000)}`,
  );
}
ws.must('git', ['checkout', '--', '.']);

// 7. The unbatched executor's start-up: Nx starts a process per task that loads its run command,
//    then the executor. Measured in such a process: the executor module, and the @nx/devkit
//    barrel the executor loaded before it imported only what compiling needs.
const startupScript = `
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
require('nx/src/command-line/run/run');
let t = process.hrtime.bigint();
require('@catalyst/plugin/dist/executors/codegen/codegen');
const executor = ms(t);
t = process.hrtime.bigint();
require('@nx/devkit');
console.log(JSON.stringify({ executor, devkit: ms(t) }));
`;
const startups = Array.from({ length: 5 }, () => JSON.parse(ws.must(process.execPath, ['-e', startupScript]).stdout));
const startup = {
  executorMs: median(startups.map((x) => x.executor)),
  devkitBarrelMs: median(startups.map((x) => x.devkit)),
};
log(`executor start-up: ${JSON.stringify(startup)}`);

// 8. Record.
const nxVersion = JSON.parse(readFileSync(join(ws.root, 'node_modules', 'nx', 'package.json'), 'utf8')).version;
const uvVersion = execFileSync(ws.uv, ['--version'], { encoding: 'utf8' }).trim();
const s2 = (x) => x.toFixed(2);
const overhead = (kind) => median(graph.with[kind]) - median(graph.without[kind]);
const result = {
  services: SERVICES,
  workflowsPerService: 2,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
  versions: { node: process.version, nx: nxVersion, uv: uvVersion },
  graphSeconds: graph,
  pluginGraphOverheadSeconds: { cold: overhead('cold'), warm: overhead('warm') },
  codegenSeconds: codegen,
  affectedAfterOneEdit: { tasks: ranOne, seconds: affectedOne.seconds },
  servicesAffectedByARuntimeChange: affectedByRuntime,
  twoBrokenServices: { failedTasks: failed, seconds: brokenRun.seconds },
  codegenExecutorStartup: startup,
};
const md = [
  `# Monorepo scale: ${SERVICES} services, two workflows each`,
  '',
  `Measured by \`node tools/bench/scale.mjs${SERVICES === 200 ? '' : ` --services=${SERVICES}`}${NX_MAJOR === 23 ? '' : ` --nx=${NX_MAJOR}`}\` on ${result.machine.cpus} × ${result.machine.cpu} (${result.machine.memoryGiB} GiB), ` +
    `Node ${process.version}, Nx ${nxVersion}, ${uvVersion}; daemon off; a machine shared with other work, so single runs are noisy.`,
  '',
  '| measurement | seconds |',
  '|---|---|',
  `| project graph, cold, with the plugin (median of ${REPEATS}) | ${s2(median(graph.with.cold))} |`,
  `| project graph, cold, without the plugin | ${s2(median(graph.without.cold))} |`,
  `| project graph, warm, with the plugin | ${s2(median(graph.with.warm))} |`,
  `| project graph, warm, without the plugin | ${s2(median(graph.without.warm))} |`,
  `| → the plugin's share, cold / warm | ${s2(overhead('cold'))} / ${s2(overhead('warm'))} |`,
  `| \`run-many -t codegen\`, cold, unbatched | ${s2(codegen.unbatched.cold)} |`,
  `| \`run-many -t codegen\`, cached, unbatched (${codegen.unbatched.cacheHits}/${SERVICES} hits) | ${s2(codegen.unbatched.cached)} |`,
  `| \`run-many -t codegen\`, cold, batched (\`NX_BATCH_MODE=true\`) | ${s2(codegen.batched.cold)} |`,
  `| \`run-many -t codegen\`, cached, batched (${codegen.batched.cacheHits}/${SERVICES} hits) | ${s2(codegen.batched.cached)} |`,
  `| \`run-many -t codegen --skip-sync\`, cached, unbatched / batched | ${s2(codegen.unbatched.cachedSkipSync)} / ${s2(codegen.batched.cachedSkipSync)} |`,
  `| \`affected -t codegen\` after one definition edit (ran exactly ${ranOne.join(', ')}) | ${s2(affectedOne.seconds)} |`,
  `| batched \`run-many -t codegen\` with two broken services (failed exactly ${failed.join(', ')}) | ${s2(brokenRun.seconds)} |`,
  '',
  `The unbatched codegen executor's start-up, in a process that has Nx's run command loaded (median of 5): ` +
    `${startup.executorMs.toFixed(0)} ms to load the executor (the compiler included); ` +
    `the @nx/devkit barrel it loaded before it imported only what compiling needs would add ${startup.devkitBarrelMs.toFixed(0)} ms.`,
  '',
  `A change to the runtime library affects all ${affectedByRuntime} services (\`nx show projects --affected -t test\`).`,
  '',
].join('\n');
const results = join(repoRoot, 'tools', 'bench', 'results');
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(join(results, 'scale.md'), md);
console.log(`\n${md}`);

if (process.env.KEEP_WORKSPACE) log(`workspace kept at ${ws.root}`);
else ws.remove();
rmSync(packDir, { recursive: true, force: true });
