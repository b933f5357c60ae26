/**
 * `embedding`: the vectors of a text or a batch of texts from an OpenAI-compatible embeddings API
 * (the `openai` SDK; `base_url` for Ollama, vLLM or a gateway), via the runtime's `embedding`.
 * The input may hold expressions; the model and dimensions are fixed. The same texts give the
 * same vectors, so the node may be cached (`cache:`), and a hit skips the call and its limit.
 */
import { pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { INTEGER, NUMBER, typeName, type Type } from '../expr/types';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';
import { providerArgs, providerPools, providerTemplates, rateLimitDeclaration } from './provider';

type Embedding = Extract<Node, { type: 'embedding' }>;

const OUTPUT: Type = {
  kind: 'object',
  fields: new Map([
    ['vectors', { type: { kind: 'array', items: { kind: 'array', items: NUMBER } } }],
    ['usage', { type: { kind: 'object', fields: new Map([['input_tokens', { type: INTEGER }]]) } }],
  ]),
};

export const embedding: NodeKind<Embedding> = {
  async: true,
  pools: providerPools,
  idempotent: true, // the same texts give the same vectors
  templates(node, path, reporter) {
    const templates: Record<string, ValueTemplate> = providerTemplates(node, path, reporter);
    templates.input = parseValue(node.input, [...path, 'input'], reporter);
    return templates;
  },
  checkTypes(_node, types, path, reporter) {
    const t = types.input;
    if (t === undefined || t.kind === 'any') return;
    const item = t.kind === 'array' ? t.items : undefined;
    const texts = t.kind === 'string' || (item !== undefined && (item.kind === 'string' || item.kind === 'any'));
    if (texts && t.nullable !== true && item?.nullable !== true) return;
    reporter.error(
      'invalid_type',
      { path: [...path, 'input'] },
      `the input to embed must be a text or a list of texts, not ${typeName(t)}; convert with "| string", or make it required`,
    );
  },
  outputType: () => OUTPUT,
  declarations: (node, workflowId) => rateLimitDeclaration(node, workflowId),
  emit(node, templates, emitter, declared) {
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(node.provider ?? 'openai')) },
      { prefix: '', doc: valueDoc(templates.input, emitter) },
      { prefix: 'model=', doc: atom(pyString(node.model)) },
    ];
    if (node.dimensions !== undefined) items.push({ prefix: 'dimensions=', doc: atom(String(node.dimensions)) });
    items.push(...providerArgs(node, templates, emitter, declared ?? {}));
    return { kind: 'group', open: 'await embedding_call(', close: ')', call: true, items };
  },
};
