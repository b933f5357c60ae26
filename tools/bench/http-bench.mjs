// HTTP-level benchmark: the generated services against hand-written FastAPI and a simple
// runtime-interpreted engine, each under uvicorn (uvloop + httptools, one worker) on loopback,
// loaded by wrk in its own process. Not part of `npm test`.
//   node tools/bench/http-bench.mjs                 build the plugin, compile, measure (~3 min)
//   node tools/bench/http-bench.mjs --no-build      use the existing packages/catalyst-plugin/dist
//   node tools/bench/http-bench.mjs --quick         1 round, 2 s runs: a smoke test, written to $TMPDIR only
//   options: --duration S (3) --warmup S (1) --rounds N (3) --delay MS (20)
//   node tools/bench/http-bench.mjs --observability [--baseline REF]
//                                                   the generated services with metrics and tracing
//                                                   off, on, and as of REF (default 5359f62, the commit
//                                                   before the operations work); writes observability.md
// Needs wrk (Debian: apt-get install -y wrk) and the runtime's uv environment
// (node tools/uv.mjs sync --project packages/catalyst-plugin/runtime).
// Writes tools/bench/results/http-bench.md and .json; docs/performance.md quotes the table.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:http';
import { freePort } from '../services/services.mjs';
import { ensureUv, repoRoot, uvEnv } from '../uv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const appsDir = join(here, 'http');
const resultsDir = join(here, 'results');
const pluginDir = join(repoRoot, 'packages', 'catalyst-plugin');
const runtimeDir = join(pluginDir, 'runtime');
const testdata = join(pluginDir, 'testdata');

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
};
const quick = flag('--quick');
const DURATION = option('--duration', quick ? 2 : 3); // measured seconds per run
const WARMUP = option('--warmup', 1); // seconds of discarded load before every measured run
const ROUNDS = option('--rounds', quick ? 1 : 3);
const DELAY_MS = option('--delay', 20);
const HELLO_CONNECTIONS = [16, 64];
const FANOUT_CONNECTIONS = [1, 16, 64];
const CLK_TCK = 100; // /proc/<pid>/stat ticks per second on Linux

// ---------------------------------------------------------------------------------------------
// Helpers

const log = (message) => console.error(`[http-bench] ${message}`);
const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in seconds (Linux only; NaN elsewhere). */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
  } catch {
    return NaN;
  }
}

