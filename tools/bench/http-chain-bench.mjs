// Scenario B: a generated service whose workflow makes three http calls in series
// (tools/bench/chain/chain.workflow.yaml) to a loopback upstream that answers after 10 ms.
// At c=1 it reports the overhead over the upstream's own time (three calls straight to the
// upstream, measured in the same round); at c=64 requests/s and the server's CPU per request.
// Not part of `npm test`.
//   node tools/bench/http-chain-bench.mjs [--no-build] [--rounds 3] [--duration 5] [--delay 10]
//        [--runtime NAME=SRC ...]
// --runtime serves the same generated code on another copy of the runtime's source (a folder
// holding catalyst_runtime, put first on PYTHONPATH), so two runtimes are measured in the same
// interleaved rounds: e.g. --runtime before=/tmp/before/packages/catalyst-plugin/runtime/src
// --runtime after=packages/catalyst-plugin/runtime/src. Default: this tree's runtime only.
// Needs wrk (apt-get install -y wrk) and the runtime's environment (node tools/uv.mjs sync
// --project packages/catalyst-plugin/runtime). Prints a Markdown table and one JSON line.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../services/services.mjs';
import { ensureUv, repoRoot, uvEnv } from '../uv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = join(repoRoot, 'packages', 'catalyst-plugin');
const runtimeDir = join(pluginDir, 'runtime');

const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? Number(argv[i + 1]) : fallback;
};
const ROUNDS = option('--rounds', 3);
const DURATION = option('--duration', 5);
const DELAY_MS = option('--delay', 10);
const CONNECTIONS = [1, 64];
const runtimes = argv
  .flatMap((a, i) => (a === '--runtime' ? [argv[i + 1]] : []))
  .map((spec) => {
    const [name, src] = spec.split('=');
    return { name, src: resolve(src) };
  });
if (runtimes.length === 0) runtimes.push({ name: 'this tree', src: join(runtimeDir, 'src') });

const log = (m) => console.error(`[chain-bench] ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (v) => {
  const s = v.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const wrk = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).stdout.trim();
if (!wrk) {
  console.error('wrk is not installed. On Debian/Ubuntu: apt-get install -y wrk');
  process.exit(1);
}
const uv = ensureUv();
const python = spawnSync(uv, ['run', '--project', runtimeDir, '--no-sync', 'python', '-c', 'import sys; print(sys.executable)'], {
  encoding: 'utf8',
  env: uvEnv(),
}).stdout.trim(); // prettier-ignore

if (!argv.includes('--no-build')) {
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const require = createRequire(import.meta.url);
const { compileService } = require(join(pluginDir, 'dist', 'compiler'));

// Compile the workflow into <work>/bench_chain/_generated and an app module beside it.
const work = mkdtempSync(join(tmpdir(), 'catalyst-chain-bench-'));
const source = {
  path: 'workflows/chain.workflow.yaml',
  text: readFileSync(join(here, 'chain', 'chain.workflow.yaml'), 'utf8'),
};
const compiled = compileService([source], { packageName: 'bench_chain', serviceName: 'bench-chain' });
const errors = compiled.diagnostics.filter((d) => d.severity === 'error');
if (errors.length) throw new Error(JSON.stringify(errors));
for (const file of compiled.files) {
  mkdirSync(dirname(join(work, 'bench_chain', '_generated', file.path)), { recursive: true });
  writeFileSync(join(work, 'bench_chain', '_generated', file.path), file.contents);
}
writeFileSync(join(work, 'bench_chain', '__init__.py'), '');
writeFileSync(
  join(work, 'chain_app.py'),
  'from catalyst_runtime import create_app\nfrom bench_chain._generated import router\n\napp = create_app(router, title="chain")\n',
);

const children = new Set();
process.on('exit', () => {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(work, { recursive: true, force: true });
});

async function startServer(name, target, env, pythonPath) {
  const port = await freePort();
  const child = spawn(
    python,
    ['-m', 'catalyst_runtime.serve', target, '--host', '127.0.0.1', '--port', String(port), '--app-dir', work, '--log-level', 'warning', '--no-access-log'],
    { cwd: work, env: { ...process.env, PYTHONPATH: pythonPath, PYTHONDONTWRITEBYTECODE: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  ); // prettier-ignore
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  children.add(child);
  const server = { name, pid: child.pid, child, url: `http://127.0.0.1:${port}` };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited:\n${stderr}`);
    try {
      await fetch(`${server.url}/`, { signal: AbortSignal.timeout(500) });
      return server;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name} did not start:\n${stderr}`);
      await sleep(100);
    }
  }
}

function runWrk(server, path, connections, seconds) {
  const before = cpuSeconds(server.pid);
  const out = spawnSync(
    wrk,
    ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(here, 'lib', 'wrk.lua'), `${server.url}${path}`],
    { encoding: 'utf8', env: { ...process.env, BENCH_BODY: JSON.stringify({ user: 'ada' }) } },
  ); // prettier-ignore
  const cpu = cpuSeconds(server.pid) - before;
  const line = out.stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  if (!line) throw new Error(`wrk failed:\n${out.stdout}\n${out.stderr}`);
  const r = JSON.parse(line.slice('BENCH_RESULT '.length));
  return {
    rps: r.requests / (r.duration_us / 1e6),
    p50_ms: r.latency_us.p50 / 1000,
    p99_ms: r.latency_us.p99 / 1000,
    errors: Object.values(r.errors).reduce((a, b) => a + b, 0),
    cpu_us_per_req: r.requests ? (cpu * 1e6) / r.requests : NaN,
  };
}

const load0 = loadavg();
const upstream = await startServer(
  'upstream',
  'upstream_app:app',
  { BENCH_UPSTREAM_DELAY_MS: String(DELAY_MS) },
  join(here, 'http'),
);
const env = { UPSTREAM_URL: upstream.url };
const services = [];
for (const rt of runtimes) services.push(await startServer(rt.name, 'chain_app:app', env, `${rt.src}:${work}`));
for (const s of services) {
  const answer = await fetch(`${s.url}/chain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"user":"ada"}',
  });
  const body = await answer.text();
  if (answer.status !== 200) throw new Error(`${s.name}: ${answer.status} ${body}`);
  log(`${s.name}: ${body}`);
}

