import { checkServiceName } from './python-names';

describe('checkServiceName', () => {
  it.each(['async', 'await', 'class', 'lambda', 'nonlocal'])('refuses the Python keyword %s', (name) => {
    expect(checkServiceName(name)).toContain('is a Python keyword');
  });

  // `import match` works: soft keywords are only keywords inside their own statements.
  it.each(['match', 'case', 'type'])('accepts the soft keyword %s', (name) => {
    expect(checkServiceName(name)).toBeUndefined();
  });
});

describe('checkServiceName, names that collide', () => {
  it.each(['json', 'http', 'email', 'typing', 'asyncio', 'secrets', 'py-compile', 'cprofile'])(
    'refuses %s, a standard-library module, and suggests another name',
    (name) => {
      const message = checkServiceName(name);
      expect(message).toContain('standard-library module');
      expect(message).toContain(`e.g. "${name}-svc"`);
    },
  );

  it.each([
    'redis',
    'fastapi',
    'python-dotenv',
    'qdrant-client',
    'anyio',
    'sniffio',
    'starlette',
    'pydantic-core',
    'aiohttp',
    'yarl',
  ])('refuses %s, a distribution the workspace locks', (name) => {
    expect(checkServiceName(name)).toContain(`the Python distribution "${name}"`);
    expect(checkServiceName(name)).toContain('uv cannot lock');
  });

  it.each(['dotenv', 'catalyst-runtime', 'grpc', 'tests', 'attr'])(
    'refuses %s, a package the service imports',
    (name) => {
      expect(checkServiceName(name)).toMatch(/would shadow a package the service imports|the Python distribution/);
    },
  );

  it.each(['json-svc', 'orders', 'redis-cache', 'email-sender', 'hello-svc'])('accepts %s', (name) => {
    expect(checkServiceName(name)).toBeUndefined();
  });

  it('suggests names that are accepted', () => {
    for (const name of ['json', 'redis', 'dotenv', 'http']) {
      const suggestion = /e\.g\. "([^"]+)"/.exec(checkServiceName(name) ?? '')?.[1] ?? '';
      expect(checkServiceName(suggestion)).toBeUndefined();
    }
  });
});
