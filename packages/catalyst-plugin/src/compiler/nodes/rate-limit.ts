/**
 * `rate_limit`: waits for a slot on a key, or fails with 429 and `Retry-After`, through the
 * runtime's `rate_limit`. The limiter is a module-level object built once per process, one per
 * node: `InMemoryRateLimiter` (this process) or, with `backend: redis`, `RedisRateLimiter` on the
 * service's Redis pool under the key prefix `catalyst:rl:<workflow>:<node>:`, so two nodes never
 * share a limit. The key may hold expressions; the rate, burst, timeout and backend are fixed.
 *
 * The rate is `interval` (seconds between calls on one key) or `rate` (calls per second), with
 * `burst` calls allowed at once (GCRA, as the runtime's limiters implement it). The output is
 * `{ waited }`, the seconds the call waited for its slot.
 */
import { pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, callDoc, type Doc } from '../python/layout';
import { parseValue } from '../expr/value';
import { NUMBER, type Type } from '../expr/types';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';

type RateLimit = Extract<Node, { type: 'rate_limit' }>;

const OUTPUT: Type = { kind: 'object', fields: new Map([['waited', { type: NUMBER }]]) };

export const rateLimit: NodeKind<RateLimit> = {
  async: true,
  pools: (node) => (node.backend === 'redis' ? ['redis'] : []),
  idempotent:
    'a rate_limit node takes a slot each time it runs, and a kept value would let every call through; remove "cache"',
  templates(node, path, reporter) {
    if ((node.interval === undefined) === (node.rate === undefined))
      reporter.error(
        node.interval === undefined ? 'missing_field' : 'unknown_field',
        node.interval === undefined ? { path } : { path: [...path, 'rate'], key: true },
        node.interval === undefined
          ? `node "${node.id}" needs a rate: "interval" (seconds between calls) or "rate" (calls per second)`
          : `node "${node.id}": give "interval" or "rate", not both (interval is 1 / rate)`,
      );
    return { key: parseValue(node.key, [...path, 'key'], reporter) };
  },
  outputType: () => OUTPUT,
  declarations: (node, workflowId) => [declaration(node, workflowId)],
  emit(node, templates, emitter, declared) {
    return callDoc('await rate_limit', [
      atom('ctx'),
      atom(pyString(node.id)),
      atom(declared!.limiter),
      valueDoc(templates.key, emitter),
      atom(`timeout=${node.timeout}`),
    ]);
  },
};

/** The node's limiter, module-level: one per node, so two nodes never share a limit. */
function declaration(node: RateLimit, workflowId: string): { suffix: string; value: Doc } {
  const args: Doc[] = [
    atom(node.interval !== undefined ? `interval=${node.interval}` : `rate=${node.rate}`),
    ...(node.burst !== undefined && node.burst !== 1 ? [atom(`burst=${node.burst}`)] : []),
    atom(`name=${pyString(node.id)}`),
  ];
  if (node.backend !== 'redis') return { suffix: 'limiter', value: callDoc('InMemoryRateLimiter', args) };
  args.push(atom(`prefix=${pyString(`catalyst:rl:${workflowId}:${node.id}:`)}`));
  return { suffix: 'limiter', value: callDoc('RedisRateLimiter', args) };
}
