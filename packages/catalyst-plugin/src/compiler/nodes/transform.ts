/** `transform`: builds its output object from the `set` mapping. Pure and synchronous. */
import { valueDoc } from '../expr/value-code';
import { parseValue } from '../expr/value';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';

type Transform = Extract<Node, { type: 'transform' }>;

export const transform: NodeKind<Transform> = {
  async: false,
  pools: [],
  idempotent:
    'a transform computes its value in the process, faster than a cache could return it; remove "cache" (cache the http, postgres or redis node it reads instead)',
  templates: (node, path, reporter) => ({ set: parseValue(node.set, [...path, 'set'], reporter) }),
  outputType: (_node, types) => types.set,
  emit: (_node, templates, emitter) => valueDoc(templates.set, emitter),
};
