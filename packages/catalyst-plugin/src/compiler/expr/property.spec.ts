/**
 * Property tests. Random well-typed expressions and random literal text compile to Python that
 * Python's own parser accepts, operators keep their precedence, and literal text survives
 * exactly. All generated modules are
 * checked by ONE Python process.
 */
import fc from 'fast-check';
import { compileService } from '../index';
import { literalText, logicExpression, SCOPE_DEFINITION, templateValue } from '../test-utils/arbitraries';
import { runPython } from '../test-utils/python';
import type { Expr } from './ast';
import { parseExpression } from './parser';

const OPTIONS = { packageName: 'p', serviceName: 'p' };
const SENTINEL = 'S\'"{}\\';

function compileOutput(value: string) {
  const definition = { ...SCOPE_DEFINITION, output: { v: value } };
  const sources = [{ path: 'workflows/prop.workflow.json', text: JSON.stringify(definition) }];
  return compileService(sources, OPTIONS);
}

const PYTHON = String.raw`
import ast, json, sys, types

OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%", ast.USub: "-", ast.UAdd: "+",
       ast.Not: "not", ast.And: "and", ast.Or: "or", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
       ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "==", ast.IsNot: "!="}

def canon(n):
    """The tree Python reads, fully parenthesised, in the expression language's spelling."""
    if isinstance(n, ast.BinOp):
        return f"({canon(n.left)} {OPS[type(n.op)]} {canon(n.right)})"
    if isinstance(n, ast.UnaryOp):
        return f"({OPS[type(n.op)]} {canon(n.operand)})"
    if isinstance(n, ast.BoolOp):
        acc = canon(n.values[0])
        for v in n.values[1:]:
            acc = f"({acc} {OPS[type(n.op)]} {canon(v)})"
        return acc
    if isinstance(n, ast.Compare):
        return f"({canon(n.left)} {OPS[type(n.ops[0])]} {canon(n.comparators[0])})"
    if isinstance(n, ast.IfExp):
        return f"({canon(n.body)} if {canon(n.test)} else {canon(n.orelse)})"
    if isinstance(n, ast.Attribute):
        return f"{canon(n.value)}.{n.attr}"
    if isinstance(n, ast.Name):
        return {"inp": "input"}.get(n.id, n.id)
    if isinstance(n, ast.Constant):
        return {True: "true", False: "false", None: "null"}.get(n.value, repr(n.value)) if isinstance(n.value, (bool, type(None))) else repr(n.value)
    raise ValueError(ast.dump(n))

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
    run = next(n for n in tree.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "run")
    ret = [n for n in ast.walk(run) if isinstance(n, ast.Return)][-1]
    value = next(v for k, v in zip(ret.value.keys, ret.value.values) if k.value == "v")
    if "expected" in case:
        inp = types.SimpleNamespace(s=case["sentinel"])
        result["value"] = eval(compile(ast.Expression(value), "v", "eval"), {"inp": inp})
    if case.get("canon"):
        result["canon"] = canon(value)
    out.append(result)
json.dump(out, sys.stdout)
`;

interface Case {
  label: string;
  source: string;
  expected?: string;
  sentinel?: string;
  /** Our own parse of the expression, fully parenthesised, to compare with Python's. */
  canon?: string;
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
      if (typeof e.value === 'number') return e.integer ? String(e.value) : Number.isInteger(e.value) ? `${e.value}.0` : String(e.value);
      return String(e.value);
    default:
      throw new Error(`no canonical form for ${e.kind}`);
  }
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
    const tricky = ['(1 - 2) * 3', '1 - (2 - 3)', '(1 - 2) - 3', '-(1 + 2)', '- -1', 'not (true and false)', 'not not true', '(1 if true else 2) + 3', '1 if true else (2 if false else 3)', '(1 if true else 2) if false else 3', '(1 < 2) == true', '2 * (3 % 4)', '(2 * 3) % 4', '8 / (4 / 2)', '(true or false) and false', 'true or (false and false)', '-(input.n) * 2', '(-input.x) % 3'];
    for (const expr of [...tricky, ...fc.sample(logicExpression, { numRuns: 1000 - tricky.length, seed: 11 })]) {
      const module = compileOutput(`{{ ${expr} }}`).files.find((f) => f.path === 'prop.py');
      if (!module) throw new Error(`logic expression did not compile: ${expr}`);
      cases.push({ label: expr, source: module.contents, canon: canon(parseExpression(expr, 0, expr.length)) });
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

  it('keeps the meaning of operators: Python reads the same tree as the expression language', () => {
    const checked = cases.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.canon !== undefined);
    expect(checked.length).toBe(1000);
    for (const { c, r } of checked) expect({ expr: c.label, tree: r.canon }).toEqual({ expr: c.label, tree: c.canon });
  });

  it('keeps literal text exactly: quotes, backslashes, braces, newlines, unicode', () => {
    const checked = cases.map((c, i) => ({ c, r: results[i] })).filter(({ c }) => c.expected !== undefined);
    expect(checked.length).toBe(400);
    for (const { c, r } of checked) expect({ text: c.label, value: r.value }).toEqual({ text: c.label, value: c.expected });
  });
});
