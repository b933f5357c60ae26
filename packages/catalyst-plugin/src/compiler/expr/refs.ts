/**
 * Node references in expressions: `nodes.<id>` (or `nodes["<id>"]`). A reference is soft when
 * it sits inside a `| default(...)` operand: the node may then be skipped without skipping
 * the one that reads it.
 */
import { children, type Expr } from './ast';

export interface NodeRef {
  nodeId: string;
  /** Offset of the id in the enclosing string value. */
  offset: number;
  soft: boolean;
}

export function nodeRefs(e: Expr, soft = false, out: NodeRef[] = []): NodeRef[] {
  if (e.kind === 'member' && e.object.kind === 'root' && e.object.name === 'nodes') {
    out.push({ nodeId: e.name, offset: e.nameSpan.start, soft });
    return out;
  }
  if (
    e.kind === 'index' &&
    e.object.kind === 'root' &&
    e.object.name === 'nodes' &&
    e.index.kind === 'literal' &&
    typeof e.index.value === 'string'
  ) {
    out.push({ nodeId: e.index.value, offset: e.index.span.start, soft });
    return out;
  }
  if (e.kind === 'filter' && e.name === 'default') {
    nodeRefs(e.input, true, out);
    e.args.forEach((a) => nodeRefs(a, soft, out));
    return out;
  }
  for (const c of children(e)) nodeRefs(c, soft, out);
  return out;
}
