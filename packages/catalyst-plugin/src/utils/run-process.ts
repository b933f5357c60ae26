import { spawn, type SpawnOptions } from 'node:child_process';

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs a command with inherited stdio until it exits. SIGINT/SIGTERM/SIGHUP received by this
 * process are passed on to the child (so uvicorn shuts down cleanly, running its lifespan
 * shutdown) instead of killing this process first. Resolves with the child's exit code, or 0
 * when the child ended on a signal that was forwarded to it (a requested stop is a success).
 * With `onOutput`, the child's stdout and stderr are piped to it instead of inherited.
 */
export function runForwardingSignals(
  command: string,
  args: string[],
  options: SpawnOptions,
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const stdio: SpawnOptions['stdio'] = onOutput ? ['inherit', 'pipe', 'pipe'] : 'inherit';
    const child = spawn(command, args, { stdio, ...options });
    if (onOutput) {
      child.stdout?.on('data', (chunk: Buffer) => onOutput('stdout', chunk));
      child.stderr?.on('data', (chunk: Buffer) => onOutput('stderr', chunk));
    }
    let forwarded: NodeJS.Signals | undefined;
    const handlers = FORWARDED_SIGNALS.map((signal) => {
      const handler = () => {
        forwarded = signal;
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const cleanup = () => handlers.forEach(([signal, handler]) => process.off(signal, handler));
    child.on('error', (e) => {
      cleanup();
      reject(e);
    });
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      cleanup();
      if (code !== null) resolve(forwarded && (code === 0 || code === 130 || code === 143) ? 0 : code);
      else resolve(signal && signal === forwarded ? 0 : 1);
    };
    // Piped output is read to its end ('close') before the result is given, unless a process the
    // child left behind keeps the pipes open: then a second after the child's exit.
    child.on('close', finish);
    child.on('exit', (code, signal) => {
      if (onOutput) setTimeout(() => finish(code, signal), 1000).unref();
      else finish(code, signal);
    });
  });
}
