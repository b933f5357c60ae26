/**
 * The definition format as zod schemas: the single source of truth for validation, for the
 * TypeScript types of a validated definition, and for the exported JSON Schema editors use.
 */
import { z } from 'zod';

type JsonType = z.core.util.JSONType;

/** A recursive JSON value schema, named `id` in the exported JSON Schema. */
function jsonSchema(id: string, description: string): z.ZodType<JsonType> {
  const self: z.ZodType<JsonType> = z.lazy(() => inner);
  const inner = z
    .union([z.string(), z.number(), z.boolean(), z.null(), z.array(self), z.record(z.string(), self)])
    .meta({ id, description });
  return self;
}

/** Any JSON value; strings may hold `{{ }}` expressions. */
export const Value = jsonSchema('Value', 'A JSON value; strings may contain {{ expressions }}.');

/** Any JSON value (schema defaults and enum members). */
const Json = jsonSchema('Json', 'Any JSON value.');

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** GET and DELETE requests carry no body: their (empty) input model is built directly. */
export function hasBody(method: string): boolean {
  return method !== 'GET' && method !== 'DELETE';
}

export const Trigger = z
  .strictObject({
    method: z.enum(HTTP_METHODS).optional().describe('HTTP method; POST by default.'),
    path: z
      .string()
      .regex(/^\/[A-Za-z0-9._~\-/]*$/, {
        message: 'must start with "/" and contain only letters, digits and . _ ~ - /',
      })
      .optional()
      .describe('Route path; "/<workflow id>" by default.'),
    stream: z
      .boolean()
      .optional()
      .describe(
        'Answer with server-sent events: partial as each node or parallel branch finishes, token from the node marked stream: true, then done (or error).',
      ),
  })
  .meta({ id: 'Trigger', description: 'How the workflow is called.' });

export const INPUT_TYPES = ['string', 'integer', 'number', 'boolean', 'array', 'object'] as const;

/** The JSON Schema subset accepted for `input` (and nested properties). */
export interface InputSchema {
  type?: (typeof INPUT_TYPES)[number];
  title?: string;
  description?: string;
  default?: z.core.util.JSONType;
  enum?: z.core.util.JSONType[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  items?: InputSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, InputSchema>;
  required?: string[];
  additionalProperties?: boolean;
}

const count = z.number().int().nonnegative();

export const InputSchema: z.ZodType<InputSchema> = z
  .lazy(() =>
    z.strictObject({
      type: z.enum(INPUT_TYPES).optional(),
      title: z.string().optional(),
      description: z.string().optional(),
      default: Json.optional(),
      enum: z.array(Json).min(1).optional(),
      minLength: count.optional(),
      maxLength: count.optional(),
      pattern: z.string().optional(),
      minimum: z.number().optional(),
      maximum: z.number().optional(),
      exclusiveMinimum: z.number().optional(),
      exclusiveMaximum: z.number().optional(),
      items: InputSchema.optional(),
      minItems: count.optional(),
      maxItems: count.optional(),
      properties: z.record(z.string(), InputSchema).optional(),
      required: z.array(z.string()).optional(),
      additionalProperties: z.boolean().optional().describe('Extra fields are rejected unless true.'),
    }),
  )
  .meta({ id: 'InputSchema', description: 'A JSON Schema subset describing the request body.' });

/** Where a cached node keeps its entries. */
export const CACHE_BACKENDS = ['memory', 'redis'] as const;

/** The longest a cached value may be kept: 30 days, in seconds. */
export const CACHE_MAX_TTL = 30 * 24 * 3600;

export const CacheConfig = z
  .strictObject({
    ttl: z
      .number()
      .positive()
      .max(CACHE_MAX_TTL)
      .describe(`Seconds a value is kept (at most ${CACHE_MAX_TTL}, 30 days).`),
    key: Value.optional().describe(
      'What identifies a value, e.g. "user:{{ input.id }}"; by default every value the node sends.',
    ),
    backend: z
      .enum(CACHE_BACKENDS)
      .optional()
      .describe('memory (default): an LRU in each process. redis: one cache shared on the Redis pool.'),
  })
  .meta({ id: 'CacheConfig', description: "Keep the node's value for ttl seconds (idempotent nodes only)." });

const nodeBase = {
  id: z.string().describe('Unique in the workflow; a Python identifier.'),
  description: z.string().optional(),
  after: z.array(z.string()).optional().describe('Nodes to run before this one, besides those it references.'),
  when: z.string().optional().describe('Guard: "{{ expression }}"; when false the node is skipped and yields null.'),
  cache: CacheConfig.optional(),
};

export const TransformNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('transform'),
    set: z.record(z.string(), Value).describe('The output object: each key is computed from its value template.'),
  })
  .meta({ id: 'TransformNode', description: 'Builds a value from expressions.' });

