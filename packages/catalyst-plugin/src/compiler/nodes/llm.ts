/**
 * `llm`: one answer from a model through the provider's official SDK, via the runtime's `llm`,
 * which owns the client (made once per process on the pools), retries before the first token,
 * streaming to the run's events and the mapping of provider failures to 429/502/504 naming the
 * node. The prompt, system prompt and messages may hold expressions; the provider, model, limits
 * and schema are fixed, so the compiler can check them and type the output.
 *
 * `output_schema:` becomes pydantic classes exactly as the input schema does
 * (`buildSchemaModel`), emitted beside the input's; the module holds it with the schema sent to
 * the provider as one `StructuredOutput`, built at import. The answer is validated against the
 * class, and `nodes.<id>.output.<field>` is typed downstream, so a typo there is a compile error.
 */
import { pyNumber, pyString, pyValue } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, callDoc, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { INTEGER, STRING, typeName, type Type } from '../expr/types';
import type { JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import { buildSchemaModel, type InputModel } from '../model/input-model';
import { pascalCase } from '../python/names';
import { LLM_DEFAULT_RETRIES, type Node } from '../validate/schema';
import type { NodeKind } from './kinds';
import { providerArgs, providerPools, providerTemplates, rateLimitDeclaration } from './provider';

type Llm = Extract<Node, { type: 'llm' }>;

/** Each node's output_schema as classes, made once when its templates are parsed. */
const SCHEMAS = new WeakMap<Llm, InputModel>();

const USAGE: Type = {
  kind: 'object',
  fields: new Map([
    ['input_tokens', { type: INTEGER }],
    ['output_tokens', { type: INTEGER }],
  ]),
};

export const llm: NodeKind<Llm> = {
  async: true,
  pools: providerPools,
  idempotent:
    'a model may answer the same prompt differently each time, and a kept answer would hide that; remove "cache" (an embedding node can be cached)',
  templates(node, path, reporter) {
    const templates: Record<string, ValueTemplate> = providerTemplates(node, path, reporter);
    for (const field of ['system', 'prompt', 'messages'] as const)
      if (node[field] !== undefined) templates[field] = parseValue(node[field], [...path, field], reporter);
    if ((node.prompt === undefined) === (node.messages === undefined))
      reporter.error(
        node.prompt === undefined ? 'missing_field' : 'unknown_field',
        node.prompt === undefined ? { path } : { path: [...path, 'messages'], key: true },
        node.prompt === undefined
          ? `node "${node.id}" needs what to ask: "prompt" (one user message) or "messages" (a conversation)`
          : `node "${node.id}": give "prompt" or "messages", not both (put the prompt last in messages)`,
      );
    if (node.temperature !== undefined && node.provider === 'anthropic')
      reporter.error(
        'unsupported',
        { path: [...path, 'temperature'], key: true },
        `node "${node.id}": Anthropic's current models take no temperature; remove it`,
      );
    if (node.retries !== undefined && node.output_schema === undefined)
      reporter.error(
        'unsupported',
        { path: [...path, 'retries'], key: true },
        `node "${node.id}": "retries" is for answers that do not fit "output_schema", which this node has not; remove it (a provider's 429 or 5xx is retried anyway)`,
      );
    if (node.output_schema !== undefined && !SCHEMAS.has(node))
      SCHEMAS.set(
        node,
        buildSchemaModel(
          node.output_schema,
          `${pascalCase(node.id) || 'Node'}Output`,
          [...path, 'output_schema'],
          reporter,
          new Set(),
        ),
      );
    return templates;
  },
  checkTypes(node, types, path, reporter) {
    for (const field of ['system', 'prompt'] as const) textType(types[field], [...path, field], reporter);
    const messages = types.messages;
    if (typeof node.messages === 'string' && messages !== undefined)
      messagesType(messages, [...path, 'messages'], reporter);
    else if (Array.isArray(node.messages))
      node.messages.forEach((_, i) => {
        const item = messages?.kind === 'array' ? messages.items : undefined;
        if (item?.kind === 'object')
          textType(item.fields?.get('content')?.type, [...path, 'messages', i, 'content'], reporter);
      });
    for (const field of ['base_url', 'api_key'] as const) textType(types[field], [...path, field], reporter);
  },
  outputType(node) {
    const fields = new Map([
      ['text', { type: STRING }],
      ['usage', { type: USAGE }],
      ['stop_reason', { type: { ...STRING, nullable: true } }],
    ]);
    const schema = SCHEMAS.get(node);
    if (schema) fields.set('output', { type: schema.type });
    return { kind: 'object', fields };
  },
  classes: (node) => SCHEMAS.get(node)?.classes ?? [],
  declarations(node, workflowId) {
    const out = rateLimitDeclaration(node, workflowId);
    const schema = SCHEMAS.get(node);
    if (schema && node.output_schema)
      out.push({
        suffix: 'output',
        value: callDoc('StructuredOutput', [atom(schema.className), jsonDoc(node.output_schema)]),
        usesClasses: true,
      });
    return out;
  },
  emit(node, templates, emitter, declared) {
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(node.provider)) },
      { prefix: 'model=', doc: atom(pyString(node.model)) },
    ];
    for (const field of ['system', 'prompt', 'messages'] as const)
      if (templates[field]) items.push({ prefix: `${field}=`, doc: valueDoc(templates[field], emitter) });
    items.push({ prefix: 'max_tokens=', doc: atom(String(node.max_tokens)) });
    if (node.temperature !== undefined)
      items.push({ prefix: 'temperature=', doc: atom(pyNumber(node.temperature, false)) });
    if (node.stop !== undefined) items.push({ prefix: 'stop=', doc: jsonDoc(node.stop) });
    if (node.stream) items.push({ prefix: 'stream=', doc: atom('True') });
    if (declared?.output) {
      items.push({ prefix: 'output=', doc: atom(declared.output) });
      const retries = node.retries ?? LLM_DEFAULT_RETRIES;
      if (retries !== LLM_DEFAULT_RETRIES) items.push({ prefix: 'retries=', doc: atom(String(retries)) });
    }
    items.push(...providerArgs(node, templates, emitter, declared ?? {}));
    return { kind: 'group', open: 'await llm_call(', close: ')', call: true, items };
  },
};

