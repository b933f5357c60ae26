/**
 * The module's serving side: `router = WorkflowRouter(...)` declaring what the service needs
 * before it can serve, and the route function building the context. Laid out like `ruff format`.
 */
import { hasBody } from '../validate/schema';
import { pyString } from '../python/literal';
import { atom, callDoc, layout } from '../python/layout';

/** What a workflow module needs from the process; sorted when emitted, for determinism. */
export interface Needs {
  pools: Set<string>;
  /** Secrets and variables read without a fallback: `create_app` checks them at start-up. */
  secrets: Set<string>;
  env: Set<string>;
  /** Some expression reads `global`: the context gets the app's `app.state.globals`. */
  globals: boolean;
  /** Some node reads the service's settings (a map's item limit): the context gets the pools, which hold them. */
  settings: boolean;
}

export const newNeeds = (): Needs => ({
  pools: new Set(),
  secrets: new Set(),
  env: new Set(),
  globals: false,
  settings: false,
});

export function routerLine(needs: Needs): string {
  const args = (['pools', 'secrets', 'env'] as const)
    .filter((k) => needs[k].size > 0)
    .map((k) => atom(`${k}=${pyTuple([...needs[k]].sort().map((n) => pyString(n)))}`));
  return layout(callDoc('WorkflowRouter', args), 0, 'router = '.length);
}

/** A Python tuple literal (one item needs its trailing comma). */
function pyTuple(items: string[]): string {
  return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
}

/**
 * True when the route function takes the request: to read a body or query parameters, or to
 * reach the pools or the globals.
 */
export const takesRequest = (method: string, needs: Needs, query: boolean): boolean =>
  hasBody(method) || query || needs.pools.size > 0 || needs.settings || needs.globals;

/**
 * The route: decorator, parameters, the context line and the answer. A GET or DELETE workflow
 * that declares input reads it from the query string (`read_query`, lax from text;
 * `query_parameters` puts each parameter in the OpenAPI document). A streaming workflow answers
 * with `stream_run` (server-sent events) once the request is read, so a bad request is still a
 * JSON 4xx; its OpenAPI entry describes the event stream (`stream_doc`).
 */
export function endpoint(
  method: string,
  route: string,
  inputClass: string,
  needs: Needs,
  query: boolean,
  stream: boolean,
) {
  const body = hasBody(method);
  const routeAtom = atom(pyString(route));
  const request = body ? `input_body(${inputClass})` : query ? `query_parameters(${inputClass})` : undefined;
  const extra = stream
    ? [atom(`openapi_extra=stream_doc(${request ?? ''})`), atom('response_class=EventStreamResponse')]
    : request
      ? [atom(`openapi_extra=${request}`)]
      : [];
  const decorator = callDoc(`router.${method.toLowerCase()}`, [routeAtom, ...extra]);
  const input = body
    ? `await read_input(request, ${inputClass})`
    : query
      ? `read_query(request, ${inputClass})`
      : `${inputClass}()`;
  const args = [atom('WORKFLOW_ID'), atom(input)];
  // The pools were built once at start-up; the context only points at them.
  if (needs.pools.size > 0 || needs.settings) args.push(atom('pools=request.app.state.pools'));
  // The service-wide values `create_app(..., globals=...)` was given, shared read-only.
  if (needs.globals) args.push(atom('globals=request.app.state.globals'));
  return {
    decorator: layout(decorator, 0, 1),
    endpointParameters: takesRequest(method, needs, query) ? 'request: Request' : '',
    context: layout(callDoc('ExecutionContext', args), 4, 'ctx = '.length),
    answer: stream ? 'stream_run(run, ctx)' : 'json_response(await run(ctx), ctx)',
  };
}