/** Methods an `http` node may send; HEAD too, since its answer is just status and headers. */
export const HTTP_NODE_METHODS = [...HTTP_METHODS, 'HEAD'] as const;

export const HttpNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('http'),
    method: z.enum(HTTP_NODE_METHODS).optional().describe('HTTP method; GET by default.'),
    url: z.string().describe('The URL; may contain {{ expressions }}.'),
    headers: z.record(z.string(), Value).optional().describe('Request headers; a value that is null is left out.'),
    query: z.record(z.string(), Value).optional().describe('Query parameters; a value that is null is left out.'),
    json: Value.optional().describe('A JSON request body.'),
    timeout: z
      .number()
      .positive()
      .optional()
      .describe('Seconds for this request (connect, read, write); the pool default otherwise.'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(10)
      .optional()
      .describe('Extra attempts after a connection failure, a timeout or a 502/503/504 answer.'),
  })
  .meta({
    id: 'HttpNode',
    description: 'Sends one HTTP request on the shared connection pool; outputs { status, headers, body }.',
  });

/** The commands a `redis` node can send (see nodes/redis.ts for the fields each one takes). */
export const REDIS_COMMANDS = ['get', 'set', 'incr', 'del', 'hget', 'hset', 'publish'] as const;

export const RedisNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('redis'),
    command: z.enum(REDIS_COMMANDS).describe('The Redis command.'),
    key: z.string().optional().describe('The key (all commands but publish); text that may contain {{ expressions }}.'),
    field: z.string().optional().describe('The hash field (hget, hset); text that may contain {{ expressions }}.'),
    channel: z.string().optional().describe('The channel (publish); text that may contain {{ expressions }}.'),
    value: Value.optional().describe(
      'What set, hset and publish write: a string as is, anything else as compact JSON (every value with json: true).',
    ),
    json: z
      .boolean()
      .optional()
      .describe('get, hget: parse the stored text as JSON. set, hset, publish: write every value as JSON.'),
    ttl: z.number().int().positive().optional().describe('set: seconds until the key expires.'),
    by: z.number().int().optional().describe('incr: the increment (1 by default; may be negative).'),
  })
  .meta({
    id: 'RedisNode',
    description: 'Sends one command on the shared Redis pool; outputs { value }.',
  });

/** What a `postgres` node returns: every row, the first row, the first column of it, or the status tag. */
export const POSTGRES_MODES = ['rows', 'row', 'value', 'execute'] as const;

/** Types a `postgres` node's `columns` may declare for the type checker. */
export const COLUMN_TYPES = ['string', 'integer', 'number', 'boolean', 'object', 'array', 'any'] as const;

export const PostgresNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('postgres'),
    query: z
      .string()
      .describe('The SQL; values are written as :name placeholders (from params), never as {{ expressions }}.'),
    params: z
      .record(z.string(), Value)
      .optional()
      .describe('Named parameters: each :name in the query is sent as a bound parameter with this value.'),
    mode: z
      .enum(POSTGRES_MODES)
      .optional()
      .describe(
        'rows (default): { rows, count }; row: the first row or null; value: its first column; execute: { status }.',
      ),
    columns: z
      .record(z.string(), z.enum(COLUMN_TYPES))
      .optional()
      .describe('The columns a row has, in order, with their types, for the type checker.'),
    timeout: z.number().positive().optional().describe('Seconds this query may take; then the node fails (504).'),
  })
  .meta({
    id: 'PostgresNode',
    description: 'Runs one SQL statement on the shared PostgreSQL pool with bound parameters.',
  });

