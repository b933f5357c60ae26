// The benchmark harness behind `npm run bench` (tools/bench/bench.mjs): servers pinned to one
// core, wrk pinned to the other, interleaved rounds, medians and ratios paired per round.
//
// SCENARIO MODULES. Every file tools/bench/scenarios/*.mjs that exports `id` and `run` is one
// scenario (name it <id>-<what>.mjs: the file order is the report's order); bench.mjs loads them
// all and runs those that `--scenario` selects (default: every one not `optional`). It exports
//
//   export const id = 'a';                          // what --scenario a,b selects; lower case
//   export const title = 'Simple transform';        // the report's section heading
//   export const target = 'p50 ≤ 1 ms at c=1; …';   // issue 9's target, as text
//   export const estimate = { seconds: 150 };       // full run (3 rounds × 5 s), for the header
//                                                   // (quick: its --quick seconds, when fixed)
//   export async function run(h, options) { … return result; }
//   export const optional = true;                   // optional: run only when --scenario names it
//                                                   // (a study, not one of issue 9's scenarios)
//
// `h` is a Harness (below); `options` is { quick, rounds, duration, warmup } (defaulted from the
// command line: 3 rounds, 5 s, 1 s; --quick: 1 round, 2 s). A scenario may use its own values,
// say 60 s for scenario E, as long as --quick stays short and `estimate` says what a full run
// takes. Compile workflows with lib/compile.mjs's compileWorkflows(h.work, [files], 'pkg_name')
// (the built compiler's API; the package lands on PYTHONPATH). `run` returns
//
//   {
//     setup: ['markdown paragraph', …],           // what runs, the same work in each contender
//     rows: h.summarise(runs, { reference }),     // one table row per contender × connections
//     reference: 'hand-written',                  // the contender the ratio columns divide by
//     verdicts: [{ target, met: true|false|null, measured, gap }],  // gap: the measured cause
//     tables: [{ title, columns: [...], rows: [[...]] }],          // any extra table (optional)
//     charts: h.standardCharts(id, title, rows),   // chart specs (charts.py; optional)
//     notes: ['markdown paragraph', …],           // anything else for the report (optional)
//     runs,                                       // raw per-round runs, kept in the JSON
//   }
//
// and the report writer (report.mjs) renders any scenario's result the same way. A scenario
// throws if a contender gives a wrong answer; bench.mjs reports it and goes on with the next.
//
// THE HARNESS. Servers run from the contenders' Python environment (tools/bench/contenders:
// the runtime, FastAPI, uvicorn, granian, LangGraph, aiohttp in one venv), on 127.0.0.1, free
// ports, in a temporary folder that is first on PYTHONPATH (compiled packages go there).
//
//   const s = await h.serve('generated', 'card_apps:generated', { env, server: 'uvicorn' | 'granian', cpu: 0 })
//   const s = await h.start('name', [argv…], { env, cpu, ready })   // any other process
//       // both also take cwd (default: the temporary folder) and pythonPathFirst (a folder put
//       // before the others on PYTHONPATH, e.g. another copy of catalyst_runtime)
//   await h.check([s1, s2], { path, body })     // all answer 200 and the same JSON, or throws
//   await h.request(s, { path, body, method })  // one request: { status, text, json, headers }
//   const r = await h.wrk(s, { path, body, connections, seconds, method, timeout: '5s', threads: 1 })
//       // { rps, p50_ms, p90_ms, p99_ms, max_ms, mean_ms, requests, non2xx, socket_errors,
//       //   timeouts, cpu_us_per_req, rss_mb }: CPU (every thread's schedstat, ns) and RSS of
//       //   the server's process tree; async, so a scenario can act while the load runs (stop
//       //   PostgreSQL mid-run, send SIGTERM)
//   const runs = await h.rounds(contenders, { connections: [1, 64], beforeRound })
//       // warm-up then a measured run per contender × connections, `rounds` times, the
//       // contender order rotated every round; beforeRound(round) may return extra runs
//       // (e.g. the upstream alone) measured in the same round
//   const rows = h.summarise(runs, { reference: 'hand-written' })
//   h.paired(runs, 'generated', 'hand-written', 'rps', 64)  // median of per-round ratios
//   h.medianOf(runs, 'generated', 'p50_ms', 1)  // median over rounds
//   h.python, h.work, h.options, h.log(message)  // the interpreter, temp folder, options, progress
//   await h.stop(s)                              // SIGTERM, then SIGKILL after 5 s
//   h.defer(async () => stopServices(svc))       // run when the scenario ends (or the bench is
//                                                // interrupted), last registered first
//   h.busy()                                     // other work used ≥ half a core since the bench
//                                                // began: a note for comparisons a shared core
//                                                // distorts
//
// CPU pinning: `cpu: 0` (the default for servers) pins the process, every thread and every child,
// to CPU 0 once it answers (`taskset -a -p`; it starts on any core); wrk runs under
// `taskset -c 1`; `cpu: null` leaves a process unpinned. On a machine without taskset or
// with one core nothing is pinned, and the report says so.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../services/services.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const wrkScript = join(here, 'wrk.lua');
const CLK_TCK = 100; // /proc/<pid>/stat ticks per second on Linux
const PAGE_KB = 4;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function median(values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function which(cmd) {
  const out = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/** pid and its descendants (granian's worker is a child process; uvicorn's single worker is not). */
function processTree(pid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

// USER_HZ: /proc reports CPU time in these on every Linux architecture userspace sees.
const TICKS_PER_SECOND = 100;

/** Clock ticks of CPU (user + system, children reaped included) a process has used. */
function ticksOf(pid, withChildren) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5): utime, stime, cutime, cstime (f[0] is field 3).
    const own = Number(f[11]) + Number(f[12]);
    return withChildren ? own + Number(f[13]) + Number(f[14]) : own;
  } catch {
    return 0; // exited meanwhile: its time is in its parent's cutime once reaped
  }
}

