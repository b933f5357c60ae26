/**
 * `http`: one request on the service's pooled client (`ctx.pools.http`), through the runtime's
 * `http_call`, which owns retries, timeouts and the mapping of failures to 502/504 naming the
 * node. Every URL, header, query and body value may hold expressions; method, timeout and
 * retries are fixed so the compiler can check them. In the URL, an interpolation is inserted as
 * is only when it starts the text (the base URL); every other one is percent-encoded as one
 * path segment (`url_segment`), so input cannot add segments, a query or a fragment.
 */
import type { JsonPath } from '../report/diagnostics';
import { pyNumber, pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, codeDoc, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { ANY, INTEGER, type Type } from '../expr/types';
import type { Reporter } from '../report/reporter';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';

type Http = Extract<Node, { type: 'http' }>;

/** Fields holding value templates, in the order they are passed to `http_call`. */
const TEMPLATE_FIELDS = ['headers', 'query', 'json'] as const;

/** Methods that may change something upstream: a retry could do it twice. */
const UNSAFE = new Set(['POST', 'PATCH']);

/** Methods that only read: their answer may be kept (`cache:`). */
const CACHEABLE = new Set(['GET', 'HEAD']);

/** What every http node outputs; `body` is parsed JSON, text or null, so its shape is unknown. */
const OUTPUT: Type = {
  kind: 'object',
  fields: new Map([
    ['status', { type: INTEGER }],
    ['headers', { type: { kind: 'object', fields: null } }],
    ['body', { type: ANY }],
  ]),
};

export const http: NodeKind<Http> = {
  async: true,
  pools: ['http'],
  idempotent: (node) =>
    CACHEABLE.has(node.method ?? 'GET')
      ? true
      : `an http ${node.method} may change something upstream, which a kept answer would skip; only GET and HEAD can be cached (remove "cache")`,
  templates(node, path, reporter) {
    const templates: Record<string, ValueTemplate> = { url: parseValue(node.url, [...path, 'url'], reporter) };
    for (const field of TEMPLATE_FIELDS) {
      if (node[field] !== undefined) templates[field] = parseValue(node[field], [...path, field], reporter);
    }
    warnUnsafeRetries(node, path, reporter);
    return templates;
  },
  outputType: () => OUTPUT,
  emit(node, templates, emitter) {
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(node.method ?? 'GET')) },
      // Interpolations after the start of the URL are percent-encoded path segments.
      {
        prefix: '',
        doc:
          templates.url.kind === 'template'
            ? codeDoc(emitter.template(templates.url.template, true))
            : valueDoc(templates.url, emitter),
      },
    ];
    for (const field of TEMPLATE_FIELDS) {
      if (templates[field]) items.push({ prefix: `${field}=`, doc: valueDoc(templates[field], emitter) });
    }
    if (node.timeout !== undefined) items.push({ prefix: 'timeout=', doc: atom(pyNumber(node.timeout, false)) });
    if (node.retries) items.push({ prefix: 'retries=', doc: atom(String(node.retries)) });
    return { kind: 'group', open: 'await http_call(', close: ')', call: true, items };
  },
};

function warnUnsafeRetries(node: Http, path: JsonPath, reporter: Reporter): void {
  const method = node.method ?? 'GET';
  if (node.retries && UNSAFE.has(method)) {
    reporter.warning(
      'unsafe_retry',
      { path: [...path, 'retries'] },
      `a ${method} that timed out may have been applied upstream, so a retry may apply it twice; remove "retries" unless the endpoint is idempotent`,
    );
  }
}
