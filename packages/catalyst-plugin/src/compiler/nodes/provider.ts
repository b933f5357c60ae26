/**
 * What `llm` and `embedding` share: where the provider is (`base_url`), the key (`api_key`),
 * the call's deadline and its `rate_limit:`.
 *
 * - The key comes from `secrets` only, as exactly `{{ secrets.NAME }}`: it is sent to the
 *   provider, so it must never come from input, a node or a constant in the definition. The
 *   service then refuses to start without it (`WorkflowRouter(secrets=...)`).
 * - The base URL is literal text, `env` or `global`: a URL from input or an upstream answer
 *   would let a client have the key sent to its own server (as http nodes' secret hosts).
 * - `rate_limit:` is a module-level limiter, one per node, as a `rate_limit` node's: the node's
 *   calls to the provider are spaced out (each attempt takes a slot), so a `map` over many items
 *   keeps a provider's requests per minute.
 */
import { children, type Expr } from '../expr/ast';
import { describe } from '../expr/check';
import { valueDoc } from '../expr/value-code';
import { expressionsOf, parseValue, templatesOf, type ValueTemplate } from '../expr/value';
import type { ExprEmitter } from '../expr/emit';
import { atom, callDoc, type Doc } from '../python/layout';
import { pyNumber, pyString } from '../python/literal';
import type { JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import type { Node } from '../validate/schema';
import type { Declaration } from './kinds';

type ProviderNode = Extract<Node, { type: 'llm' | 'embedding' }>;

/** Roots a base URL may read: values the service chose, never the request's. */
const BASE_URL_ROOTS = new Set(['env', 'global']);

export function providerTemplates(
  node: ProviderNode,
  path: JsonPath,
  reporter: Reporter,
): Record<string, ValueTemplate> {
  const templates: Record<string, ValueTemplate> = {};
  if (node.base_url !== undefined) {
    const at = [...path, 'base_url'];
    templates.base_url = parseValue(node.base_url, at, reporter);
    for (const { template } of templatesOf(templates.base_url))
      for (const e of expressionsOf(template)) {
        const chosen = foreignRoot(e);
        if (chosen)
          reporter.error(
            'secret_to_chosen_host',
            { path: at, stringOffset: chosen.span.start },
            `node "${node.id}" takes its base_url from ${describe(chosen)}, so a client could have the API key sent to its own server; take it from literal text, env or global (e.g. "{{ env.OLLAMA_URL }}/v1")`,
          );
      }
  }
  if (node.api_key !== undefined) {
    const at = [...path, 'api_key'];
    const key = parseValue(node.api_key, at, reporter);
    if (!isSecret(key))
      reporter.error(
        'invalid_value',
        { path: at },
        `node "${node.id}": api_key must be exactly one secret, e.g. "{{ secrets.${defaultSecret(node)} }}" (keys are never written in the definition nor taken from input)`,
      );
    templates.api_key = key;
  } else if (node.base_url === undefined) {
    reporter.error(
      'missing_field',
      { path },
      `node "${node.id}" needs api_key: "{{ secrets.${defaultSecret(node)} }}" (a local server given by base_url may go without)`,
    );
  }
  const rate = node.rate_limit;
  if (rate && (rate.interval === undefined) === (rate.rate === undefined))
    reporter.error(
      rate.interval === undefined ? 'missing_field' : 'unknown_field',
      rate.interval === undefined
        ? { path: [...path, 'rate_limit'] }
        : { path: [...path, 'rate_limit', 'rate'], key: true },
      rate.interval === undefined
        ? `node "${node.id}": rate_limit needs "interval" (seconds between calls) or "rate" (calls per second)`
        : `node "${node.id}": give "interval" or "rate", not both (interval is 1 / rate)`,
    );
  return templates;
}

/** The conventional secret for a provider's key, for messages. */
function defaultSecret(node: ProviderNode): string {
  return `${node.provider ?? 'openai'}_API_KEY`.toUpperCase();
}

/** Whether a template is exactly `{{ secrets.NAME }}`. */
function isSecret(v: ValueTemplate): boolean {
  if (v.kind !== 'template' || v.template.kind !== 'single') return false;
  const e = v.template.expr;
  return e.kind === 'member' && e.object.kind === 'root' && e.object.name === 'secrets';
}

/** The first read of a root other than env and global (input, nodes, secrets, item), if any. */
function foreignRoot(e: Expr): Expr | undefined {
  if (e.kind === 'root') return BASE_URL_ROOTS.has(e.name) ? undefined : e;
  if (e.kind === 'member' || e.kind === 'index') {
    let root: Expr = e;
    while (root.kind === 'member' || root.kind === 'index') root = root.object;
    if (root.kind === 'root' && !BASE_URL_ROOTS.has(root.name)) return e;
  }
  for (const c of children(e)) {
    const found = foreignRoot(c);
    if (found) return found;
  }
  return undefined;
}

/**
 * The pools a provider node needs: the provider's SDK clients, the `llm` pool's httpx client for
 * Groq's SDK (Anthropic's and OpenAI's send on an httpx2 client of their own, so a service
 * without Groq does not open it), and Redis for a shared limit.
 */
export function providerPools(node: ProviderNode): string[] {
  const provider = node.provider ?? 'openai';
  const pools = provider === 'groq' ? ['llm', provider] : [provider];
  if (node.rate_limit?.backend === 'redis') pools.push('redis');
  return pools;
}

/** The node's limiter, built once per process at import, as a `rate_limit` node's. */
export function rateLimitDeclaration(node: ProviderNode, workflowId: string): Declaration[] {
  const rate = node.rate_limit;
  if (!rate) return [];
  const args: Doc[] = [
    atom(rate.interval !== undefined ? `interval=${rate.interval}` : `rate=${rate.rate}`),
    ...(rate.burst !== undefined && rate.burst !== 1 ? [atom(`burst=${rate.burst}`)] : []),
    atom(`name=${pyString(node.id)}`),
  ];
  if (rate.backend !== 'redis') return [{ suffix: 'limiter', value: callDoc('InMemoryRateLimiter', args) }];
  args.push(atom(`prefix=${pyString(`catalyst:rl:${workflowId}:${node.id}:`)}`));
  return [{ suffix: 'limiter', value: callDoc('RedisRateLimiter', args) }];
}

/** `base_url=`, `api_key=`, `timeout=`, `limiter=`, `wait=`: the call's last arguments. */
export function providerArgs(
  node: ProviderNode,
  templates: Record<string, ValueTemplate>,
  emitter: ExprEmitter,
  declared: Readonly<Record<string, string>>,
): { prefix: string; doc: Doc }[] {
  const items: { prefix: string; doc: Doc }[] = [];
  for (const field of ['base_url', 'api_key'] as const)
    if (templates[field]) items.push({ prefix: `${field}=`, doc: valueDoc(templates[field], emitter) });
  if (node.timeout !== undefined) items.push({ prefix: 'timeout=', doc: atom(pyNumber(node.timeout, false)) });
  if (node.rate_limit) {
    items.push({ prefix: 'limiter=', doc: atom(declared.limiter) });
    items.push({ prefix: 'wait=', doc: atom(pyNumber(node.rate_limit.timeout, false)) });
  }
  return items;
}
