/**
 * The schedule as code, on small definitions: where each node runs (`scheduleOf`), each node
 * value's annotation, and `run`'s body and the node functions read whole for each shape (a
 * chain, independent nodes, a task group, guards, unread values, streamed partials). The golden
 * folders hold the same rules through whole modules; these say which rule broke, in milliseconds.
 */
import { compileService } from '../index';
import { parseSource } from '../parse/source';
import { planWorkflow } from '../plan/plan';
import { Reporter } from '../report/reporter';
import { resolve } from '../resolve/resolve';
import { validate } from '../validate/validate';
import { annotationOf, functionNodes, scheduleOf, type Schedule } from './run';

const PATH = 'workflows/w.workflow.yaml';

function readySetsOf(text: string) {
  const { source, problems } = parseSource({ path: PATH, text });
  expect(problems).toEqual([]);
  const reporter = new Reporter(source!);
  const ir = resolve(validate(source!.value, reporter)!, reporter);
  const plan = planWorkflow(ir, reporter);
  expect(reporter.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return plan.readySets;
}

/** The generated module of one workflow. */
function moduleOf(text: string): string {
  const result = compileService([{ path: PATH, text }]);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.files.find((f) => f.path === 'w.py')!.contents;
}

/** `run`'s lines, from its `def` to its last line. */
const runOf = (py: string): string => py.slice(py.indexOf('async def run('), py.indexOf('\n\n\nrouter = '));

/** The module's functions above `run` (node and graph functions), each whole. */
const functionsOf = (py: string): string[] =>
  py
    .slice(0, py.indexOf('\n\n\nasync def run('))
    .split('\n\n\n')
    .filter((chunk) => chunk.startsWith('# ') && chunk.includes('async def _'));

const ids = (nodes: { id: string }[]) => nodes.map((n) => n.id);
const shape = (s: Schedule) =>
  s.kind === 'sequential'
    ? { kind: s.kind, order: ids(s.order) }
    : { kind: s.kind, before: ids(s.before), tasks: ids(s.tasks), after: ids(s.after) };

/** A transform `id` whose `v` joins the values `reads` name (`a.status`), or the input's `s`. */
const t = (id: string, ...reads: string[]) =>
  `  - { id: ${id}, type: transform, set: { v: "${reads.map((r) => `{{ nodes.${r} }}`).join(' ') || '{{ input.s }}'}" } }\n`;
/** An http node `id` whose URL holds the values `reads` name. */
const h = (id: string, ...reads: string[]) =>
  `  - { id: ${id}, type: http, url: "https://example.com/${id}${reads.map((r) => `/{{ nodes.${r} }}`).join('')}" }\n`;
const INPUT = 'input: { properties: { s: { type: string } }, required: [s] }\n';
const wf = (nodes: string, output: string, extra = '') => `id: w\n${INPUT}${extra}nodes:\n${nodes}output: ${output}\n`;

describe('scheduleOf', () => {
  it('runs synchronous nodes in order: no async node, nothing to overlap', () => {
    const s = scheduleOf(readySetsOf(wf(t('b', 'a.v') + t('a'), '{ v: "{{ nodes.b.v }}" }')));
    expect(shape(s)).toEqual({ kind: 'sequential', order: ['a', 'b'] });
    expect(functionNodes(s)).toEqual([]);
  });

  it('runs a chain of async nodes in order, also through a synchronous node between them', () => {
    const s = scheduleOf(readySetsOf(wf(h('a') + t('m', 'a.status') + h('b', 'm.v'), '{ v: "{{ nodes.b.status }}" }')));
    expect(shape(s)).toEqual({ kind: 'sequential', order: ['a', 'm', 'b'] });
    expect(ids(functionNodes(s))).toEqual(['a', 'b']);
  });

  it('puts the synchronous nodes of a ready set before its async ones', () => {
    const s = scheduleOf(readySetsOf(wf(h('a') + t('x'), '{ a: "{{ nodes.a.status }}", x: "{{ nodes.x.v }}" }')));
    expect(shape(s)).toEqual({ kind: 'sequential', order: ['x', 'a'] });
  });

  it('starts independent async nodes in a group: inline before what needs none, after what only the response reads', () => {
    // x needs no async node; m is between a and c; y reads b and feeds nothing async.
    const s = scheduleOf(
      readySetsOf(
        wf(
          t('x') + h('a', 'x.v') + h('b') + t('m', 'a.status') + h('c', 'm.v') + t('y', 'b.status'),
          '{ c: "{{ nodes.c.status }}", y: "{{ nodes.y.v }}" }',
        ),
      ),
    );
    // In ready-set order: x and b need nothing, a needs x, m needs a, c needs m.
    expect(shape(s)).toEqual({ kind: 'dataflow', before: ['x'], tasks: ['b', 'a', 'm', 'c'], after: ['y'] });
    expect(ids(functionNodes(s))).toEqual(['b', 'a', 'm', 'c']);
  });

  it('runs a synchronous node that needs no async node once, before the group, even when only the response reads it', () => {
    const s = scheduleOf(readySetsOf(wf(t('z') + h('a') + h('b'), '{ z: "{{ nodes.z.v }}" }')));
    expect(shape(s)).toEqual({ kind: 'dataflow', before: ['z'], tasks: ['a', 'b'], after: [] });
  });

  it('keeps a synchronous node between two async nodes in the group', () => {
    // b needs a through m, and c needs nothing: not a chain; m feeds b, so it runs in the group.
    const s = scheduleOf(
      readySetsOf(
        wf(h('a') + t('m', 'a.status') + h('b', 'm.v') + h('c'), '{ v: "{{ nodes.b.status }} {{ nodes.c.status }}" }'),
      ),
    );
    expect(shape(s)).toEqual({ kind: 'dataflow', before: [], tasks: ['a', 'c', 'm', 'b'], after: [] });
  });
});

describe('scheduleOf: which synchronous nodes run inline', () => {
  it('runs synchronous nodes that need no async node before the group, even when they need each other', () => {
    const s = scheduleOf(
      readySetsOf(
        wf(
          t('x') + t('x2', 'x.v') + h('a', 'x2.v') + h('b'),
          '{ a: "{{ nodes.a.status }}", b: "{{ nodes.b.status }}" }',
        ),
      ),
    );
    expect(shape(s)).toEqual({ kind: 'dataflow', before: ['x', 'x2'], tasks: ['b', 'a'], after: [] });
  });

  it('keeps in the group a synchronous node that feeds an async node through another synchronous node', () => {
    const s = scheduleOf(
      readySetsOf(
        wf(
          h('a') + t('m1', 'a.status') + t('m2', 'm1.v') + h('b', 'm2.v') + h('c'),
          '{ b: "{{ nodes.b.status }}", c: "{{ nodes.c.status }}" }',
        ),
      ),
    );
    expect(shape(s)).toEqual({ kind: 'dataflow', before: [], tasks: ['a', 'c', 'm1', 'm2', 'b'], after: [] });
  });

  it('runs after the group a chain of synchronous nodes that only the response reads', () => {
    const s = scheduleOf(
      readySetsOf(
        wf(h('a') + h('b') + t('y', 'b.status') + t('z', 'y.v'), '{ a: "{{ nodes.a.status }}", z: "{{ nodes.z.v }}" }'),
      ),
    );
    expect(shape(s)).toEqual({ kind: 'dataflow', before: [], tasks: ['a', 'b'], after: ['y', 'z'] });
  });
});

describe('annotationOf', () => {
  it('gives each type its annotation', () => {
    expect(annotationOf({ kind: 'object', fields: {} } as never, false)).toBe('dict[str, Any]');
    expect(annotationOf({ kind: 'array' } as never, false)).toBe('list[Any]');
    expect(annotationOf({ kind: 'string' }, false)).toBe('str');
    expect(annotationOf({ kind: 'integer' }, false)).toBe('int');
    expect(annotationOf({ kind: 'number' }, false)).toBe('float');
    expect(annotationOf({ kind: 'boolean' }, false)).toBe('bool');
    expect(annotationOf({ kind: 'null' }, false)).toBe('None');
    expect(annotationOf({ kind: 'any' }, false)).toBe('Any');
  });

  it('adds `| None` for a value that may be skipped or null, but not to Any or None', () => {
    expect(annotationOf({ kind: 'string' }, true)).toBe('str | None');
    expect(annotationOf({ kind: 'string', nullable: true }, false)).toBe('str | None');
    expect(annotationOf({ kind: 'string', nullable: false }, false)).toBe('str');
    expect(annotationOf({ kind: 'any' }, true)).toBe('Any');
    expect(annotationOf({ kind: 'any', nullable: true }, false)).toBe('Any');
    expect(annotationOf({ kind: 'null' }, true)).toBe('None');
    expect(annotationOf({ kind: 'null', nullable: true }, false)).toBe('None');
  });
});

const lines = (...ls: string[]) => ls.join('\n');

describe("run's body", () => {
  it('awaits a chain in order, inlines synchronous nodes, and binds nothing for a value nobody reads', () => {
    const py = moduleOf(wf(h('a') + t('m', 'a.status') + h('b', 'm.v'), '{ m: "{{ nodes.m.v }}" }'));
    expect(runOf(py)).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    a = await _a(ctx)',
        '',
        '    # m (transform), workflows/w.workflow.yaml:5:5',
        '    with ctx.node("m", "transform"):',
        '        m = {"v": a["status"]}',
        '',
        '    await _b(ctx, m)',
        '',
        '    with ctx.output():',
        '        return {"m": m["v"]}',
      ),
    );
    expect(functionsOf(py)).toEqual([
      lines(
        '# a (http), workflows/w.workflow.yaml:4:5',
        'async def _a(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("a", "http"):',
        '        return await http_call(ctx, "a", "GET", "https://example.com/a")',
      ),
      lines(
        '# b (http), workflows/w.workflow.yaml:6:5',
        'async def _b(ctx: ExecutionContext, m: dict[str, Any]) -> dict[str, Any]:',
        '    with ctx.node("b", "http"):',
        '        return await http_call(',
        '            ctx, "b", "GET", f"https://example.com/b/{url_segment(m[\'v\'])}"',
        '        )',
      ),
    ]);
  });

  it('starts independent nodes in one run_concurrently line, unpacking only what is read after it', () => {
    expect(runOf(moduleOf(wf(h('a') + h('b'), '{ v: 1 }')))).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    await run_concurrently(_a(ctx), _b(ctx))',
        '',
        '    return {"v": 1}',
      ),
    );
    expect(
      runOf(moduleOf(wf(h('a') + h('b') + t('y', 'b.status'), '{ a: "{{ nodes.a.status }}", y: "{{ nodes.y.v }}" }'))),
    ).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    a, b = await run_concurrently(_a(ctx), _b(ctx))',
        '',
        '    # y (transform), workflows/w.workflow.yaml:6:5',
        '    with ctx.node("y", "transform"):',
        '        y = {"v": b["status"]}',
        '',
        '    with ctx.output():',
        '        return {"a": a["status"], "y": y["v"]}',
      ),
    );
    // A call in the line passes each value its node reads.
    expect(runOf(moduleOf(wf(t('x') + h('a', 'x.v') + h('b'), '{ v: 1 }')))).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    inp: WInput = ctx.input',
        '',
        '    # x (transform), workflows/w.workflow.yaml:4:5',
        '    with ctx.node("x", "transform"):',
        '        x = {"v": inp.s}',
        '',
        '    await run_concurrently(_b(ctx), _a(ctx, x))',
        '',
        '    return {"v": 1}',
      ),
    );
  });

  it('runs a task group: tasks given the tasks they read, `after=` for an order alone, results unpacked', () => {
    const py = moduleOf(
      wf(
        t('x') +
          h('a', 'x.v') +
          h('b') +
          t('m', 'a.status') +
          h('c', 'm.v') +
          t('y', 'b.status') +
          '  - { id: d, type: http, after: [a], url: "https://example.com/d" }\n' +
          h('e', 'c.status', 'm.v'),
        '{ c: "{{ nodes.c.status }}", y: "{{ nodes.y.v }}" }',
      ),
    );
    expect(runOf(py)).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    inp: WInput = ctx.input',
        '',
        '    # x (transform), workflows/w.workflow.yaml:4:5',
        '    with ctx.node("x", "transform"):',
        '        x = {"v": inp.s}',
        '',
        '    async with ctx.tasks() as tasks:',
        '        tasks.start(_b, ctx)',
        '        a = tasks.start(_a, ctx, x)',
        '        m = tasks.start(_m, ctx, a)',
        '        tasks.start(_d, ctx, after=(a,))',
        '        c = tasks.start(_c, ctx, m)',
        '        tasks.start(_e, ctx, c, m)',
        '    b, _, _, _, c, _ = tasks.results()',
        '',
        '    # y (transform), workflows/w.workflow.yaml:9:5',
        '    with ctx.node("y", "transform"):',
        '        y = {"v": b["status"]}',
        '',
        '    with ctx.output():',
        '        return {"c": c["status"], "y": y["v"]}',
      ),
    );
    // Parameters in the order first read; a synchronous node in the group is a function too.
    expect(functionsOf(py).map((f) => f.split('\n').slice(0, 3).join('\n'))).toEqual([
      '# b (http), workflows/w.workflow.yaml:6:5\nasync def _b(ctx: ExecutionContext) -> dict[str, Any]:\n    with ctx.node("b", "http"):',
      '# a (http), workflows/w.workflow.yaml:5:5\nasync def _a(ctx: ExecutionContext, x: dict[str, Any]) -> dict[str, Any]:\n    with ctx.node("a", "http"):',
      '# m (transform), workflows/w.workflow.yaml:7:5\nasync def _m(ctx: ExecutionContext, a: dict[str, Any]) -> dict[str, Any]:\n    with ctx.node("m", "transform"):',
      '# d (http), workflows/w.workflow.yaml:10:5\nasync def _d(ctx: ExecutionContext) -> dict[str, Any]:\n    with ctx.node("d", "http"):',
      '# c (http), workflows/w.workflow.yaml:8:5\nasync def _c(ctx: ExecutionContext, m: dict[str, Any]) -> dict[str, Any]:\n    with ctx.node("c", "http"):',
      '# e (http), workflows/w.workflow.yaml:11:5\nasync def _e(\n    ctx: ExecutionContext, c: dict[str, Any], m: dict[str, Any]',
    ]);
  });

  it('waits with `after=` on every task a node is ordered after, and on one as a one-item tuple', () => {
    const after = (ids: string) => `  - { id: d, type: http, after: [${ids}], url: "https://example.com/d" }\n`;
    expect(runOf(moduleOf(wf(h('a') + h('b') + after('a, b'), '{ v: 1 }')))).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    async with ctx.tasks() as tasks:',
        '        a = tasks.start(_a, ctx)',
        '        b = tasks.start(_b, ctx)',
        '        tasks.start(_d, ctx, after=(a, b))',
        '',
        '    return {"v": 1}',
      ),
    );
    expect(runOf(moduleOf(wf(h('a') + h('b') + after('b'), '{ v: 1 }')))).toContain(
      '        tasks.start(_d, ctx, after=(b,))\n',
    );
  });

  it('binds nothing from a group whose values nobody reads after it, and gives an unread task no name', () => {
    const py = moduleOf(wf(h('a') + t('m', 'a.status') + h('b', 'm.v') + h('unread'), '{ v: 1 }'));
    expect(runOf(py)).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    async with ctx.tasks() as tasks:',
        '        a = tasks.start(_a, ctx)',
        '        tasks.start(_unread, ctx)',
        '        m = tasks.start(_m, ctx, a)',
        '        tasks.start(_b, ctx, m)',
        '',
        '    return {"v": 1}',
      ),
    );
  });

  it('guards a node on its skippable inputs and its `when`, parenthesised after `and` when it binds looser', () => {
    const or = "{{ input.s == 'z' or input.s == 'q' }}";
    const py = moduleOf(
      wf(
        h('a') +
          `  - { id: g, type: transform, when: "{{ input.s == 'x' }}", set: { v: "{{ nodes.a.status }}" } }\n` +
          `  - { id: k, type: http, when: "${or}", url: "https://example.com/{{ nodes.g.v }}" }\n` +
          `  - { id: j, type: transform, when: "${or}", set: { v: 1 } }\n`,
        '{ v: "{{ nodes.k.status | default(0) }}", j: "{{ nodes.j.v | default(0) }}" }',
      ),
    );
    expect(runOf(py)).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    inp: WInput = ctx.input',
        '',
        '    # j (transform), workflows/w.workflow.yaml:7:5',
        '    with ctx.node("j", "transform"):',
        '        if inp.s == "z" or inp.s == "q":',
        '            j = {"v": 1}',
        '        else:',
        '            j = None',
        '',
        '    a = await _a(ctx)',
        '',
        '    # g (transform), workflows/w.workflow.yaml:5:5',
        '    with ctx.node("g", "transform"):',
        '        if inp.s == "x":',
        '            g = {"v": a["status"]}',
        '        else:',
        '            g = None',
        '',
        '    k = await _k(ctx, inp, g)',
        '',
        '    with ctx.output():',
        '        return {',
        '            "v": k["status"] if k is not None else 0,',
        '            "j": j["v"] if j is not None else 0,',
        '        }',
      ),
    );
    expect(functionsOf(py)[1]).toBe(
      lines(
        '# k (http), workflows/w.workflow.yaml:6:5',
        'async def _k(',
        '    ctx: ExecutionContext, inp: WInput, g: dict[str, Any] | None',
        ') -> dict[str, Any] | None:',
        '    with ctx.node("k", "http"):',
        '        if g is not None and (inp.s == "z" or inp.s == "q"):',
        '            return await http_call(',
        '                ctx, "k", "GET", f"https://example.com/{url_segment(g[\'v\'])}"',
        '            )',
        '        return None',
      ),
    );
  });

  it('adds a `when` that binds tighter than `and` to the guards without parentheses', () => {
    const run = runOf(
      moduleOf(
        wf(
          `  - { id: g, type: transform, when: "{{ input.s == 'x' }}", set: { v: 1 } }\n` +
            `  - { id: m, type: transform, when: "{{ input.s == 'y' and input.s != 'w' }}", set: { v: "{{ nodes.g.v }}" } }\n` +
            `  - { id: n, type: transform, when: "{{ not input.s }}", set: { v: "{{ nodes.g.v }}" } }\n`,
          '{ m: "{{ nodes.m.v | default(0) }}", n: "{{ nodes.n.v | default(0) }}" }',
        ),
      ),
    );
    expect(run).toContain('        if g is not None and inp.s == "y" and inp.s != "w":\n');
    expect(run).toContain('        if g is not None and not inp.s:\n');
  });

  it("lays an inline node's value out after its name: the line breaks past 88 columns with it", () => {
    // `        x = {"v": "a…"}` is 88 columns with 67 a's, 90 with 69: one line only if `x = `
    // were not counted.
    const x = (n: number) => `  - { id: x, type: transform, set: { v: "${'a'.repeat(n)}" } }\n`;
    expect(runOf(moduleOf(wf(x(67), '{ v: "{{ nodes.x.v }}" }')))).toContain(
      `        x = {"v": "${'a'.repeat(67)}"}\n`,
    );
    expect(runOf(moduleOf(wf(x(69), '{ v: "{{ nodes.x.v }}" }')))).toContain(
      `        x = {\n            "v": "${'a'.repeat(69)}",\n        }\n`,
    );
  });

  it("tells a streamed run's client each node's value as it is made", () => {
    const stream = 'trigger: { stream: true }\n';
    const py = moduleOf(wf(t('p') + h('a') + t('q', 'p.v'), '{ v: "{{ nodes.q.v }}" }', stream));
    expect(runOf(py)).toBe(
      lines(
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    inp: WInput = ctx.input',
        '',
        '    # p (transform), workflows/w.workflow.yaml:5:5',
        '    with ctx.node("p", "transform"):',
        '        p = ctx.partial("p", {"v": inp.s})',
        '',
        '    await _a(ctx)',
        '',
        '    # q (transform), workflows/w.workflow.yaml:7:5',
        '    with ctx.node("q", "transform"):',
        '        q = ctx.partial("q", {"v": p["v"]})',
        '',
        '    with ctx.output():',
        '        return {"v": q["v"]}',
      ),
    );
    expect(functionsOf(py)).toEqual([
      lines(
        '# a (http), workflows/w.workflow.yaml:6:5',
        'async def _a(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("a", "http"):',
        '        return ctx.partial(',
        '            "a", await http_call(ctx, "a", "GET", "https://example.com/a")',
        '        )',
      ),
    ]);
  });
});