/** Where a `rate_limit` node keeps its limiter's state. */
export const RATE_LIMIT_BACKENDS = ['memory', 'redis'] as const;

/** What a `rate_limit` node and the `rate_limit:` option of a provider's node both take. */
const rateLimitTerms = {
  burst: z.number().int().min(1).optional().describe('Calls allowed at once before the rate applies; 1 by default.'),
  timeout: z
    .number()
    .nonnegative()
    .describe('Seconds a call may wait for its slot; a slot further away is refused at once (429). 0: never wait.'),
  backend: z
    .enum(RATE_LIMIT_BACKENDS)
    .optional()
    .describe('memory (default): one limit per process. redis: one limit shared by every process on the Redis pool.'),
};

export const RateLimitNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('rate_limit'),
    key: z.string().describe('What is limited, e.g. "user:{{ input.user }}"; text that may contain {{ expressions }}.'),
    interval: z.number().positive().optional().describe('Seconds between calls on one key (give this or rate).'),
    rate: z.number().positive().optional().describe('Calls per second on one key (give this or interval).'),
    ...rateLimitTerms,
  })
  .meta({
    id: 'RateLimitNode',
    description: 'Waits for a slot on a key (GCRA), or answers 429 with Retry-After; outputs { waited }.',
  });

/** Most results a `vector_search` node may ask for (its `limit`). */
export const VECTOR_SEARCH_MAX_LIMIT = 1000;

/** Payload equality conditions: payload key -> the value it must (not) equal. */
const PayloadMatches = z.record(z.string().min(1), Value);

export const VectorSearchNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('vector_search'),
    collection: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,255}$/, { message: 'must be 1 to 255 letters, digits, "_", "-" or "."' })
      .describe('The Qdrant collection to search (fixed text).'),
    vector: Value.describe('The query vector: a list of numbers, usually one expression ("{{ input.embedding }}").'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(VECTOR_SEARCH_MAX_LIMIT)
      .optional()
      .describe(`The most results to return, 1 to ${VECTOR_SEARCH_MAX_LIMIT}; 10 by default.`),
    score_threshold: z
      .number()
      .optional()
      .describe('Leave out results scoring worse than this (for cosine and dot product: lower).'),
    filter: z
      .strictObject({
        must: PayloadMatches.optional().describe('Payload keys that must equal these values (all of them).'),
        must_not: PayloadMatches.optional().describe('Payload keys that must not equal these values (none of them).'),
      })
      .optional()
      .describe('Payload conditions; values are text, integers or booleans and may hold expressions.'),
    payload: z
      .record(z.string(), z.enum(COLUMN_TYPES))
      .optional()
      .describe(
        'The payload keys each result returns, with their types, for the type checker (only these are fetched).',
      ),
    timeout: z.number().positive().optional().describe('Seconds the search may take; then the node fails (504).'),
  })
  .meta({
    id: 'VectorSearchNode',
    description:
      'Searches a Qdrant collection for the points nearest a vector; outputs { results: [{ id, score, payload }] }.',
  });

/** Providers an `llm` node can call, and those an `embedding` node can (OpenAI-compatible APIs). */
export const LLM_PROVIDERS = ['anthropic', 'openai', 'groq'] as const;
export const EMBEDDING_PROVIDERS = ['openai'] as const;

/** The largest `max_tokens` an `llm` node may ask for (the runtime holds calls to it too). */
export const LLM_MAX_TOKENS = 200_000;

/** The most `stop` sequences (OpenAI's own bound; Anthropic takes more). */
export const LLM_MAX_STOP = 4;

/** Extra attempts at an answer that does not fit `output_schema`, at most, and by default. */
export const LLM_MAX_RETRIES = 3;
export const LLM_DEFAULT_RETRIES = 1;

/** `rate_limit:` on an `llm` or `embedding` node: the node's calls to its provider, spaced out. */
export const RateLimitOption = z
  .strictObject({
    interval: z.number().positive().optional().describe('Seconds between calls (give this or rate).'),
    rate: z
      .number()
      .positive()
      .optional()
      .describe('Calls per second (give this or interval); 100/60 is 100 a minute.'),
    ...rateLimitTerms,
  })
  .meta({ id: 'RateLimitOption', description: "Spaces out the node's calls to its provider (GCRA)." });

