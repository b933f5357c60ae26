/**
 * `cache:` on a node whose kind is idempotent (`NodeKind.idempotent`): its value is kept for
 * `ttl` seconds under a key, in this process (`memory`, an LRU) or on the service's Redis pool
 * (`redis`, under `catalyst:cache:<workflow>:<node>:`), and concurrent misses on one key make
 * one call. The kind's own call is unchanged and wrapped, so a cached node reads like its
 * uncached self:
 *
 *     await http_call(ctx, "user", "GET", url)
 *     await _user_cache.call(ctx, http_call, "user", "GET", url)
 *     await _user_cache.call_keyed(ctx, f"user:{inp.id}", http_call, "user", "GET", url)
 *
 * Without `key`, the runtime derives the key from the call's arguments: every value the node
 * sends, evaluated once for both the key and the call, so two requests share an entry exactly
 * when they would have sent the same thing. The cache object is module-level, built once per
 * process at import (`_<local>_cache`), like a rate limiter.
 */
import type { JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import { parseValue, type ValueTemplate } from '../expr/value';
import { atom, callDoc, type Doc } from '../python/layout';
import { pyNumber, pyString } from '../python/literal';
import type { Node } from '../validate/schema';
import { idempotence } from './kinds';

/** The template of `cache.key`, beside the kind's own (a name no config field can have). */
export const CACHE_KEY = 'cache.key';

/** Reports a cache on a node that cannot have one; parses the key, so it is resolved and checked. */
export function cacheTemplates(node: Node, path: JsonPath, reporter: Reporter): Record<string, ValueTemplate> {
  if (!node.cache) return {};
  const why = idempotence(node);
  if (why !== true)
    reporter.error(
      'not_cacheable',
      { path: [...path, 'cache'], key: true },
      `node "${node.id}" cannot be cached: ${why}`,
    );
  return node.cache.key === undefined
    ? {}
    : { [CACHE_KEY]: parseValue(node.cache.key, [...path, 'cache', 'key'], reporter) };
}

/** The module-level cache of a cached node: `NodeCache("user", ttl=60.0)`. */
export function cacheDeclaration(node: Node, workflowId: string): Doc | undefined {
  if (!node.cache) return undefined;
  const args = [atom(pyString(node.id)), atom(`ttl=${pyNumber(node.cache.ttl, false)}`)];
  if (node.cache.backend === 'redis')
    args.push(atom('backend="redis"'), atom(`prefix=${pyString(`catalyst:cache:${workflowId}:${node.id}:`)}`));
  return callDoc('NodeCache', args);
}

/** The kind's call `await fn(ctx, ...)` made through the node's cache, with its key when one is given. */
export function cachedCall(call: Doc, cache: string, key: Doc | undefined): Doc {
  const prefix = 'await ';
  if (call.kind !== 'group' || !call.open.startsWith(prefix) || !call.open.endsWith('(') || !isCtx(call.items[0]?.doc))
    throw new Error(`internal: a cacheable node must emit "await fn(ctx, ...)", got ${JSON.stringify(call)}`);
  const fn = atom(call.open.slice(prefix.length, -1));
  const head = key ? [atom('ctx'), key, fn] : [atom('ctx'), fn];
  return {
    ...call,
    open: `await ${cache}.${key ? 'call_keyed' : 'call'}(`,
    items: [...head.map((doc) => ({ prefix: '', doc })), ...call.items.slice(1)],
  };
}

const isCtx = (doc: Doc | undefined): boolean => doc?.kind === 'atom' && doc.code === 'ctx';
