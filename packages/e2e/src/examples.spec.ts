// The examples under examples/, each run the way a user would: a service scaffolded in a fresh
// Nx workspace with the packed plugin, the example's definitions compiled by `nx run codegen`,
// served by `nx run serve` (uvicorn) and called over HTTP, against the real PostgreSQL and Redis
// the tests use and an HTTP upstream on loopback.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lib, type Background, type Workspace } from './workspace';

jest.setTimeout(20 * 60 * 1000);

interface Services {
  postgres: { url: string; psql: string };
  redis: { url: string };
}

interface ExamplesLib {
  addExample(ws: Workspace, name: string): string;
  exampleNames(): string[];
  examplesDir: string;
  seedExample(services: Services, name: string): void;
  startServices(stateFile: string): Services;
  stopServices(stateFile: string): void;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const examples = require(join(lib.repoRoot, 'tools', 'lib', 'examples.cjs')) as ExamplesLib;

/** The examples this file runs; a folder under examples/ that is not listed fails the first test. */
const COVERED = ['cached-lookup', 'help-answer', 'order-status', 'price-check', 'store-dashboard', 'support-triage'];

/** Serves `name` with `env` added to the workspace's environment; resolves once it answers. */
async function serve(
  ws: Workspace,
  name: string,
  env: Record<string, string>,
): Promise<{ base: string; server: Background }> {
  const port = await lib.freePort();
  Object.assign(ws.env, env);
  const server = ws.spawnNx(['run', `${name}:serve`, `--port=${port}`]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await lib.waitForHttp(`${base}/openapi.json`, {
      timeoutMs: 300_000,
      isAlive: () => server.child.exitCode === null,
    });
  } catch (error) {
    await server.stop();
    throw new Error(`${String(error)}\n${server.output()}`);
  }
  return { base, server };
}

/** The names in a Server-Timing header, in order. */
function timingNames(header: string | null): string[] {
  return (header ?? '').split(',').map((entry) => entry.trim().split(';')[0]);
}

describe('the examples, served from a fresh Nx workspace', () => {
  let ws: Workspace;
  let scratch: string;
  let services: Services;

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'catalyst-examples-'));
    services = examples.startServices(join(scratch, 'services.json'));
    ws = lib.createWorkspace({ tarball: lib.packPlugin(join(scratch, 'pack')) });
  });

  afterAll(() => {
    if (process.env.KEEP_E2E_WORKSPACE) console.log(`workspace kept at ${ws?.root}`);
    else ws?.remove();
    if (services) examples.stopServices(join(scratch, 'services.json'));
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs every example there is', () => {
    expect(examples.exampleNames()).toEqual(COVERED);
  });

  it('store-dashboard: four PostgreSQL queries run at once and answer one dashboard', async () => {
    examples.addExample(ws, 'store-dashboard');
    examples.seedExample(services, 'store-dashboard');
    const { base, server } = await serve(ws, 'store-dashboard', { DATABASE_URL: services.postgres.url });
    try {
      const res = await fetch(`${base}/dashboard?month=2026-11`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({
        month: '2026-11',
        customers: 4,
        orders: 6,
        revenue: 779.7,
        top_products: [
          { name: 'Cable', sold: 14 },
          { name: 'Keyboard', sold: 3 },
          { name: 'Monitor', sold: 3 },
        ],
        latest_orders: [
          { id: 6, customer: 'Barbara', placed: '2026-11-29' },
          { id: 5, customer: 'Barbara', placed: '2026-11-28' },
          { id: 4, customer: 'Edsger', placed: '2026-11-25' },
        ],
      });
      expect(timingNames(res.headers.get('server-timing'))).toEqual(
        expect.arrayContaining(['customers', 'totals', 'top_products', 'latest', 'total']),
      );

      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{32}$/);

      // The probes a load balancer asks: ready once PostgreSQL answers.
      const ready = await fetch(`${base}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready', checks: { postgres: 'ok' } }]);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      const bad = await fetch(`${base}/dashboard?month=November`);
      expect(bad.status).toBe(422);
      expect(JSON.stringify(await bad.json())).toContain('"month"');
    } finally {
      await server.stop();
    }
  });

  it('order-status: three HTTP calls, each needing the one before', async () => {
    const seen: string[] = [];
    const shop = await shopApi(seen);
    try {
      examples.addExample(ws, 'order-status');
      const port = (shop.address() as AddressInfo).port;
      const { base, server } = await serve(ws, 'order-status', { SHOP_API: `http://127.0.0.1:${port}` });
      try {
        const res = await fetch(`${base}/order-status?email=ada@example.com`);
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ customer: 'Ada', order: 41, status: 'in transit', eta: '2026-12-03' });
        expect(seen).toEqual(['/customers?email=ada%40example.com', '/customers/7/orders/latest', '/shipments/s-41']);
        expect(timingNames(res.headers.get('server-timing'))).toEqual(
          expect.arrayContaining(['customer', 'order', 'shipment', 'total']),
        );

        // The upstream does not know this customer: a 502 that names the node, and the
        // service goes on serving.
        const missing = await fetch(`${base}/order-status?email=nobody@example.com`);
        expect(missing.status).toBe(502);
        expect(JSON.stringify(await missing.json())).toContain('customer');
        expect((await fetch(`${base}/order-status?email=ada@example.com`)).status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      await new Promise((resolve) => shop.close(resolve));
    }
  });

  it('price-check: one rate-limited call per SKU, four at once, answers in the order asked', async () => {
    const supplier = await supplierApi();
    try {
      examples.addExample(ws, 'price-check');
      const port = (supplier.server.address() as AddressInfo).port;
      const { base, server } = await serve(ws, 'price-check', { SUPPLIER_API: `http://127.0.0.1:${port}` });
      try {
        const skus = ['A-1', 'B-2', 'NOPE', 'C-3', 'D-4', 'E-5', 'F-6', 'G-7', 'H-8', 'I-9'];
        const res = await fetch(`${base}/prices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ skus }),
        });
        expect(res.status).toBe(200);
        const expected = skus.map((sku) =>
          sku === 'NOPE' ? null : { sku, price: sku.length * 10 + 0.5, currency: 'EUR' },
        );
        expect(await res.json()).toEqual({
          lines: expected,
          missing: [
            { index: 2, status: 502, message: 'node "quote" in item 2 of "quotes": HTTP upstream answered 404' },
          ],
        });
        // The supplier saw every SKU, answered them out of order, and never more than four at once.
        expect([...supplier.seen].sort()).toEqual([...skus].sort());
        expect(supplier.most).toBe(4);
        const timing = res.headers.get('server-timing') ?? '';
        expect(timingNames(timing)).toEqual(['supplier_slot', 'quote', 'line', 'quotes', 'total']);
        expect(timing).toContain('desc="10 items"');

        const bad = await fetch(`${base}/prices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ skus: [] }),
        });
        expect(bad.status).toBe(422);
        expect(JSON.stringify(await bad.json())).toContain('"skus"');

        // Each SKU is bound by the items' own keywords: the bad one is named, nothing is called.
        const before = supplier.seen.length;
        const badSku = await fetch(`${base}/prices`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ skus: ['A-1', 'a b'] }),
        });
        expect(badSku.status).toBe(422);
        expect(((await badSku.json()) as { detail: { loc: unknown[] }[] }).detail[0].loc).toEqual(['body', 'skus', 1]);
        expect(supplier.seen.length).toBe(before);
      } finally {
        await server.stop();
      }
    } finally {
      await new Promise((resolve) => supplier.server.close(resolve));
    }
  });

  it('cached-lookup: the second request for a city is a Redis cache hit, not a call', async () => {
    const calls: string[] = [];
    const weather = await listen((req, res) => {
      calls.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ summary: 'sunny', high: 21 }));
    });
    try {
      examples.addExample(ws, 'cached-lookup');
      const port = (weather.address() as AddressInfo).port;
      const { base, server } = await serve(ws, 'cached-lookup', {
        WEATHER_API: `http://127.0.0.1:${port}`,
        REDIS_URL: services.redis.url,
      });
      try {
        const first = await fetch(`${base}/weather?city=Lyon`);
        expect(first.status).toBe(200);
        expect(await first.json()).toEqual({ city: 'Lyon', summary: 'sunny', high: 21 });
        expect(first.headers.get('server-timing')).toContain('forecast;dur=');
        expect(first.headers.get('server-timing')).toContain('desc="cache miss"');

        const second = await fetch(`${base}/weather?city=LYON`); // the key lower-cases the city
        expect(second.status).toBe(200);
        expect(await second.json()).toEqual({ city: 'LYON', summary: 'sunny', high: 21 });
        expect(second.headers.get('server-timing')).toContain('desc="cache hit"');
        expect(calls).toEqual(['/forecast/lyon']); // one call for both

        await fetch(`${base}/weather?city=Oslo`);
        expect(calls).toEqual(['/forecast/lyon', '/forecast/oslo']);
      } finally {
        await server.stop();
      }
    } finally {
      await new Promise((resolve) => weather.close(resolve));
    }
  });

  it("support-triage: a model's typed answer (output_schema) feeds the next node", async () => {
    const shopSeen: string[] = [];
    const shop = await listen((req, res) => {
      shopSeen.push(req.url ?? '');
      const known = req.url === '/orders/10482';
      res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(known ? { id: 10482, status: 'shipped' } : { error: 'not found' }));
    });
    try {
      examples.addExample(ws, 'support-triage');
      // The user's way of adding the SDKs: `uv add`, which wrote the extra into the service.
      expect(readFileSync(join(ws.root, 'apps', 'support-triage', 'pyproject.toml'), 'utf8')).toContain(
        '"catalyst-runtime[llm]"',
      );
      const provider = await loopbackProvider(ws);
      try {
        const shopPort = (shop.address() as AddressInfo).port;
        const { base, server } = await serve(ws, 'support-triage', {
          ANTHROPIC_API_KEY: 'sk-ant-e2e-key',
          ANTHROPIC_BASE_URL: provider.url,
          SHOP_API: `http://127.0.0.1:${shopPort}`,
          CATALYST_LLM_RETRY_BACKOFF: '0.01',
        });
        const triage = (text: string) =>
          fetch(`${base}/triage`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ text }),
          });
        try {
          const ticket = 'Order 10482 has not arrived and I fly out on Friday!';
          await provider.script({ structured: [{ category: 'delivery', urgency: 'high', order_id: '10482' }] });
          const res = await triage(ticket);
          expect(res.status).toBe(200);
          expect(await res.json()).toEqual({
            category: 'delivery',
            urgency: 'high',
            order_id: '10482',
            order_status: 'shipped',
          });
          // The typed order_id is what the http node called with.
          expect(shopSeen).toEqual(['/orders/10482']);
          expect(timingNames(res.headers.get('server-timing'))).toEqual(
            expect.arrayContaining(['extract', 'order', 'total']),
          );

          // What the Anthropic SDK sent: the ticket, the key, and the schema as a forced tool.
          const sent = await provider.requests();
          expect(sent).toHaveLength(1);
          expect(sent[0].path).toBe('/v1/messages');
          expect(sent[0].headers.authorization).toBe('Bearer sk-ant-e2e-key');
          const body = sent[0].body as {
            model: string;
            messages: { role: string; content: unknown }[];
            tools: { name: string; input_schema: Record<string, unknown> }[];
            tool_choice: unknown;
          };
          expect(body.model).toBe('claude-sonnet-4-5');
          expect(JSON.stringify(body.messages)).toContain(ticket);
          expect(body.tool_choice).toEqual({ type: 'tool', name: 'output' });
          expect(body.tools).toHaveLength(1);
          expect(body.tools[0].input_schema).toMatchObject({
            type: 'object',
            properties: {
              category: { enum: ['billing', 'delivery', 'defect', 'other'] },
              urgency: { enum: ['low', 'normal', 'high'] },
              order_id: { type: 'string', pattern: '^[0-9]{1,12}$' },
            },
            required: ['category', 'urgency'],
          });

          // No order number: order_id is null and the http node does not run.
          await provider.script({ structured: [{ category: 'billing', urgency: 'low' }] });
          const noOrder = await triage('Why was I charged twice this month?');
          expect(noOrder.status).toBe(200);
          expect(await noOrder.json()).toEqual({
            category: 'billing',
            urgency: 'low',
            order_id: null,
            order_status: 'unknown',
          });
          expect(shopSeen).toEqual(['/orders/10482']);

          // An answer that does not fit the schema is asked again (retries: 1), then a 502 naming
          // the node, quoting nothing the model said.
          await provider.script({ structured: [{ category: 'weather', urgency: 'high' }] });
          const unfit = await triage('It rains.');
          expect(unfit.status).toBe(502);
          const unfitBody = await unfit.text();
          expect((JSON.parse(unfitBody) as { detail: unknown[] }).detail[0]).toEqual({
            type: 'upstream_error',
            loc: ['nodes', 'extract'],
            msg: 'node "extract": the answer does not match the node\'s output_schema',
          });
          expect(unfitBody).not.toContain('weather');
          expect(await provider.requests()).toHaveLength(2);

          const bad = await triage('');
          expect(bad.status).toBe(422);
          expect(JSON.stringify(await bad.json())).toContain('"text"');
        } finally {
          await server.stop();
        }
      } finally {
        await provider.stop();
      }
    } finally {
      await new Promise((resolve) => shop.close(resolve));
    }
  });

  it('help-answer: embedding, vector_search beside postgres, then a streamed llm answer', async () => {
    examples.addExample(ws, 'help-answer');
    examples.seedExample(services, 'help-answer');
    const provider = await loopbackProvider(ws);
    try {
      const keys = {
        OPENAI_API_KEY: 'sk-openai-e2e-key',
        OPENAI_BASE_URL: `${provider.url}/v1`,
        ANTHROPIC_API_KEY: 'sk-ant-e2e-key',
        ANTHROPIC_BASE_URL: provider.url,
        CATALYST_QDRANT_PATH: join(scratch, 'qdrant'),
      };
      // The articles, embedded by the same (loopback) model, in a local-mode Qdrant folder.
      const seeded = ws.sh(
        join(ws.root, '.venv', 'bin', 'python'),
        [join(examples.examplesDir, 'help-answer', 'seed_qdrant.py')],
        { env: { ...ws.env, ...keys } },
      );
      expect(seeded.output).toContain('help_articles: 3 articles');
      await provider.script({ tokens: ['Send it back ', 'within 30 days; ', 'we collect it.'] });
      const { base, server } = await serve(ws, 'help-answer', { ...keys, DATABASE_URL: services.postgres.url });
      try {
        const question = 'How do I return an item?';
        const res = await fetch(`${base}/help`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question, customer_id: 1 }),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/event-stream');
        const events = parseEvents(await res.text());
        const tokens = events.filter((e) => e.event === 'token').map((e) => e.data as { node: string; text: string });
        expect(tokens).toEqual([
          { node: 'answer', text: 'Send it back ' },
          { node: 'answer', text: 'within 30 days; ' },
          { node: 'answer', text: 'we collect it.' },
        ]);
        const partials = events.filter((e) => e.event === 'partial').map((e) => (e.data as { node: string }).node);
        expect([...partials].sort()).toEqual(['answer', 'articles', 'customer', 'question_vector']);
        expect(partials.indexOf('answer')).toBe(3); // the answer needs the three others
        const last = events[events.length - 1];
        expect(last.event).toBe('done');
        const output = (last.data as { output: { answer: string; sources: { score: number; payload: unknown }[] } })
          .output;
        expect(output.answer).toBe('Send it back within 30 days; we collect it.');
        // The question is an article's own: the same vector, found first with a cosine of 1.
        expect(output.sources).toHaveLength(2);
        expect(output.sources[0].payload).toEqual({
          title: 'Returns',
          body: "Items can be returned within 30 days from your orders page; premium customers' returns are collected.",
        });
        expect(output.sources[0].score).toBeCloseTo(1, 5);

        // What the SDKs sent: the question to embed, then a streamed message holding the
        // customer's row and the articles found.
        const sent = await provider.requests();
        expect(sent.map((r) => r.path)).toEqual(['/v1/embeddings', '/v1/messages']);
        expect(sent[0].body).toMatchObject({ model: 'text-embedding-3-small', input: [question], dimensions: 256 });
        expect(sent[0].headers.authorization).toBe('Bearer sk-openai-e2e-key');
        const message = sent[1].body as { stream: boolean; messages: unknown[] };
        expect(message.stream).toBe(true);
        const prompt = JSON.stringify(message.messages);
        for (const part of ['Customer: Ada, plan premium', 'premium customers', question])
          expect(prompt).toContain(part);

        const bad = await fetch(`${base}/help`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ question, customer_id: 0 }),
        });
        expect(bad.status).toBe(422);
        expect(JSON.stringify(await bad.json())).toContain('"customer_id"');
      } finally {
        await server.stop();
      }
    } finally {
      await provider.stop();
    }
  });
});