const providerFields = {
  base_url: z
    .string()
    .optional()
    .describe("The API's base URL (an OpenAI-compatible server: Ollama, vLLM); literal text, env or global."),
  api_key: z
    .string()
    .optional()
    .describe('The key, from secrets only: "{{ secrets.OPENAI_API_KEY }}". Optional with a base_url.'),
  timeout: z
    .number()
    .positive()
    .optional()
    .describe(
      'Seconds for the whole call, retries included; then the node fails (504). CATALYST_LLM_TIMEOUT otherwise.',
    ),
  rate_limit: RateLimitOption.optional(),
};

export const LlmMessage = z
  .strictObject({
    role: z.enum(['user', 'assistant']).describe('Who said it.'),
    content: z.string().describe('The text; may contain {{ expressions }}.'),
  })
  .meta({ id: 'LlmMessage', description: 'One message of the conversation sent to the model.' });

export const LlmNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('llm'),
    provider: z
      .enum(LLM_PROVIDERS)
      .describe('anthropic, openai (or any OpenAI-compatible server with base_url), groq.'),
    model: z.string().min(1).describe("The provider's model name (fixed text)."),
    system: z.string().optional().describe('The system prompt; may contain {{ expressions }}.'),
    prompt: z.string().optional().describe('The user message; may contain {{ expressions }} (give this or messages).'),
    messages: z
      .union([z.array(LlmMessage).min(1), z.string()])
      .optional()
      .describe('The conversation: a list of { role, content }, or one expression giving such a list.'),
    max_tokens: z
      .number()
      .int()
      .min(1)
      .max(LLM_MAX_TOKENS)
      .describe(`The most tokens the answer may have (1 to ${LLM_MAX_TOKENS}).`),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature (openai, groq).'),
    stop: z
      .array(z.string().min(1))
      .min(1)
      .max(LLM_MAX_STOP)
      .optional()
      .describe(`Up to ${LLM_MAX_STOP} texts that end the answer.`),
    stream: z
      .boolean()
      .optional()
      .describe(
        "Pass the answer's tokens on as they arrive (token events of a streaming trigger); one node per workflow.",
      ),
    output_schema: InputSchema.optional().describe(
      'A JSON Schema the answer must fit: the provider is asked for JSON, the answer validated, its fields typed.',
    ),
    retries: z
      .number()
      .int()
      .min(0)
      .max(LLM_MAX_RETRIES)
      .optional()
      .describe(`Extra attempts at an answer that does not fit output_schema; ${LLM_DEFAULT_RETRIES} by default.`),
    ...providerFields,
  })
  .meta({
    id: 'LlmNode',
    description:
      'Asks a model through its official SDK; outputs { text, usage, stop_reason } (and output with output_schema).',
  });

export const EmbeddingNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('embedding'),
    provider: z
      .enum(EMBEDDING_PROVIDERS)
      .optional()
      .describe('openai (default): any OpenAI-compatible embeddings API.'),
    model: z.string().min(1).describe("The provider's embedding model (fixed text)."),
    input: Value.describe('A text, or a list of texts embedded in one call; may contain {{ expressions }}.'),
    dimensions: z
      .number()
      .int()
      .min(1)
      .max(65536)
      .optional()
      .describe('The length of each vector, when the model can shorten it.'),
    ...providerFields,
  })
  .meta({
    id: 'EmbeddingNode',
    description: 'Embeds a text or a batch of texts; outputs { vectors, usage }.',
  });

/** The most items a `map` node may run at once, and its default. */
export const MAP_MAX_CONCURRENCY = 64;
export const MAP_DEFAULT_CONCURRENCY = 8;

/** What a `map` node does when an item fails. */
export const MAP_ERROR_POLICIES = ['fail', 'collect'] as const;

/** What a `parallel` node gives for a branch still running at its timeout. */
export const PARALLEL_TIMEOUT_POLICIES = ['fail', 'partial'] as const;

