/**
 * A Mermaid flowchart of each workflow: nodes in ready-set order, a box around the async nodes
 * of a ready set only where the generated code really runs them concurrently (two or more: see
 * `emit/run.ts`), solid arrows for data dependencies, dotted ones for `after` and defaults.
 */
import type { Plan } from '../plan/plan';
import { kindOf } from '../nodes/kinds';
import { nodeRefs } from '../expr/refs';
import { expressionsOf, templatesOf } from '../expr/value';
import type { WorkflowIR } from '../resolve/resolve';
import { commentText } from '../python/literal';
import { mermaidTemplate } from './templates';

/** Mermaid ids: prefixed, so nodes named `end`, `input` or `output` cannot clash with keywords. */
const mid = (id: string): string => `n_${id}`;

export function emitMermaid(ir: WorkflowIR, plan: Plan, sourcePath: string): string {
  const used = new Set<string>();
  const edges: string[] = [];
  const box = (n: (typeof plan.readySets)[number][number]) => ({
    id: mid(n.id),
    label: `${n.id}<br/>${n.def.type}${n.when ? ', when' : ''}`,
  });
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
    if (node.deps.length === 0) edges.push(`input --> ${mid(node.id)}`);
    for (const dep of node.deps) {
      used.add(dep.nodeId);
      edges.push(`${mid(dep.nodeId)} ${dep.hard ? '-->' : '-.->'} ${mid(node.id)}`);
    }
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
