// Compiler speed: compiles generated workflows of 10 … 2000 nodes with the built compiler and
// reports the median and p95 time per size, and the time per node (flat = linear growth).
//   node tools/bench/compile-bench.mjs              build the plugin, then measure
//   node tools/bench/compile-bench.mjs --no-build   measure the existing dist/
// Writes tools/bench/results/compile-bench.md (and .json); docs/compiler-performance.md quotes it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const results = join(repoRoot, 'tools', 'bench', 'results');
const SIZES = [10, 50, 100, 250, 500, 1000, 2000];
const BUDGET_MS = 250; // for 500 nodes (issue 3)

if (!process.argv.includes('--no-build')) {
  const build = spawnSync(process.execPath, [join(repoRoot, 'tools', 'build-plugin.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const require = createRequire(import.meta.url);
const { compileService } = require(join(repoRoot, 'packages', 'catalyst-plugin', 'dist', 'compiler'));

/** A workflow of `n` transform nodes: each reads the input and up to two earlier nodes. */
function definition(n) {
  const lines = [
    `id: bench_${n}`,
    'input:',
    '  type: object',
    '  properties:',
    '    name: { type: string, minLength: 1 }',
    '    count: { type: integer, default: 3 }',
    '    tags: { type: array, items: { type: string } }',
    '    meta: { type: object }',
    '  required: [name, tags]',
    'nodes:',
  ];
  for (let i = 0; i < n; i++) {
    const prev = i > 0 ? `nodes.n${i - 1}` : undefined;
    const far = i >= 7 ? `nodes.n${i - 7}` : undefined;
    lines.push(`  - id: n${i}`, '    type: transform');
    if (i % 10 === 9) lines.push('    when: "{{ input.count > 0 }}"');
    lines.push('    set:');
    lines.push(`      text: "Hello {{ input.name | upper }}, step ${i} of {{ input.tags | length }}"`);
    lines.push(`      total: "{{ ${prev ? `${prev}.total | default(0)` : '0'} + input.count * 2 }}"`);
    lines.push(`      label: "{{ 'big' if ${far ? `${far}.total | default(0)` : 'input.count'} > 10 else 'small' }}"`);
    lines.push(`      tags: "{{ input.tags | join(', ') | trim }}"`);
  }
  lines.push(
    'output:',
    `  total: "{{ nodes.n${n - 1}.total | default(0) }}"`,
    `  text: "{{ nodes.n${n - 1}.text | default('') }}"`,
  );
  return `${lines.join('\n')}\n`;
}

function measure(n) {
  const sources = [{ path: `workflows/bench_${n}.workflow.yaml`, text: definition(n) }];
  const options = { packageName: 'bench', serviceName: 'bench' };
  const first = compileService(sources, options);
  if (first.diagnostics.some((d) => d.severity === 'error'))
    throw new Error(JSON.stringify(first.diagnostics.slice(0, 3)));
  const times = [];
  const started = performance.now();
  while (times.length < 5 || (performance.now() - started < 1500 && times.length < 200)) {
    const t = performance.now();
    compileService(sources, options);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const pick = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  const bytes = first.files.reduce((sum, f) => sum + f.contents.length, 0);
  return {
    nodes: n,
    sourceBytes: sources[0].text.length,
    outputBytes: bytes,
    runs: times.length,
    medianMs: pick(0.5),
    p95Ms: pick(0.95),
  };
}

for (let i = 0; i < 3; i++) measure(100); // warm the JIT
const rows = SIZES.map(measure);
const fmt = (x, d = 1) => x.toFixed(d);
const table = [
  '| nodes | definition | output | runs | median ms | p95 ms | µs per node |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.nodes} | ${fmt(r.sourceBytes / 1024)} KB | ${fmt(r.outputBytes / 1024)} KB | ${r.runs} | ${fmt(r.medianMs)} | ${fmt(r.p95Ms)} | ${fmt((r.medianMs * 1000) / r.nodes, 0)} |`,
  ),
].join('\n');
const at500 = rows.find((r) => r.nodes === 500);
const verdict = `500 nodes: median ${fmt(at500.medianMs)} ms (budget ${BUDGET_MS} ms) — ${at500.medianMs < BUDGET_MS ? 'within budget' : 'OVER BUDGET'}.`;
const env = `Node ${process.version}, ${process.platform}/${process.arch}.`;
mkdirSync(results, { recursive: true });
writeFileSync(join(results, 'compile-bench.json'), `${JSON.stringify({ env, rows }, null, 2)}\n`);
writeFileSync(join(results, 'compile-bench.md'), `${table}\n\n${verdict} ${env}\n`);
console.log(`${table}\n\n${verdict} ${env}`);
process.exit(at500.medianMs < BUDGET_MS ? 0 : 1);
