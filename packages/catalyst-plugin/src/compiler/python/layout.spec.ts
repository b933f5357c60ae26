/**
 * The layout of a long conditional, as `ruff format` writes it (the golden folders check the
 * whole files with ruff itself; these pin the test's breaking rules one by one).
 */
import { layout, type Doc } from './layout';

const cond = (body: string, test: string, orelse: string): Doc => ({ kind: 'cond', body, test, orelse });
const long = (name: string): string => `${name}_${'x'.repeat(30)}`;

describe('layout of a conditional', () => {
  it('keeps a conditional that fits on one line', () => {
    expect(layout(cond('a', 'b is not None', 'c'), 8)).toBe('a if b is not None else c');
  });

  it('breaks a long one before if and else, and a long test at each top-level or, else and', () => {
    const a = long('a');
    const b = long('b');
    expect(layout(cond('v', `${a} is not None and ${b} is not None`, '0'), 8)).toBe(
      `v\n        if ${a} is not None\n        and ${b} is not None\n        else 0`,
    );
    expect(layout(cond('v', `(${a} and ${b}) or ${a} or ${b}`, '0'), 8)).toBe(
      `v\n        if (${a} and ${b})\n        or ${a}\n        or ${b}\n        else 0`,
    );
  });

  it('puts is not None on its own line after a bound value that fits', () => {
    const v = 'value_of_v';
    expect(layout(cond('_d0', `(_d0 := ${v}.get("k") if ${v} is not None else None) is not None`, '0'), 12)).toBe(
      `_d0\n            if (_d0 := ${v}.get("k") if ${v} is not None else None)\n            is not None\n            else 0`,
    );
  });

  it('opens the brackets of a bound value too long for a line, and breaks it as a test', () => {
    // One level: a part still too long for its line stays so (ruff would break it further).
    const a = 'a_xxxxxxxxxxxxxxxx';
    const b = 'b_xxxxxxxxxxxxxxxx';
    expect(
      layout(cond('_d0', `(_d0 := (${a} if ${b} else None) if ${a} else (${b} or None)) is not None`, '0'), 12),
    ).toBe(
      [
        '_d0',
        '            if (',
        `                _d0 := (${a} if ${b} else None)`,
        `                if ${a}`,
        `                else (${b} or None)`,
        '            )',
        '            is not None',
        '            else 0',
      ].join('\n'),
    );
    expect(layout(cond('_d0', `(_d0 := ${a} and (${b} == "x" if ${a} else None)) is not None`, '0'), 12)).toBe(
      [
        '_d0',
        '            if (',
        `                _d0 := ${a}`,
        `                and (${b} == "x" if ${a} else None)`,
        '            )',
        '            is not None',
        '            else 0',
      ].join('\n'),
    );
  });

  it('opens a bracket again inside one, and breaks at + and - too (each case as ruff writes it)', () => {
    const a = long('a');
    const b = long('b');
    expect(
      layout(cond('_d0', `(_d0 := (${a} if ${b} else None) if ${a} else (${b} or None)) is not None`, '0'), 12),
    ).toBe(
      [
        '_d0',
        '            if (',
        '                _d0 := (',
        `                    ${a}`,
        `                    if ${b}`,
        '                    else None',
        '                )',
        `                if ${a}`,
        `                else (${b} or None)`,
        '            )',
        '            is not None',
        '            else 0',
      ].join('\n'),
    );
    expect(layout(cond('_d0', `(_d0 := (${a} if ${a} is not None else None) + 1) is not None`, '0'), 12)).toBe(
      [
        '_d0',
        '            if (',
        '                _d0 := (',
        `                    ${a}`,
        `                    if ${a} is not None`,
        '                    else None',
        '                )',
        '                + 1',
        '            )',
        '            is not None',
        '            else 0',
      ].join('\n'),
    );
    // A bound value after `and` opens the same way.
    expect(layout(cond('_d0', `${a} is not None and (_d0 := ${a} + ${b} - 1) is not None`, '0'), 12)).toBe(
      [
        '_d0',
        `            if ${a} is not None`,
        '            and (',
        `                _d0 := ${a}`,
        `                + ${b}`,
        '                - 1',
        '            )',
        '            is not None',
        '            else 0',
      ].join('\n'),
    );
  });

  it('never breaks inside a string literal or a bracket', () => {
    const a = long('a');
    const test = `${a} == " or \\" and " and f(${a} or ${a}) is not None`;
    expect(layout(cond('v', test, '0'), 8)).toBe(
      `v\n        if ${a} == " or \\" and "\n        and f(${a} or ${a}) is not None\n        else 0`,
    );
  });

  it('leaves a test alone that is not one bracketed value', () => {
    const a = long('a');
    const b = long('b');
    const test = `(${a} + ${b}) + (${a} + ${b}) is not None`;
    expect(layout(cond('v', test, '0'), 8)).toBe(`v\n        if ${test}\n        else 0`);
  });
});