/** The fields every node has. */
type NodeBase = z.infer<z.ZodObject<typeof nodeBase>>;

/** `parallel` and `map` hold nodes, so their types are written out (zod cannot infer a cycle). */
export interface ParallelNodeDef extends NodeBase {
  type: 'parallel';
  branches: Record<string, Node[]>;
  timeout?: number;
  on_timeout?: (typeof PARALLEL_TIMEOUT_POLICIES)[number];
}

export interface MapNodeDef extends NodeBase {
  type: 'map';
  over: string;
  nodes: Node[];
  concurrency?: number;
  on_error?: (typeof MAP_ERROR_POLICIES)[number];
}

/** A list of nodes inside a `parallel` branch or a `map` node (the same kinds as at the top). */
const innerNodes: z.ZodType<Node[]> = z.lazy(() => z.array(Node));

export const ParallelNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('parallel'),
    branches: z
      .record(z.string(), innerNodes)
      .describe("Named branches, each a list of nodes; a branch's value is its last node's value."),
    timeout: z
      .number()
      .positive()
      .optional()
      .describe('Seconds the branches may take; then the ones still running are cancelled.'),
    on_timeout: z
      .enum(PARALLEL_TIMEOUT_POLICIES)
      .optional()
      .describe('fail (default): the node fails (504). partial: a branch still running gives null.'),
  })
  .meta({
    id: 'ParallelNode',
    description: 'Runs its branches concurrently; outputs an object with one field per branch.',
  });

export const MapNode = z
  .strictObject({
    ...nodeBase,
    type: z.literal('map'),
    over: z.string().describe('The list to map over: "{{ expression }}".'),
    nodes: innerNodes.describe(
      "Run for each item, with item and index in scope; an item's value is its last node's value.",
    ),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(MAP_MAX_CONCURRENCY)
      .optional()
      .describe(`Items run at once; ${MAP_DEFAULT_CONCURRENCY} by default, at most ${MAP_MAX_CONCURRENCY}.`),
    on_error: z
      .enum(MAP_ERROR_POLICIES)
      .optional()
      .describe('fail (default): the first failing item fails the node. collect: { results, errors }.'),
  })
  .meta({
    id: 'MapNode',
    description: 'Runs its nodes for each item of a list, a bounded number at once; outputs their values in order.',
  });

/** Nodes that hold no nodes. */
type LeafNode = z.infer<
  | typeof TransformNode
  | typeof HttpNode
  | typeof PostgresNode
  | typeof RedisNode
  | typeof RateLimitNode
  | typeof VectorSearchNode
  | typeof LlmNode
  | typeof EmbeddingNode
>;

export type Node = LeafNode | ParallelNodeDef | MapNodeDef;

export const Node: z.ZodType<Node> = z.discriminatedUnion('type', [
  TransformNode,
  HttpNode,
  PostgresNode,
  RedisNode,
  RateLimitNode,
  ParallelNode,
  MapNode,
  VectorSearchNode,
  LlmNode,
  EmbeddingNode,
]);

export const Workflow = z
  .strictObject({
    $schema: z.string().optional(),
    id: z.string().describe('Unique in the service; names the Python module and the default route.'),
    description: z.string().optional(),
    trigger: Trigger.optional(),
    input: InputSchema.optional(),
    nodes: z.array(Node).optional(),
    trace: z
      .strictObject({
        input: z
          .array(z.string())
          .max(32)
          .optional()
          .describe(
            "Top-level input fields (one text, number or boolean each) recorded on the request's trace span as catalyst.input.<field>; no other input value is.",
          ),
      })
      .optional()
      .describe('What the traces of this workflow may record (with CATALYST_TRACING=on).'),
    output: z
      .record(z.string(), Value)
      .optional()
      .describe('The response body: each key is computed from its value template.'),
  })
  .meta({
    title: 'Catalyst workflow',
    description: 'A Catalyst workflow definition (compiled to Python FastAPI code).',
  });

export type Workflow = z.infer<typeof Workflow>;
export type NodeType = Node['type'];
export type Trigger = z.infer<typeof Trigger>;
export type JsonValue = z.core.util.JSONType;
