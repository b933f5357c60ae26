// Renders docs/benchmarks.md from the scenarios' results (the interface is in harness.mjs's header
// comment) and the run's metadata; charts are drawn by tools/bench/contenders/charts.py.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../../uv.mjs';

const num = (v, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '–');
const ms = (v) => (Number.isFinite(v) ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) : '–');
const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '');
const verdictWord = (met) => (met === true ? 'met' : met === false ? '**not met**' : 'not measured');

/** The main table of a scenario: one row per contender × connections. */
export function rowsTable(rows, reference) {
  const ref = reference ? ` ÷ ${reference}` : '';
  const out = [
    `| contender | conns | req/s | p50 ms | p90 ms | p99 ms | server CPU µs/req | RSS MB | errors (non-2xx / socket / time-out) |${reference ? ` req/s${ref} | CPU${ref} |` : ''}`,
    `|---|--:|--:|--:|--:|--:|--:|--:|--:|${reference ? '--:|--:|' : ''}`,
  ];
  for (const r of rows) {
    out.push(
      `| ${r.contender} | ${r.connections} | ${num(r.rps)} | ${ms(r.p50_ms)} | ${ms(r.p90_ms)} | ${ms(r.p99_ms)} | ` +
        `${num(r.cpu_us_per_req)} | ${num(r.rss_mb)} | ${r.non2xx} / ${r.socket_errors} / ${r.timeouts} |` +
        (reference ? ` ${ratio(r.ratio_rps)} | ${ratio(r.ratio_cpu)} |` : ''),
    );
  }
  return out;
}

export function renderScenario(scenario, result, chartsDir) {
  const lines = [`## ${scenario.id.toUpperCase()}. ${scenario.title}`, '', `**Target:** ${scenario.target}`, ''];
  if (result.error) {
    lines.push(`**The scenario failed:** \`${result.error.split('\n')[0]}\``, '');
    return lines;
  }
  for (const p of result.setup ?? []) lines.push(p, '');
  if (result.rows?.length) lines.push(...rowsTable(result.rows, result.reference), '');
  if (result.reference)
    lines.push(
      `Medians over ${result.rows[0]?.rounds ?? '?'} round(s). The ratio columns are this contender ÷ ${result.reference}, ` +
        'taken per round (both measured in the same round, under the same load) and then the median. ' +
        "Server CPU is the server's process tree's user + system time over the measured run divided by the requests it " +
        'answered; RSS is read after the run.',
      '',
    );
  if (result.verdicts?.length) {
    lines.push('Against the target:', '');
    for (const v of result.verdicts) {
      lines.push(`- *${v.target}*: ${verdictWord(v.met)} — ${v.measured}.${v.gap ? ` Gap: ${v.gap}` : ''}`);
    }
    lines.push('');
  }
  for (const t of result.tables ?? []) {
    if (t.title) lines.push(t.title, '');
    lines.push(`| ${t.columns.join(' | ')} |`, `|${t.columns.map(() => '---').join('|')}|`);
    for (const row of t.rows) lines.push(`| ${row.join(' | ')} |`);
    lines.push('');
  }
  for (const c of result.charts ?? []) lines.push(`![${c.title}](${chartsDir}/${c.file})`, '');
  for (const n of result.notes ?? []) lines.push(n, '');
  return lines;
}

/**
 * meta: { command, startedAt, elapsedS, estimate, quick, machine: { cpu, cores, loadBefore,
 * loadAfter, otherCores }, versions: { python, packages, wrk, node }, options, pinned, work }.
 */
export function renderReport(meta, sections, chartsDir) {
  const m = meta.machine;
  const lines = [
    '# Benchmarks',
    '',
    meta.quick
      ? '**A smoke run (`--quick`: one round of short runs), not a measurement: the numbers below only show that every part works.**\n'
      : '',
    'Written by `npm run bench` (`node tools/bench/bench.mjs`); every figure below is from the run that wrote this ' +
      `file. A full run of every scenario takes about ${Math.round(meta.estimate / 60)} minutes; \`--quick\` a few. ` +
      'From a fresh clone it needs Node, Python 3.11+ and wrk (installed with apt-get when run as root or with sudo); ' +
      'it builds the plugin and installs the contenders itself. How it works, and how to add a scenario: ' +
      '`tools/bench/lib/harness.mjs` and [performance.md](performance.md).',
    '',
    `- Command: \`${meta.command}\`, started ${meta.startedAt}, ${num(meta.elapsedS)} s in all.`,
    `- Machine: ${m.cores} × ${m.cpu}; load average ${m.loadBefore.join(' / ')} before and ${m.loadAfter.join(' / ')} after (1 / 5 / 15 min)` +
      (m.otherCores !== undefined
        ? `; work outside the bench used ${m.otherCores} cores on average while it ran (the bench itself keeps both busy, so the load average during a run says little).`
        : '.'),
    `- Versions: Python ${meta.versions.python}; ${meta.versions.packages}; ${meta.versions.wrk}; Node ${meta.versions.node}.`,
    `- Method: ${meta.pinned ? 'every server pinned to CPU 0 (every thread and child, once it answers), wrk pinned to CPU 1' : '**not pinned** (no taskset or a single core)'}; ` +
      'one worker per server; `wrk -t1 -cN` with a keep-alive connection per N, closed loop, the body and the latency ' +
      "percentiles through `tools/bench/lib/wrk.lua` (wrk's own histogram); " +
      `${meta.options.warmup} s of discarded warm-up before each ${meta.options.duration} s measured run; ` +
      `${meta.options.rounds} round(s), the order of the contenders rotated each round; medians over rounds, ` +
      'ratios paired per round.',
    '- Server and load commands: `python -m catalyst_runtime.serve MODULE:APP --host 127.0.0.1 --port PORT ' +
      '--no-access-log --log-level warning` (uvicorn, uvloop, httptools, one worker), with `--server granian` for the ' +
      'granian rows (one worker, one runtime thread, uvloop), ' +
      'then `taskset -a -p -c 0 PID` for the server and each of its threads and children once it answers; ' +
      '`taskset -c 1 wrk -t1 -cN -dDs --timeout 5s -s tools/bench/lib/wrk.lua URL` (time-out 10 s in B) with `BENCH_METHOD` and `BENCH_BODY` ' +
      'in its environment. The apps are in `tools/bench/http/`.',
    `- Workflows compiled by the built compiler's API (\`packages/catalyst-plugin/dist/compiler\`'s \`compileService\`, ` +
      'as the Nx executor calls it) into a temporary package; every server runs from the environment of ' +
      '`tools/bench/contenders` (its `uv.lock`), so all contenders share one FastAPI, uvicorn, pydantic, orjson and aiohttp.',
    '',
  ];
  for (const { scenario, result } of sections) lines.push(...renderScenario(scenario, result, chartsDir));
  return `${lines.join('\n').replace(/\n{3,}/g, '\n\n')}\n`;
}

/** Draws every chart spec with the contenders' matplotlib into outDir; returns the files written. */
export function writeCharts(python, specs, outDir) {
  if (!specs.length) return [];
  const out = spawnSync(python, [join(repoRoot, 'tools', 'bench', 'contenders', 'charts.py'), outDir], {
    input: JSON.stringify(specs),
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`charts.py failed:\n${out.stderr}`);
  return out.stdout.trim().split('\n');
}
