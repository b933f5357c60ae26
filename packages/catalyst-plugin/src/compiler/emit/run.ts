/**
 * The schedule as code. Each node's block is only its work, inside `with ctx.node("id", "kind"):`, the
 * runtime's one place for timing and for naming the node in an error; its value is bound to a
 * local named after the node, and later nodes read that local.
 *
 * Each async node is its own `async def _<id>(ctx, inp, <the nodes it reads>)` above `run`,
 * returning its value, so a stack trace names the node's function and its inputs are its
 * parameters. How `run` calls them depends on the graph (`scheduleOf`):
 *
 * - When the async nodes form a chain (each needs the one before), nothing can overlap: `run`
 *   is the nodes in order, synchronous ones inline and async ones awaited one by one.
 * - Otherwise it is dataflow: every async node (and every synchronous node between two of them)
 *   is started in one task group, `async with ctx.tasks() as tasks:`, in graph order, given the
 *   tasks of the nodes it reads; each waits for exactly those, so it starts as soon as they have
 *   finished, not when a whole ready set has. Synchronous nodes that need no async node run
 *   inline before the group; those that only feed the response run inline after it, once
 *   `tasks.results()` has turned the tasks back into values. When no task needs another (one set
 *   of independent async nodes), `await run_concurrently(...)` starts them all in one line.
 */
import type { ExprEmitter } from '../expr/emit';
import type { Type } from '../expr/types';
import type { Plan } from '../plan/plan';
import { kindOf, type InnerGraph } from '../nodes/kinds';
import { CACHE_KEY, cachedCall } from '../nodes/cache';
import { valueDoc } from '../expr/value-code';
import type { NodeIR } from '../resolve/resolve';
import { pyString } from '../python/literal';
import { atom, callDoc, layout, type Doc } from '../python/layout';

/** What one node's code needs from the emitter: a fresh expression emitter and what it read. */
export interface BlockEnv {
  emitter: ExprEmitter;
  /** The block reads the input model (`inp`). */
  usesInput(): boolean;
  /** The names besides node values the block reads: `inp`, and in a map's nodes `item`, `index`. */
  roots: ReadonlySet<Root>;
  /** Nodes whose values the block reads, in the order first read. */
  reads: ReadonlySet<string>;
  /** Records a read of `inp`, `item` or `index` the emitter did not make (a graph's arguments). */
  use(root: Root): void;
  /** Records a read of a node's value the emitter did not make; gives its local. */
  read(id: string): string;
}

/** Locals a block may read besides node values, in the order they are passed. */
export type Root = 'inp' | 'item' | 'index';
export const ROOT_ORDER: readonly Root[] = ['inp', 'item', 'index'];

export interface NodeNames {
  /** The local (and parameter) holding the node's value. */
  local(id: string): string;
  /** The module-level `async def` of a node that runs as its own function. */
  fn(id: string): string;
  /** The module-level object a node's code uses (`NodeKind.declaration`), if it has one. */
  /** The names of a node's module-level declarations, by suffix. */
  declared(id: string): Readonly<Record<string, string>>;
  /** The module-level cache of a node with `cache:`, if it has one. */
  cache(id: string): string | undefined;
  /** The function running a graph inside a node (a branch, a map's nodes). */
  graphFn(owner: string, branch: string | undefined): string;
}

/**
 * Where each node runs. `sequential`: every node in graph order in `run`. `dataflow`: `before`
 * inline, `tasks` in the task group (in graph order), `after` inline once the group is done.
 */
export type Schedule =
  { kind: 'sequential'; order: NodeIR[] } | { kind: 'dataflow'; before: NodeIR[]; tasks: NodeIR[]; after: NodeIR[] };

