/**
 * `stream: true` on a node: its tokens become the `token` events of a streaming trigger. One
 * node per workflow may have it, so a client reading the tokens reads one answer, not two
 * interleaved, and none inside a `map`. (Only `llm` nodes have the field: the schema refuses it on
 * any other kind.)
 */
import type { Reporter } from '../report/reporter';
import type { GraphIR, NodeIR } from './resolve';

export function checkStreamNodes(nodes: NodeIR[], reporter: Reporter): void {
  const streamed: NodeIR[] = [];
  for (const node of nodes) {
    if (node.def.type !== 'llm' || node.def.stream !== true) continue;
    // A map runs its items several at once: their tokens would share one node id and
    // interleave, which no client could read back into answers.
    const map = enclosingMap(node.graph);
    if (map === undefined) streamed.push(node);
    else
      reporter.error(
        'unsupported',
        { path: [...node.path, 'stream'], key: true },
        `node "${node.id}" runs once per item of map "${map.id}", several at once, so their tokens would interleave in one stream; stream a node after the map instead (one that reads its results), or remove "stream: true"`,
      );
  }
  for (const node of streamed.slice(1))
    reporter.error(
      'unsupported',
      { path: [...node.path, 'stream'], key: true },
      `node "${node.id}" streams too, but "${streamed[0].id}" already does; at most one node per workflow has "stream: true" (its tokens are the token events), so remove it here`,
    );
}

function enclosingMap(graph: GraphIR | undefined): NodeIR | undefined {
  for (let g = graph; g !== undefined; g = g.parent) if (g.owner?.def.type === 'map') return g.owner;
  return undefined;
}
