/**
 * Property tests. Random well-typed expressions and random literal text compile to Python that
 * Python's own parser accepts, and literal text survives exactly. All generated modules are
 * checked by ONE Python process.
 */
import fc from 'fast-check';
import { compileService } from '../index';
import { literalText, SCOPE_DEFINITION, templateValue } from '../test-utils/arbitraries';
import { runPython } from '../test-utils/python';

const OPTIONS = { packageName: 'p', serviceName: 'p' };
const SENTINEL = 'S\'"{}\\';

function compileOutput(value: string) {
  const definition = { ...SCOPE_DEFINITION, output: { v: value } };
  const sources = [{ path: 'workflows/prop.workflow.json', text: JSON.stringify(definition) }];
  return compileService(sources, OPTIONS);
}

const PYTHON = String.raw`
import ast, json, sys, types
cases = json.load(sys.stdin)
out = []
for case in cases:
    try:
        tree = ast.parse(case["source"])
        compile(tree, "prop.py", "exec")
    except SyntaxError as exc:
        out.append({"ok": False, "error": f"{exc.msg} at {exc.lineno}:{exc.offset}: {exc.text!r}"})
        continue
    result = {"ok": True}
    if "expected" in case:
        run = next(n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "run")
        ret = [n for n in ast.walk(run) if isinstance(n, ast.Return)][-1]
        value = next(v for k, v in zip(ret.value.keys, ret.value.values) if k.value == "v")
        inp = types.SimpleNamespace(s=case["sentinel"])
        result["value"] = eval(compile(ast.Expression(value), "v", "eval"), {"inp": inp})
    out.append(result)
json.dump(out, sys.stdout)
`;

interface Case {
  label: string;
  source: string;
  expected?: string;
  sentinel?: string;
}

describe('expression compiler properties', () => {
  const cases: Case[] = [];
  let results: { ok: boolean; error?: string; value?: string }[] = [];
  const failures: string[] = [];

  beforeAll(() => {
    for (const value of fc.sample(templateValue, { numRuns: 400, seed: 42 })) {
      const result = compileOutput(value);
      const module = result.files.find((f) => f.path === 'prop.py');
      if (module) cases.push({ label: value, source: module.contents });
      else failures.push(`${value}\n  ${result.diagnostics.map((d) => `${d.code}: ${d.message}`).join('\n  ')}`);
    }
    const texts = fc.sample(fc.tuple(literalText, literalText, fc.boolean()), { numRuns: 400, seed: 7 });
    for (const [before, after, withExpr] of texts) {
      const value = withExpr ? `${before}{{ input.s }}${after}` : before + after;
      const module = compileOutput(value).files.find((f) => f.path === 'prop.py');
      if (!module) throw new Error(`literal text did not compile: ${JSON.stringify(value)}`);
      cases.push({ label: value, source: module.contents, expected: withExpr ? `${before}${SENTINEL}${after}` : before + after, sentinel: SENTINEL });
    }
    results = runPython(PYTHON, cases);
  });

  it('compiles almost every well-typed random expression', () => {
    // The generator is well typed by construction; only rare corner cases may be rejected.
    expect(failures.length).toBeLessThan(400 * 0.05);
  });

  it('emits Python that Python parses, for every compiled expression and text', () => {
    const bad = results.map((r, i) => (r.ok ? undefined : `${cases[i].label}\n${r.error}`)).filter(Boolean);
    expect(bad).toEqual([]);
  });

  it('keeps literal text exactly: quotes, backslashes, braces, newlines, unicode', () => {
    const checked = cases.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.expected !== undefined);
    expect(checked.length).toBe(400);
    for (const { c, r } of checked) expect({ text: c.label, value: r.value }).toEqual({ text: c.label, value: c.expected });
  });
});
