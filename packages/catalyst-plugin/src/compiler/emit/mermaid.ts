/**
 * A Mermaid flowchart of each workflow: nodes in ready-set order, a box around the async nodes
 * of a ready set only where the generated code really runs them concurrently (two or more: see
 * `emit/run.ts`), solid arrows for data dependencies, dotted ones for `after` and defaults. A
 * `parallel` node is a box holding one box per branch, a `map` node a box holding its nodes.
 */
import type { Plan } from '../plan/plan';
import { kindOf } from '../nodes/kinds';
import { nodeRefs } from '../expr/refs';
import { expressionsOf, templatesOf } from '../expr/value';
import type { GraphIR, NodeIR, WorkflowIR } from '../resolve/resolve';
import { commentText } from '../python/literal';
import { mermaidTemplate } from './templates';

/** Mermaid ids: prefixed, so nodes named `end`, `input` or `output` cannot clash with keywords. */
const mid = (id: string): string => `n_${id}`;

export function emitMermaid(ir: WorkflowIR, plan: Plan, sourcePath: string): string {
  const used = new Set<string>();
  const edges: string[] = [];
  const box = (n: NodeIR) => ({ lines: boxLines(n, plan, edges) });
  const readySets = plan.readySets.map((nodes, i) => {
    // As `run` does it: synchronous nodes inline, one after the other, then the async ones.
    const concurrent = nodes.filter((n) => kindOf(n.def).async);
    return {
      name: `ready${i + 1}`,
      nodes: (concurrent.length > 1 ? nodes.filter((n) => !kindOf(n.def).async) : nodes).map(box),
      concurrent: concurrent.length > 1 ? concurrent.map(box) : [],
    };
  });
  for (const node of plan.readySets.flat()) {
    const deps = ownDeps(node);
    if (deps.length === 0) edges.push(`input --> ${mid(node.id)}`);
    for (const dep of node.deps) used.add(dep.nodeId);
    for (const dep of deps) edges.push(`${mid(dep.nodeId)} ${dep.hard ? '-->' : '-.->'} ${mid(node.id)}`);
  }
  const outputRefs = new Set(
    templatesOf(ir.output)
      .flatMap((t) => expressionsOf(t.template))
      .flatMap((e) => nodeRefs(e))
      .map((r) => r.nodeId),
  );
  for (const node of plan.readySets.flat()) {
    if (outputRefs.has(node.id) || !used.has(node.id)) edges.push(`${mid(node.id)} --> output`);
  }
  if (plan.readySets.length === 0) edges.push('input --> output');
  return mermaidTemplate({ sourcePath: commentText(sourcePath), readySets, edges });
}

/** A node's box: one line, or for a `parallel` or `map` node a subgraph holding its graphs. */
function boxLines(n: NodeIR, plan: Plan, edges: string[]): string[] {
  const label = `${n.id}<br/>${n.def.type}${n.when ? ', when' : ''}`;
  if (n.children.length === 0) return [`${mid(n.id)}["${label}"]`];
  const inner = (graph: GraphIR): string[] => {
    const nodes = plan.graphs.get(graph)!.flat();
    for (const node of nodes)
      for (const dep of ownDeps(node)) edges.push(`${mid(dep.nodeId)} ${dep.hard ? '-->' : '-.->'} ${mid(node.id)}`);
    return nodes.flatMap((node) => boxLines(node, plan, edges)).map((line) => `  ${line}`);
  };
  if (n.def.type === 'map') return [`subgraph ${mid(n.id)}["${label}: each item"]`, ...inner(n.children[0]), 'end'];
  const branches = n.children.flatMap((g) => [
    `  subgraph b_${n.id}__${g.branch}["branch ${g.branch}"]`,
    ...inner(g).map((line) => `  ${line}`),
    '  end',
  ]);
  return [`subgraph ${mid(n.id)}["${label}"]`, ...branches, 'end'];
}

/**
 * The dependencies drawn as arrows into a node: a `parallel` or `map` node waits for what its
 * nodes read from outside, but those arrows go to the nodes themselves.
 */
function ownDeps(n: NodeIR): NodeIR['deps'] {
  if (n.children.length === 0) return n.deps;
  const fromInside = new Set<string>();
  const walk = (g: GraphIR): void =>
    g.nodes.forEach((m) => {
      m.deps.filter((d) => d.outer).forEach((d) => fromInside.add(d.nodeId));
      m.children.forEach(walk);
    });
  n.children.forEach(walk);
  return n.deps.filter((d) => !fromInside.has(d.nodeId) || d.hard);
}