export function scheduleOf(readySets: NodeIR[][]): Schedule {
  // Ready sets list every node after the nodes it needs; within one, synchronous nodes first.
  const order = readySets.flatMap((set) => [...set.filter((n) => !isAsync(n)), ...set.filter(isAsync)]);
  const byId = new Map(order.map((n) => [n.id, n]));
  const asyncAbove = new Map<string, Set<string>>();
  for (const n of order) {
    const above = new Set<string>();
    for (const d of n.deps) {
      const dep = byId.get(d.nodeId);
      if (!dep) continue;
      if (isAsync(dep)) above.add(dep.id);
      asyncAbove.get(dep.id)?.forEach((id) => above.add(id));
    }
    asyncAbove.set(n.id, above);
  }
  const asyncNodes = order.filter(isAsync);
  const chain = asyncNodes.every((n, i) => i === 0 || asyncAbove.get(n.id)!.has(asyncNodes[i - 1].id));
  if (chain) return { kind: 'sequential', order };
  const feedsAsync = new Set<string>();
  for (const n of [...order].reverse()) {
    if (isAsync(n) || feedsAsync.has(n.id)) n.deps.forEach((d) => feedsAsync.add(d.nodeId));
  }
  const before = order.filter((n) => !isAsync(n) && asyncAbove.get(n.id)!.size === 0);
  const after = order.filter((n) => !isAsync(n) && asyncAbove.get(n.id)!.size > 0 && !feedsAsync.has(n.id));
  const inline = new Set([...before, ...after]);
  return { kind: 'dataflow', before, tasks: order.filter((n) => !inline.has(n)), after };
}

/** The nodes that become their own `async def`. */
export function functionNodes(schedule: Schedule): NodeIR[] {
  return schedule.kind === 'sequential' ? schedule.order.filter(isAsync) : schedule.tasks;
}

const isAsync = (n: NodeIR): boolean => kindOf(n.def).async;

export interface RunBodyInput {
  plan: Plan;
  schedule: Schedule;
  /** Every node of the workflow by id (a graph reads the nodes around it). */
  byId: ReadonlyMap<string, NodeIR>;
  /** The annotation of `item` where the graph is a map's nodes (or inside one). */
  itemAnnotation?: string;
  /** The annotation of the items of map node `id`. */
  itemAnnotationOf(id: string): string;
  /** The graphs a `parallel` or `map` node holds, compiled (their functions added to `out`). */
  inner(node: NodeIR, block: BlockEnv, out: RunBody, s: RunBodyInput): InnerGraph[];
  /** Nodes whose value is read; the others' values are not bound (`_ =`, or a bare `await`). */
  read: ReadonlySet<string>;
  /** Nodes whose value the response reads. */
  readByOutput: ReadonlySet<string>;
  names: NodeNames;
  newBlock(): BlockEnv;
  /** `file:line:col` of the node (or of a JSON path), for its comment. */
  location(node: { path: NodeIR['path'] }): string;
  /** The Python annotation of each node's value. */
  annotation(node: NodeIR): string;
  inputClass: string;
  /**
   * A streamed run tells its client each of these nodes' values (`ctx.partial`): the
   * workflow's own nodes; not those inside branches and maps, whose values reach the client in
   * their branch's or map's partial.
   */
  partials: boolean;
}

export interface RunBody {
  /** The nodes' functions, each a list of lines at column 0 (comment, `async def`, body). */
  functions: string[][];
  /** `run`'s statements, one list of lines (at indent 4) each; they are set apart by a blank line. */
  statements: string[][];
  /** Some statement in `run` reads `inp`. */
  usesInput: boolean;
  /** `inp`, `item`, `index` as some statement reads them. */
  roots: Set<Root>;
  /** The nodes whose values some statement reads (the graph's own and those around it). */
  reads: Set<string>;
}

interface Compiled {
  node: NodeIR;
  value: Doc;
  condition: string | undefined;
  comment: string;
  /** `inp` when the node reads the input, then the locals of the nodes it reads. */
  params: Param[];
}

/** Compiles one node's block: its value, its guard, and what it reads (its parameters as a function). */
function compileNode(node: NodeIR, s: RunBodyInput, out: RunBody): Compiled {
  const block = s.newBlock();
  const inner = node.children.length > 0 ? s.inner(node, block, out, s) : undefined;
  const work = cached(
    node,
    kindOf(node.def).emit(node.def, node.templates, block.emitter, s.names.declared(node.id), inner),
    s.names,
    block.emitter,
  );
  // Wrapped, so the event goes out the moment the value exists, from inside the node's block.
  const value = s.partials ? callDoc('ctx.partial', [atom(pyString(node.id)), work]) : work;
  const condition = guardCondition(node, s, block.emitter);
  block.reads.forEach((id) => out.reads.add(id));
  block.roots.forEach((r) => out.roots.add(r));
  const params: Param[] = [
    ...rootParams(block.roots, s),
    ...[...block.reads].map((id) => ({ name: s.names.local(id), type: s.annotation(s.byId.get(id)!) })),
  ];
  return { node, value, condition, comment: `# ${node.id} (${node.def.type}), ${s.location(node)}`, params };
}

