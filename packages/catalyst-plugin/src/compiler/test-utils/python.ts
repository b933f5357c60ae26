/** Runs one Python script over a batch of inputs (JSON on stdin, JSON on stdout): one process per batch. */
import { spawnSync } from 'node:child_process';

export function runPython<T>(script: string, input: unknown, env: Record<string, string> = {}): T {
  const result = spawnSync(process.env.PYTHON ?? 'python3', ['-c', script], {
    input: JSON.stringify(input),
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`python failed (${result.status}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}
