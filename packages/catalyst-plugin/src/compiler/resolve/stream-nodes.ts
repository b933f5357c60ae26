/**
 * `stream: true` on a node: its tokens become the `token` events of a streaming trigger. One
 * node per workflow may have it, so a client reading the tokens reads one answer, not two
 * interleaved. (Only `llm` nodes have the field: the schema refuses it on any other kind.)
 */
import type { Reporter } from '../report/reporter';
import type { NodeIR } from './resolve';

export function checkStreamNodes(nodes: NodeIR[], reporter: Reporter): void {
  const streamed = nodes.filter((n) => n.def.type === 'llm' && n.def.stream === true);
  for (const node of streamed.slice(1))
    reporter.error(
      'unsupported',
      { path: [...node.path, 'stream'], key: true },
      `node "${node.id}" streams too, but "${streamed[0].id}" already does; at most one node per workflow has "stream: true" (its tokens are the token events), so remove it here`,
    );
}
