/**
 * Reads the output of `python -m catalyst_runtime.serve` while the service starts, so that a
 * service that cannot start says why on one line, before the traceback that explains it.
 *
 * uvicorn logs a failed start-up (a missing secret raised by the app's lifespan, a port in use, a
 * module that does not import) as a traceback or an `ERROR:` line and then exits; the reason is
 * the last line of the traceback, or the `ERROR:` line. From the first such line until the
 * start-up ends, the output is held back: when the service then fails, the reason is written
 * first and the held output after it; when it starts after all (or says nothing more for
 * {@link HOLD_MS}), the held output is written as it was.
 */

export type Stream = 'stdout' | 'stderr';

/** How long held output may wait for the start-up to end before it is written anyway. */
export const HOLD_MS = 3000;

const TRACEBACK = /^(?:(?:ERROR|CRITICAL):\s+)?Traceback \(most recent call last\):/;
const TROUBLE = /^(?:(?:ERROR|CRITICAL):|Traceback \(most recent call last\):|error:)/;
/** An error uvicorn logged, or one uv printed (`error: Failed to …`). */
const LOGGED_ERROR = /^(?:(?:ERROR|CRITICAL):|error:)\s+(.*\S)/;
/**
 * The line after which the server is up. Without the reloader uvicorn binds its socket after the
 * app's start-up, and a port in use fails only then; with it, the reloader binds first and each
 * server process it starts ends its start-up with the app's. granian binds first and logs
 * `Started worker-N` once that worker's app has started.
 */
const LISTENING = /Uvicorn running on\b|^INFO:\s+Started worker-\d+$/;
const APP_STARTED = /Application startup complete\b/;
/** uvicorn's, and granian's (`--server granian`: it binds first, then each worker starts the app). */
const STARTUP_FAILED = /Application startup failed\b|ASGI lifespan startup failed\b/;
/** A new server process (the first, or the one uvicorn's reloader starts after a change). */
const STARTING = /Started server process\b/;
/** uvicorn's and granian's own lines that say nothing about the cause. */
const GENERIC =
  /^(?:Application startup failed\b|Traceback \(most recent call last\):|Exception in 'lifespan' protocol|ASGI lifespan startup failed\b|Unexpected exit from worker-\d+)/;
const INFO = /^(?:INFO|DEBUG|TRACE|WARNING):/;

/** `catalyst_runtime.errors.ConfigError: API_KEY: …` → `ConfigError: API_KEY: …`. */
function unqualify(exceptionLine: string): string {
  const match = /^(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*(?::|$))/.exec(exceptionLine);
  return match ? match[1] + exceptionLine.slice(match[0].length) : exceptionLine;
}

/**
 * Why a service did not start, read off its output: the exception a traceback ended with, or the
 * last error uvicorn logged, whichever came last; else the last line that is not an INFO line.
 */
export function startupFailureReason(lines: readonly string[]): string | undefined {
  let exception: { index: number; text: string } | undefined;
  let logged: { index: number; text: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (TRACEBACK.test(lines[i])) {
      // The exception line is the first line after the frames that is not indented.
      for (let j = i + 1; j < lines.length; j++) {
        if (lines[j].length > 0 && !/^\s/.test(lines[j])) {
          if (!TRACEBACK.test(lines[j]) && !/^During handling of|^The above exception/.test(lines[j])) {
            exception = { index: j, text: unqualify(lines[j].trim()) };
          }
          break;
        }
      }
    }
    const error = LOGGED_ERROR.exec(lines[i]);
    if (error && !GENERIC.test(error[1])) logged = { index: i, text: error[1] };
  }
  const best = [exception, logged].filter((c) => c !== undefined).sort((a, b) => b.index - a.index)[0];
  if (best) return best.text;
  const last = [...lines].reverse().find((line) => line.trim().length > 0 && !INFO.test(line));
  return last?.trim();
}

export class StartupMonitor {
  private state: 'starting' | 'holding' | 'running' = 'starting';
  private held: [Stream, string][] = [];
  /** The lines of the current start-up, to read the reason off. */
  private lines: string[] = [];
  private partial: Record<Stream, string> = { stdout: '', stderr: '' };
  private timer: NodeJS.Timeout | undefined;
  /** Whether this start-up's failure was reported already. */
  private failed = false;

  /**
   * @param write where the output goes (the executor's own stdout and stderr)
   * @param reportFailure writes the one-line reason (the executor logs it as an error)
   */
  constructor(
    private readonly write: (stream: Stream, text: string) => void,
    private readonly reportFailure: (reason: string | undefined) => void,
    { reload = false, holdMs = HOLD_MS }: { reload?: boolean; holdMs?: number } = {},
  ) {
    this.startedLine = reload ? APP_STARTED : LISTENING;
    this.holdMs = holdMs;
  }

  private readonly startedLine: RegExp;
  private readonly holdMs: number;

  /** A chunk of the child's output. */
  data(stream: Stream, chunk: Buffer | string): void {
    const text = this.partial[stream] + chunk.toString();
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const part of parts) this.line(stream, part);
  }

  private line(stream: Stream, line: string): void {
    const bare = line.replace(/\r$/, '');
    if (STARTING.test(bare)) {
      this.flush();
      this.restart();
    }
    if (this.state === 'running') {
      this.write(stream, `${line}\n`);
      return;
    }
    this.lines.push(bare);
    if (this.lines.length > 500) this.lines.splice(0, this.lines.length - 500);
    if (this.state === 'starting' && TROUBLE.test(bare)) this.state = 'holding';
    if (this.state === 'holding') {
      this.held.push([stream, `${line}\n`]);
      if (STARTUP_FAILED.test(bare)) {
        this.fail();
      } else if (this.startedLine.test(bare)) {
        this.flush();
        this.state = 'running';
      } else {
        this.armTimer();
      }
      return;
    }
    this.write(stream, `${line}\n`);
    if (this.startedLine.test(bare)) this.state = 'running';
  }

  /** The child exited with `code` (0 for a requested stop): a failed start-up says why, first. */
  exit(code: number): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.partial[stream]) this.line(stream, this.partial[stream]);
      this.partial[stream] = '';
    }
    if (code !== 0 && this.state !== 'running' && !this.failed) this.fail();
    else this.flush();
    this.clearTimer();
  }

  private fail(): void {
    this.reportFailure(startupFailureReason(this.lines));
    this.failed = true;
    this.flush();
    this.state = 'starting';
  }

  private restart(): void {
    this.state = 'starting';
    this.lines = [];
    this.failed = false;
  }

  private flush(): void {
    this.clearTimer();
    for (const [stream, text] of this.held) this.write(stream, text);
    this.held = [];
    if (this.state === 'holding') this.state = 'starting';
  }

  private armTimer(): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.flush(), this.holdMs);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