/** Text fields (a prompt, a key) must be text, and not null. */
function textType(t: Type | undefined, path: JsonPath, reporter: Reporter): void {
  if (t === undefined || t.kind === 'any') return;
  if (t.kind === 'string' && t.nullable !== true) return;
  reporter.error(
    'invalid_type',
    { path },
    t.kind === 'string'
      ? `this text may be null here (it is ${typeName(t)}); make it required, or add "| default('')"`
      : `this must be text, not ${typeName(t)}; convert it with "| string" or "| tojson"`,
  );
}

/** `messages: "{{ ... }}"` must give a list of { role, content } objects. */
function messagesType(t: Type, path: JsonPath, reporter: Reporter): void {
  if (t.kind === 'any') return;
  const item = t.kind === 'array' ? t.items : undefined;
  const ok =
    t.nullable !== true &&
    item !== undefined &&
    (item.kind === 'any' ||
      (item.kind === 'object' && (item.fields === null || (item.fields.has('role') && item.fields.has('content')))));
  if (!ok)
    reporter.error(
      'invalid_type',
      { path },
      `messages must be a list of { role, content } objects, not ${typeName(t)}`,
    );
}

/** A JSON constant as a layout document (a schema, the stop list), wrapped as ruff would. */
function jsonDoc(value: unknown): Doc {
  if (Array.isArray(value))
    return value.length === 0
      ? atom('[]')
      : {
          kind: 'group',
          open: '[',
          close: ']',
          call: false,
          items: value.map((v) => ({ prefix: '', doc: jsonDoc(v) })),
        };
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 0
      ? atom('{}')
      : {
          kind: 'group',
          open: '{',
          close: '}',
          call: false,
          items: entries.map(([k, v]) => ({ prefix: `${pyString(k)}: `, doc: jsonDoc(v) })),
        };
  }
  return atom(pyValue(value));
}
