/**
 * The planner on small graphs, pass by pass (parse, validate, resolve, plan): ready sets, the
 * nodes that may be skipped, cycles and unused nodes, each read whole. The golden folders hold the
 * same rules through the generated Python; these say which rule broke, in milliseconds.
 */
import { parseSource } from '../parse/source';
import { Reporter } from '../report/reporter';
import { resolve, type GraphIR, type WorkflowIR } from '../resolve/resolve';
import { validate } from '../validate/validate';
import { orderedNodes, planWorkflow, readNodes, reportUnused, type Plan } from './plan';

interface Planned {
  ir: WorkflowIR;
  plan: Plan;
  reporter: Reporter;
}

function planOf(text: string): Planned {
  const { source, problems } = parseSource({ path: 'workflows/w.workflow.yaml', text });
  expect(problems).toEqual([]);
  const reporter = new Reporter(source!);
  const definition = validate(source!.value, reporter);
  expect(reporter.diagnostics).toEqual([]);
  const ir = resolve(definition!, reporter);
  const plan = planWorkflow(ir, reporter);
  return { ir, plan, reporter };
}

const ids = (sets: { id: string }[][]) => sets.map((s) => s.map((n) => n.id));
const said = (r: Reporter) =>
  r.diagnostics.map((d) => `${d.position.line}:${d.position.column} ${d.code}: ${d.message}`);
const graphOf = (ir: WorkflowIR, owner: string, branch?: string): GraphIR =>
  ir.all.find((n) => n.id === owner)!.children.find((g) => g.branch === branch)!;

/** `id` reading each of `reads` (a transform whose values are those nodes' `v`). */
const t = (id: string, ...reads: string[]) =>
  `  - { id: ${id}, type: transform, set: { v: "${reads.map((r) => `{{ nodes.${r}.v }}`).join(' ') || 'x'}" } }\n`;

describe('planWorkflow: ready sets', () => {
  it('puts each node one set past the latest it needs, in source order inside a set', () => {
    // Source order a, b, c, p, q, r: p and q are ready first; c waits for a, which waits for q.
    const { plan, reporter } = planOf(
      `id: w\nnodes:\n${t('a', 'q')}${t('b', 'p')}${t('c', 'a', 'p')}${t('p')}${t('q')}${t('r', 'p', 'q')}output: { v: "{{ nodes.c.v }} {{ nodes.b.v }} {{ nodes.r.v }}" }\n`,
    );
    expect(said(reporter)).toEqual([]);
    // p's dependants (b, c, r) are reached before q's (a, r): the set is sorted back to source order.
    expect(ids(plan.readySets)).toEqual([['p', 'q'], ['a', 'b', 'r'], ['c']]);
    expect(orderedNodes(plan, undefined).map((n) => n.id)).toEqual(['p', 'q', 'a', 'b', 'r', 'c']);
  });

  it('counts a node read twice (a reference and "after") once', () => {
    const { plan } = planOf(
      `id: w\nnodes:\n${t('a')}  - { id: b, type: transform, after: [a], set: { v: "{{ nodes.a.v }}" } }\n${t('c', 'b')}output: { v: "{{ nodes.c.v }}" }\n`,
    );
    expect(ids(plan.readySets)).toEqual([['a'], ['b'], ['c']]);
  });

  it('orders each branch and map by its own nodes; a node read from outside waits outside', () => {
    const { ir, plan, reporter } = planOf(
      'id: w\nnodes:\n' +
        t('top') +
        '  - id: par\n    type: parallel\n    branches:\n' +
        '      one:\n' +
        '        - { id: b2, type: transform, set: { v: "{{ nodes.b1.v }} {{ nodes.top.v }}" } }\n' +
        '        - { id: b1, type: transform, set: { v: "{{ nodes.top.v }}" } }\n' +
        '        - { id: b3, type: transform, set: { v: "{{ nodes.b2.v }}" } }\n' +
        '      two:\n' +
        '        - { id: c1, type: transform, set: { v: "{{ nodes.top.v }}" } }\n' +
        '  - id: each\n    type: map\n    over: "{{ [1, 2] }}"\n    nodes:\n' +
        '        - { id: m2, type: transform, set: { v: "{{ nodes.m1.v }} {{ nodes.top.v }}" } }\n' +
        '        - { id: m1, type: transform, set: { v: "{{ item }}" } }\n' +
        'output: { a: "{{ nodes.par.one.v }} {{ nodes.par.two.v }}", b: "{{ nodes.each }}" }\n',
    );
    expect(said(reporter)).toEqual([]);
    expect(ids(plan.readySets)).toEqual([['top'], ['par', 'each']]);
    expect(ids(plan.graphs.get(graphOf(ir, 'par', 'one'))!)).toEqual([['b1'], ['b2'], ['b3']]);
    expect(ids(plan.graphs.get(graphOf(ir, 'par', 'two'))!)).toEqual([['c1']]);
    expect(ids(plan.graphs.get(graphOf(ir, 'each'))!)).toEqual([['m1'], ['m2']]);
    expect(orderedNodes(plan, graphOf(ir, 'each')).map((n) => n.id)).toEqual(['m1', 'm2']);
    expect(plan.graphs.size).toBe(3);
  });

  it('plans a workflow without nodes as no sets', () => {
    const { plan, reporter } = planOf('id: w\noutput: { v: "x" }\n');
    expect(plan.readySets).toEqual([]);
    expect(plan.skippable).toEqual(new Set());
    expect(said(reporter)).toEqual([]);
  });
});

