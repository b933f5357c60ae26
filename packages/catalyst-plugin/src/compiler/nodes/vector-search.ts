/**
 * `vector_search`: the points of a Qdrant collection nearest a query vector, on the service's
 * client (`ctx.pools.qdrant`), through the runtime's `vector_search`, which owns the query, the
 * conversion of results to JSON-ready values and the mapping of failures to 502/504 naming the
 * node. The vector and the filter's values may hold expressions; the collection, the filter's
 * keys, the limit, the threshold and the payload's shape are fixed, so the compiler can check
 * them and type the output.
 *
 * The filter is deliberately small: payload keys that must (`must`) or must not (`must_not`)
 * equal a text, integer or boolean value, which is what Qdrant's `MatchValue` compares. Its keys
 * are known here; only the values travel per request, as a dict the runtime turns into one
 * qdrant-client `Filter`.
 */
import type { JsonPath } from '../report/diagnostics';
import { pyNumber, pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { ANY, NUMBER, isNumeric, typeName, type Field, type Type } from '../expr/types';
import type { Reporter } from '../report/reporter';
import { didYouMean, suggest } from '../util/suggest';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';
import { COLUMN_TYPE } from './postgres';

type VectorSearch = Extract<Node, { type: 'vector_search' }>;
type PayloadType = NonNullable<VectorSearch['payload']>[string];

const CONDITIONS = ['must', 'must_not'] as const;

/** What `limit` is when the definition does not say (Qdrant's own default). */
export const DEFAULT_LIMIT = 10;

/** Payload types a filter value can equal: `array` because Qdrant matches any element of a list. */
const MATCHABLE: ReadonlySet<PayloadType> = new Set(['string', 'integer', 'boolean', 'array', 'any']);

export const vectorSearch: NodeKind<VectorSearch> = {
  async: true,
  pools: ['qdrant'],
  idempotent: true, // a search reads; its answer may be cached
  templates(node, path, reporter) {
    const templates: Record<string, ValueTemplate> = { vector: parseValue(node.vector, [...path, 'vector'], reporter) };
    for (const condition of CONDITIONS) {
      const matches = node.filter?.[condition];
      if (matches === undefined) continue;
      checkKeys(node, Object.keys(matches), [...path, 'filter', condition], reporter);
      templates[condition] = parseValue(matches, [...path, 'filter', condition], reporter);
    }
    return templates;
  },
  checkTypes(node, types, path, reporter) {
    checkVector(types.vector, [...path, 'vector'], reporter);
    for (const condition of CONDITIONS) {
      const matched = types[condition];
      if (matched?.kind !== 'object' || matched.fields === null) continue;
      for (const [key, field] of matched.fields)
        checkMatch(node, key, field.type, [...path, 'filter', condition, key], reporter);
    }
  },
  outputType(node) {
    const hit: Type = {
      kind: 'object',
      fields: new Map<string, Field>([
        ['id', { type: ANY }], // an unsigned integer or a UUID's text, as the point was stored
        ['score', { type: NUMBER }],
        ['payload', { type: payloadType(node) }],
      ]),
    };
    return { kind: 'object', fields: new Map([['results', { type: { kind: 'array', items: hit } }]]) };
  },
  emit(node, templates, emitter) {
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(node.collection)) },
      { prefix: '', doc: valueDoc(templates.vector, emitter) },
      { prefix: 'limit=', doc: atom(String(node.limit ?? DEFAULT_LIMIT)) },
    ];
    for (const condition of CONDITIONS) {
      if (templates[condition]) items.push({ prefix: `${condition}=`, doc: valueDoc(templates[condition], emitter) });
    }
    if (node.score_threshold !== undefined)
      items.push({ prefix: 'score_threshold=', doc: atom(pyNumber(node.score_threshold, false)) });
    if (node.payload !== undefined) {
      const keys = Object.keys(node.payload).map((key) => ({ prefix: '', doc: atom(pyString(key)) }));
      items.push({ prefix: 'payload=', doc: { kind: 'group', open: '[', close: ']', call: false, items: keys } });
    }
    if (node.timeout !== undefined) items.push({ prefix: 'timeout=', doc: atom(pyNumber(node.timeout, false)) });
    return { kind: 'group', open: 'await vector_search(', close: ')', call: true, items };
  },
};

