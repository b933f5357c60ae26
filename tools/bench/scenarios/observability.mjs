// Optional study (`npm run bench -- --scenario observability`), not one of issue 9's scenarios:
// what metrics and tracing cost over HTTP, and that off costs nothing. The generated services of
// the golden cases testdata/hello (POST /hello) and testdata/http_fanout (POST /profile, two
// parallel http calls to the loopback upstream) in five variants, all run in every round:
//
//   baseline  the runtime of BENCH_BASELINE (default 5359f62, the commit before probes, request
//             ids, JSON logs, metrics and tracing landed), serving the code its compiler generated
//             (its goldens), first on PYTHONPATH; it lacks every later change too, so it is not
//             the operations layer's cost alone
//   off       this runtime, defaults
//   metrics   CATALYST_METRICS=on
//   tracing   CATALYST_TRACING=on, every request sampled, spans exported over OTLP/HTTP to a sink
//             in the bench process
//   on        both
//
// Ratios are each variant ÷ off. Apps: tools/bench/http/generated_app.py.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { compileWorkflows, pluginDir } from '../lib/compile.mjs';
import { repoRoot } from '../../uv.mjs';

export const id = 'observability';
export const optional = true;
export const title = 'Metrics and tracing: off, on, and before they existed';
export const target = 'off costs nothing over the baseline; on costs what the table says';
// 5 variants × (2 + 1) connection counts × 3 rounds × 6 s, and start-up.
export const estimate = { seconds: 330 };

const HELLO_BODY = { name: 'Ada Lovelace', punctuation: '?' };
const FANOUT_BODY = { user: 'ada' };

function extractBaseline(h, ref) {
  const commit = spawnSync('git', ['rev-parse', '--short', ref], { cwd: repoRoot, encoding: 'utf8' }).stdout.trim();
  const dir = join(h.work, 'baseline');
  mkdirSync(dir, { recursive: true });
  const expected = (testCase) => `packages/catalyst-plugin/testdata/${testCase}/expected`;
  const archive = spawnSync(
    'sh',
    ['-c', `git archive ${commit} packages/catalyst-plugin/runtime/src ${expected('hello')} ${expected('http_fanout')} ` +
      `| tar -x -C ${dir}`],
    { cwd: repoRoot, stdio: 'inherit' },
  ); // prettier-ignore
  if (archive.status !== 0 || !commit) throw new Error(`cannot extract the runtime of ${ref}`);
  const generated = join(dir, 'generated');
  for (const [testCase, pkg] of [
    ['hello', 'bench_hello'],
    ['http_fanout', 'bench_fanout'],
  ]) {
    mkdirSync(join(generated, pkg), { recursive: true });
    writeFileSync(join(generated, pkg, '__init__.py'), '');
    spawnSync('cp', ['-r', join(dir, expected(testCase)), join(generated, pkg, '_generated')]);
  }
  // python -m puts its working folder first on sys.path: the baseline's must not hold today's code.
  return { commit, dir, path: `${join(dir, 'packages', 'catalyst-plugin', 'runtime', 'src')}:${generated}` };
}