describe('planWorkflow: nodes that may be skipped', () => {
  it('a guard, and what reads a skippable node outright; not what reads it through default() or after', () => {
    const { plan } = planOf(
      'id: w\ninput: { properties: { go: { type: boolean } } }\nnodes:\n' +
        '  - { id: g, type: transform, when: "{{ input.go }}", set: { v: 1 } }\n' +
        t('hard', 'g') +
        t('hard2', 'hard') +
        '  - { id: soft, type: transform, set: { v: "{{ nodes.g.v | default(0) }}" } }\n' +
        '  - { id: mixed, type: transform, set: { v: "{{ nodes.g.v | default(0) }} {{ nodes.g.v }}" } }\n' +
        '  - { id: later, type: transform, after: [g], set: { v: 2 } }\n' +
        t('free') +
        'output: { v: "{{ nodes.hard2.v }} {{ nodes.soft.v }} {{ nodes.mixed.v }} {{ nodes.later.v }} {{ nodes.free.v }}" }\n',
    );
    expect([...plan.skippable].sort()).toEqual(['g', 'hard', 'hard2', 'mixed']);
  });

  it('inside branches and maps too, reading a skippable node from outside', () => {
    const { plan } = planOf(
      'id: w\ninput: { properties: { go: { type: boolean } } }\nnodes:\n' +
        '  - { id: g, type: transform, when: "{{ input.go }}", set: { v: 1 } }\n' +
        '  - id: par\n    type: parallel\n    branches:\n' +
        '      one:\n' +
        '        - { id: inner, type: transform, set: { v: "{{ nodes.g.v }}" } }\n' +
        '        - { id: after_inner, type: transform, set: { v: "{{ nodes.inner.v }}" } }\n' +
        '      two:\n' +
        '        - { id: own, type: transform, when: "{{ input.go }}", set: { v: 3 } }\n' +
        '        - { id: plain, type: transform, set: { v: 4 } }\n' +
        'output: { v: "{{ nodes.par.one.v }} {{ nodes.par.two.v }}" }\n',
    );
    expect([...plan.skippable].sort()).toEqual(['after_inner', 'g', 'inner', 'own']);
  });
});