function which(cmd) {
  const out = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

// ---------------------------------------------------------------------------------------------
// Preconditions: wrk, the runtime's Python, the compiler

const wrk = which('wrk');
if (!wrk) {
  console.error('wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk');
  process.exit(1);
}
const wrkVersion = spawnSync(wrk, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].split(' [')[0].trim();

const uv = ensureUv();
const probe = spawnSync(
  uv,
  ['run', '--project', runtimeDir, '--no-sync', 'python', '-c',
    'import sys, fastapi, uvicorn, uvloop, httptools, pydantic, httpx, orjson, catalyst_runtime; ' +
    'print(sys.executable); print(sys.version.split()[0]); ' +
    'print(" ".join(f"{m.__name__} {m.__version__}" for m in (fastapi, uvicorn, uvloop, httptools, pydantic, httpx, orjson)))'],
  { encoding: 'utf8', env: uvEnv(), cwd: repoRoot },
); // prettier-ignore
if (probe.status !== 0) {
  console.error(probe.stderr);
  console.error(
    'The runtime environment is not ready: node tools/uv.mjs sync --project packages/catalyst-plugin/runtime',
  );
  process.exit(1);
}
const [python, pythonVersion, stackVersions] = probe.stdout.trim().split('\n');

if (!flag('--no-build')) {
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const require = createRequire(import.meta.url);
const { compileService } = require(join(pluginDir, 'dist', 'compiler'));
const YAML = require('yaml');

const work = mkdtempSync(join(tmpdir(), 'catalyst-http-bench-'));

/** Compiles testdata/<testCase>/workflows into <work>/<pkg>/_generated; compares with expected/. */
function compileCase(testCase, pkg) {
  const dir = join(testdata, testCase, 'workflows');
  const sources = readdirSync(dir)
    .sort()
    .map((name) => ({ path: `workflows/${name}`, text: readFileSync(join(dir, name), 'utf8') }));
  const result = compileService(sources, { packageName: pkg, serviceName: pkg.replace(/_/g, '-') });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${testCase}: ${JSON.stringify(errors)}`);
  const out = join(work, pkg, '_generated');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(work, pkg, '__init__.py'), '');
  let sameAsGolden = true;
  for (const file of result.files) {
    mkdirSync(dirname(join(out, file.path)), { recursive: true });
    writeFileSync(join(out, file.path), file.contents);
    let golden;
    try {
      golden = readFileSync(join(testdata, testCase, 'expected', file.path), 'utf8');
    } catch {
      golden = undefined;
    }
    if (golden !== file.contents) sameAsGolden = false;
  }
  return { files: result.files.map((f) => f.path).sort(), sameAsGolden };
}

// ---------------------------------------------------------------------------------------------
// Servers

const children = new Set();
function cleanup() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

async function startServer(name, target, env = {}, cwd = work) {
  const port = await freePort();
  const child = spawn(
    python,
    ['-m', 'catalyst_runtime.serve', target, '--host', '127.0.0.1', '--port', String(port),
      '--app-dir', appsDir, '--log-level', 'warning', '--no-access-log'],
    {
      cwd, // not the repository: no .env of its is picked up by the runtime's lifespan
      env: { ...process.env, PYTHONPATH: work, PYTHONDONTWRITEBYTECODE: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  ); // prettier-ignore
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  children.add(child);
  const server = { name, port, pid: child.pid, child, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
  const deadline = Date.now() + 120_000; // the tracing extra imports slowly on a loaded machine
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited during start-up:\n${stderr}`);
    try {
      await fetch(`${server.url}/`, { signal: AbortSignal.timeout(500) });
      return server;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name} did not start in 120 s:\n${stderr}`);
      await sleep(100);
    }
  }
}

async function stopServer(server) {
  if (server.child.exitCode !== null) return;
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.kill('SIGTERM');
  await Promise.race([exited, sleep(5000)]);
  if (server.child.exitCode === null) server.child.kill('SIGKILL');
  children.delete(server.child);
}

async function call(server, path, body) {
  const response = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json(), serverTiming: response.headers.get('server-timing') };
}

// ---------------------------------------------------------------------------------------------
// Load

function runWrk(server, path, body, connections, seconds) {
  const before = cpuSeconds(server.pid);
  const out = spawnSync(
    wrk,
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', join(appsDir, 'post.lua'), `${server.url}${path}`],
    { encoding: 'utf8', env: { ...process.env, BENCH_BODY: JSON.stringify(body) } },
  ); // prettier-ignore
  const cpu = cpuSeconds(server.pid) - before;
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (out.status !== 0 || !line) throw new Error(`wrk failed against ${server.name}:\n${out.stdout}\n${out.stderr}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length));
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  return {
    rps: r.requests / (r.duration_us / 1e6),
    p50_ms: r.latency_us.p50 / 1000,
    p99_ms: r.latency_us.p99 / 1000,
    requests: r.requests,
    errors,
    error_detail: r.errors,
    cpu_us_per_req: r.requests ? (cpu * 1e6) / r.requests : NaN,
  };
}

/**
 * Every server at every concurrency, ROUNDS times; each round rotates the order of the servers
 * so that none always runs first (or last) on a machine whose speed drifts.
 */
function measure(label, servers, path, body, connectionsList) {
  const runs = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]);
    for (const connections of connectionsList) {
      for (const server of order) {
        if (WARMUP > 0) runWrk(server, path, body, connections, WARMUP);
        const r = runWrk(server, path, body, connections, DURATION);
        runs.push({ scenario: label, impl: server.name, connections, round, ...r });
        log(
          `${label} c=${connections} round ${round + 1}/${ROUNDS} ${server.name.padEnd(12)} ` +
            `${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50_ms.toFixed(2)} ms  p99 ${r.p99_ms.toFixed(2)} ms  ` +
            `cpu ${r.cpu_us_per_req.toFixed(0)} µs/req  errors ${r.errors}`,
        );
      }
    }
  }
  return runs;
}

