/**
 * The import block of a generated module, derived from the names its code uses: one table says
 * which module each name comes from, and the lines are grouped and ordered as isort (and
 * `ruff check`'s I001) wants them.
 */
import { LINE_WIDTH } from './layout';

/** Every name a generated module can import, and its module. */
export const MODULE_OF = {
  UTC: 'datetime',
  datetime: 'datetime',
  Annotated: 'typing',
  Any: 'typing',
  Literal: 'typing',
  uuid4: 'uuid',
  EventStreamResponse: 'catalyst_runtime',
  ExecutionContext: 'catalyst_runtime',
  InMemoryRateLimiter: 'catalyst_runtime',
  NodeCache: 'catalyst_runtime',
  StructuredOutput: 'catalyst_runtime',
  RedisRateLimiter: 'catalyst_runtime',
  WorkflowRouter: 'catalyst_runtime',
  compiled_route: 'catalyst_runtime',
  embedding_call: 'catalyst_runtime',
  http_call: 'catalyst_runtime',
  input_body: 'catalyst_runtime',
  item_at: 'catalyst_runtime',
  json_response: 'catalyst_runtime',
  llm_call: 'catalyst_runtime',
  pg_query: 'catalyst_runtime',
  query_parameters: 'catalyst_runtime',
  rate_limit: 'catalyst_runtime',
  run_branches: 'catalyst_runtime',
  run_map: 'catalyst_runtime',
  read_input: 'catalyst_runtime',
  read_query: 'catalyst_runtime',
  redis_command: 'catalyst_runtime',
  run_concurrently: 'catalyst_runtime',
  stream_doc: 'catalyst_runtime',
  stream_run: 'catalyst_runtime',
  to_json: 'catalyst_runtime',
  url_segment: 'catalyst_runtime',
  vector_search: 'catalyst_runtime',
  Request: 'fastapi',
  Response: 'fastapi',
  BaseModel: 'pydantic',
  ConfigDict: 'pydantic',
  Field: 'pydantic',
} as const;

export type ImportedName = keyof typeof MODULE_OF;

const STDLIB = new Set(['datetime', 'typing', 'uuid']);

/**
 * The import lines for `names`, in two groups: the standard library, then installed packages
 * (catalyst_runtime is one, like fastapi, not first-party). Modules sort alphabetically; names
 * inside one sort as isort's `order-by-type`: CONSTANTS, then Classes, then functions.
 */
export function importGroups(names: Iterable<ImportedName>): string[][] {
  const byModule = new Map<string, string[]>();
  for (const name of new Set(names)) {
    const module = MODULE_OF[name];
    byModule.set(module, [...(byModule.get(module) ?? []), name]);
  }
  const modules = [...byModule.keys()].sort();
  const lines = (stdlib: boolean) =>
    modules.filter((m) => STDLIB.has(m) === stdlib).map((m) => importLine(m, byModule.get(m)!.sort(byType)));
  return [lines(true), lines(false)].filter((group) => group.length > 0);
}

const rank = (name: string): number => (/^[A-Z0-9_]+$/.test(name) ? 0 : /^[A-Z]/.test(name) ? 1 : 2);
/** isort's member order (as ruff sorts): by type, then case-insensitive natural order (`f2` < `f10`). */
export const byType = (a: string, b: string): number =>
  rank(a) - rank(b) || natural(a.toLowerCase(), b.toLowerCase()) || (a < b ? -1 : a > b ? 1 : 0);

function natural(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const [x, y] = [pa[i], pb[i]];
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** `from m import a, b`, wrapped in parentheses one name per line when too long. */
export function importLine(module: string, names: string[]): string {
  const flat = `from ${module} import ${names.join(', ')}`;
  if (flat.length <= LINE_WIDTH) return flat;
  return `from ${module} import (\n${names.map((n) => `    ${n},`).join('\n')}\n)`;
}
