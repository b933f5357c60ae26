import { spawn, type SpawnOptions } from 'node:child_process';

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs a command with inherited stdio until it exits. SIGINT/SIGTERM/SIGHUP received by this
 * process are passed on to the child (so uvicorn shuts down cleanly, running its lifespan
 * shutdown) instead of killing this process first. Resolves with the child's exit code, or 0
 * when the child ended on a signal that was forwarded to it (a requested stop is a success).
 */
export function runForwardingSignals(command: string, args: string[], options: SpawnOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', ...options });
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
    child.on('exit', (code, signal) => {
      cleanup();
      if (code !== null) resolve(forwarded && (code === 0 || code === 130 || code === 143) ? 0 : code);
      else resolve(signal && signal === forwarded ? 0 : 1);
    });
  });
}
