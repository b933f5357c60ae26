// Scenario E: 1000 open connections for 60 s (--quick: 5 s) on the generated services of
// scenarios A (POST /card, testdata/transform_chain) and B (POST /chain, three http calls to a
// 10 ms upstream), each under uvicorn and under granian, pinned to CPU 0 and wrk (one thread,
// 1000 connections) to CPU 1.
// Errors of every kind are counted apart (non-2xx, socket errors, wrk's time-outs); starvation
// is wrk's p99 against its mean; memory is the server's RSS after a warm-up burst of the same
// 1000 connections and after the measured run.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { compileWorkflows, pluginDir } from '../lib/compile.mjs';

export const id = 'e';
export const title = '1000 connections (60 s on A and on B)';
export const target =
  '0 errors of any kind (non-2xx, resets, client time-outs); no starvation (p99 ≤ 3× the mean); RSS after the run ' +
  '≤ 1.1× RSS after warm-up';
// 4 × (10 s warm-up + 60 s), start-ups.
export const estimate = { seconds: 320, quick: 100 };

const CONNECTIONS = 1000;
// A request not answered within this counts as a time-out. Little's law at 1000 connections: A
// answers in about 0.1 s (10,000 requests/s), B in about 1.3 s (750 requests/s, one core); 10 s
// leaves B several times its mean before a slow answer is called lost.
const TIMEOUT = '10s';
// uvicorn answers 503 once connections or tasks reach limit_concurrency
// (CATALYST_MAX_CONNECTIONS, 512 by default); a service meant to hold 1000 raises it.
const MAX_CONNECTIONS = 2048;
const FDS = 2 * CONNECTIONS + 200; // the server's sockets and its upstream's; wrk's own
const here = new URL('..', import.meta.url).pathname;
const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');

function openFiles() {
  const out = spawnSync('sh', ['-c', 'ulimit -n; ulimit -Hn'], { encoding: 'utf8' }).stdout.trim().split('\n');
  const limit = (v) => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: limit(out[0]), hard: limit(out[1]) };
}

