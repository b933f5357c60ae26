/**
 * `map`: runs its nodes once for each item of `over`, at most `concurrency` items at once, and
 * gives their values (each item's last node's value) in the order of the items.
 *
 * The nodes compile to one `async def _<id>_item(ctx, item, index, ...)` (see `emit/graphs.ts`),
 * which the runtime's `run_map` calls per item. With `on_error: collect` a failing item gives
 * null and an entry in `errors` instead of failing the node.
 */
import { pyString } from '../python/literal';
import { atom, callDoc, codeDoc, type Doc } from '../python/layout';
import { parseValue } from '../expr/value';
import { INTEGER, STRING, withNullable, type Type } from '../expr/types';
import { MAP_DEFAULT_CONCURRENCY, type MapNodeDef } from '../validate/schema';
import type { NodeKind } from './kinds';

const ERROR: Type = {
  kind: 'object',
  fields: new Map([
    ['index', { type: INTEGER }],
    ['status', { type: INTEGER }],
    ['message', { type: STRING }],
  ]),
};

export const map: NodeKind<MapNodeDef> = {
  async: true,
  pools: [],
  idempotent:
    'a map runs a graph of nodes, each with its own effects; put "cache" on the nodes inside it that only read',
  templates: (node, path, reporter) => ({ over: parseValue(node.over, [...path, 'over'], reporter) }),
  outputType(node, types) {
    if (node.on_error !== 'collect') return { kind: 'array', items: types.each };
    return {
      kind: 'object',
      fields: new Map([
        ['results', { type: { kind: 'array', items: withNullable(types.each, true) } }],
        ['errors', { type: { kind: 'array', items: ERROR } }],
      ]),
    };
  },
  emit(node, templates, emitter, _declared, inner) {
    const over = templates.over;
    const items: Doc = over.kind === 'template' ? codeDoc(emitter.template(over.template)) : atom('[]');
    const each = inner![0];
    const options: Doc[] = [];
    if (node.concurrency !== undefined && node.concurrency !== MAP_DEFAULT_CONCURRENCY)
      options.push(atom(`concurrency=${node.concurrency}`));
    if (node.on_error === 'collect') options.push(atom('collect=True'));
    return callDoc('await run_map', [
      atom('ctx'),
      atom(pyString(node.id)),
      items,
      atom(each.fn),
      ...each.args.map(atom),
      ...options,
    ]);
  },
};
