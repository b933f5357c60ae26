/**
 * The graph resolve() builds, read whole on small definitions: each node's index, path, graph and
 * dependencies (hard or soft, in its own graph or an outer one, and the soft wait of the node
 * holding a graph for what its nodes read from outside). The golden folders see these only
 * through the generated Python; here a wrong flag is named.
 */
import { parseSource } from '../parse/source';
import { Reporter } from '../report/reporter';
import { validate } from '../validate/validate';
import { graphChain, graphName, hiddenFrom, resolve, type NodeIR, type WorkflowIR } from './resolve';

function resolved(text: string): { ir: WorkflowIR; reporter: Reporter } {
  const { source } = parseSource({ path: 'workflows/w.workflow.yaml', text });
  const reporter = new Reporter(source!);
  const definition = validate(source!.value, reporter);
  expect(reporter.diagnostics).toEqual([]);
  return { ir: resolve(definition!, reporter), reporter };
}

const said = (r: Reporter) =>
  r.diagnostics.map((d) => `${d.position.line}:${d.position.column} ${d.code}: ${d.message}`);
/** A node's dependencies as `id` (hard), `~id` (soft), with `^` for one in an outer graph. */
const deps = (n: NodeIR) => n.deps.map((d) => `${d.outer ? '^' : ''}${d.hard ? '' : '~'}${d.nodeId}`);
const node = (ir: WorkflowIR, id: string) => ir.all.find((n) => n.id === id)!;

const NESTED =
  'id: w\ninput: { properties: { go: { type: boolean } } }\nnodes:\n' +
  '  - { id: top, type: transform, set: { v: 1 } }\n' +
  '  - { id: other, type: transform, set: { v: 2 } }\n' +
  '  - id: par\n    type: parallel\n    after: [other]\n    branches:\n' +
  '      one:\n' +
  '        - { id: b1, type: transform, set: { v: "{{ nodes.top.v }} {{ nodes.top.v | default(0) }}" } }\n' +
  '        - id: each\n          type: map\n          over: "{{ [1] }}"\n          nodes:\n' +
  '            - { id: m1, type: transform, when: "{{ nodes.top.v > 0 }}", set: { v: "{{ nodes.b1.v }} {{ nodes.other.v | default(0) }}" } }\n' +
  '            - { id: m2, type: transform, after: [m1], set: { v: "{{ nodes.m1.v | default(1) }} {{ nodes.m1.v }}" } }\n' +
  '      two:\n' +
  '        - { id: c1, type: transform, set: { v: "{{ nodes.other.v | default(3) }}" } }\n' +
  'output: { v: "{{ nodes.par.one.v }} {{ nodes.par.two.v }} {{ nodes.top.v }}" }\n';

