/** What an expression can see: the input type, node output types, and where it sits. */
import type { DiagnosticCode } from '../report/diagnostics';
import type { ObjectType, Type } from './types';

export const ROOTS = ['input', 'nodes', 'env', 'secrets', 'global', 'execution', 'item', 'index'] as const;

export interface Scope {
  input: ObjectType;
  /** Output types of the nodes checked so far (all nodes, in dependency order). */
  nodeOutputs: ReadonlyMap<string, Type>;
  /** Every node id in the workflow, for unknown-node suggestions. */
  nodeIds: readonly string[];
  /** Nodes that may be skipped at run time (a `when` guard, or a skipped dependency). */
  skippable: ReadonlySet<string>;
  /** Inside a `map` node's nodes, the type of `item` (and `index` exists); undefined elsewhere. */
  item?: Type;
  /** Why a node is out of reach from here (inside a branch or a map), or undefined when it is not. */
  hidden?(nodeId: string): string | undefined;
}

export interface ExprProblem {
  code: DiagnosticCode;
  /** Errors unless marked. */
  severity?: 'warning';
  /** Offset in the enclosing string value. */
  offset: number;
  message: string;
  suggestion?: string;
}