function summarise(runs, reference = 'generated') {
  const rows = [];
  const keys = [...new Set(runs.map((r) => `${r.scenario}\u0000${r.connections}\u0000${r.impl}`))];
  for (const key of keys) {
    const [scenario, c, impl] = key.split('\u0000');
    const mine = runs.filter((r) => r.scenario === scenario && r.connections === Number(c) && r.impl === impl);
    const row = {
      scenario,
      connections: Number(c),
      impl,
      runs: mine.length,
      rps: median(mine.map((r) => r.rps)),
      p50_ms: median(mine.map((r) => r.p50_ms)),
      p99_ms: median(mine.map((r) => r.p99_ms)),
      cpu_us_per_req: median(mine.map((r) => r.cpu_us_per_req)),
      errors: mine.reduce((a, r) => a + r.errors, 0),
      requests: mine.reduce((a, r) => a + r.requests, 0),
      rps_spread: [Math.min(...mine.map((r) => r.rps)), Math.max(...mine.map((r) => r.rps))],
    };
    // Ratios of `reference` to this implementation, paired per round (same round, same load on
    // the machine), then the median of the per-round ratios.
    if (impl !== reference) {
      const pairs = mine
        .map((r) => [
          runs.find(
            (g) =>
              g.scenario === scenario && g.connections === r.connections && g.round === r.round && g.impl === reference,
          ),
          r,
        ])
        .filter(([g]) => g);
      row.ratio_rps = median(pairs.map(([g, r]) => g.rps / r.rps));
      row.ratio_p50 = median(pairs.map(([g, r]) => g.p50_ms / r.p50_ms));
      row.ratio_p99 = median(pairs.map(([g, r]) => g.p99_ms / r.p99_ms));
      row.ratio_cpu = median(pairs.map(([g, r]) => g.cpu_us_per_req / r.cpu_us_per_req));
    }
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Main

const startedAt = new Date();
const t0 = performance.now();
const load0 = loadavg();
const hello = compileCase('hello', 'bench_hello');
const fanout = compileCase('http_fanout', 'bench_fanout');
const helloDefinition = join(work, 'hello.definition.json');
writeFileSync(
  helloDefinition,
  JSON.stringify(YAML.parse(readFileSync(join(testdata, 'hello', 'workflows', 'hello.workflow.yaml'), 'utf8'))),
);
log(`compiled hello (${hello.files.join(', ')}; golden ${hello.sameAsGolden ? 'identical' : 'DIFFERS'})`);
log(`compiled http_fanout (${fanout.files.join(', ')}; golden ${fanout.sameAsGolden ? 'identical' : 'DIFFERS'})`);

const HELLO_BODY = { name: 'Ada Lovelace', punctuation: '?' };
const FANOUT_BODY = { user: 'ada' };
const checks = [];

/** Calls every server once; each must answer 200 with the same body (returned as JSON text). Recorded in `checks`. */
async function sameAnswer(servers, scenario, path, body) {
  const answers = await Promise.all(servers.map((s) => call(s, path, body)));
  const expected = JSON.stringify(answers[0].body);
  servers.forEach((s, i) => {
    const a = answers[i];
    checks.push({ scenario, impl: s.name, status: a.status, body: a.body, serverTiming: a.serverTiming });
    if (a.status !== 200 || JSON.stringify(a.body) !== expected)
      throw new Error(`${s.name} answered ${a.status} ${JSON.stringify(a.body)}`);
  });
  return expected;
}
const allRuns = [];

if (flag('--observability')) {
  await observability();
  process.exit(0);
}

// Scenario 1: simple transform.
{
  const servers = [
    await startServer('generated', 'generated_app:hello', { BENCH_APP: 'hello' }),
    await startServer('hand-written', 'handwritten_app:hello'),
    await startServer('interpreted', 'interpreted_app:app', { BENCH_DEFINITION: helloDefinition }),
  ];
  const expected = await sameAnswer(servers, 'simple transform', '/hello', HELLO_BODY);
  const bad = await Promise.all(servers.map((s) => call(s, '/hello', { name: '' })));
  bad.forEach((a, i) => {
    if (a.status !== 422) throw new Error(`${servers[i].name} accepted an empty name (${a.status})`);
  });
  log(`hello: all three answer ${expected}; all three reject {"name": ""} with 422`);
  allRuns.push(...measure('simple transform', servers, '/hello', HELLO_BODY, HELLO_CONNECTIONS));
  for (const s of servers) await stopServer(s);
}

// The same three apps driven in process as ASGI callables (no sockets, no uvicorn, no wrk):
// the low-noise view of where per-request time goes.
let asgiCost;
{
  const out = spawnSync(python, [join(appsDir, 'asgi_cost.py'), ...(quick ? ['1000', '3'] : [])], {
    cwd: work,
    encoding: 'utf8',
    env: {
      ...process.env,
      PYTHONPATH: `${work}:${appsDir}`,
      PYTHONDONTWRITEBYTECODE: '1',
      BENCH_DEFINITION: helloDefinition,
    },
  });
  const line = out.stdout.split('\n').find((l) => l.startsWith('ASGI_COST '));
  if (out.status !== 0 || !line) throw new Error(`asgi_cost.py failed:\n${out.stdout}\n${out.stderr}`);
  asgiCost = JSON.parse(line.slice('ASGI_COST '.length));
  log(`in-process ASGI µs/request: ${JSON.stringify(asgiCost.asgi_us_per_request)}`);
}

// Scenario 2: two parallel HTTP calls against a loopback upstream answering after DELAY_MS.
let fanoutProbe;
{
  const upstream = await startServer('upstream', 'upstream_app:app', { BENCH_UPSTREAM_DELAY_MS: String(DELAY_MS) });
  const env = { UPSTREAM_URL: upstream.url, UPSTREAM_TOKEN: 'bench-token' };
  const servers = [
    await startServer('generated', 'generated_app:fanout', { BENCH_APP: 'fanout', ...env }),
    await startServer('hand-written', 'handwritten_app:fanout', env),
  ];
  const expected = await sameAnswer(servers, '2 parallel HTTP calls', '/profile', FANOUT_BODY);
  // One sequential probe: 20 single requests, wall time each, and the generated Server-Timing.
  const walls = [];
  let timing;
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    const a = await call(servers[0], '/profile', FANOUT_BODY);
    walls.push(performance.now() - t);
    timing = a.serverTiming;
  }
  fanoutProbe = { wall_p50_ms: median(walls), serverTiming: timing };
  log(`profile: both answer ${expected}; generated Server-Timing: ${timing}`);
  allRuns.push(...measure('2 parallel HTTP calls', servers, '/profile', FANOUT_BODY, FANOUT_CONNECTIONS));
  for (const s of servers) await stopServer(s);
  await stopServer(upstream);
}

const elapsed = (performance.now() - t0) / 1000;
const rows = summarise(allRuns);

// ---------------------------------------------------------------------------------------------
// Report

const f = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const fr = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '');
const machine = {
  cpus: cpus().length,
  cpu_model: cpus()[0]?.model ?? 'unknown',
  loadavg_before: load0.map((v) => Number(v.toFixed(2))),
  loadavg_after: loadavg().map((v) => Number(v.toFixed(2))),
  python: pythonVersion,
  stack: stackVersions,
  wrk: wrkVersion,
  node: process.version,
};
const config = {
  duration_s: DURATION,
  warmup_s: WARMUP,
  rounds: ROUNDS,
  upstream_delay_ms: DELAY_MS,
  hello_connections: HELLO_CONNECTIONS,
  fanout_connections: FANOUT_CONNECTIONS,
  quick,
};

