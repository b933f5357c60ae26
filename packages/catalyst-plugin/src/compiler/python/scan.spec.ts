import { namesRead } from './scan';

const names = (code: string) => [...namesRead(code)].sort();

describe('namesRead', () => {
  it('reads free names, not attributes', () => {
    expect(names('x = len(inp.name) + to_json(a.b.c)')).toEqual(['a', 'inp', 'len', 'to_json']);
  });

  it('skips keyword arguments and assignment targets, but not annotations before a default', () => {
    expect(names('f(timeout=2.0, json=body)\ngreet = g\n    extra: Any = None')).toEqual([
      'Any',
      'None',
      'body',
      'extra',
      'f',
      'g',
    ]);
    expect(names('a == b')).toEqual(['a', 'b']);
  });

  it('skips strings and comments, but reads the code inside f-string braces', () => {
    expect(names(`# datetime here\nprint("uuid4 and {to_json}" + 'x')`)).toEqual(['print']);
    expect(names(`f"{url_segment(inp.user)} {{literal}} {len(x['k'])}"`)).toEqual(['inp', 'len', 'url_segment', 'x']);
    expect(names(`f'{a}' rb"\\"{b}"`)).toEqual(['a']);
  });

  it('skips numbers, including exponents', () => {
    expect(names('1e5 + 0x1F + 2.5 + e5')).toEqual(['e5']);
  });

  it('handles triple-quoted strings and escapes', () => {
    expect(names(`"""doc with "quotes" and Any"""\nx = "a\\"b" + Field`)).toEqual(['Field']);
  });
});
