/**
 * A Mermaid flowchart of each workflow: nodes grouped by ready set (a box marks nodes that run
 * concurrently), solid arrows for data dependencies, dotted ones for `after` and defaults.
 */
import type { Plan } from '../graph/graph';
import { nodeRefs } from '../graph/refs';
import { expressionsOf, templatesOf } from '../expr/value';
import type { WorkflowIR } from '../resolve';
import { mermaidTemplate } from './templates';

/** Mermaid ids: prefixed, so nodes named `end`, `input` or `output` cannot clash with keywords. */
const mid = (id: string): string => `n_${id}`;

export function emitMermaid(ir: WorkflowIR, plan: Plan, sourcePath: string): string {
  const used = new Set<string>();
  const edges: string[] = [];
  const steps = plan.levels.map((nodes, i) => ({
    name: `step${i + 1}`,
    concurrent: nodes.length > 1,
    nodes: nodes.map((n) => ({ id: mid(n.id), label: `${n.id}<br/>${n.def.type}${n.when ? ', when' : ''}` })),
  }));
  for (const node of plan.levels.flat()) {
    if (node.deps.length === 0) edges.push(`input --> ${mid(node.id)}`);
    for (const dep of node.deps) {
      used.add(dep.nodeId);
      edges.push(`${mid(dep.nodeId)} ${dep.hard ? '-->' : '-.->'} ${mid(node.id)}`);
    }
  }
  const outputRefs = new Set(templatesOf(ir.output).flatMap((t) => expressionsOf(t.template)).flatMap((e) => nodeRefs(e)).map((r) => r.nodeId));
  for (const node of plan.levels.flat()) {
    if (outputRefs.has(node.id) || !used.has(node.id)) edges.push(`${mid(node.id)} --> output`);
  }
  if (plan.levels.length === 0) edges.push('input --> output');
  return mermaidTemplate({ sourcePath, steps, edges });
}