const lines = [];
lines.push('# HTTP benchmark: generated vs hand-written vs interpreted', '');
lines.push(
  `Command: \`node tools/bench/http-bench.mjs${argv.length ? ` ${argv.join(' ')}` : ''}\` — ${startedAt.toISOString()}, ${elapsed.toFixed(0)} s in all.`,
);
lines.push('');
lines.push(
  `Machine: ${machine.cpus} × ${machine.cpu_model}, load average ${machine.loadavg_before.join(' / ')} before and ` +
    `${machine.loadavg_after.join(' / ')} after. Python ${machine.python}; ${machine.stack}; ${machine.wrk}.`,
);
lines.push(
  `Each server: \`python -m catalyst_runtime.serve\` (uvicorn, uvloop, httptools), one worker, access log off, 127.0.0.1. ` +
    `Load: \`wrk -t1 -cN\`, POST with a JSON body, ${WARMUP} s warm-up then ${DURATION} s measured per run, ` +
    `${ROUNDS} round(s) with the server order rotated each round; figures are medians over the rounds. ` +
    `Server, wrk${allRuns.some((r) => r.scenario.startsWith('2')) ? ' and the upstream' : ''} share the same ${machine.cpus} cores, ` +
    `so absolute numbers are machine-bound and noisy; the ratios (paired per round) are the figures to read.`,
);
lines.push('');
lines.push(
  `Generated code compiled by the built compiler from \`testdata/hello\` and \`testdata/http_fanout\` ` +
    `(identical to the golden \`expected/\`: ${hello.sameAsGolden && fanout.sameAsGolden ? 'yes' : 'NO'}).`,
);
lines.push('');
lines.push(
  '| scenario | conns | implementation | req/s | p50 ms | p99 ms | server CPU µs/req | errors | gen/this req/s | gen/this p50 | gen/this CPU |',
);
lines.push('|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const r of rows) {
  lines.push(
    `| ${r.scenario} | ${r.connections} | ${r.impl} | ${f(r.rps)} | ${f(r.p50_ms, 2)} | ${f(r.p99_ms, 2)} | ${f(r.cpu_us_per_req)} | ${r.errors} | ` +
      `${fr(r.ratio_rps)} | ${fr(r.ratio_p50)} | ${fr(r.ratio_cpu)} |`,
  );
}
lines.push('');
lines.push(
  '`gen/this` columns: generated ÷ that row, per round, median. req/s above 1× means the generated service is faster; ' +
    'p50 and CPU below 1× mean it is faster. "server CPU" is the server process\'s user+system time during the measured ' +
    "run divided by the requests it served (the upstream's CPU is not included).",
);
lines.push('');
lines.push(
  `Two parallel HTTP calls, upstream delay ${DELAY_MS} ms: 20 sequential requests to the generated service took ` +
    `${f(fanoutProbe.wall_p50_ms, 1)} ms (median wall time, client side); ` +
    `its Server-Timing for the last one: \`${fanoutProbe.serverTiming}\`. Run one after the other, the two calls would need at least ${2 * DELAY_MS} ms.`,
);
lines.push('');
lines.push(
  `In process, no network (\`tools/bench/http/asgi_cost.py\`: each app called as an ASGI callable on uvloop, ` +
    `${asgiCost.requests_per_sample} requests per sample, ${asgiCost.rounds} rounds in rotated order, median):`,
);
lines.push('');
lines.push('| /hello app | µs per request | vs hand-written |');
lines.push('|---|--:|--:|');
const hw = asgiCost.asgi_us_per_request['hand-written'];
for (const [name, us] of Object.entries(asgiCost.asgi_us_per_request)) {
  lines.push(
    `| ${name} | ${f(us, 1)} | ${name === 'hand-written' ? '' : `${us >= hw ? '+' : ''}${f(us - hw, 1)} µs (${f((us / hw) * 100 - 100, 0)} %)`} |`,
  );
}
lines.push('');
const p = asgiCost.pieces_us;
lines.push(
  `Pieces, µs per call: ExecutionContext + one \`with ctx.node()\` block ${f(p.context_create_node_scope_us, 2)}; ` +
    `server_timing() ${f(p.server_timing_header_us, 2)}; json_response (orjson + Server-Timing header) ${f(p.json_response_us, 2)} ` +
    `vs a plain orjson Response ${f(p.plain_orjson_response_us, 2)}; model_validate_json ${f(p.model_validate_json_us, 2)} ` +
    `vs orjson.loads + model_validate ${f(p.orjson_loads_plus_model_validate_us, 2)}.`,
);
lines.push('');
const md = `${lines.join('\n')}\n`;