const runs = [];
for (let round = 0; round < ROUNDS; round++) {
  // The upstream alone: one call at a time, what three calls in series cost without the service.
  const direct = runWrk(upstream, '/accounts/ada', 1, Math.max(2, Math.round(DURATION / 2)));
  runs.push({ round, impl: 'upstream, one call', connections: 1, ...direct });
  for (const c of CONNECTIONS) {
    const order = services.map((_, i) => services[(i + round) % services.length]);
    for (const s of order) {
      runWrk(s, '/chain', c, 1); // warm-up
      const r = runWrk(s, '/chain', c, DURATION);
      const overhead = c === 1 ? r.p50_ms - 3 * direct.p50_ms : NaN;
      runs.push({ round, impl: s.name, connections: c, overhead_ms: overhead, load: loadavg()[0], ...r });
      log(
        `round ${round + 1} c=${c} ${s.name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50_ms.toFixed(2)} ms ` +
          `p99 ${r.p99_ms.toFixed(2)} ms cpu ${r.cpu_us_per_req.toFixed(0)} µs/req errors ${r.errors}` +
          (c === 1 ? ` overhead ${overhead.toFixed(2)} ms (upstream call p50 ${direct.p50_ms.toFixed(2)} ms)` : ''),
      );
    }
  }
}

const f = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '–');
console.log(
  `wrk -t1, POST {"user":"ada"}, ${DURATION} s per run after 1 s warm-up, ${ROUNDS} interleaved rounds, upstream delay ${DELAY_MS} ms; load average ${load0.map((v) => v.toFixed(1)).join(' / ')} before, ${loadavg()
    .map((v) => v.toFixed(1))
    .join(' / ')} after.`,
);
console.log('');
console.log(
  '| runtime | c | req/s | p50 ms | p99 ms | overhead over 3 upstream calls, ms | server CPU µs/req | errors |',
);
console.log('|---|--:|--:|--:|--:|--:|--:|--:|');
for (const name of ['upstream, one call', ...services.map((s) => s.name)]) {
  for (const c of name.startsWith('upstream') ? [1] : CONNECTIONS) {
    const mine = runs.filter((r) => r.impl === name && r.connections === c);
    const m = (k) => median(mine.map((r) => r[k]));
    console.log(
      `| ${name} | ${c} | ${f(m('rps'))} | ${f(m('p50_ms'), 2)} | ${f(m('p99_ms'), 2)} | ${f(m('overhead_ms'), 2)} | ` +
        `${name.startsWith('upstream') ? '–' : f(m('cpu_us_per_req'))} | ${mine.reduce((a, r) => a + r.errors, 0)} |`,
    );
  }
}
console.log(`CHAIN_RUNS ${JSON.stringify(runs)}`);
process.exit(0);