export async function run(h, options) {
  const files = openFiles();
  if (files.soft < FDS) {
    throw new Error(
      `ulimit -n is ${files.soft} (hard ${files.hard}); ${CONNECTIONS} connections need about ${FDS} open files ` +
        `for the server and for wrk: run \`ulimit -n ${Math.max(FDS, 4096)}\` in this shell, then npm run bench again`,
    );
  }
  const warmS = options.quick ? 2 : 10;
  const seconds = options.quick ? 5 : 60;
  const targets = [];
  const card = join(pluginDir, 'testdata', 'transform_chain');
  compileWorkflows(h.work, [join(card, 'workflows', 'profile_card.workflow.yaml')], 'bench_card');
  // Each service under both servers: granian is the candidate for what uvicorn does not meet here.
  const both = (t) => [
    { ...t, name: `${t.name} (generated)`, server: 'uvicorn' },
    { ...t, name: `${t.name} (generated, granian)`, server: 'granian' },
  ];
  targets.push(
    ...both({
      name: 'A',
      app: 'card_apps:generated',
      path: '/card',
      body: { name: ' Ada ', city: 'london', visits: 12 },
    }),
  );
  const chainApps = join(here, 'http', 'chain_apps.py');
  if (existsSync(chainApps)) {
    compileWorkflows(h.work, [join(here, 'chain', 'chain.workflow.yaml')], 'bench_chain');
    targets.push(
      ...both({ name: 'B', app: 'chain_apps:generated', path: '/chain', body: { user: 'ada' }, upstream: true }),
    );
  }
  h.log(`ulimit -n ${files.soft}; ${targets.map((t) => t.name).join(', ')}: ${warmS} s warm-up, ${seconds} s measured`);

  const runs = [];
  const rows = [];
  for (const t of targets) {
    let upstream;
    const env = { CATALYST_MAX_CONNECTIONS: String(MAX_CONNECTIONS) };
    if (t.upstream) {
      // The upstream runs under the same serve, so its limit is raised too (B makes up to 1000 calls at once).
      upstream = await h.serve('upstream', 'upstream_app:app', {
        env: { BENCH_UPSTREAM_DELAY_MS: '10', CATALYST_MAX_CONNECTIONS: String(MAX_CONNECTIONS) },
        cpu: 1,
      });
      env.UPSTREAM_URL = upstream.url;
    }
    const server = await h.serve(t.name, t.app, { env, server: t.server });
    await h.check([server], { path: t.path, body: t.body });
    const load = { path: t.path, body: t.body, connections: CONNECTIONS, timeout: TIMEOUT };
    const warm = await h.wrk(server, { ...load, seconds: warmS });
    const rssWarm = warm.rss_mb;
    const r = await h.wrk(server, { ...load, seconds });
    const alive = server.child.exitCode === null;
    await h.stop(server);
    if (upstream) await h.stop(upstream);
    const errors = r.non2xx + r.socket_errors + r.timeouts;
    const row = {
      ...r,
      target: t.name,
      rss_start_mb: server.rssStartMb,
      rss_warm_mb: rssWarm,
      rss_growth: r.rss_mb / rssWarm,
      starvation: r.p99_ms / r.mean_ms,
      errors,
      alive,
    };
    runs.push({ contender: t.name, connections: CONNECTIONS, round: 0, ...r, warm });
    rows.push(row);
    h.log(
      `${t.name}: ${fmt(r.rps, 0)} req/s, mean ${fmt(r.mean_ms)} ms, p99 ${fmt(r.p99_ms)} ms (${fmt(row.starvation, 2)}× the mean), ` +
        `errors ${r.non2xx}/${r.socket_errors}/${r.timeouts}, RSS ${fmt(rssWarm)} → ${fmt(r.rss_mb)} MB`,
    );
  }

  const verdicts = rows.flatMap((r) => [
    {
      target: `${r.target}: 0 errors of any kind`,
      // A run with no answer at all has no errors either, and proves nothing.
      met: r.requests > 0 && r.errors === 0 && r.alive,
      measured:
        `${r.requests} requests: ${r.non2xx} non-2xx, ${r.socket_errors} socket errors (connect, read, write), ` +
        `${r.timeouts} time-outs (wrk --timeout ${TIMEOUT})${r.alive ? '' : '; **the server died**'}`,
    },
    {
      target: `${r.target}: p99 ≤ 3× the mean`,
      met: Number.isFinite(r.starvation) ? r.starvation <= 3 : null,
      measured: `p99 ${fmt(r.p99_ms)} ms, mean ${fmt(r.mean_ms)} ms: ${fmt(r.starvation, 2)}×; max ${fmt(r.max_ms)} ms`,
    },
    {
      target: `${r.target}: RSS after the run ≤ 1.1× after warm-up`,
      met: Number.isFinite(r.rss_growth) ? r.rss_growth <= 1.1 : null,
      measured: `${fmt(r.rss_start_mb)} MB at start, ${fmt(r.rss_warm_mb)} MB after warm-up, ${fmt(r.rss_mb)} MB after: ${fmt(r.rss_growth, 3)}×`,
    },
  ]);
  return {
    verdicts,
    runs,
    setup: [
      `${CONNECTIONS} keep-alive connections held open by \`wrk -t1 -c${CONNECTIONS} --timeout ${TIMEOUT}\` (a request ` +
        `not answered within ${TIMEOUT} counts as a time-out), pinned to CPU 1, against the generated service of ` +
        `each scenario pinned to CPU 0 (B's upstream on CPU 1 with wrk), under uvicorn (\`python -m catalyst_runtime.serve\`) ` +
        'and under granian (the same with `--server granian`: one worker, one runtime thread, uvloop)' +
        `: ${warmS} s of warm-up with the same ` +
        `${CONNECTIONS} connections, then ${seconds} s measured. The services run with ` +
        `\`CATALYST_MAX_CONNECTIONS=${MAX_CONNECTIONS}\`: uvicorn answers 503 once connections or tasks in flight ` +
        'reach that limit, 512 by default, so a service meant to hold 1000 connections raises it (under granian it is ' +
        "granian's backpressure: past it a new connection waits to be accepted instead of getting a 503)" +
        (targets.some((t) => t.upstream)
          ? ", and so does B's upstream (B's http pool keeps its default of 200 connections)"
          : '') +
        `. Open files: \`ulimit -n\` ${files.soft} (the bench refuses to start this scenario below ${FDS}).`,
    ],
    tables: [
      {
        title: '',
        columns: [
          'service',
          'req/s',
          'mean ms',
          'p50 ms',
          'p99 ms',
          'max ms',
          'p99 ÷ mean',
          'non-2xx / socket / time-out',
          'RSS MB start → warm → after',
        ],
        rows: rows.map((r) => [
          r.target,
          fmt(r.rps, 0),
          fmt(r.mean_ms),
          fmt(r.p50_ms),
          fmt(r.p99_ms),
          fmt(r.max_ms),
          `${fmt(r.starvation, 2)}×`,
          `${r.non2xx} / ${r.socket_errors} / ${r.timeouts}`,
          `${fmt(r.rss_start_mb)} → ${fmt(r.rss_warm_mb)} → ${fmt(r.rss_mb)}`,
        ]),
      },
    ],
    notes: [
      "wrk opens its 1000 connections when a run starts (the warm-up run's are closed when it ends), so the first " +
        'request on each connection also waits for the server to accept it: in a short run (`--quick`) those ' +
        'thousand slow first answers are a large share of all answers and raise p99 far above the mean; in 60 s ' +
        'they are a small fraction.',
      ...(!targets.some((t) => t.upstream)
        ? ["Scenario B's apps (tools/bench/http/chain_apps.py) were not found: E ran on A only."]
        : []),
    ],
  };
}