// A --quick run is a smoke test: it never replaces the recorded results.
const outDir = quick ? tmpdir() : resultsDir;
const outName = quick ? 'catalyst-http-bench-quick' : 'http-bench';
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `${outName}.md`), md);
writeFileSync(
  join(outDir, `${outName}.json`),
  `${JSON.stringify({ started_at: startedAt.toISOString(), elapsed_s: Number(elapsed.toFixed(1)), machine, config, golden_identical: { hello: hello.sameAsGolden, http_fanout: fanout.sameAsGolden }, checks, fanout_probe: fanoutProbe, asgi_cost: asgiCost, summary: rows, runs: allRuns }, null, 2)}\n`,
);
process.stdout.write(md);
log(`wrote ${quick ? join(outDir, `${outName}.md`) : join('tools', 'bench', 'results', 'http-bench.md')} and .json`);

// ---------------------------------------------------------------------------------------------
// --observability: what metrics and tracing cost over HTTP, and that off costs nothing.

/**
 * The generated services in five variants, interleaved in every round: `baseline` (the runtime
 * of --baseline REF, before the probes, request ids, JSON logs, metrics and tracing existed, put
 * first on PYTHONPATH; the generated code is the same golden), `off` (this runtime, defaults),
 * `metrics` (CATALYST_METRICS=on), `tracing` (CATALYST_TRACING=on, every request sampled,
 * exported to an OTLP sink in this process) and `on` (both). Ratios are `off` ÷ each variant.
 */
