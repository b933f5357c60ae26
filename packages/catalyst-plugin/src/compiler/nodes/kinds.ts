/**
 * The node-kind table: one entry per `type` of the zod discriminated union, so adding a kind to
 * the schema fails to type-check until it says which templates it holds, what it outputs and
 * what Python it compiles to.
 */
import type { JsonPath } from '../report/diagnostics';
import type { Doc } from '../python/layout';
import type { ExprEmitter } from '../expr/emit';
import type { Type } from '../expr/types';
import type { ValueTemplate } from '../expr/value';
import type { Reporter } from '../report/reporter';
import type { Node, NodeType } from '../validate/schema';
import { http } from './http';
import { postgres } from './postgres';
import { redis } from './redis';
import { transform } from './transform';

export interface NodeKind<N extends Node> {
  /** True when the node awaits I/O: it becomes its own `async def`, run concurrently with its ready set. */
  async: boolean;
  /** Pools the service must build at start-up for this kind (`WorkflowRouter(pools=...)`). */
  pools: readonly string[];
  /** The node's value templates (config holding expressions), keyed by field name. */
  templates(node: N, path: JsonPath, reporter: Reporter): Record<string, ValueTemplate>;
  /** The node's output type, from the types of its templates. */
  outputType(node: N, types: Record<string, Type>): Type;
  /** The Python expression computing the node's value (bound to its local by the caller). */
  emit(node: N, templates: Record<string, ValueTemplate>, emitter: ExprEmitter): Doc;
}

export type NodeKinds = { [K in NodeType]: NodeKind<Extract<Node, { type: K }>> };

export const NODE_KINDS: NodeKinds = { http, postgres, redis, transform };

export function kindOf<N extends Node>(node: N): NodeKind<N> {
  return NODE_KINDS[node.type] as unknown as NodeKind<N>;
}
