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
import type { ModelClass } from '../model/input-model';
import type { Node, NodeType } from '../validate/schema';
import { embedding } from './embedding';
import { http } from './http';
import { llm } from './llm';
import { map } from './map';
import { parallel } from './parallel';
import { postgres } from './postgres';
import { rateLimit } from './rate-limit';
import { redis } from './redis';
import { transform } from './transform';
import { vectorSearch } from './vector-search';

export interface NodeKind<N extends Node> {
  /** True when the node awaits I/O: it becomes its own `async def`, run concurrently with its ready set. */
  async: boolean;
  /** Pools the service must build at start-up for this kind (`WorkflowRouter(pools=...)`), or per node. */
  pools: readonly string[] | ((node: N) => readonly string[]);
  /**
   * Whether the node may carry `cache:`: `true` when the same inputs give the same value and
   * running it changes nothing (a GET, a SELECT, a Redis read), so a kept value can stand in for
   * a run; otherwise why not, as the end of "node "x" cannot be cached: <why>". A kind that says
   * `true` must emit a runtime call, `await fn(ctx, ...)`, which the cache wraps (nodes/cache.ts).
   */
  idempotent: true | string | ((node: N) => true | string);
  /** The node's value templates (config holding expressions), keyed by field name. */
  templates(node: N, path: JsonPath, reporter: Reporter): Record<string, ValueTemplate>;
  /** Checks the types of its templates beyond what expressions check themselves (a vector is a list of numbers). */
  checkTypes?(node: N, types: Record<string, Type>, path: JsonPath, reporter: Reporter): void;
  /** The node's output type, from the types of its templates. */
  outputType(node: N, types: Record<string, Type>): Type;
  /**
   * Module-level objects the node's code uses, built once per process at import (a limiter, a
   * structured output): the suffix of each one's name (the caller makes `_<local>_<suffix>`
   * unique and passes the names to `emit`, by suffix) and the Python expression building it.
   */
  declarations?(node: N, workflowId: string): Declaration[];
  /** Pydantic classes the node's code uses (an `llm` node's output schema), emitted beside the input's. */
  classes?(node: N): readonly ModelClass[];
  /**
   * The Python expression computing the node's value (bound to its local by the caller).
   * `declared`: the names of its declarations, by suffix. `inner`: for a node holding graphs
   * (`parallel`, `map`), each graph's compiled function.
   */
  emit(
    node: N,
    templates: Record<string, ValueTemplate>,
    emitter: ExprEmitter,
    declared?: Readonly<Record<string, string>>,
    inner?: readonly InnerGraph[],
  ): Doc;
}

/** A module-level object: `_<local>_<suffix> = <value>`. */
export interface Declaration {
  suffix: string;
  value: Doc;
  /** It reads the module's classes (`StructuredOutput(PersonOutput, ...)`): placed after them. */
  usesClasses?: boolean;
}

/** A graph inside a node (a `parallel` branch, a `map` node's nodes) as the function running it. */
export interface InnerGraph {
  /** The branch's name (`parallel`). */
  branch?: string;
  /** The function: a branch's own, or its one node's; a map's per-item function. */
  fn: string;
  /** What the caller passes it after `ctx` (after `ctx, item, index` for a map item). */
  args: string[];
}

export type NodeKinds = { [K in NodeType]: NodeKind<Extract<Node, { type: K }>> };

export const NODE_KINDS: NodeKinds = {
  embedding,
  http,
  llm,
  map,
  parallel,
  postgres,
  rate_limit: rateLimit,
  redis,
  transform,
  vector_search: vectorSearch,
};

export function kindOf<N extends Node>(node: N): NodeKind<N> {
  return NODE_KINDS[node.type] as unknown as NodeKind<N>;
}

/** `true` when the node may be cached, otherwise why not (`NodeKind.idempotent`). */
export function idempotence(node: Node): true | string {
  const idempotent = kindOf(node).idempotent;
  return typeof idempotent === 'function' ? idempotent(node) : idempotent;
}

/** The pools a node needs: its kind's, and Redis for a cache kept there. */
export function poolsOf(node: Node): readonly string[] {
  const pools = kindOf(node).pools;
  const own = typeof pools === 'function' ? pools(node) : pools;
  return node.cache?.backend === 'redis' ? [...own, 'redis'] : own;
}