async function observability() {
  const ref = argv.includes('--baseline') ? argv[argv.indexOf('--baseline') + 1] : '5359f62';
  const commit = spawnSync('git', ['rev-parse', '--short', ref], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  const baselineDir = join(work, 'baseline');
  mkdirSync(baselineDir, { recursive: true });
  // Its runtime, and the generated code its compiler gave (its goldens), as bench_hello and
  // bench_fanout: today's generated code needs today's runtime.
  const expected = (testCase) => `packages/catalyst-plugin/testdata/${testCase}/expected`;
  const archive = spawnSync(
    'sh',
    ['-c', `git archive ${commit} packages/catalyst-plugin/runtime/src ${expected('hello')} ${expected('http_fanout')} ` +
      `| tar -x -C ${baselineDir}`],
    { cwd: repoRoot, stdio: 'inherit' },
  ); // prettier-ignore
  if (archive.status !== 0 || !commit) throw new Error(`cannot extract the runtime of ${ref}`);
  const baselineSrc = join(baselineDir, 'packages', 'catalyst-plugin', 'runtime', 'src');
  const baselineGenerated = join(baselineDir, 'generated');
  for (const [testCase, pkg] of [
    ['hello', 'bench_hello'],
    ['http_fanout', 'bench_fanout'],
  ]) {
    mkdirSync(join(baselineGenerated, pkg), { recursive: true });
    writeFileSync(join(baselineGenerated, pkg, '__init__.py'), '');
    spawnSync('cp', ['-r', join(baselineDir, expected(testCase)), join(baselineGenerated, pkg, '_generated')]);
  }
  const baselinePath = `${baselineSrc}:${baselineGenerated}`;
  const where = spawnSync(python, ['-c', 'import catalyst_runtime; print(catalyst_runtime.__file__)'], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: baselinePath },
  }).stdout.trim();
  if (!where.startsWith(baselineSrc)) throw new Error(`baseline runtime not imported (got ${where})`);

  // An OTLP/HTTP sink: accepts every export; its CPU is this process's, not the server's.
  let exports = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports += 1;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise((r) => sink.listen(0, '127.0.0.1', r));
  const sinkUrl = `http://127.0.0.1:${sink.address().port}`;
  const variants = {
    baseline: { PYTHONPATH: baselinePath },
    off: {},
    metrics: { CATALYST_METRICS: 'on' },
    tracing: { CATALYST_TRACING: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl },
    on: { CATALYST_METRICS: 'on', CATALYST_TRACING: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl },
  };
  const start = async (target, env) => {
    const servers = [];
    for (const [name, extra] of Object.entries(variants)) {
      // python -m puts its working folder first on sys.path: the baseline's must not hold today's code.
      const cwd = name === 'baseline' ? baselineDir : work;
      servers.push(await startServer(name, target, { ...env, ...extra }, cwd));
    }
    return servers;
  };
  const runs = [];
  {
    const servers = await start('generated_app:hello', { BENCH_APP: 'hello' });
    await sameAnswer(servers, 'simple transform', '/hello', HELLO_BODY);
    runs.push(...measure('simple transform', servers, '/hello', HELLO_BODY, HELLO_CONNECTIONS));
    for (const s of servers) await stopServer(s);
  }
  {
    const upstream = await startServer('upstream', 'upstream_app:app', { BENCH_UPSTREAM_DELAY_MS: String(DELAY_MS) });
    const env = { BENCH_APP: 'fanout', UPSTREAM_URL: upstream.url, UPSTREAM_TOKEN: 'bench-token' };
    const servers = await start('generated_app:fanout', env);
    await sameAnswer(servers, '2 parallel HTTP calls', '/profile', FANOUT_BODY);
    runs.push(...measure('2 parallel HTTP calls', servers, '/profile', FANOUT_BODY, [16]));
    for (const s of servers) await stopServer(s);
    await stopServer(upstream);
  }
  sink.close();
  const rows = summarise(runs, 'off');
  const load1 = loadavg();
  const num = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
  const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '');
  const lines = [
    '# HTTP benchmark: metrics and tracing off, on, and before they existed',
    '',
    `Command: \`nice -n 19 node tools/bench/http-bench.mjs ${argv.join(' ')}\` — ${startedAt.toISOString()}, ` +
      `${((performance.now() - t0) / 1000).toFixed(0)} s in all.`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}, shared with other work: load average ` +
      `${load0.map((v) => v.toFixed(2)).join(' / ')} before and ${load1.map((v) => v.toFixed(2)).join(' / ')} after. ` +
      `Python ${pythonVersion}; ${stackVersions}; ${wrkVersion}.`,
    '',
    `Variants, one server each, all five run in every round in rotated order: \`baseline\` is the runtime of ${commit} ` +
      '(the commit before probes, request ids, JSON logs, metrics and tracing landed) serving the code its compiler ' +
      'generated (its goldens of testdata/hello and http_fanout), in the same Python environment; it also lacks ' +
      "every other change since, the compiled request path among them, so it is not the operations layer's cost alone. " +
      '`off` is this runtime with its defaults; `metrics` sets CATALYST_METRICS=on, `tracing` CATALYST_TRACING=on ' +
      '(every request sampled, spans exported over OTLP/HTTP to a sink in the benchmark process), `on` both. ' +
      `${ROUNDS} rounds, ${WARMUP} s warm-up then ${DURATION} s measured per run; medians over the rounds; ` +
      `the ratios are paired per round. ${exports} OTLP exports received.`,
    '',
    '| scenario | conns | variant | req/s | p50 ms | p99 ms | server CPU µs/req | errors | off/this req/s | off/this CPU |',
    '|---|--:|---|--:|--:|--:|--:|--:|--:|--:|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.connections} | ${r.impl} | ${num(r.rps)} | ${num(r.p50_ms, 2)} | ${num(r.p99_ms, 2)} | ` +
        `${num(r.cpu_us_per_req)} | ${r.errors} | ${ratio(r.ratio_rps)} | ${ratio(r.ratio_cpu)} |`,
    ),
    '',
    '`off/this`: the `off` server ÷ that row, per round, median: req/s above 1× means `off` is faster, CPU below 1× means ' +
      '`off` uses less. "server CPU" is the server process\'s user+system time (all its threads, the span exporter\'s ' +
      'included) during the measured run divided by the requests it served.',
    '',
  ];
  const md = `${lines.join('\n')}\n`;
  const outDir = quick ? tmpdir() : resultsDir;
  const outName = quick ? 'catalyst-observability-quick' : 'observability';
  writeFileSync(join(outDir, `${outName}.md`), md);
  writeFileSync(
    join(outDir, `${outName}.json`),
    `${JSON.stringify({ started_at: startedAt.toISOString(), baseline: commit, load_before: load0, load_after: load1, config: { DURATION, WARMUP, ROUNDS, DELAY_MS }, summary: rows, runs }, null, 2)}\n`,
  );
  process.stdout.write(md);
  log(`wrote ${join(outDir, `${outName}.md`)} and .json`);
}
