/**
 * The serving side of a module, read whole: the `router = WorkflowRouter(...)` line and the
 * route function's parts for each way a request arrives (body, query, nothing, a stream) and
 * each thing the context is given. The golden folders hold these through whole modules; these
 * say which rule broke, in milliseconds.
 */
import { endpoint, newNeeds, routerLine, takesRequest, type Needs } from './router';

const needsOf = (n: Partial<Needs>): Needs => ({ ...newNeeds(), ...n });

describe('routerLine', () => {
  it('declares nothing when the module needs nothing', () => {
    expect(newNeeds()).toEqual({
      pools: new Set(),
      secrets: new Set(),
      env: new Set(),
      globals: false,
      settings: false,
    });
    expect(routerLine(newNeeds())).toBe('WorkflowRouter()');
  });

  it('writes one name as a tuple of one, with its trailing comma', () => {
    expect(routerLine(needsOf({ pools: new Set(['http']) }))).toBe('WorkflowRouter(pools=("http",))');
    expect(routerLine(needsOf({ secrets: new Set(['KEY']) }))).toBe('WorkflowRouter(secrets=("KEY",))');
    expect(routerLine(needsOf({ env: new Set(['MODE']) }))).toBe('WorkflowRouter(env=("MODE",))');
  });

  it('sorts each set and writes pools, secrets and env in that order', () => {
    const needs = needsOf({
      env: new Set(['B', 'A']),
      secrets: new Set(['Z', 'Y']),
      pools: new Set(['redis', 'http']),
    });
    expect(routerLine(needs)).toBe('WorkflowRouter(pools=("http", "redis"), secrets=("Y", "Z"), env=("A", "B"))');
  });

  it('breaks the call where `router = ` and the line would pass 88 columns', () => {
    // `router = WorkflowRouter(pools=("…",))`: 9 + 15 + 7 + name + 5 characters.
    const fits = 'p'.repeat(88 - 'router = WorkflowRouter(pools=("",))'.length);
    expect(routerLine(needsOf({ pools: new Set([fits]) }))).toBe(`WorkflowRouter(pools=("${fits}",))`);
    expect(routerLine(needsOf({ pools: new Set([`${fits}p`]) }))).toBe(`WorkflowRouter(\n    pools=("${fits}p",)\n)`);
  });
});

describe('takesRequest', () => {
  it('is false only for a body-less method with no query, pools, settings or globals', () => {
    expect(takesRequest('GET', newNeeds(), false)).toBe(false);
    expect(takesRequest('DELETE', newNeeds(), false)).toBe(false);
    expect(takesRequest('POST', newNeeds(), false)).toBe(true);
    expect(takesRequest('GET', newNeeds(), true)).toBe(true);
    expect(takesRequest('GET', needsOf({ pools: new Set(['http']) }), false)).toBe(true);
    expect(takesRequest('GET', needsOf({ settings: true }), false)).toBe(true);
    expect(takesRequest('GET', needsOf({ globals: true }), false)).toBe(true);
    // Secrets and variables are checked at start-up, not read from the request.
    expect(takesRequest('GET', needsOf({ secrets: new Set(['K']), env: new Set(['E']) }), false)).toBe(false);
  });
});

