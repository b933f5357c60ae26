import { spawn, type SpawnOptions } from 'node:child_process';

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Runs a command with inherited stdio until it exits. SIGINT/SIGTERM/SIGHUP received by this
 * process are passed on to the child (so uvicorn shuts down cleanly, running its lifespan
 * shutdown) instead of killing this process first. Resolves with the child's exit code, or 0
 * when the child ended on a signal that was forwarded to it (a requested stop is a success).
 *
 * With `ownProcessGroup` (POSIX only) the child gets its own process group, so each stop signal
 * reaches it exactly once, through this process. Otherwise Ctrl-C (which the terminal sends to
 * the whole foreground group) or a group kill reaches uvicorn twice, directly and again through
 * uv, which forwards what it gets; uvicorn takes a second SIGINT as "force exit" and skips the
 * app's lifespan shutdown, leaving pools unclosed. The price: a process outside the foreground
 * group cannot read the terminal, so it is not used for pytest (`--pdb` must keep working).
 * Should this process exit while the child still runs, the child is told to stop too.
 */
export function runForwardingSignals(
  command: string,
  args: string[],
  options: SpawnOptions,
  { ownProcessGroup = false }: { ownProcessGroup?: boolean } = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const detached = ownProcessGroup && process.platform !== 'win32';
    const child = spawn(command, args, { stdio: 'inherit', ...options, detached });
    const stopOrphan = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    process.once('exit', stopOrphan);
    let forwarded: NodeJS.Signals | undefined;
    const handlers = FORWARDED_SIGNALS.map((signal) => {
      const handler = () => {
        forwarded = signal;
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      };
      process.on(signal, handler);
      return [signal, handler] as const;
    });
    const cleanup = () => {
      handlers.forEach(([signal, handler]) => process.off(signal, handler));
      process.off('exit', stopOrphan);
    };
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
