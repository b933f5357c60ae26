import { StartupMonitor, startupFailureReason, type Stream } from './startup-monitor';

// What `python -m catalyst_runtime.serve` printed for a service whose workflow reads a secret
// that is not set (uvicorn's lifespan failure), cut to its shape.
const MISSING_SECRET = [
  'INFO:     Started server process [5079]',
  'INFO:     Waiting for application startup.',
  'ERROR:    Traceback (most recent call last):',
  '  File "/ws/.venv/lib/python3.11/site-packages/starlette/routing.py", line 661, in lifespan',
  '    async with self.lifespan_context(app) as maybe_state:',
  '  File "/ws/libs/catalyst-runtime/src/catalyst_runtime/app.py", line 104, in check_secrets',
  '    raise ConfigError(',
  "catalyst_runtime.errors.ConfigError: API_KEY: required by this service's workflows but not set in the environment; export it or add it to .env",
  '',
  'ERROR:    Application startup failed. Exiting.',
];
const SECRET_REASON =
  "ConfigError: API_KEY: required by this service's workflows but not set in the environment; export it or add it to .env";

// uvicorn binds after the app's start-up.
const PORT_IN_USE = [
  'INFO:     Started server process [3275]',
  'INFO:     Waiting for application startup.',
  'INFO:     Application startup complete.',
  "ERROR:    [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
  'INFO:     Waiting for application shutdown.',
  'INFO:     Application shutdown complete.',
];

const IMPORT_ERROR = [
  'Traceback (most recent call last):',
  '  File "<frozen runpy>", line 198, in _run_module_as_main',
  '  File "<frozen importlib._bootstrap>", line 1140, in _find_and_load_unlocked',
  "ModuleNotFoundError: No module named 'nosuch'",
];

// The same under `--server granian`: the app's one line, then granian's own.
const GRANIAN_MISSING_SECRET = [
  'INFO:     Starting granian (main PID: 4626)',
  'INFO:     Listening at: http://127.0.0.1:8000',
  'INFO:     Spawning worker-1 with PID: 4696',
  `ERROR:    ${SECRET_REASON}`,
  'ERROR:    ASGI lifespan startup failed',
  'ERROR:    Unexpected exit from worker-1',
  'INFO:     Shutting down granian',
  'INFO:     Stopped worker-1',
];

function run(lines: string[], code: number, { chunked = false } = {}) {
  const out: string[] = [];
  const monitor = new StartupMonitor(
    (_stream: Stream, text: string) => out.push(text),
    (reason) => out.push(`REASON ${reason}\n`),
  );
  const text = lines.map((l) => `${l}\n`).join('');
  if (chunked) for (const ch of text) monitor.data('stderr', ch);
  else monitor.data('stderr', Buffer.from(text));
  monitor.exit(code);
  return out.join('').split('\n').slice(0, -1);
}

describe('startupFailureReason', () => {
  it('is the exception a traceback ended with, without its module', () => {
    expect(startupFailureReason(MISSING_SECRET)).toBe(SECRET_REASON);
    expect(startupFailureReason(IMPORT_ERROR)).toBe("ModuleNotFoundError: No module named 'nosuch'");
  });

  it("is the app's error under granian, not granian's lines about the worker", () => {
    expect(startupFailureReason(GRANIAN_MISSING_SECRET)).toBe(SECRET_REASON);
  });

  it('is the error uvicorn logged when there is no traceback', () => {
    expect(startupFailureReason(PORT_IN_USE)).toBe(
      "[Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
    );
  });

  it('is the error uv printed when uv itself failed', () => {
    expect(
      startupFailureReason(['error: Failed to spawn: `python`', '  Caused by: No such file or directory (os error 2)']),
    ).toBe('Failed to spawn: `python`');
  });

  it('is the last line that is not INFO otherwise (a message given to sys.exit, a uv error)', () => {
    expect(startupFailureReason(['INFO:     x', 'catalyst_runtime.serve: CATALYST_MAX_BODY_BYTES: not a number'])).toBe(
      'catalyst_runtime.serve: CATALYST_MAX_BODY_BYTES: not a number',
    );
    expect(startupFailureReason(['INFO: only'])).toBeUndefined();
  });
});