export async function run(h) {
  const testdata = join(pluginDir, 'testdata');
  for (const [testCase, pkg] of [
    ['hello', 'bench_hello'],
    ['http_fanout', 'bench_fanout'],
  ]) {
    const dir = join(testdata, testCase, 'workflows');
    const files = readdirSync(dir)
      .sort()
      .map((f) => join(dir, f));
    const c = compileWorkflows(h.work, files, pkg, { golden: join(testdata, testCase, 'expected') });
    h.log(`compiled ${testCase} (golden ${c.sameAsGolden ? 'identical' : 'DIFFERS'})`);
  }
  const baseline = extractBaseline(h, process.env.BENCH_BASELINE ?? '5359f62');

  // An OTLP/HTTP sink: accepts every export; its CPU is the bench's, not the server's.
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
    baseline: {},
    off: {},
    metrics: { CATALYST_METRICS: 'on' },
    tracing: { CATALYST_TRACING: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl },
    on: { CATALYST_METRICS: 'on', CATALYST_TRACING: 'on', OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl },
  };
  const startAll = async (app, env) => {
    const servers = [];
    for (const [name, extra] of Object.entries(variants)) {
      const where = name === 'baseline' ? { cwd: baseline.dir, pythonPathFirst: baseline.path } : {};
      servers.push(await h.serve(name, app, { env: { ...env, ...extra }, ...where }));
    }
    return servers;
  };

  const runs = [];
  try {
    {
      const servers = await startAll('generated_app:hello', { BENCH_APP: 'hello' });
      await h.check(servers, { path: '/hello', body: HELLO_BODY });
      const contenders = servers.map((server) => ({ name: server.name, server, path: '/hello', body: HELLO_BODY }));
      for (const r of await h.rounds(contenders, { connections: [16, 64] })) runs.push({ ...r, part: 'hello' });
      for (const s of servers) await h.stop(s);
    }
    {
      const upstream = await h.serve('upstream', 'upstream_app:app', {
        env: { BENCH_UPSTREAM_DELAY_MS: '20' },
        cpu: 1,
      });
      const env = { BENCH_APP: 'fanout', UPSTREAM_URL: upstream.url, UPSTREAM_TOKEN: 'bench-token' };
      const servers = await startAll('generated_app:fanout', env);
      await h.check(servers, { path: '/profile', body: FANOUT_BODY });
      const contenders = servers.map((server) => ({ name: server.name, server, path: '/profile', body: FANOUT_BODY }));
      for (const r of await h.rounds(contenders, { connections: [16] })) runs.push({ ...r, part: 'fanout' });
      for (const s of servers) await h.stop(s);
      await h.stop(upstream);
    }
  } finally {
    sink.close();
  }
  const hello = h.summarise(
    runs.filter((r) => r.part === 'hello'),
    { reference: 'off' },
  );
  const fanout = h.summarise(
    runs.filter((r) => r.part === 'fanout'),
    { reference: 'off' },
  );
  const fmt = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '');
  const table = (rows) =>
    rows.map((r) => [r.contender, r.connections, fmt(r.rps), fmt(r.p50_ms, 2), fmt(r.p99_ms, 2), fmt(r.cpu_us_per_req),
      `${r.non2xx} / ${r.socket_errors} / ${r.timeouts}`, ratio(r.ratio_rps), ratio(r.ratio_cpu)]); // prettier-ignore
  const columns = [
    'variant',
    'conns',
    'req/s',
    'p50 ms',
    'p99 ms',
    'server CPU µs/req',
    'errors',
    'req/s ÷ off',
    'CPU ÷ off',
  ];
  return {
    runs,
    setup: [
      `Variants, one server each, all five in every round in rotated order: \`baseline\` is the runtime of ${baseline.commit} ` +
        'serving the code its compiler generated (its goldens of testdata/hello and http_fanout), in the same Python ' +
        'environment; it lacks every other change since, the compiled request path among them, so it is not the ' +
        "operations layer's cost alone. `off` is this runtime with its defaults; `metrics` sets CATALYST_METRICS=on, " +
        '`tracing` CATALYST_TRACING=on (every request sampled, spans exported over OTLP/HTTP to a sink in the bench ' +
        `process), \`on\` both. ${exports} OTLP exports received. Server CPU counts all of a server's threads, the ` +
        "span exporter's included.",
    ],
    tables: [
      { title: '`POST /hello` (testdata/hello):', columns, rows: table(hello) },
      {
        title: '`POST /profile` (testdata/http_fanout, two parallel http calls, upstream delay 20 ms):',
        columns,
        rows: table(fanout),
      },
    ],
    charts: h.standardCharts('observability-hello', 'Metrics and tracing, /hello', hello),
  };
}
