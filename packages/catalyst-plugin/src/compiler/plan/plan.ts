/**
 * Pass 4: the dependency graph. Orders nodes into ready sets (a node's set is one past the
 * latest set it depends on; nodes in one set may run concurrently), reports every cycle with
 * its path, and finds which nodes may be skipped at run time.
 */
import { expressionsOf, templatesOf, type ValueTemplate } from '../expr/value';
import type { Reporter } from '../report/reporter';
import { kindOf } from '../nodes/kinds';
import { nodeRefs } from '../expr/refs';
import type { GraphIR, NodeIR, WorkflowIR } from '../resolve/resolve';

export interface Plan {
  /** Ready sets of the workflow's own nodes, in order; nodes inside one set keep their source order. */
  readySets: NodeIR[][];
  /** The same for each graph inside a `parallel` or `map` node. */
  graphs: Map<GraphIR, NodeIR[][]>;
  /** Nodes that may be skipped: a `when` guard, or a hard dependency that may be skipped. */
  skippable: Set<string>;
}

/** Every graph's ready sets; then, outside in, the nodes that may be skipped. */
export function planWorkflow(ir: WorkflowIR, reporter: Reporter): Plan {
  const graphs = new Map<GraphIR, NodeIR[][]>();
  const readySets = planGraph(ir.nodes, reporter);
  for (const node of ir.all) for (const child of node.children) graphs.set(child, planGraph(child.nodes, reporter));
  const skippable = new Set<string>();
  const visit = (sets: NodeIR[][]): void => {
    for (const n of sets.flat()) {
      if (n.when || n.deps.some((d) => d.hard && skippable.has(d.nodeId))) skippable.add(n.id);
      for (const child of n.children) visit(graphs.get(child)!);
    }
  };
  visit(readySets);
  return { readySets, graphs, skippable };
}

/** A graph's ready sets in order: every node after the nodes of its graph it needs. */
export function orderedNodes(plan: Plan, graph: GraphIR | undefined): NodeIR[] {
  return (graph ? plan.graphs.get(graph)! : plan.readySets).flat();
}

/**
 * A pure node (transform) whose output reaches neither the response nor another node is dead
 * code, most likely a missing reference: warn. A node doing I/O (http) may be there for its
 * effect, such as a POST whose answer nobody needs.
 */
export function reportUnused(nodes: NodeIR[], output: ValueTemplate, reporter: Reporter): void {
  const used = new Set(nodes.flatMap((n) => n.deps.map((d) => d.nodeId)));
  // A branch's or a map item's value is its last node's.
  for (const n of nodes) for (const g of n.children) if (g.nodes.length > 0) used.add(g.nodes[g.nodes.length - 1].id);
  for (const t of templatesOf(output))
    for (const e of expressionsOf(t.template)) for (const r of nodeRefs(e)) used.add(r.nodeId);
  for (const n of nodes) {
    if (!used.has(n.id) && !kindOf(n.def).async)
      reporter.warning(
        'unused_node',
        { path: [...n.path, 'id'] },
        `node "${n.id}" is never used: neither the output nor another node reads it`,
      );
  }
}

/** Nodes whose value some expression reads: in a node's config or guard, or in the output. */
export function readNodes(nodes: NodeIR[], output: ValueTemplate): Set<string> {
  const sites = [
    ...nodes.flatMap((n) => [...Object.values(n.templates).flatMap(templatesOf), ...(n.when ? [n.when] : [])]),
    ...templatesOf(output),
  ];
  return new Set(sites.flatMap((s) => expressionsOf(s.template).flatMap((e) => nodeRefs(e).map((r) => r.nodeId))));
}

/** Only dependencies inside the graph order it: the nodes around it have finished before it starts. */
const local = (n: NodeIR) => n.deps.filter((d) => !d.outer);

function planGraph(nodes: NodeIR[], reporter: Reporter): NodeIR[][] {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const dependants = new Map<string, NodeIR[]>(nodes.map((n) => [n.id, []]));
  const waiting = new Map<string, number>();
  for (const n of nodes) {
    waiting.set(n.id, local(n).length);
    for (const d of local(n)) dependants.get(d.nodeId)?.push(n);
  }
  const placed = new Set<string>();
  let ready = nodes.filter((n) => local(n).length === 0);
  const readySets: NodeIR[][] = [];
  while (ready.length > 0) {
    readySets.push(ready);
    const next: NodeIR[] = [];
    for (const n of ready) {
      placed.add(n.id);
      for (const m of dependants.get(n.id) ?? []) {
        const left = waiting.get(m.id)! - 1;
        waiting.set(m.id, left);
        if (left === 0) next.push(m);
      }
    }
    ready = next.sort((a, b) => a.index - b.index);
  }
  const stuck = nodes.filter((n) => !placed.has(n.id));
  reportCycles(stuck, byId, new Set(stuck.map((n) => n.id)), reporter);
  return readySets;
}

/** Walks stuck nodes along stuck dependencies until a node repeats: that loop is a cycle. */
function reportCycles(stuck: NodeIR[], byId: Map<string, NodeIR>, stuckIds: Set<string>, reporter: Reporter): void {
  const explained = new Set<string>();
  for (const start of stuck) {
    if (explained.has(start.id)) continue;
    const walk: NodeIR[] = [];
    const onWalk = new Map<string, number>();
    let cur: NodeIR | undefined = start;
    while (cur && !onWalk.has(cur.id) && !explained.has(cur.id)) {
      onWalk.set(cur.id, walk.length);
      walk.push(cur);
      const dep: NodeIR['deps'][number] | undefined = cur.deps.find((d) => stuckIds.has(d.nodeId));
      cur = dep ? byId.get(dep.nodeId) : undefined;
    }
    walk.forEach((n) => explained.add(n.id));
    if (!cur || !onWalk.has(cur.id)) continue;
    const cycle = walk.slice(onWalk.get(cur.id));
    const names = [...cycle.map((n) => n.id), cycle[0].id].join(' → ');
    const first = cycle[0];
    const dep = first.deps.find((d) => d.nodeId === (cycle[1] ?? first).id)!;
    const message =
      cycle.length === 1
        ? `node "${first.id}" depends on itself; a node can neither read its own output nor list itself in "after"`
        : `dependency cycle: ${names} (each node needs the next); remove one of these references or "after" entries`;
    reporter.error('cycle', dep.at, message);
  }
}
