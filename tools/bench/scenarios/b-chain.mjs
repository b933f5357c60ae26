// Scenario B: three http calls in series (tools/bench/chain/chain.workflow.yaml) to a loopback
// upstream answering after 10 ms, the same work in every contender. Apps:
// tools/bench/http/chain_apps.py (floor, generated, hand-written), chain_langgraph.py,
// upstream_app.py.
//
// The upstream runs pinned to CPU 1, wrk's core, not the server's: its work per call is small
// (a bare ASGI app that sleeps 10 ms) and wrk's at these rates too, while on CPU 0 it would take
// the measured server's core and its CPU would blur the server's latency. Its cost is not in the
// server CPU column.
import { join } from 'node:path';
import { compileWorkflows } from '../lib/compile.mjs';
import { granianNote } from './a-transform.mjs';

export const id = 'b';
export const title = 'HTTP chain (3 http calls in series, upstream answers after 10 ms)';
// Issue 9's "today" for c=64: 145–190 requests/s, the http node on httpx on a quiet machine (the
// issue's own figure, quoted in docs/performance.md "Scenario B end to end"); the higher end is
// the baseline, so the target is 950 requests/s.
const BASELINE_RPS = 190;
const DELAY_MS = 10;
export const target =
  `overhead over the upstream's own time ≤ 1 ms at c=1; at c=64 ≥ 5× today's requests/s (${BASELINE_RPS} before the ` +
  `aiohttp client, so ≥ ${5 * BASELINE_RPS}) and ≤ 0.5 ms server CPU per request`;
// 5 contenders × 2 connection counts × 3 rounds × 6 s, the upstream alone 3 × 6 s, start-up.
export const estimate = { seconds: 230 };

const BODY = { user: 'ada' };
const PATH = '/chain';
const UPSTREAM = 'upstream alone, one call';
const here = new URL('..', import.meta.url).pathname;

const fmt = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');

