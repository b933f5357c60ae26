/**
 * `parallel`: named branches, each a list of nodes, run at once; the node's value is an object
 * with each branch's value (its last node's) under the branch's name.
 *
 * Each branch compiles to its own `async def` (see `emit/graphs.ts`), or is its one async node's
 * function when it holds only that; the node's code hands the branches' coroutines to the
 * runtime's `run_branches`, which runs them in one task group, bounded by `timeout`. Nothing
 * walks a graph at run time.
 */
import { pyString } from '../python/literal';
import { atom, callDoc, type Doc } from '../python/layout';
import { withNullable, type ObjectType, type Type } from '../expr/types';
import type { ParallelNodeDef } from '../validate/schema';
import type { NodeKind } from './kinds';

export const parallel: NodeKind<ParallelNodeDef> = {
  async: true,
  pools: [],
  idempotent:
    'a parallel node runs branches of nodes, each with its own effects; put "cache" on the nodes inside them that only read',
  templates: () => ({}),
  outputType(node, types) {
    const branches = types.branches as ObjectType;
    if (node.on_timeout !== 'partial' || node.timeout === undefined) return branches;
    // A branch still running at the timeout gives null.
    const fields = new Map([...branches.fields!].map(([name, f]) => [name, { type: withNullable(f.type, true) }]));
    return { kind: 'object', fields } satisfies Type;
  },
  emit(node, _templates, _emitter, _declared, inner) {
    const branches: Doc = {
      kind: 'group',
      open: '{',
      close: '}',
      call: false,
      items: inner!.map((g) => ({
        prefix: `${pyString(g.branch!)}: `,
        doc: callDoc(g.fn, ['ctx', ...g.args].map(atom)),
      })),
    };
    const options: Doc[] = [];
    if (node.timeout !== undefined) options.push(atom(`timeout=${node.timeout}`));
    if (node.timeout !== undefined && node.on_timeout === 'partial') options.push(atom('partial=True'));
    return callDoc('await run_branches', [atom('ctx'), atom(pyString(node.id)), branches, ...options]);
  },
};