/**
 * CPU ticks the whole machine has been busy (everything but idle and iowait, /proc/stat) and the
 * ticks this bench's own processes used: itself and its reaped children, and every live
 * descendant with its own reaped children. The difference is other work's.
 */
function cpuTicks() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = fields;
  const machine = user + nice + system + irq + softirq + steal;
  const tree = processTree(process.pid);
  const bench = ticksOf(process.pid, true) + tree.slice(1).reduce((sum, pid) => sum + ticksOf(pid, true), 0);
  return { machine, bench };
}

function killPids(pids) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/**
 * CPU time (all threads) of a process and its descendants, in seconds: the sum of every thread's
 * time on a CPU from /proc/<pid>/task/<tid>/schedstat (nanoseconds), or utime + stime from
 * /proc/<pid>/stat (10 ms ticks, too coarse for a short run) where schedstat is missing.
 */
export function cpuSeconds(pid) {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      let ns = 0;
      for (const tid of readdirSync(`/proc/${p}/task`)) {
        ns += Number(readFileSync(`/proc/${p}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      }
      total += ns / 1e9;
    } catch {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // fields 14 and 15 of stat(5)
      } catch {
        /* exited meanwhile */
      }
    }
  }
  return total;
}

/** Resident memory of a process and its descendants, in MB. */
export function rssMb(pid) {
  let pages = 0;
  for (const p of processTree(pid)) {
    try {
      pages += Number(readFileSync(`/proc/${p}/statm`, 'utf8').split(' ')[1]);
    } catch {
      /* exited meanwhile */
    }
  }
  return (pages * PAGE_KB) / 1024;
}

export class Harness {
  /**
   * @param {object} o
   * @param {string} o.python     the contenders' interpreter
   * @param {string} o.work       temporary folder: first on PYTHONPATH, servers' working folder
   * @param {string[]} o.pythonPath  further folders for PYTHONPATH (the contender apps)
   * @param {string} o.wrk        wrk binary
   * @param {{quick:boolean, rounds:number, duration:number, warmup:number}} o.options
   * @param {(message: string) => void} o.log
   */
  constructor({ python, work, pythonPath = [], wrk, options, log }) {
    this.python = python;
    this.work = work;
    this.pythonPath = [work, ...pythonPath].join(':');
    this.wrkBin = wrk;
    this.options = options;
    this.log = log;
    this.pinned = Boolean(which('taskset')) && cpus().length >= 2;
    this.children = new Set();
    this.deferred = [];
    this.started = { ...cpuTicks(), at: performance.now() };
  }

  /** Registers a clean-up (e.g. stopping PostgreSQL) for the end of the current scenario. */
  defer(fn) {
    this.deferred.push(fn);
  }

  /** Runs the registered clean-ups, last first; a failing one is logged, not thrown. */
  async runDeferred() {
    while (this.deferred.length) {
      const fn = this.deferred.pop();
      try {
        await fn();
      } catch (error) {
        this.log(`clean-up failed: ${error.message ?? error}`);
      }
    }
  }

  /**
   * True when work outside the bench used half a core or more on average since the bench began:
   * then other work shared the cores the servers and wrk are pinned to. Not the load average,
   * which the bench raises itself (a server on one core and wrk on the other are a load of 2, all
   * the cores of this machine). Servers that daemonise away from the bench's process tree
   * (PostgreSQL, Redis) count as other work; they are idle but for the queries they answer.
   */
  busy() {
    return this.otherCores() >= 0.5;
  }

  /** Cores' worth of CPU used by work outside the bench, on average since it began. */
  otherCores() {
    const now = cpuTicks();
    const seconds = (performance.now() - this.started.at) / 1000;
    const other = now.machine - this.started.machine - (now.bench - this.started.bench);
    return seconds > 0 ? Math.max(0, other / TICKS_PER_SECOND / seconds) : 0;
  }

  /** Pins every thread of a running process and of its descendants to one CPU (taskset -a -p). */
  pinTree(pid, cpu) {
    if (!this.pinned || cpu === null || cpu === undefined) return;
    for (const p of processTree(pid)) {
      const out = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(p)], { encoding: 'utf8' });
      if (out.status !== 0 && p === pid) throw new Error(`taskset could not pin ${pid}: ${out.stderr}`);
    }
  }

  /** `taskset -c N` in front of argv when pinning is possible and cpu is a number. */
  pin(cpu, argv) {
    return this.pinned && cpu !== null && cpu !== undefined ? ['taskset', '-c', String(cpu), ...argv] : argv;
  }

  /**
   * Starts a process and waits until `ready` answers (a request to its url: any HTTP answer, or
   * exactly `ready.status` when given). argv may hold `{port}`, replaced by a free port.
   */
  async start(
    name,
    argv,
    { env = {}, cpu = 0, ready = { path: '/' }, cwd, pythonPathFirst, timeoutMs = 300_000 } = {},
  ) {
    const port = await freePort();
    // Started on any core and pinned once it answers: imports are most of a start-up, and a busy
    // machine starts several servers far sooner on two cores than on one.
    const command = argv.map((a) => a.replaceAll('{port}', String(port)));
    const child = spawn(command[0], command.slice(1), {
      cwd: cwd ?? this.work, // not the repository: no .env of its is picked up by the runtime's lifespan
      env: {
        ...process.env,
        PYTHONPATH: pythonPathFirst ? `${pythonPathFirst}:${this.pythonPath}` : this.pythonPath,
        PYTHONDONTWRITEBYTECODE: '1',
        CATALYST_LOG_FORMAT: 'text',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    this.children.add(child);
    const server = { name, port, pid: child.pid, child, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${name} exited during start-up:\n${stderr}`);
      try {
        const r = await this.request(server, { ...ready, timeoutMs: 2000 });
        if (ready.status === undefined || r.status === ready.status) {
          this.pinTree(child.pid, cpu);
          server.rssStartMb = rssMb(child.pid);
          return server;
        }
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`${name} did not start in ${timeoutMs / 1000} s:\n${stderr}`);
      await sleep(100);
    }
  }

  /**
   * An ASGI app `module:attribute` served by `python -m catalyst_runtime.serve` (one worker, access
   * log off) under uvicorn (uvloop, httptools) or, with `server: 'granian'`, under granian
   * (`--server granian`: one worker, one runtime thread, uvloop, the CATALYST_* limits mapped to
   * granian's settings), so the bench measures what `serve` offers.
   */
  serve(name, app, { server = 'uvicorn', env = {}, cpu = 0, ready, cwd, pythonPathFirst } = {}) {
    const argv = [this.python, '-m', 'catalyst_runtime.serve', app, '--host', '127.0.0.1', '--port', '{port}',
      '--no-access-log', '--log-level', 'warning', ...(server === 'granian' ? ['--server', 'granian'] : [])]; // prettier-ignore
    return this.start(name, argv, { env, cpu, ready, cwd, pythonPathFirst });
  }

  async stop(server) {
    if (!server || server.child.exitCode !== null) return;
    const tree = processTree(server.pid);
    const exited = new Promise((r) => server.child.once('exit', r));
    server.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    killPids(tree); // whatever is left, granian's worker included
    this.children.delete(server.child);
  }

  /** Kills every process this harness started (on exit or interrupt). */
  killAll() {
    // The whole tree: a SIGKILLed granian leaves its worker process running otherwise.
    killPids([...this.children].flatMap((child) => (child.exitCode === null ? processTree(child.pid) : [])));
    this.children.clear();
  }

  /** One request with fetch: { status, text, json, headers }. */
  async request(server, { path = '/', method, body, timeoutMs = 10_000 } = {}) {
    const response = await fetch(`${server.url}${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json, headers: response.headers };
  }

  /** Every server answers 200 with the same JSON; returns it. Throws naming the one that differs. */
  async check(servers, { path, body, method }) {
    const answers = [];
    for (const s of servers) answers.push(await this.request(s, { path, body, method }));
    const expected = JSON.stringify(answers[0].json);
    servers.forEach((s, i) => {
      const a = answers[i];
      if (a.status !== 200 || JSON.stringify(a.json) !== expected)
        throw new Error(`${s.name} answered ${a.status} ${a.text} (${servers[0].name}: ${expected})`);
    });
    return answers[0].json;
  }

  /**
   * One wrk run (one thread, pinned to CPU 1) against a server; the server's CPU and RSS are read
   * from /proc around it. Errors: non-2xx/3xx answers, socket errors (connect, read, write) and
   * time-outs, separately.
   */
  wrk(server, { path = '/', body, method, connections, seconds, timeout = '5s', threads = 1, cpu = 1 }) {
    const argv = this.pin(cpu, [
      this.wrkBin, `-t${threads}`, `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`,
      '--timeout', timeout, '-s', wrkScript, `${server.url}${path}`,
    ]); // prettier-ignore
    const env = {
      ...process.env,
      BENCH_METHOD: method ?? (body === undefined ? 'GET' : 'POST'),
      BENCH_BODY: body === undefined ? '' : JSON.stringify(body),
    };
    return new Promise((resolve, reject) => {
      const before = cpuSeconds(server.pid);
      const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c) => (out += c));
      child.stderr.on('data', (c) => (err += c));
      child.on('error', reject);
      child.on('close', (code) => {
        const cpu = cpuSeconds(server.pid) - before;
        const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
        if (code !== 0 || !line) {
          reject(new Error(`wrk failed against ${server.name}:\n${out}\n${err}`));
          return;
        }
        const r = JSON.parse(line.slice('BENCH_RESULT '.length));
        // No answer in the whole run: wrk's histogram is empty and its percentiles are zeros.
        const latency = (us) => (r.requests > 0 ? us / 1000 : NaN);
        resolve({
          rps: r.requests / (r.duration_us / 1e6),
          p50_ms: latency(r.latency_us.p50),
          p90_ms: latency(r.latency_us.p90),
          p99_ms: latency(r.latency_us.p99),
          max_ms: latency(r.latency_us.max),
          mean_ms: latency(r.latency_us.mean),
          requests: r.requests,
          non2xx: r.errors.status,
          socket_errors: r.errors.connect + r.errors.read + r.errors.write,
          timeouts: r.errors.timeout,
          cpu_us_per_req: r.requests ? (cpu * 1e6) / r.requests : NaN,
          rss_mb: rssMb(server.pid),
        });
      });
    });
  }

  /**
   * Interleaved rounds. contenders: [{ name, server, path, body, method }]. For every round, every
   * connection count, every contender (order rotated by one each round): `warmup` s of discarded
   * load, then `duration` s measured. beforeRound(round) runs first in each round and may return
   * runs of its own (same shape, e.g. the upstream alone), kept with the others.
   */
  async rounds(contenders, { connections = [1, 64], beforeRound, rounds, duration, warmup, timeout } = {}) {
    rounds ??= this.options.rounds;
    duration ??= this.options.duration;
    warmup ??= this.options.warmup;
    const runs = [];
    for (let round = 0; round < rounds; round++) {
      if (beforeRound) runs.push(...((await beforeRound(round)) ?? []));
      const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]);
      for (const c of connections) {
        for (const k of order) {
          const load = { path: k.path, body: k.body, method: k.method, connections: c, timeout };
          if (warmup > 0) await this.wrk(k.server, { ...load, seconds: warmup });
          const r = await this.wrk(k.server, { ...load, seconds: duration });
          runs.push({ contender: k.name, connections: c, round, ...r });
          this.log(
            `round ${round + 1}/${rounds} c=${String(c).padEnd(3)} ${k.name.padEnd(22)} ${r.rps.toFixed(0).padStart(6)} req/s  ` +
              `p50 ${r.p50_ms.toFixed(2)} ms  p99 ${r.p99_ms.toFixed(2)} ms  cpu ${r.cpu_us_per_req.toFixed(0)} µs/req  ` +
              `requests ${r.requests}  errors (non-2xx/socket/time-out) ` +
              `${r.non2xx}/${r.socket_errors}/${r.timeouts}`,
          );
        }
      }
    }
    return runs;
  }

  /** Median over rounds of a[key] ÷ b[key], each pair from the same round and connection count. */
  paired(runs, a, b, key, connections) {
    const ratios = [];
    for (const x of runs.filter((r) => r.contender === a && r.connections === connections)) {
      const y = runs.find((r) => r.contender === b && r.connections === connections && r.round === x.round);
      if (y) ratios.push(x[key] / y[key]);
    }
    return median(ratios);
  }

  /** Median of one contender's key over rounds. */
  medianOf(runs, contender, key, connections) {
    return median(runs.filter((r) => r.contender === contender && r.connections === connections).map((r) => r[key]));
  }

  /**
   * One row per contender × connections, in first-seen order: medians over rounds, error counts
   * summed, and this ÷ reference for req/s, p50 and CPU, paired per round.
   */
  summarise(runs, { reference } = {}) {
    const rows = [];
    const keys = [...new Set(runs.map((r) => `${r.connections}\u0000${r.contender}`))];
    keys.sort((x, y) => Number(x.split('\u0000')[0]) - Number(y.split('\u0000')[0]));
    for (const key of keys) {
      const [c, contender] = key.split('\u0000');
      const connections = Number(c);
      const mine = runs.filter((r) => r.contender === contender && r.connections === connections);
      const m = (k) => median(mine.map((r) => r[k]));
      const sum = (k) => mine.reduce((a, r) => a + (r[k] ?? 0), 0);
      const row = {
        contender,
        connections,
        rounds: mine.length,
        rps: m('rps'),
        p50_ms: m('p50_ms'),
        p90_ms: m('p90_ms'),
        p99_ms: m('p99_ms'),
        cpu_us_per_req: m('cpu_us_per_req'),
        rss_mb: m('rss_mb'),
        requests: sum('requests'),
        non2xx: sum('non2xx'),
        socket_errors: sum('socket_errors'),
        timeouts: sum('timeouts'),
      };
      if (reference && contender !== reference && runs.some((r) => r.contender === reference)) {
        row.ratio_rps = this.paired(runs, contender, reference, 'rps', connections);
        row.ratio_p50 = this.paired(runs, contender, reference, 'p50_ms', connections);
        row.ratio_cpu = this.paired(runs, contender, reference, 'cpu_us_per_req', connections);
      }
      rows.push(row);
    }
    return rows;
  }

  /**
   * The two charts every scenario gets: latency percentiles (p50/p90/p99) per contender, one panel
   * per connection count, and requests/s per contender and connection count.
   */
  standardCharts(id, title, rows) {
    const conns = [...new Set(rows.map((r) => r.connections))];
    const names = [...new Set(rows.map((r) => r.contender))];
    const at = (name, c, k) => rows.find((r) => r.contender === name && r.connections === c)?.[k] ?? null;
    return [
      {
        file: `${id}-latency.png`,
        title: `${title}: latency percentiles (ms, medians over rounds)`,
        panels: conns.map((c) => ({
          title: `${c} connection${c === 1 ? '' : 's'}`,
          ylabel: 'ms',
          groups: names,
          series: ['p50', 'p90', 'p99'].map((p) => ({ label: p, values: names.map((n) => at(n, c, `${p}_ms`)) })),
        })),
      },
      {
        file: `${id}-throughput.png`,
        title: `${title}: requests/s (medians over rounds)`,
        panels: [
          {
            title: '',
            ylabel: 'requests/s',
            groups: names,
            series: conns.map((c) => ({ label: `c=${c}`, values: names.map((n) => at(n, c, 'rps')) })),
          },
        ],
      },
    ];
  }
}