describe('resolve: the graph and its dependencies', () => {
  it('numbers nodes in definition order, nested ones too, each with its path and graph', () => {
    const { ir, reporter } = resolved(NESTED);
    expect(said(reporter)).toEqual([]);
    expect(ir.all.map((n) => `${n.index} ${n.id} ${n.path.join('.')}`)).toEqual([
      '0 top nodes.0',
      '1 other nodes.1',
      '2 par nodes.2',
      '3 b1 nodes.2.branches.one.0',
      '4 each nodes.2.branches.one.1',
      '5 m1 nodes.2.branches.one.1.nodes.0',
      '6 m2 nodes.2.branches.one.1.nodes.1',
      '7 c1 nodes.2.branches.two.0',
    ]);
    expect(ir.nodes.map((n) => n.id)).toEqual(['top', 'other', 'par']);
    expect(ir.graph.nodes).toBe(ir.nodes);
    const par = node(ir, 'par');
    expect(par.children.map((g) => [g.branch, g.owner?.id, g.parent === ir.graph, g.nodes.map((n) => n.id)])).toEqual([
      ['one', 'par', true, ['b1', 'each']],
      ['two', 'par', true, ['c1']],
    ]);
    const each = node(ir, 'each');
    expect(
      each.children.map((g) => [g.branch, g.owner?.id, g.parent === par.children[0], g.nodes.map((n) => n.id)]),
    ).toEqual([[undefined, 'each', true, ['m1', 'm2']]]);
    expect(node(ir, 'm2').graph).toBe(each.children[0]);
    expect(graphChain(node(ir, 'm2').graph).map((g) => g.owner?.id ?? 'top')).toEqual(['each', 'par', 'top']);
    expect(graphName(each.children[0])).toBe('map "each"');
    expect(graphName(par.children[1])).toBe('branch "two" of "par"');
    expect([ir.id, ir.method, ir.route, ir.stream]).toEqual(['w', 'POST', '/w', false]);
  });

  it('records hard and soft reads, outer ones, and the holder waiting softly for them', () => {
    const { ir } = resolved(NESTED);
    expect(Object.fromEntries(ir.all.map((n) => [n.id, deps(n)]))).toEqual({
      top: [],
      other: [],
      // after: [other]; then what its nodes read from here: top (hard in b1, but the holder waits softly).
      par: ['~other', '~top'],
      // A hard and a soft reference to top: one hard dependency.
      b1: ['^top'],
      // m1 reads b1 from the branch around it; each waits for b1, softly.
      each: ['~b1'],
      // Its values' references first, then its guard's.
      m1: ['^b1', '^~other', '^top'],
      // A soft then a hard reference: hard; `after` adds nothing more.
      m2: ['m1'],
      c1: ['^~other'],
    });
    expect(node(ir, 'b1').deps[0].at).toEqual({
      path: ['nodes', 2, 'branches', 'one', 0, 'set', 'v'],
      stringOffset: 9,
    });
  });

  it('keeps the first place a node is read, and a soft read of a node it already waits for softly', () => {
    const { ir } = resolved(
      'id: w\nnodes:\n' +
        '  - { id: a, type: transform, set: { v: 1 } }\n' +
        '  - { id: b, type: transform, after: [a], set: { x: "{{ nodes.a.v | default(0) }}", y: "{{ nodes.a.v | default(1) }}" } }\n' +
        '  - { id: c, type: transform, set: { x: "{{ nodes.b.x | default(0) }}", y: "{{ nodes.b.y }}" } }\n' +
        'output: { v: "{{ nodes.c.x }}" }\n',
    );
    expect(deps(node(ir, 'b'))).toEqual(['~a']);
    expect(deps(node(ir, 'c'))).toEqual(['b']);
    expect(node(ir, 'c').deps[0].at).toEqual({ path: ['nodes', 2, 'set', 'x'], stringOffset: 9 });
  });

  it('reads the trigger: method, route and stream', () => {
    const { ir } = resolved('id: w\ntrigger: { method: GET, path: /x/y, stream: true }\noutput: { v: "1" }\n');
    expect([ir.method, ir.route, ir.stream, ir.nodes, ir.all]).toEqual(['GET', '/x/y', true, [], []]);
  });

  it('reports reserved and duplicate ids and unknown or hidden `after` targets, each with its code', () => {
    const { reporter } = resolved(
      'id: w\nnodes:\n' +
        // The first "a" has its id on its second line: the duplicate names that line.
        '  - type: transform\n    id: a\n    set: { v: 1 }\n' +
        '  - { id: a, type: transform, set: { v: 2 } }\n' +
        '  - { id: total, type: transform, set: { v: 3 } }\n' +
        '  - id: p\n    type: parallel\n    branches:\n      x:\n        - { id: inner, type: transform, set: { v: 4 } }\n' +
        '  - { id: late, type: transform, after: [innr, inner], set: { v: 5 } }\n' +
        'output: {}\n',
    );
    expect(said(reporter)).toEqual([
      '6:11 duplicate_id: duplicate node id "a" (first defined on line 4); node ids must be unique in the workflow, inside branches and maps too',
      '7:11 invalid_id: node id "total" is reserved ("total" is the whole run in Server-Timing); choose another, e.g. "total_step"',
      '13:42 unknown_after: "after" names unknown node "innr" (did you mean "inner"?)',
      '13:48 out_of_scope: "after" names node "inner", which is inside branch "x" of parallel node "p"; read the branch\'s value instead: nodes.p.x',
    ]);
  });

  it('reports empty graphs and branch names that are not identifiers, each with its code', () => {
    const { reporter } = resolved(
      'id: w\nnodes:\n' +
        '  - { id: none, type: parallel, branches: {} }\n' +
        '  - id: par\n    type: parallel\n    branches:\n      empty: []\n' +
        '      bad-name:\n        - { id: b, type: transform, set: { v: 1 } }\n' +
        '  - { id: each, type: map, over: "{{ [1] }}", nodes: [] }\n' +
        'output: {}\n',
    );
    expect(said(reporter)).toEqual([
      '3:43 empty_graph: parallel node "none" has no branches; give it at least one, e.g. branches: { a: [ ...nodes ] }',
      '7:14 empty_graph: branch "empty" of parallel node "par" has no nodes; its value is its last node\'s value, so give it one (or remove the branch)',
      '8:7 invalid_id: branch name "bad-name" is not a Python identifier (ASCII letters, digits and "_", not starting with a digit); it names a field of the output, try "bad_name"',
      '10:54 empty_graph: map node "each" has no nodes; give it the nodes to run for each item (each item\'s value is its last node\'s value)',
    ]);
    expect(reporter.diagnostics.map((d) => d.suggestion)).toEqual([undefined, undefined, 'bad_name', undefined]);
  });

  it('refuses query parameters that are objects or lists of them, typed or not, and keeps the rest', () => {
    const properties = [
      'obj: { properties: { k: { type: string } } }',
      'any: {}',
      'strs: { items: { type: string } }',
      'objs: { items: { type: object } }',
      'bare: { type: array }',
      'lists: { type: array, items: { type: array, items: { type: string } } }',
      'untyped: { type: array, items: { properties: { k: { type: string } } } }',
      'untyped_lists: { type: array, items: { items: { type: string } } }',
      // A type wins over the keywords of another type.
      'text: { type: string, properties: { k: { type: string } } }',
      'count: { type: integer, items: { type: object } }',
      'choice: { enum: [a, b] }',
    ];
    const { reporter } = resolved(
      `id: w\ntrigger: { method: DELETE }\ninput:\n  properties:\n${properties.map((p) => `    ${p}\n`).join('')}output: {}\n`,
    );
    const refused = (key: string, what: string) =>
      `unsupported: a DELETE request has no body: "${key}" is a query parameter, which can be a string, number, integer, boolean, enum or a list of those (repeated), not ${what}; use POST for structured input`;
    const list = 'a list of objects or lists';
    expect(said(reporter)).toEqual([
      `5:5 ${refused('obj', 'an object')}`,
      `8:5 ${refused('objs', list)}`,
      `9:5 ${refused('bare', list)}`,
      `10:5 ${refused('lists', list)}`,
      `11:5 ${refused('untyped', list)}`,
      `12:5 ${refused('untyped_lists', list)}`,
    ]);
  });

  it('says why a node cannot be read from where it is read', () => {
    const { ir } = resolved(NESTED);
    const top = ir.graph;
    const inBranch = node(ir, 'par').children[0];
    expect(hiddenFrom(node(ir, 'top'), inBranch)).toBeUndefined();
    expect(hiddenFrom(node(ir, 'b1'), node(ir, 'm1').graph)).toBeUndefined();
    expect(hiddenFrom(node(ir, 'par'), node(ir, 'm1').graph)).toBe(
      'node "par" from inside it; its value exists only once everything in it has finished',
    );
    expect(hiddenFrom(node(ir, 'b1'), top)).toBe(
      'node "b1", which is inside branch "one" of parallel node "par"; read it through the branch\'s value: make it the branch\'s last node and read nodes.par.one',
    );
    expect(hiddenFrom(node(ir, 'c1'), top)).toBe(
      'node "c1", which is inside branch "two" of parallel node "par"; read the branch\'s value instead: nodes.par.two',
    );
    // m2 is the last node of the map, which is the last node of branch one: still inside the map.
    expect(hiddenFrom(node(ir, 'm2'), top)).toBe(
      'node "m2", which is inside branch "one" of parallel node "par"; read it through the branch\'s value: make it the branch\'s last node and read nodes.par.one',
    );
    expect(hiddenFrom(node(ir, 'm2'), inBranch)).toBe(
      'node "m2", which runs once per item inside map node "each"; read every item\'s value instead: nodes.each (a list of each item\'s last node value)',
    );
    expect(hiddenFrom(node(ir, 'c1'), inBranch)).toContain('inside branch "two" of parallel node "par"');
  });

  it('points at the results of a map that collects its failures', () => {
    const { ir } = resolved(
      'id: w\nnodes:\n' +
        '  - id: each\n    type: map\n    over: "{{ [1] }}"\n    on_error: collect\n' +
        '    nodes:\n      - { id: one, type: transform, set: { v: 1 } }\n' +
        'output: { v: "{{ nodes.each.results }}" }\n',
    );
    expect(hiddenFrom(node(ir, 'one'), ir.graph)).toBe(
      'node "one", which runs once per item inside map node "each"; read every item\'s value instead: nodes.each.results (a list of each item\'s last node value)',
    );
  });
});
