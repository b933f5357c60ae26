import { serveArgs } from './serve';
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

  it('watches the given folders when reloading', () => {
    expect(serveArgs('s', 's.main:app', { host: 'h', port: 1, reloadDirs: ['/ws/apps/s/src'] }).slice(-3)).toEqual([
      '--reload',
      '--reload-dir',
      '/ws/apps/s/src',
    ]);
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
