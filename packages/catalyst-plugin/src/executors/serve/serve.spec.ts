import { logger, type ExecutorContext } from '@nx/devkit';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import serveExecutor, { serveArgs } from './serve';
import { passthroughArgs, pytestArgs } from '../pytest/pytest';

describe('serve executor', () => {
  it('runs the app through uv with the runtime serve module', () => {
    expect(serveArgs('hello-svc', 'hello_svc.main:app', { host: '127.0.0.1', port: 8000 })).toEqual([
      'run',
      '--package',
      'hello-svc',
      'python',
      '-m',
      'catalyst_runtime.serve',
      'hello_svc.main:app',
      '--host',
      '127.0.0.1',
      '--port',
      '8000',
    ]);
  });

  it('serves under granian when asked, and leaves the flag out for uvicorn', () => {
    const args = (server: 'uvicorn' | 'granian') => serveArgs('s', 's.main:app', { host: 'h', port: 1, server });
    expect(args('granian').slice(-2)).toEqual(['--server', 'granian']);
    expect(args('uvicorn')).not.toContain('--server');
  });

  it('watches the given folders when reloading', () => {
    expect(serveArgs('s', 's.main:app', { host: 'h', port: 1, reloadDirs: ['/ws/apps/s/src'] }).slice(-3)).toEqual([
      '--reload',
      '--reload-dir',
      '/ws/apps/s/src',
    ]);
  });
});

describe('serve executor, when the service cannot start', () => {
  let dir: string;
  const savedUv = process.env['UV'];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'catalyst-serve-'));
    mkdirSync(join(dir, 'apps/hello-svc'), { recursive: true });
    writeFileSync(join(dir, 'apps/hello-svc/pyproject.toml'), '[project]\nname = "hello-svc"\n');
    // A uv that answers as `python -m catalyst_runtime.serve` does when a secret is missing.
    const uv = join(dir, 'uv');
    writeFileSync(
      uv,
      [
        '#!/bin/sh',
        "cat >&2 <<'EOF'",
        'INFO:     Started server process [5079]',
        'INFO:     Waiting for application startup.',
        'ERROR:    Traceback (most recent call last):',
        '  File "/ws/libs/catalyst-runtime/src/catalyst_runtime/app.py", line 104, in check_secrets',
        '    raise ConfigError(',
        "catalyst_runtime.errors.ConfigError: API_KEY: required by this service's workflows but not set in the environment; export it or add it to .env",
        '',
        'ERROR:    Application startup failed. Exiting.',
        'EOF',
        'exit 3',
        '',
      ].join('\n'),
    );
    chmodSync(uv, 0o755);
    process.env['UV'] = uv;
  });

  afterEach(() => {
    if (savedUv === undefined) delete process.env['UV'];
    else process.env['UV'] = savedUv;
    rmSync(dir, { recursive: true, force: true });
    jest.restoreAllMocks();
  });

  it('fails, and says why on one line before the traceback', async () => {
    const printed: string[] = [];
    jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    jest
      .spyOn(logger, 'error')
      .mockImplementation((message: unknown) => void printed.push(`LOGGED ${String(message)}`));
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(...chunk.toString().split('\n').filter(Boolean));
      return true;
    });
    const context = {
      root: dir,
      cwd: dir,
      isVerbose: false,
      projectName: 'hello-svc',
      projectsConfigurations: { version: 2, projects: { 'hello-svc': { root: 'apps/hello-svc' } } },
    } as unknown as ExecutorContext;

    await expect(serveExecutor({}, context)).resolves.toEqual({ success: false });

    const reason = printed.findIndex((line) => line.startsWith('LOGGED '));
    expect(printed[reason]).toBe(
      "LOGGED hello-svc did not start: ConfigError: API_KEY: required by this service's workflows but not set in the environment; export it or add it to .env",
    );
    expect(printed.filter((line) => line.startsWith('LOGGED '))).toHaveLength(1);
    expect(reason).toBeLessThan(printed.findIndex((line) => line.includes('Traceback')));
    expect(printed).toContain('ERROR:    Application startup failed. Exiting.');
  });

  it('refuses reload under granian before starting anything', async () => {
    const errors: string[] = [];
    jest.spyOn(logger, 'error').mockImplementation((message: unknown) => void errors.push(String(message)));
    const context = {
      root: dir,
      cwd: dir,
      isVerbose: false,
      projectName: 'hello-svc',
      projectsConfigurations: { version: 2, projects: { 'hello-svc': { root: 'apps/hello-svc' } } },
    } as unknown as ExecutorContext;

    await expect(serveExecutor({ reload: true, server: 'granian' }, context)).resolves.toEqual({ success: false });
    expect(errors).toEqual(['--reload is served by uvicorn only: drop --server=granian in development.']);
  });
});

describe('pytest executor', () => {
  it('runs pytest through uv in the service package', () => {
    expect(pytestArgs('hello-svc', ['-k', 'hello'])).toEqual([
      'run',
      '--package',
      'hello-svc',
      'pytest',
      '-k',
      'hello',
    ]);
  });

  it('passes what came after -- to pytest as it is', () => {
    // `nx run svc:test -- -k "hello and not slow" -x` arrives as Nx's raw override list.
    expect(passthroughArgs(['-k', 'hello and not slow', '-x'])).toEqual(['-k', 'hello and not slow', '-x']);
  });

  it('drops its own --args, which Nx also lists raw but already parsed into options.args', () => {
    expect(passthroughArgs(['--args=-k', '--args=hello', '-v'])).toEqual(['-v']);
    expect(passthroughArgs(['--args', '-x', '-v'])).toEqual(['-v']);
    expect(passthroughArgs(undefined)).toEqual([]);
  });
});
