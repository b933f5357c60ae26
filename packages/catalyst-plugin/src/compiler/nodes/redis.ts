/**
 * `redis`: one command on the service's pooled client (`ctx.pools.redis`), through the runtime's
 * `redis_command`, which owns the encoding of values and the mapping of failures to 502/504
 * naming the node. The key, hash field, channel and value may hold expressions; the command,
 * `ttl`, `by` and `json` are fixed so the compiler can check them and type the output.
 *
 * Values: `set`, `hset` and `publish` write a string as is and anything else as compact JSON
 * (with `json: true`, every value as JSON, strings quoted); `get` and `hget` return the stored
 * text, or with `json: true` the JSON it holds. The output is always `{ value }`, an object like
 * every other kind's, so a skipped node (null) differs from a missing key (`{ value: null }`).
 */
import type { JsonPath } from '../report/diagnostics';
import { pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { ANY, BOOLEAN, INTEGER, STRING, withNullable, type Type } from '../expr/types';
import type { Reporter } from '../report/reporter';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';

type Redis = Extract<Node, { type: 'redis' }>;
type Command = Redis['command'];

/** The config fields that vary by command (the others: id, type, command, description, after, when). */
const FIELDS = ['key', 'field', 'channel', 'value', 'json', 'ttl', 'by'] as const;
type ConfigField = (typeof FIELDS)[number];

/** Per command: the fields it needs, and those it may have. */
const RULES: Record<Command, { required: ConfigField[]; optional: ConfigField[] }> = {
  get: { required: ['key'], optional: ['json'] },
  set: { required: ['key', 'value'], optional: ['ttl', 'json'] },
  incr: { required: ['key'], optional: ['by'] },
  del: { required: ['key'], optional: [] },
  hget: { required: ['key', 'field'], optional: ['json'] },
  hset: { required: ['key', 'field', 'value'], optional: ['json'] },
  publish: { required: ['channel', 'value'], optional: ['json'] },
};

/** Fields holding value templates, in the order they are passed to `redis_command`. */
const TEMPLATE_FIELDS = ['key', 'channel', 'field', 'value'] as const;

const object = (value: Type): Type => ({ kind: 'object', fields: new Map([['value', { type: value }]]) });

export const redis: NodeKind<Redis> = {
  async: true,
  pools: ['redis'],
  idempotent: (node) =>
    node.command === 'get' || node.command === 'hget'
      ? true
      : `redis ${node.command} writes, which a kept value would skip; only get and hget can be cached (remove "cache")`,
  templates(node, path, reporter) {
    checkFields(node, path, reporter);
    const templates: Record<string, ValueTemplate> = {};
    for (const field of TEMPLATE_FIELDS) {
      if (node[field] !== undefined) templates[field] = parseValue(node[field], [...path, field], reporter);
    }
    return templates;
  },
  outputType(node) {
    switch (node.command) {
      case 'get':
      case 'hget':
        return object(node.json ? ANY : withNullable(STRING, true));
      case 'set':
        return object(BOOLEAN);
      case 'incr':
      case 'del':
      case 'hset':
      case 'publish':
        return object(INTEGER);
    }
  },
  emit(node, templates, emitter) {
    const target = templates.key ?? templates.channel;
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(node.command)) },
      { prefix: '', doc: target ? valueDoc(target, emitter) : atom('""') },
    ];
    if (templates.field) items.push({ prefix: 'field=', doc: valueDoc(templates.field, emitter) });
    if (templates.value) items.push({ prefix: 'value=', doc: valueDoc(templates.value, emitter) });
    if (node.ttl !== undefined) items.push({ prefix: 'ttl=', doc: atom(String(node.ttl)) });
    if (node.by !== undefined) items.push({ prefix: 'by=', doc: atom(String(node.by)) });
    if (node.json) items.push({ prefix: 'json=', doc: atom('True') });
    return { kind: 'group', open: 'await redis_command(', close: ')', call: true, items };
  },
};

/** A field the command does not use, or one it needs and lacks, is an error naming the way out. */
function checkFields(node: Redis, path: JsonPath, reporter: Reporter): void {
  const rule = RULES[node.command];
  for (const field of rule.required) {
    if (node[field] === undefined)
      reporter.error(
        'missing_field',
        { path },
        `node "${node.id}" is missing the required field "${field}" (redis ${node.command} needs ${rule.required.map((f) => `"${f}"`).join(' and ')})`,
      );
  }
  const allowed = new Set([...rule.required, ...rule.optional]);
  for (const field of FIELDS) {
    if (node[field] === undefined || allowed.has(field)) continue;
    reporter.error(
      'unknown_field',
      { path: [...path, field], key: true },
      `node "${node.id}": "${field}" does not apply to redis ${node.command}; ${wayOut(node.command, field)}`,
    );
  }
}

function wayOut(command: Command, field: ConfigField): string {
  if (field === 'key' && command === 'publish') return 'publish sends to a "channel": rename "key" to "channel"';
  if (field === 'channel') return 'only publish sends to a channel: rename "channel" to "key"';
  const users = (Object.keys(RULES) as Command[]).filter(
    (c) => RULES[c].required.includes(field) || RULES[c].optional.includes(field),
  );
  return `remove it (it is for ${users.join(', ')})`;
}
