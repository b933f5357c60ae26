// Scenario C: four postgres nodes, each SELECT pg_sleep(0.2), and no parallel node
// (tools/bench/parallel/parallel.workflow.yaml): the compiler runs independent nodes at once, so
// an answer takes one query's time, not four. The same work in every contender. Apps:
// tools/bench/http/parallel_apps.py (floor, generated, hand-written), parallel_langgraph.py.
//
// A PostgreSQL of its own (tools/services/services.mjs), started here and stopped at the end.
// Every contender keeps one asyncpg pool of POOL_PER_CONNECTION × the most connections loaded,
// opened at start-up: four queries per request, so no request waits for a connection.
import { join } from 'node:path';
import { ensureInstalled, startPostgres, stopServices } from '../../services/services.mjs';
import { compileWorkflows } from '../lib/compile.mjs';

export const id = 'c';
export const title = 'Parallel queries (4 postgres nodes, each SELECT pg_sleep(0.2), no parallel node)';
export const target = 'p50 ≤ 215 ms (sequential: 800 ms)';
// 4 contenders × 2 connection counts × 3 rounds × 6 s, PostgreSQL and start-up.
export const estimate = { seconds: 170, quick: 45 };

const PATH = '/parallel';
const BODY = {};
const CONNECTIONS = [1, 8];
const POOL = 4 * Math.max(...CONNECTIONS); // 32 per contender, 128 in all (max_connections 200)
const TARGET_MS = 215;
const here = new URL('..', import.meta.url).pathname;

const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '–');

export async function run(h) {
  const compiled = compileWorkflows(h.work, [join(here, 'parallel', 'parallel.workflow.yaml')], 'bench_parallel');
  h.log(`compiled parallel.workflow.yaml (${compiled.files.join(', ')})`);
  ensureInstalled();
  const postgres = await startPostgres();
  h.log(`PostgreSQL on port ${postgres.port} (max_connections 200); every contender's pool: ${POOL} connections`);
  // Stopped when the scenario ends, or when the bench is interrupted.
  h.defer(() => stopServices({ postgres }));
  const env = {
    DATABASE_URL: postgres.url,
    BENCH_PG_POOL: String(POOL),
    CATALYST_POSTGRES_MIN_SIZE: String(POOL),
    CATALYST_POSTGRES_MAX_SIZE: String(POOL),
  };
  const servers = [
    await h.serve('floor (bare ASGI)', 'parallel_apps:bare', { env }),
    await h.serve('generated', 'parallel_apps:generated', { env }),
    await h.serve('hand-written', 'parallel_apps:handwritten', { env }),
    await h.serve('LangGraph', 'parallel_langgraph:app', { env }),
  ];
  const answer = await h.check(servers, { path: PATH, body: BODY });
  h.log(`every contender answers ${JSON.stringify(answer)}`);
  const contenders = servers.map((server) => ({ name: server.name, server, path: PATH, body: BODY }));
  // wrk's time-out well above a request's 200 ms, so a slow answer is measured, not dropped.
  const runs = await h.rounds(contenders, { connections: CONNECTIONS, timeout: '10s' });
  for (const s of servers) await h.stop(s);

  const reference = 'hand-written';
  const rows = h.summarise(runs, { reference });
  const med = (name, key, c) => h.medianOf(runs, name, key, c);
  const p50 = CONNECTIONS.map((c) => med('generated', 'p50_ms', c));
  const floor = CONNECTIONS.map((c) => med('floor (bare ASGI)', 'p50_ms', c));
  const hand = CONNECTIONS.map((c) => med(reference, 'p50_ms', c));
  const errors = runs.reduce((a, r) => a + r.non2xx + r.socket_errors + r.timeouts, 0);
  const verdicts = [
    {
      target: `p50 ≤ ${TARGET_MS} ms at c=1 (sequential: 800 ms)`,
      met: Number.isFinite(p50[0]) ? p50[0] <= TARGET_MS : null,
      measured:
        `generated p50 ${fmt(p50[0])} ms at c=1 and ${fmt(p50[1])} ms at c=${CONNECTIONS[1]} ` +
        `(floor ${fmt(floor[0])} / ${fmt(floor[1])} ms, hand-written ${fmt(hand[0])} / ${fmt(hand[1])} ms)`,
      gap:
        p50[0] > TARGET_MS
          ? `${fmt(p50[0] - 200)} ms over the query's own 200 ms against ${fmt(floor[0] - 200)} ms for the floor ` +
            'in the same run: ' +
            (floor[0] > TARGET_MS
              ? 'the floor misses too, so the time is the machine (PostgreSQL, the server and wrk waiting for a core).'
              : 'what the service adds over asyncpg and gather.')
          : undefined,
    },
    {
      target: 'no errors',
      met: errors === 0,
      measured: `${errors} non-2xx answers, socket errors and time-outs (wrk --timeout 10s) over every run`,
    },
  ];
  return {
    reference,
    rows,
    runs,
    verdicts,
    setup: [
      "`POST /parallel` with `{}`: four `SELECT pg_sleep(0.2)` at once on a PostgreSQL of the bench's own " +
        `(tools/services/services.mjs, on loopback; its server shares the machine with the service and wrk, ` +
        `unpinned); every contender answers \`${JSON.stringify(answer)}\` (checked before loading). ` +
        `Connections: ${CONNECTIONS.join(' and ')}; every contender keeps one asyncpg pool of ${POOL} connections ` +
        'opened at start-up (four per request at the most connections loaded), so no request waits for a ' +
        'connection; wrk `--timeout 10s`.',
      '- *floor (bare ASGI)*: `tools/bench/http/parallel_apps.py:bare`, no framework: the pool and ' +
        '`asyncio.gather` of four `pool.execute`, orjson, on the same uvicorn.\n' +
        '- *generated*: `tools/bench/parallel/parallel.workflow.yaml` (four `postgres` nodes, no `parallel` node) ' +
        'compiled by the built compiler, under `python -m catalyst_runtime.serve`; its pool set by ' +
        `\`CATALYST_POSTGRES_MIN_SIZE\` = \`CATALYST_POSTGRES_MAX_SIZE\` = ${POOL}.\n` +
        '- *hand-written*: FastAPI with the pool made in the lifespan and `asyncio.gather`, orjson into a plain ' +
        '`Response`.\n' +
        '- *LangGraph*: `tools/bench/http/parallel_langgraph.py`, four async nodes, each with an edge from `START` ' +
        '(one superstep: at once) on the same pool, inside the hand-written FastAPI endpoint.',
    ],
    charts: h.standardCharts(id, 'C. Parallel queries', rows),
  };
}