/** The events of a server-sent event stream, in order, each with its JSON data. */
function parseEvents(text: string): { event: string; data: unknown }[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split(/\r?\n/);
      const event =
        lines
          .find((l) => l.startsWith('event:'))
          ?.slice(6)
          .trim() ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      return { event, data: JSON.parse(data) as unknown };
    });
}

/**
 * The runtime's loopback LLM provider (tools/lib/loopback_provider.py) on a free port, run by the
 * sample workspace's Python: `script` says how it answers from then on (its structured answers,
 * its text's tokens), `requests` is what the SDKs sent since.
 */
async function loopbackProvider(ws: Workspace): Promise<{
  url: string;
  script(script: { structured?: unknown[]; tokens?: string[] }): Promise<void>;
  requests(): Promise<{ path: string; body: unknown; headers: Record<string, string> }[]>;
  stop(): Promise<void>;
}> {
  const port = await lib.freePort();
  const url = `http://127.0.0.1:${port}`;
  const script = join(lib.repoRoot, 'tools', 'lib', 'loopback_provider.py');
  const child = spawn(join(ws.root, '.venv', 'bin', 'python'), [script, String(port)], {
    cwd: ws.root,
    env: ws.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    await lib.waitForHttp(`${url}/_loopback/requests`, { timeoutMs: 120_000, isAlive: () => child.exitCode === null });
  } catch (error) {
    await stop();
    throw new Error(`${String(error)}\n${output}`);
  }
  return {
    url,
    async script(script) {
      const res = await fetch(`${url}/_loopback/script`, { method: 'PUT', body: JSON.stringify(script) });
      expect(res.status).toBe(204);
    },
    async requests() {
      return (await (await fetch(`${url}/_loopback/requests`)).json()) as {
        path: string;
        body: unknown;
        headers: Record<string, string>;
      }[];
    },
    stop,
  };
}

/** A supplier API on loopback: a price per SKU after a random few milliseconds, 404 for NOPE;
 * it records the SKUs asked for and the most requests it had in flight at once. */
async function supplierApi(): Promise<{ server: Server; seen: string[]; most: number }> {
  const state = { server: undefined as unknown as Server, seen: [] as string[], most: 0 };
  let inFlight = 0;
  state.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const sku = decodeURIComponent((req.url ?? '').replace(/^\/prices\//, ''));
    state.seen.push(sku);
    inFlight += 1;
    state.most = Math.max(state.most, inFlight);
    setTimeout(
      () => {
        inFlight -= 1;
        const known = sku !== 'NOPE';
        res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(known ? { price: sku.length * 10 + 0.5, currency: 'EUR' } : { error: 'unknown sku' }));
      },
      20 + Math.random() * 40,
    );
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  return state;
}

/** A tiny shop API on loopback: one customer, their latest order and its shipment. */
async function shopApi(seen: string[]): Promise<Server> {
  const routes: Record<string, unknown> = {
    '/customers?email=ada%40example.com': { id: 7, name: 'Ada' },
    '/customers/7/orders/latest': { id: 41, shipment_id: 's-41' },
    '/shipments/s-41': { status: 'in transit', eta: '2026-12-03' },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    seen.push(url);
    const body = routes[url];
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** An HTTP server on a free loopback port. */
async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<Server> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