export async function run(h) {
  const compiled = compileWorkflows(h.work, [join(here, 'chain', 'chain.workflow.yaml')], 'bench_chain');
  h.log(`compiled chain.workflow.yaml (${compiled.files.join(', ')})`);
  const upstream = await h.serve('upstream', 'upstream_app:app', {
    env: { BENCH_UPSTREAM_DELAY_MS: String(DELAY_MS) },
    cpu: 1,
  });
  const env = { UPSTREAM_URL: upstream.url };
  // Started together: imports are most of a start-up, and on a busy machine one at a time is slow.
  const servers = await Promise.all([
    h.serve('floor (bare ASGI)', 'chain_apps:bare', { env }),
    h.serve('generated', 'chain_apps:generated', { env }),
    h.serve('generated (granian)', 'chain_apps:generated', { env, server: 'granian' }),
    h.serve('hand-written', 'chain_apps:handwritten', { env }),
    h.serve('LangGraph', 'chain_langgraph:app', { env }),
  ]);
  const answer = await h.check(servers, { path: PATH, body: BODY });
  h.log(`every contender answers ${JSON.stringify(answer)}`);

  const contenders = servers.map((server) => ({ name: server.name, server, path: PATH, body: BODY }));
  // The upstream alone, one call at a time, in every round: what one call costs without a service.
  const beforeRound = async (round) => {
    const r = await h.wrk(upstream, {
      path: '/accounts/ada',
      method: 'GET',
      connections: 1,
      seconds: h.options.duration,
    });
    h.log(`round ${round + 1} upstream alone, one call: p50 ${r.p50_ms.toFixed(2)} ms`);
    return [{ contender: UPSTREAM, connections: 1, round, ...r }];
  };
  const runs = await h.rounds(contenders, { connections: [1, 64], beforeRound, timeout: '10s' });
  for (const s of servers) await h.stop(s);
  await h.stop(upstream);

  // Overhead at one connection: the answer's p50 less three calls' p50, in the same round.
  for (const r of runs.filter((x) => x.connections === 1 && x.contender !== UPSTREAM)) {
    const alone = runs.find((x) => x.contender === UPSTREAM && x.round === r.round);
    r.overhead_ms = r.p50_ms - 3 * alone.p50_ms;
  }
  const reference = 'hand-written';
  const rows = h.summarise(runs, { reference });
  for (const row of rows.filter((r) => r.contender === UPSTREAM)) {
    delete row.ratio_rps;
    delete row.ratio_cpu;
    row.cpu_us_per_req = NaN; // the upstream's CPU is not a contender's
  }
  const med = (name, key, c) => h.medianOf(runs, name, key, c);
  const names = servers.map((s) => s.name);

  const overhead = med('generated', 'overhead_ms', 1);
  const floorOverhead = med('floor (bare ASGI)', 'overhead_ms', 1);
  const cpu1 = med('generated', 'cpu_us_per_req', 1);
  const floorCpu1 = med('floor (bare ASGI)', 'cpu_us_per_req', 1);
  const rps64 = med('generated', 'rps', 64);
  const floorRps64 = med('floor (bare ASGI)', 'rps', 64);
  const cpu64 = med('generated', 'cpu_us_per_req', 64);
  const floorCpu64 = med('floor (bare ASGI)', 'cpu_us_per_req', 64);
  const granian = [1, 64].map((c) => h.paired(runs, 'generated (granian)', 'generated', 'rps', c));
  const granianCpu = [1, 64].map((c) => h.paired(runs, 'generated (granian)', 'generated', 'cpu_us_per_req', c));

  const verdicts = [
    {
      target: "overhead over the upstream's own time ≤ 1 ms at c=1",
      met: Number.isFinite(overhead) ? overhead <= 1 : null,
      measured:
        `generated ${fmt(overhead)} ms over three calls to the upstream alone ` +
        `(${fmt(med(UPSTREAM, 'p50_ms', 1))} ms each); the floor ${fmt(floorOverhead)} ms in the same rounds`,
      gap:
        overhead > 1
          ? `the generated service burns ${fmt(cpu1, 0)} µs of CPU per request at c=1 (the floor ${fmt(floorCpu1, 0)} µs, ` +
            'the same three aiohttp calls without a framework); ' +
            (floorOverhead > 1
              ? `since the floor's overhead is over 1 ms too, the rest is the machine: each request waits for a core four times ` +
                '(the request and three answers).'
              : `the ${fmt(overhead - floorOverhead)} ms more than the floor is the service's own path.`)
          : undefined,
    },
    {
      target: `c=64 requests/s ≥ 5× today's (≥ ${5 * BASELINE_RPS})`,
      met: Number.isFinite(rps64) ? rps64 >= 5 * BASELINE_RPS : null,
      measured: `${fmt(rps64, 0)} requests/s, ${fmt(rps64 / BASELINE_RPS)}× ${BASELINE_RPS} (the floor ${fmt(floorRps64, 0)})`,
      gap:
        rps64 < 5 * BASELINE_RPS
          ? `at ${fmt(cpu64, 0)} µs of CPU per request one core serves at most ${fmt(1e6 / cpu64, 0)} requests/s` +
            (floorRps64 < 5 * BASELINE_RPS
              ? `; the floor reaches only ${fmt(floorRps64, 0)} here, so the machine (the server's core shared with other ` +
                'work) caps every contender.'
              : '.')
          : undefined,
    },
    {
      target: 'c=64 server CPU per request ≤ 0.5 ms',
      met: Number.isFinite(cpu64) ? cpu64 <= 500 : null,
      measured: `${fmt(cpu64, 0)} µs (the floor ${fmt(floorCpu64, 0)} µs, hand-written ${fmt(med(reference, 'cpu_us_per_req', 64), 0)} µs)`,
      gap:
        cpu64 > 500
          ? `${fmt(cpu64 - 500, 0)} µs over; the floor, three aiohttp calls and uvicorn with nothing else, needs ` +
            `${fmt(floorCpu64, 0)} µs, so ${fmt(Math.max(0, cpu64 - floorCpu64), 0)} µs is the service's own path and ` +
            `${fmt(Math.min(cpu64, floorCpu64), 0)} µs the client and the server underneath.`
          : undefined,
    },
  ];

  const overheadTable = {
    title:
      "Overhead at one connection: the answer's p50 less three times one call's p50 straight to the upstream, per round, then the median:",
    columns: ['contender', 'p50 ms', 'overhead ms', 'server CPU µs/req'],
    rows: names.map((n) => [
      n,
      fmt(med(n, 'p50_ms', 1)),
      fmt(med(n, 'overhead_ms', 1)),
      fmt(med(n, 'cpu_us_per_req', 1), 0),
    ]),
  };
  return {
    reference,
    rows,
    runs,
    verdicts,
    tables: [overheadTable],
    setup: [
      '`POST /chain` with `{"user": "ada"}`: GET `/accounts/ada`, then GET `/orders?user=ada&limit=5`, then POST ' +
        '`/audit` with the name and the order count, each waiting for the one before; every contender answers `' +
        JSON.stringify(answer) +
        '` (checked before loading). The upstream (`tools/bench/http/upstream_app.py`, bare ASGI on uvicorn) answers ' +
        `every call after ${DELAY_MS} ms; it runs pinned to CPU 1 beside wrk, so the server's core is the server's ` +
        "alone, and its CPU is not in the server's column. In every round, wrk first measures one call at a time " +
        'straight to the upstream (`upstream alone` below).',
      '- *floor (bare ASGI)*: `tools/bench/http/chain_apps.py:bare`, the three calls with one shared ' +
        '`aiohttp.ClientSession` and orjson, no framework, on the same uvicorn.\n' +
        '- *generated*: `tools/bench/chain/chain.workflow.yaml` compiled by the built compiler (three `http` nodes; ' +
        "the runtime's aiohttp pool), under uvicorn, and under granian (*generated (granian)*).\n" +
        '- *hand-written*: FastAPI with one `aiohttp.ClientSession` opened in the lifespan, the raw body into ' +
        '`model_validate_json`, orjson out (`chain_apps:handwritten`).\n' +
        '- *LangGraph*: `tools/bench/http/chain_langgraph.py`, the three calls as async nodes of a `StateGraph` ' +
        "compiled once, the same shared session passed in the graph's config, `ainvoke` per request.",
    ],
    notes: [granianNote(granian, granianCpu, h.busy())],
    charts: h.standardCharts(id, 'B. HTTP chain', rows),
  };
}
