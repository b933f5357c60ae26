/**
 * Property tests. Random well-typed expressions and random literal text compile to Python that
 * Python's own parser accepts; the compiled code computes what a reference interpreter of the
 * expression language computes; operators keep their precedence; literal text survives exactly.
 * All generated modules are checked by ONE Python process (test-utils/check_generated.py).
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileService } from '../index';
import { literalText, logicExpression, SCOPE_DEFINITION, templateValue } from '../test-utils/arbitraries';
import { runPython } from '../test-utils/python';
import type { Expr, Template } from './ast';
import { parseTemplate } from './template';
import { parseExpression } from './parser';

const SENTINEL = 'S\'"{}\\';

function compileOutput(value: string) {
  const definition = { ...SCOPE_DEFINITION, output: { v: value } };
  const sources = [{ path: 'workflows/prop.workflow.json', text: JSON.stringify(definition) }];
  return compileService(sources);
}

const CHECK_SCRIPT = readFileSync(join(__dirname, '..', 'test-utils', 'check_generated.py'), 'utf8');
/** The runtime's helpers that compiled expressions call (`item_at`), loaded by the script from here. */
const EXPRESSIONS_PY = join(__dirname, '..', '..', '..', 'runtime', 'src', 'catalyst_runtime', 'expressions.py');

interface Case {
  label: string;
  source: string;
  expected?: string;
  sentinel?: string;
  /** Our own parse of the expression, fully parenthesised, to compare with Python's. */
  canon?: string;
  /** The parsed template, for the reference interpreter. */
  template?: Template;
}

/** Fully parenthesised form of our AST, spelled like `canon` in the Python script. */
function canon(e: Expr): string {
  switch (e.kind) {
    case 'binary':
      return `(${canon(e.left)} ${e.op} ${canon(e.right)})`;
    case 'unary':
      return `(${e.op} ${canon(e.operand)})`;
    case 'conditional':
      return `(${canon(e.then)} if ${canon(e.test)} else ${canon(e.otherwise)})`;
    case 'member':
      return `${canon(e.object)}.${e.name}`;
    case 'root':
      return e.name;
    case 'literal':
      if (typeof e.value === 'number')
        return e.integer ? String(e.value) : Number.isInteger(e.value) ? `${e.value}.0` : String(e.value);
      return String(e.value);
    default:
      throw new Error(`no canonical form for ${e.kind}`);
  }
}

describe('expression compiler properties', () => {
  const cases: Case[] = [];
  let results: {
    ok: boolean;
    error?: string;
    value?: string;
    canon?: string;
    reference?: unknown;
    compiled?: unknown;
  }[] = [];
  const failures: string[] = [];

  beforeAll(() => {
    const trickyTemplates = [
      '{{ ([] if true else ["a"]) | first | default("z") }}',
      '{{ (["a"] if false else []) | last | default("z") }}',
      '{{ (input.tags + []) | first | default("z") }}',
      'n={{ input.n if input.b else input.x }}, s={{ input.s | trim | upper }}',
      '{{ (input.n - 1) * -(input.x % 2) }}',
    ];
    for (const value of [
      ...trickyTemplates,
      ...fc.sample(templateValue, { numRuns: 400 - trickyTemplates.length, seed: 42 }),
    ]) {
      const result = compileOutput(value);
      const module = result.files.find((f) => f.path === 'prop.py');
      if (module) cases.push({ label: value, source: module.contents, template: parseTemplate(value).template });
      else failures.push(`${value}\n  ${result.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n  ')}`);
    }
    const texts = fc.sample(fc.tuple(literalText, literalText, fc.boolean()), { numRuns: 400, seed: 7 });
    for (const [before, after, withExpr] of texts) {
      const value = withExpr ? `${before}{{ input.s }}${after}` : before + after;
      const module = compileOutput(value).files.find((f) => f.path === 'prop.py');
      if (!module) throw new Error(`literal text did not compile: ${JSON.stringify(value)}`);
      cases.push({
        label: value,
        source: module.contents,
        expected: withExpr ? `${before}${SENTINEL}${after}` : before + after,
        sentinel: SENTINEL,
      });
    }
    const tricky = [
      '(1 - 2) * 3',
      '1 - (2 - 3)',
      '(1 - 2) - 3',
      '-(1 + 2)',
      '- -1',
      'not (true and false)',
      'not not true',
      '(1 if true else 2) + 3',
      '1 if true else (2 if false else 3)',
      '(1 if true else 2) if false else 3',
      '(1 < 2) == true',
      '2 * (3 % 4)',
      '(2 * 3) % 4',
      '8 / (4 / 2)',
      '(true or false) and false',
      'true or (false and false)',
      '-(input.n) * 2',
      '(-input.x) % 3',
    ];
    for (const expr of [...tricky, ...fc.sample(logicExpression, { numRuns: 1000 - tricky.length, seed: 11 })]) {
      const module = compileOutput(`{{ ${expr} }}`).files.find((f) => f.path === 'prop.py');
      if (!module) throw new Error(`logic expression did not compile: ${expr}`);
      cases.push({ label: expr, source: module.contents, canon: canon(parseExpression(expr, 0, expr.length)) });
    }
    results = runPython(CHECK_SCRIPT, cases, { CATALYST_EXPRESSIONS_PY: EXPRESSIONS_PY });
  });

  it('compiles every well-typed random expression', () => {
    // The generator is well typed by construction: a rejection is a compiler bug (or a generator
    // that produces ill-typed expressions, to be fixed there), never noise to tolerate.
    expect(failures).toEqual([]);
  });

  it('refuses text holding a lone surrogate with its own diagnostic, never a crash', () => {
    for (const value of ['a\ud800b', '{{ "x\udc00" | upper }}', '{{ input.s }}\udbff', '\udfff{{ 1 }}']) {
      const result = compileOutput(value);
      expect(result.files.find((f) => f.path === 'prop.py')).toBeUndefined();
      expect(result.diagnostics.map((d) => d.message).join('\n')).toContain('lone surrogate');
    }
  });

  it('emits Python that Python parses, for every compiled expression and text', () => {
    const bad = results.map((r, i) => (r.ok ? undefined : `${cases[i].label}\n${r.error}`)).filter(Boolean);
    expect(bad).toEqual([]);
  });

  it('computes what the reference interpreter computes', () => {
    const compared = cases.map((c, i) => ({ c, r: results[i] })).filter(({ r }) => r.reference !== undefined);
    expect(compared.length).toBeGreaterThan(300);
    for (const { c, r } of compared)
      expect({ expr: c.label, result: r.compiled }).toEqual({ expr: c.label, result: r.reference });
  });

  it('keeps the meaning of operators: Python reads the same tree as the expression language', () => {
    const checked = cases.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.canon !== undefined);
    expect(checked.length).toBe(1000);
    for (const { c, r } of checked) expect({ expr: c.label, tree: r.canon }).toEqual({ expr: c.label, tree: c.canon });
  });

  it('keeps literal text exactly: quotes, backslashes, braces, newlines, unicode', () => {
    const checked = cases.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.expected !== undefined);
    expect(checked.length).toBe(400);
    for (const { c, r } of checked)
      expect({ text: c.label, value: r.value }).toEqual({ text: c.label, value: c.expected });
  });
});