/** A cached node's value: its kind's call, made through its cache (nodes/cache.ts). */
function cached(node: NodeIR, value: Doc, names: NodeNames, emitter: ExprEmitter): Doc {
  const cache = names.cache(node.id);
  if (!cache) return value;
  const key = node.templates[CACHE_KEY];
  return cachedCall(value, cache, key ? valueDoc(key, emitter) : undefined);
}

/** Adds an async node's function to `out`; gives the arguments a call passes it. */
function functionOf(c: Compiled, s: RunBodyInput, out: RunBody): string[] {
  out.functions.push([c.comment, ...nodeFunction(c.node, s, c.params, c.value, c.condition)]);
  out.usesInput ||= c.params.some((p) => p.name === 'inp');
  return ['ctx', ...c.params.map((p) => p.name)];
}

/** An async node compiled as its own function (a branch of one node is that node's function). */
export function asFunction(node: NodeIR, s: RunBodyInput, out: RunBody): string[] {
  return functionOf(compileNode(node, s, out), s, out);
}

export function runBody(s: RunBodyInput): RunBody {
  const out: RunBody = { functions: [], statements: [], usesInput: false, roots: new Set(), reads: new Set() };
  const compile = (node: NodeIR): Compiled => compileNode(node, s, out);
  const inline = (c: Compiled): void => {
    out.usesInput ||= c.params.some((p) => p.name === 'inp');
    out.statements.push([`    ${c.comment}`, ...inlineNode(c.node, target(c.node, s), c.value, c.condition)]);
  };
  const asFunction = (c: Compiled): string[] => functionOf(c, s, out);

  if (s.schedule.kind === 'sequential') {
    for (const node of s.schedule.order) {
      const c = compile(node);
      if (!isAsync(node)) {
        inline(c);
        continue;
      }
      const call = `await ${s.names.fn(node.id)}(${asFunction(c).join(', ')})`;
      // An I/O node may run only for its effect (a POST nobody reads): then nothing is bound.
      const bound = s.read.has(node.id) ? `${s.names.local(node.id)} = ` : '';
      out.statements.push([`    ${bound}${layout(atom(call), 4, bound.length)}`]);
    }
    return out;
  }

  s.schedule.before.forEach((node) => inline(compile(node)));
  // After the group, only what the inline nodes after it and the response read is unpacked.
  const readAfter = new Set([...s.readByOutput, ...s.schedule.after.flatMap((n) => n.deps.map((d) => d.nodeId))]);
  const results = s.schedule.tasks.map((n) => (readAfter.has(n.id) ? s.names.local(n.id) : '_'));
  const bound = results.every((r) => r === '_') ? '' : `${results.join(', ')} = `;
  // Inside the group a node's name holds its task, which the nodes reading it are given.
  const readByTasks = new Set(s.schedule.tasks.flatMap((n) => n.deps.map((d) => d.nodeId)));
  const taskIds = new Set(s.schedule.tasks.map((n) => n.id));
  if (![...readByTasks].some((id) => taskIds.has(id))) {
    // Independent of one another: one line starts them all and unpacks their values.
    const calls = s.schedule.tasks.map((node) =>
      atom(`${s.names.fn(node.id)}(${asFunction(compile(node)).join(', ')})`),
    );
    out.statements.push([`    ${bound}${layout(callDoc('await run_concurrently', calls), 4, bound.length)}`]);
    s.schedule.after.forEach((node) => inline(compile(node)));
    return out;
  }
  const group = s.schedule.tasks.map((node) => {
    const params = asFunction(compile(node));
    // `after:` orders without passing a value: the task is awaited, not given to the node.
    const waits = node.deps
      .map((d) => s.names.local(d.nodeId))
      .filter((local, i) => taskIds.has(node.deps[i].nodeId) && !params.includes(local));
    const after = waits.length > 0 ? [`after=(${waits.join(', ')}${waits.length === 1 ? ',' : ''})`] : [];
    const args = [s.names.fn(node.id), ...params, ...after];
    const bound = readByTasks.has(node.id) ? `${s.names.local(node.id)} = ` : '';
    return `        ${bound}${layout(callDoc('tasks.start', args.map(atom)), 8, bound.length)}`;
  });
  const resultsLine = bound === '' ? [] : [`    ${bound}tasks.results()`];
  out.statements.push(['    async with ctx.tasks() as tasks:', ...group, ...resultsLine]);
  s.schedule.after.forEach((node) => inline(compile(node)));
  return out;
}

