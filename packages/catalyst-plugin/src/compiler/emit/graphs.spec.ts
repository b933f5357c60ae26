/**
 * The graphs inside `parallel` and `map` nodes as functions, read whole where the golden folders
 * do not reach: a branch laid out as a task group or a `run_concurrently` line (its last value
 * must be unpacked, to be returned), a parallel node inside a map, whose branches are passed
 * the map's `item` and `index`, and a branch given the values it reads from outside.
 */
import { compileService } from '../index';

/** The module's functions and `run`, from the first node function to the end of `run`. */
function functionsAndRun(text: string): string {
  const result = compileService([{ path: 'workflows/w.workflow.yaml', text }]);
  expect(result.diagnostics).toEqual([]);
  const py = result.files.find((f) => f.path === 'w.py')!.contents;
  return py.slice(py.indexOf('\n\n\n# ') + 3, py.indexOf('\n\n\nrouter = '));
}

const lines = (...ls: string[]) => ls.join('\n');

describe('innerGraphs', () => {
  it("returns a branch's last value from its group or its run_concurrently line, which must unpack it", () => {
    expect(
      functionsAndRun(
        'id: w\n' +
          'nodes:\n' +
          '  - id: p\n' +
          '    type: parallel\n' +
          '    branches:\n' +
          '      two:\n' +
          '        - { id: a, type: http, url: "https://x.example/a" }\n' +
          '        - { id: b, type: http, url: "https://x.example/b" }\n' +
          '      group:\n' +
          '        - { id: c, type: http, url: "https://x.example/c" }\n' +
          '        - { id: d, type: http, url: "https://x.example/d" }\n' +
          '        - { id: e, type: http, url: "https://x.example/{{ nodes.c.status }}" }\n' +
          'output: { p: "{{ nodes.p }}" }\n',
      ),
    ).toBe(
      lines(
        '# a (http), workflows/w.workflow.yaml:7:11',
        'async def _a(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("a", "http"):',
        '        return await http_call(ctx, "a", "GET", "https://x.example/a")',
        '',
        '',
        '# b (http), workflows/w.workflow.yaml:8:11',
        'async def _b(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("b", "http"):',
        '        return await http_call(ctx, "b", "GET", "https://x.example/b")',
        '',
        '',
        '# p (parallel): branch "two", workflows/w.workflow.yaml:7:9',
        'async def _p_two(ctx: ExecutionContext) -> dict[str, Any]:',
        '    _, b = await run_concurrently(_a(ctx), _b(ctx))',
        '',
        '    return b',
        '',
        '',
        '# c (http), workflows/w.workflow.yaml:10:11',
        'async def _c(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("c", "http"):',
        '        return await http_call(ctx, "c", "GET", "https://x.example/c")',
        '',
        '',
        '# d (http), workflows/w.workflow.yaml:11:11',
        'async def _d(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("d", "http"):',
        '        return await http_call(ctx, "d", "GET", "https://x.example/d")',
        '',
        '',
        '# e (http), workflows/w.workflow.yaml:12:11',
        'async def _e(ctx: ExecutionContext, c: dict[str, Any]) -> dict[str, Any]:',
        '    with ctx.node("e", "http"):',
        '        return await http_call(',
        '            ctx, "e", "GET", f"https://x.example/{url_segment(c[\'status\'])}"',
        '        )',
        '',
        '',
        '# p (parallel): branch "group", workflows/w.workflow.yaml:10:9',
        'async def _p_group(ctx: ExecutionContext) -> dict[str, Any]:',
        '    async with ctx.tasks() as tasks:',
        '        c = tasks.start(_c, ctx)',
        '        tasks.start(_d, ctx)',
        '        tasks.start(_e, ctx, c)',
        '    _, _, e = tasks.results()',
        '',
        '    return e',
        '',
        '',
        '# p (parallel), workflows/w.workflow.yaml:3:5',
        'async def _p(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("p", "parallel"):',
        '        return await run_branches(',
        '            ctx, "p", {"two": _p_two(ctx), "group": _p_group(ctx)}',
        '        )',
        '',
        '',
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    p = await _p(ctx)',
        '',
        '    with ctx.output():',
        '        return {"p": p}',
      ),
    );
  });

  it("passes a map's item and index on to a parallel node's branches inside it", () => {
    expect(
      functionsAndRun(
        'id: w\n' +
          'nodes:\n' +
          '  - id: m\n' +
          '    type: map\n' +
          "    over: \"{{ ['x', 'y'] }}\"\n" +
          '    nodes:\n' +
          '      - id: p\n' +
          '        type: parallel\n' +
          '        branches:\n' +
          '          i: [{ id: u, type: transform, set: { v: "{{ item }}" } }]\n' +
          '          n: [{ id: v, type: http, url: "https://x.example/{{ index }}" }]\n' +
          'output: { m: "{{ nodes.m }}" }\n',
      ),
    ).toBe(
      lines(
        '# p (parallel): branch "i", workflows/w.workflow.yaml:10:14',
        'async def _p_i(ctx: ExecutionContext, item: str) -> dict[str, Any]:',
        '    # u (transform), workflows/w.workflow.yaml:10:15',
        '    with ctx.node("u", "transform"):',
        '        u = {"v": item}',
        '',
        '    return u',
        '',
        '',
        '# v (http), workflows/w.workflow.yaml:11:15',
        'async def _v(ctx: ExecutionContext, index: int) -> dict[str, Any]:',
        '    with ctx.node("v", "http"):',
        '        return await http_call(',
        '            ctx, "v", "GET", f"https://x.example/{url_segment(index)}"',
        '        )',
        '',
        '',
        '# p (parallel), workflows/w.workflow.yaml:7:9',
        'async def _p(ctx: ExecutionContext, item: str, index: int) -> dict[str, Any]:',
        '    with ctx.node("p", "parallel"):',
        '        return await run_branches(ctx, "p", {"i": _p_i(ctx, item), "n": _v(ctx, index)})',
        '',
        '',
        '# m (map): the nodes run for each item, workflows/w.workflow.yaml:7:7',
        'async def _m_item(ctx: ExecutionContext, item: str, index: int) -> dict[str, Any]:',
        '    p = await _p(ctx, item, index)',
        '',
        '    return p',
        '',
        '',
        '# m (map), workflows/w.workflow.yaml:3:5',
        'async def _m(ctx: ExecutionContext) -> list[Any]:',
        '    with ctx.node("m", "map"):',
        '        return await run_map(ctx, "m", ["x", "y"], _m_item)',
        '',
        '',
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    m = await _m(ctx)',
        '',
        '    with ctx.output():',
        '        return {"m": m}',
      ),
    );
  });

  it('gives a branch of several nodes the values it reads from outside the parallel node', () => {
    expect(
      functionsAndRun(
        'id: w\n' +
          'nodes:\n' +
          '  - { id: a, type: http, url: "https://x.example/a" }\n' +
          '  - id: p\n' +
          '    type: parallel\n' +
          '    branches:\n' +
          '      two:\n' +
          '        - { id: b, type: transform, set: { s: "{{ nodes.a.status }}" } }\n' +
          '        - { id: c, type: http, url: "https://x.example/{{ nodes.b.s }}" }\n' +
          '      one: [{ id: d, type: http, url: "https://x.example/d" }]\n' +
          'output: { p: "{{ nodes.p }}" }\n',
      ),
    ).toBe(
      lines(
        '# a (http), workflows/w.workflow.yaml:3:5',
        'async def _a(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("a", "http"):',
        '        return await http_call(ctx, "a", "GET", "https://x.example/a")',
        '',
        '',
        '# c (http), workflows/w.workflow.yaml:9:11',
        'async def _c(ctx: ExecutionContext, b: dict[str, Any]) -> dict[str, Any]:',
        '    with ctx.node("c", "http"):',
        '        return await http_call(',
        '            ctx, "c", "GET", f"https://x.example/{url_segment(b[\'s\'])}"',
        '        )',
        '',
        '',
        '# p (parallel): branch "two", workflows/w.workflow.yaml:8:9',
        'async def _p_two(ctx: ExecutionContext, a: dict[str, Any]) -> dict[str, Any]:',
        '    # b (transform), workflows/w.workflow.yaml:8:11',
        '    with ctx.node("b", "transform"):',
        '        b = {"s": a["status"]}',
        '',
        '    c = await _c(ctx, b)',
        '',
        '    return c',
        '',
        '',
        '# d (http), workflows/w.workflow.yaml:10:13',
        'async def _d(ctx: ExecutionContext) -> dict[str, Any]:',
        '    with ctx.node("d", "http"):',
        '        return await http_call(ctx, "d", "GET", "https://x.example/d")',
        '',
        '',
        '# p (parallel), workflows/w.workflow.yaml:4:5',
        'async def _p(ctx: ExecutionContext, a: dict[str, Any]) -> dict[str, Any]:',
        '    with ctx.node("p", "parallel"):',
        '        return await run_branches(ctx, "p", {"two": _p_two(ctx, a), "one": _d(ctx)})',
        '',
        '',
        'async def run(ctx: ExecutionContext) -> dict[str, Any]:',
        '    a = await _a(ctx)',
        '',
        '    p = await _p(ctx, a)',
        '',
        '    with ctx.output():',
        '        return {"p": p}',
      ),
    );
  });
});