/** The declared payload, or an open object (any key, read with subscripts). */
function payloadType(node: VectorSearch): Type {
  if (node.payload === undefined) return { kind: 'object', fields: null };
  const fields = new Map<string, Field>(
    Object.entries(node.payload).map(([name, t]) => [name, { type: COLUMN_TYPE[t] }]),
  );
  return { kind: 'object', fields };
}

/** The declared type of a filter key (`meta.lang` is under `meta`), or undefined when not declared. */
function declaredType(node: VectorSearch, key: string): PayloadType | undefined {
  const payload = node.payload ?? {};
  if (Object.hasOwn(payload, key)) return payload[key];
  const head = key.split('.')[0];
  const t = Object.hasOwn(payload, head) ? payload[head] : undefined;
  return t === 'object' || t === 'any' ? 'any' : undefined;
}

/** With `payload:` declared, a filter may only name declared keys (a typo would match nothing). */
function checkKeys(node: VectorSearch, keys: string[], path: JsonPath, reporter: Reporter): void {
  if (node.payload === undefined) return;
  const declared = Object.keys(node.payload);
  for (const key of keys) {
    if (declaredType(node, key) !== undefined) continue;
    reporter.error(
      'unknown_field',
      { path: [...path, key], key: true },
      `the filter names payload key "${key}", which "payload" does not declare${didYouMean(key, declared)}; declare it under "payload" or fix the name`,
      suggest(key, declared),
    );
  }
}

function checkVector(t: Type | undefined, path: JsonPath, reporter: Reporter): void {
  if (t === undefined || t.kind === 'any') return;
  const items = t.kind === 'array' ? t.items : undefined;
  const numbers = items !== undefined && (items.kind === 'any' || (isNumeric(items) && items.nullable !== true));
  if (numbers && t.nullable !== true) return;
  const nullable = numbers && t.nullable === true;
  reporter.error(
    'invalid_type',
    { path },
    nullable
      ? `the vector may be null here (it is ${typeName(t)}); make it required, or add "| default(...)" with a vector`
      : `the vector must be a list of numbers, not ${typeName(t)}`,
  );
}

/** A filter value must be text, an integer or a boolean, and fit the key's declared type. */
function checkMatch(node: VectorSearch, key: string, t: Type, path: JsonPath, reporter: Reporter): void {
  if (t.kind === 'any') return;
  if (t.kind !== 'string' && t.kind !== 'integer' && t.kind !== 'boolean') {
    reporter.error(
      'invalid_type',
      { path },
      `filter value for "${key}" is ${typeName(t)}; a filter compares text, integers or booleans exactly: give one of those (| int, | string)`,
    );
    return;
  }
  if (t.nullable === true) {
    reporter.error(
      'invalid_type',
      { path },
      `filter value for "${key}" may be null here (it is ${typeName(t)}); make it required, or add "| default(...)"`,
    );
    return;
  }
  const declared = declaredType(node, key);
  if (declared === undefined || declared === 'any' || declared === 'array') return;
  if (!MATCHABLE.has(declared)) {
    reporter.error(
      'invalid_type',
      { path },
      `payload key "${key}" is declared ${declared}, which a filter cannot match exactly; filter on a string, integer, boolean or array key`,
    );
  } else if (declared !== t.kind) {
    reporter.error(
      'invalid_type',
      { path },
      `filter value for "${key}" is ${typeName(t)}, but "payload" declares "${key}" as ${declared}; it would match nothing`,
    );
  }
}