/** The name a node's value is bound to: its local, or `_` when nothing reads it. */
const target = (node: NodeIR, s: RunBodyInput): string => (s.read.has(node.id) ? s.names.local(node.id) : '_');

/**
 * The node runs when `when` holds and every node it needs (not through `| default`) ran. Null
 * means it was skipped: its value is `None`, which is how later nodes and the response see it.
 */
function guardCondition(node: NodeIR, s: RunBodyInput, emitter: ExprEmitter): string | undefined {
  const conditions = node.deps
    .filter((d) => d.hard && s.plan.skippable.has(d.nodeId))
    .map((d) => `${s.names.local(d.nodeId)} is not None`);
  if (node.when) {
    const when = emitter.template(node.when.template);
    // Conditionals and `or` bind looser than `and`.
    conditions.push(conditions.length > 0 && when.prec < 3 ? `(${when.code})` : when.code);
  }
  return conditions.length > 0 ? conditions.join(' and ') : undefined;
}

/** A synchronous node in `run`: `with ctx.node("id", "kind"): id = <value>`, at indent 4. */
function inlineNode(node: NodeIR, local: string, value: Doc, condition: string | undefined): string[] {
  const bind = (indent: number) => `${' '.repeat(indent)}${local} = ${layout(value, indent, `${local} = `.length)}`;
  const body = condition
    ? [`        if ${condition}:`, bind(12), '        else:', `            ${local} = None`]
    : [bind(8)];
  return [`    with ctx.node(${pyString(node.id)}, ${pyString(node.def.type)}):`, ...body];
}

export interface Param {
  name: string;
  type: string;
}

/** The parameters for `inp`, `item` and `index`, in that order, as far as `roots` holds them. */
export function rootParams(roots: ReadonlySet<Root>, s: RunBodyInput): Param[] {
  const types: Record<Root, string> = { inp: s.inputClass, item: s.itemAnnotation ?? 'Any', index: 'int' };
  return ROOT_ORDER.filter((r) => roots.has(r)).map((r) => ({ name: r, type: types[r] }));
}

/** An async node's function: its inputs are parameters, its value is what it returns. */
function nodeFunction(
  node: NodeIR,
  s: RunBodyInput,
  params: Param[],
  value: Doc,
  condition: string | undefined,
): string[] {
  const signature = ['ctx: ExecutionContext', ...params.map((p) => `${p.name}: ${p.type}`)];
  const returns = ` -> ${s.annotation(node)}:`;
  const def = `${layout(callDoc(`async def ${s.names.fn(node.id)}`, signature.map(atom)), 0, 0, returns.length)}${returns}`;
  const ret = (indent: number) => `${' '.repeat(indent)}return ${layout(value, indent, 'return '.length)}`;
  const body = condition ? [`        if ${condition}:`, ret(12), '        return None'] : [ret(8)];
  return [def, `    with ctx.node(${pyString(node.id)}, ${pyString(node.def.type)}):`, ...body];
}

/** A node value's Python annotation: the shape the type checker knows, `| None` when it may be skipped. */
export function annotationOf(t: Type, skippable: boolean): string {
  const base = baseAnnotation(t);
  const nullable = skippable || (t.nullable === true && t.kind !== 'null');
  return nullable && base !== 'Any' && base !== 'None' ? `${base} | None` : base;
}

function baseAnnotation(t: Type): string {
  switch (t.kind) {
    case 'object':
      return 'dict[str, Any]';
    case 'array':
      return 'list[Any]';
    case 'string':
      return 'str';
    case 'integer':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'null':
      return 'None';
    case 'any':
      return 'Any';
  }
}
