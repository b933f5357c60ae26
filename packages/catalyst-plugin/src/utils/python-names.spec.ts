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