describe('StartupMonitor', () => {
  it('writes the reason of a failed start-up first, then the output that explains it', () => {
    const out = run(MISSING_SECRET, 3);
    expect(out.slice(0, 2)).toEqual(MISSING_SECRET.slice(0, 2)); // before the trouble: live
    expect(out[2]).toBe(`REASON ${SECRET_REASON}`);
    expect(out.slice(3)).toEqual(MISSING_SECRET.slice(2));
  });

  it('does so under granian, which binds before the app starts', () => {
    const out = run(GRANIAN_MISSING_SECRET, 1);
    expect(out.slice(0, 3)).toEqual(GRANIAN_MISSING_SECRET.slice(0, 3));
    expect(out[3]).toBe(`REASON ${SECRET_REASON}`);
    expect(out.slice(4)).toEqual(GRANIAN_MISSING_SECRET.slice(3));
  });

  it('does so however the output is cut into chunks, and reports once', () => {
    const out = run(MISSING_SECRET, 3, { chunked: true });
    expect(out.filter((l) => l.startsWith('REASON'))).toEqual([`REASON ${SECRET_REASON}`]);
    expect(out.indexOf(`REASON ${SECRET_REASON}`)).toBeLessThan(out.indexOf(MISSING_SECRET[2]));
  });

  it('reports a failure seen only at the exit (a port in use, a module that does not import)', () => {
    const port = run(PORT_IN_USE, 3);
    expect(port[3]).toMatch(/^REASON \[Errno 98\].*address already in use$/);
    expect(port.slice(4)).toEqual(PORT_IN_USE.slice(3));
    expect(run(IMPORT_ERROR, 1)[0]).toBe("REASON ModuleNotFoundError: No module named 'nosuch'");
  });

  it('says nothing and holds nothing back for a server that started and was stopped', () => {
    const lines = [
      ...MISSING_SECRET.slice(0, 2),
      'INFO:     Application startup complete.',
      'INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)',
      'ERROR:    Exception in ASGI application',
      'Traceback (most recent call last):',
    ];
    expect(run(lines, 0)).toEqual(lines);
    expect(run(lines, 1)).toEqual(lines); // a crash after start-up is not a start-up failure
  });

  it('writes held output as it was when the start-up completes after all', () => {
    const lines = [
      'ERROR:    a retry that worked',
      'INFO:     Uvicorn running on http://127.0.0.1:8000',
      'INFO: served',
    ];
    expect(run(lines, 0)).toEqual(lines);
  });

  it('with the reloader, reports each failed start-up of a server process and keeps going', () => {
    const out: string[] = [];
    const monitor = new StartupMonitor(
      (_s, text) => out.push(text),
      (reason) => out.push(`REASON ${reason}\n`),
      { reload: true },
    );
    const feed = (lines: string[]) => monitor.data('stderr', lines.map((l) => `${l}\n`).join(''));
    feed(['INFO:     Uvicorn running on http://127.0.0.1:8000', ...MISSING_SECRET]);
    feed(['INFO:     Started server process [2]', 'INFO:     Application startup complete.', 'ERROR:    later']);
    feed(MISSING_SECRET);
    monitor.exit(0);
    expect(out.filter((l) => l.startsWith('REASON'))).toEqual([
      `REASON ${SECRET_REASON}\n`,
      `REASON ${SECRET_REASON}\n`,
    ]);
    expect(out).toContain('ERROR:    later\n');
  });

  it('does not hold output back for long', async () => {
    const out: string[] = [];
    const monitor = new StartupMonitor(
      (_s, text) => out.push(text),
      () => out.push('REASON'),
      { holdMs: 20 },
    );
    monitor.data('stderr', 'ERROR:    still connecting\n');
    expect(out).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(out).toEqual(['ERROR:    still connecting\n']);
  });
});