describe('planWorkflow: cycles', () => {
  it('reports a cycle once, with its path from the first stuck node, at the reference', () => {
    // d is stuck behind the cycle without being in it; e is in a second, separate cycle.
    const { plan, reporter } = planOf(
      `id: w\nnodes:\n${t('d', 'a')}${t('a', 'c')}${t('b', 'a')}${t('c', 'b')}${t('e', 'f')}${t('f', 'e')}${t('ok')}output: { v: "{{ nodes.d.v }} {{ nodes.ok.v }}" }\n`,
    );
    expect(said(reporter)).toEqual([
      '4:51 cycle: dependency cycle: a → c → b → a (each node needs the next); remove one of these references or "after" entries',
      '7:51 cycle: dependency cycle: e → f → e (each node needs the next); remove one of these references or "after" entries',
    ]);
    expect(ids(plan.readySets)).toEqual([['ok']]);
  });

  it('reports nothing more for a node stuck behind a cycle already reported', () => {
    // The cycle's nodes come first: d's walk then ends at a, which the cycle's walk explained.
    // a reads ok before c: the error points at the reference to the next node of the cycle.
    const { reporter } = planOf(
      `id: w\nnodes:\n${t('a', 'ok', 'c')}${t('b', 'a')}${t('c', 'b')}${t('d', 'a')}${t('ok')}output: { v: "{{ nodes.d.v }}" }\n`,
    );
    expect(said(reporter)).toEqual([
      '3:68 cycle: dependency cycle: a → c → b → a (each node needs the next); remove one of these references or "after" entries',
    ]);
  });

  it('reports a node that needs itself as such, through a reference or "after"', () => {
    const { reporter } = planOf(
      `id: w\nnodes:\n${t('a', 'a')}  - { id: b, type: transform, after: [b], set: { v: 1 } }\noutput: { v: "{{ nodes.a.v }}" }\n`,
    );
    expect(said(reporter)).toEqual([
      '3:51 cycle: node "a" depends on itself; a node can neither read its own output nor list itself in "after"',
      '4:39 cycle: node "b" depends on itself; a node can neither read its own output nor list itself in "after"',
    ]);
  });

  it('reports a cycle inside a branch, not the nodes around it', () => {
    const { reporter } = planOf(
      'id: w\nnodes:\n' +
        '  - id: par\n    type: parallel\n    branches:\n      one:\n' +
        '        - { id: x, type: transform, set: { v: "{{ nodes.y.v }}" } }\n' +
        '        - { id: y, type: transform, set: { v: "{{ nodes.x.v }}" } }\n' +
        'output: { v: "{{ nodes.par.one.v }}" }\n',
    );
    expect(said(reporter)).toEqual([
      '7:57 cycle: dependency cycle: x → y → x (each node needs the next); remove one of these references or "after" entries',
    ]);
  });
});

describe('reportUnused and readNodes', () => {
  it('warns of a transform nothing reads; not of an http call, a branch value or a node read by a guard', () => {
    const { ir, reporter } = planOf(
      'id: w\ninput: { properties: { go: { type: boolean } } }\nnodes:\n' +
        t('dead') +
        t('read_by_node') +
        t('reader', 'read_by_node') +
        '  - { id: guard_src, type: transform, set: { v: true } }\n' +
        '  - { id: guarded, type: transform, when: "{{ nodes.guard_src.v }}", set: { v: 1 } }\n' +
        '  - { id: call, type: http, url: "https://example.com/x" }\n' +
        '  - id: par\n    type: parallel\n    branches:\n      one:\n' +
        '        - { id: inner_dead, type: transform, set: { v: 1 } }\n' +
        '        - { id: last, type: transform, set: { v: 2 } }\n' +
        'output: { v: "{{ nodes.reader.v }} {{ nodes.guarded.v }} {{ nodes.par.one.v }}" }\n',
    );
    reportUnused(ir.all, ir.output, reporter);
    expect(said(reporter)).toEqual([
      '4:11 unused_node: node "dead" is never used: neither the output nor another node reads it',
      '14:17 unused_node: node "inner_dead" is never used: neither the output nor another node reads it',
    ]);
    expect([...readNodes(ir.all, ir.output)].sort()).toEqual(['guard_src', 'guarded', 'par', 'read_by_node', 'reader']);
    expect([...readNodes([], ir.output)].sort()).toEqual(['guarded', 'par', 'reader']);
  });
});
