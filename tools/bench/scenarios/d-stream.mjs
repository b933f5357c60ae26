// Scenario D: an LLM's tokens streamed through a generated service. tools/bench/sse_overhead.py
// serves the stream_llm golden (an Anthropic llm node with stream: true) under
// `python -m catalyst_runtime.serve`, its SDK pointed at a loopback provider in a process of its
// own (first token 100 ms after the request, then one every 10 ms), and reads the same answer
// two ways in interleaved rounds: the provider's stream directly, and through the service. The
// difference is what the service adds. It runs in the runtime's own environment (the provider
// SDKs are its `llm` extra, in its dev group), synced from runtime/uv.lock first.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureUv, repoRoot, uvEnv } from '../../uv.mjs';
import { pluginDir } from '../lib/compile.mjs';

export const id = 'd';
export const title = 'LLM stream (loopback provider: first token at 100 ms, then one per 10 ms)';
export const target = '≤ 5 ms added to the first token; ≤ 1 ms per token';
// 30 rounds of two 50-token streams, 5 s of idle CPU, start-up.
export const estimate = { seconds: 120, quick: 75 };

const script = join(repoRoot, 'tools', 'bench', 'sse_overhead.py');
const runtimeDir = join(pluginDir, 'runtime');
const fmt = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : '–');

export async function run(h, options) {
  const rounds = options.quick ? 6 : 30;
  const tokens = options.quick ? 20 : 50;
  const uv = ensureUv();
  const env = uvEnv();
  const sync = spawnSync(uv, ['sync', '--locked', '--project', runtimeDir], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env,
  });
  if (sync.status !== 0) throw new Error('uv sync --locked of the runtime failed');
  const scratch = mkdtempSync(join(tmpdir(), 'catalyst-bench-d-'));
  const out = join(scratch, 'd.json');
  const command = ['run', '--project', runtimeDir, '--no-sync', 'python', script, '--rounds', String(rounds), '--tokens', String(tokens), '--json', out]; // prettier-ignore
  h.log(`sse_overhead.py: ${rounds} rounds of ${tokens} tokens, the provider directly and through the service`);
  const ran = spawnSync(uv, command, { encoding: 'utf8', env, cwd: repoRoot, maxBuffer: 64 << 20 });
  if (ran.status !== 0)
    throw new Error(`sse_overhead.py failed:\n${ran.stdout.slice(-2000)}\n${ran.stderr.slice(-3000)}`);
  const figures = JSON.parse(readFileSync(out, 'utf8'));
  rmSync(scratch, { recursive: true, force: true });
  const m = figures.median;
  const p = figures.p90;
  const firstAdded = m.service_ttft - m.direct_ttft;
  const tokenAdded = m.service_token - m.direct_token;
  h.log(`first token +${fmt(firstAdded)} ms, per token +${fmt(tokenAdded)} ms (medians)`);
  const rows = [
    ['time to first token, median', fmt(m.direct_ttft), fmt(m.service_ttft), fmt(firstAdded)],
    ['per-token delay, median', fmt(m.direct_token), fmt(m.service_token), fmt(tokenAdded)],
    ['time to first token, p90', fmt(p.direct_ttft), fmt(p.service_ttft), fmt(p.service_ttft - p.direct_ttft)],
    ['per-token delay, p90', fmt(p.direct_token), fmt(p.service_token), fmt(p.service_token - p.direct_token)],
  ];
  return {
    verdicts: [
      {
        target: '≤ 5 ms added to the first token',
        met: Number.isFinite(firstAdded) ? firstAdded <= 5 : null,
        measured: `${fmt(firstAdded)} ms (median of ${rounds} rounds; p90 ${fmt(p.service_ttft - p.direct_ttft)} ms)`,
        gap:
          firstAdded > 5
            ? `the service's own CPU per streamed request is ${fmt(m.service_cpu_ms, 1)} ms; on a busy machine the ` +
              'rest is waiting for a core (every process here is unpinned), so run it again on a quiet one.'
            : undefined,
      },
      {
        target: '≤ 1 ms per token',
        met: Number.isFinite(tokenAdded) ? tokenAdded <= 1 : null,
        measured: `${fmt(tokenAdded)} ms (median over ${rounds} × ${tokens} tokens; p90 ${fmt(p.service_token - p.direct_token)} ms)`,
      },
    ],
    setup: [
      '`tools/bench/sse_overhead.py`: the `stream_llm` golden (an Anthropic `llm` node with `stream: true`) under ' +
        '`python -m catalyst_runtime.serve`, its SDK pointed at a loopback provider ' +
        '(`catalyst_runtime.testing_providers`, its own process) that sends the first token ' +
        `${figures.first_delay_ms} ms after the request and then one every ${figures.delay_ms} ms, noting when it ` +
        `wrote each. ${rounds} interleaved rounds of ${tokens} tokens, read two ways with httpx: *provider directly* ` +
        '(its own event stream, as the SDK reads it) and *generated* (`POST /ask`, the `token` events). Time to first ' +
        'token is from sending the request to reading the first token; the per-token delay from the provider writing ' +
        'a token to the client reading it. Processes are not pinned (three of them stream to each other). Run in the ' +
        "runtime's own environment (`runtime/uv.lock`, whose dev group has the provider SDKs).",
    ],
    tables: [{ title: '', columns: ['figure (ms)', 'provider directly', 'generated', 'added'], rows }],
    notes: [
      `The service's CPU time per streamed request: ${fmt(m.service_cpu_ms, 1)} ms (its idle CPU, ` +
        `${fmt(m.idle_cpu_ms_per_s, 1)} ms a second, taken out). A hand-written FastAPI endpoint around the same SDK ` +
        'is not measured: what the service adds over the provider is the figure that matters here, and a hand-written ' +
        'relay would pay the same SDK.',
    ],
    runs: figures,
  };
}