describe('endpoint', () => {
  it('reads a body with read_input and documents it with input_body', () => {
    expect(endpoint('POST', '/orders', 'OrdersInput', newNeeds(), false, false)).toEqual({
      decorator: 'router.post("/orders", openapi_extra=input_body(OrdersInput))',
      endpointParameters: 'request: Request',
      context: 'ExecutionContext(WORKFLOW_ID, await read_input(request, OrdersInput))',
      answer: 'json_response(await run(ctx), ctx)',
    });
  });

  it('reads a GET with input from the query string, and documents its parameters', () => {
    expect(endpoint('GET', '/q', 'QInput', newNeeds(), true, false)).toEqual({
      decorator: 'router.get("/q", openapi_extra=query_parameters(QInput))',
      endpointParameters: 'request: Request',
      context: 'ExecutionContext(WORKFLOW_ID, read_query(request, QInput))',
      answer: 'json_response(await run(ctx), ctx)',
    });
  });

  it('builds an empty input for a GET or DELETE without query parameters, and takes no request', () => {
    for (const method of ['GET', 'DELETE'])
      expect(endpoint(method, '/x', 'XInput', newNeeds(), false, false)).toEqual({
        decorator: `router.${method.toLowerCase()}("/x")`,
        endpointParameters: '',
        context: 'ExecutionContext(WORKFLOW_ID, XInput())',
        answer: 'json_response(await run(ctx), ctx)',
      });
  });

  it('lower-cases any method for the decorator, and quotes the route as a Python string', () => {
    expect(endpoint('PATCH', '/a"b\\', 'I', newNeeds(), false, false).decorator).toBe(
      "router.patch('/a\"b\\\\', openapi_extra=input_body(I))",
    );
    expect(endpoint('PUT', '/p', 'I', newNeeds(), false, false).decorator).toBe(
      'router.put("/p", openapi_extra=input_body(I))',
    );
  });

  it('streams with stream_run, describing the event stream around the request it reads', () => {
    expect(endpoint('POST', '/s', 'SInput', newNeeds(), false, true)).toEqual({
      decorator:
        'router.post(\n    "/s",\n    openapi_extra=stream_doc(input_body(SInput)),\n    response_class=EventStreamResponse,\n)',
      endpointParameters: 'request: Request',
      context: 'ExecutionContext(WORKFLOW_ID, await read_input(request, SInput))',
      answer: 'stream_run(run, ctx)',
    });
    expect(endpoint('GET', '/s', 'SInput', newNeeds(), false, true).decorator).toBe(
      'router.get("/s", openapi_extra=stream_doc(), response_class=EventStreamResponse)',
    );
    expect(endpoint('GET', '/s', 'S', newNeeds(), true, true).decorator).toBe(
      'router.get(\n    "/s",\n    openapi_extra=stream_doc(query_parameters(S)),\n    response_class=EventStreamResponse,\n)',
    );
  });

  it('gives the context the pools when it needs pools or settings, and the globals when read', () => {
    const pools = 'ExecutionContext(WORKFLOW_ID, I(), pools=request.app.state.pools)';
    expect(endpoint('GET', '/x', 'I', needsOf({ pools: new Set(['http']) }), false, false).context).toBe(pools);
    expect(endpoint('GET', '/x', 'I', needsOf({ settings: true }), false, false).context).toBe(pools);
    expect(endpoint('GET', '/x', 'I', needsOf({ globals: true }), false, false)).toMatchObject({
      context: 'ExecutionContext(WORKFLOW_ID, I(), globals=request.app.state.globals)',
      endpointParameters: 'request: Request',
    });
    expect(endpoint('GET', '/x', 'I', needsOf({ pools: new Set(['http']), globals: true }), false, false).context).toBe(
      'ExecutionContext(\n        WORKFLOW_ID,\n        I(),\n        pools=request.app.state.pools,\n        globals=request.app.state.globals,\n    )',
    );
  });

  it('lays the decorator out after its `@` and the context after `    ctx = `', () => {
    // `@router.get("…")` is 15 characters around the route: the route that fills 88 columns stays.
    const fits = `/${'r'.repeat(88 - '@router.get("/")'.length)}`;
    expect(endpoint('GET', fits, 'I', newNeeds(), false, false).decorator).toBe(`router.get("${fits}")`);
    expect(endpoint('GET', `${fits}r`, 'I', newNeeds(), false, false).decorator).toBe(`router.get(\n    "${fits}r"\n)`);
    // `    ctx = ExecutionContext(WORKFLOW_ID, await read_input(request, …))`: 88 columns exactly.
    const name = 'C'.repeat(88 - '    ctx = ExecutionContext(WORKFLOW_ID, await read_input(request, ))'.length);
    expect(endpoint('POST', '/', name, newNeeds(), false, false).context).toBe(
      `ExecutionContext(WORKFLOW_ID, await read_input(request, ${name}))`,
    );
    expect(endpoint('POST', '/', `${name}C`, newNeeds(), false, false).context).toBe(
      `ExecutionContext(\n        WORKFLOW_ID, await read_input(request, ${name}C)\n    )`,
    );
  });
});
