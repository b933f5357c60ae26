/**
 * The schedule as code. Each node's block is only its work, inside `with ctx.node("id"):`, the
 * runtime's one place for timing and for naming the node in an error; its value is bound to a
 * local named after the node, and later nodes read that local.
 *
 * A ready set runs its synchronous nodes inline in `run`, in source order, then its async nodes.
 * Each async node is its own `async def _<id>(ctx, inp, <the nodes it reads>)` above `run`,
 * returning its value, so a stack trace names the node's function and its inputs are its
 * parameters. A lone one is awaited directly; several go through `run_concurrently`, whose
 * results unpack into one local per node.
 */
import type { ExprEmitter } from '../expr/emit';
import type { Type } from '../expr/types';
import type { Plan } from '../plan/plan';
import { kindOf } from '../nodes/kinds';
import type { NodeIR } from '../resolve/resolve';
import { pyString } from '../python/literal';
import { atom, callDoc, layout, type Doc } from '../python/layout';

/** What one node's code needs from the emitter: a fresh expression emitter and what it read. */
export interface BlockEnv {
  emitter: ExprEmitter;
  /** The block reads the input model (`inp`). */
  usesInput(): boolean;
  /** Nodes whose values the block reads, in the order first read. */
  reads: ReadonlySet<string>;
}

export interface NodeNames {
  /** The local (and parameter) holding the node's value. */
  local(id: string): string;
  /** The module-level `async def` of an async node. */
  fn(id: string): string;
}

export interface RunBodyInput {
  plan: Plan;
  /** Nodes whose value is read; the others' values are not bound (`_ =`, or a bare `await`). */
  read: ReadonlySet<string>;
  names: NodeNames;
  newBlock(): BlockEnv;
  /** `file:line:col` of the node, for its comment. */
  location(node: NodeIR): string;
  /** The Python annotation of each node's value. */
  annotation(node: NodeIR): string;
  inputClass: string;
}

export interface RunBody {
  /** Async nodes' functions, each a list of lines at column 0 (comment, `async def`, body). */
  functions: string[][];
  /** `run`'s statements, one list of lines (at indent 4) each; they are set apart by a blank line. */
  statements: string[][];
  /** Some statement in `run` reads `inp`. */
  usesInput: boolean;
  /** Some ready set runs several async nodes (`run_concurrently` is imported). */
  concurrent: boolean;
}

export function runBody(s: RunBodyInput): RunBody {
  const out: RunBody = { functions: [], statements: [], usesInput: false, concurrent: false };
  const byId = new Map(s.plan.readySets.flat().map((n) => [n.id, n]));
  for (const readySet of s.plan.readySets) {
    const calls: { node: NodeIR; args: string[] }[] = [];
    for (const node of readySet) {
      const block = s.newBlock();
      const value = kindOf(node.def).emit(node.def, node.templates, block.emitter);
      const condition = guardCondition(node, s, block.emitter);
      const comment = `# ${node.id} (${node.def.type}), ${s.location(node)}`;
      if (kindOf(node.def).async) {
        const params: Param[] = [
          ...(block.usesInput() ? [{ name: 'inp', type: s.inputClass }] : []),
          ...[...block.reads].map((id) => ({ name: s.names.local(id), type: s.annotation(byId.get(id)!) })),
        ];
        out.functions.push([comment, ...nodeFunction(node, s, params, value, condition)]);
        calls.push({ node, args: ['ctx', ...params.map((p) => p.name)] });
      } else {
        out.usesInput ||= block.usesInput();
        out.statements.push([`    ${comment}`, ...inlineNode(node, target(node, s), value, condition)]);
      }
    }
    if (calls.length === 0) continue;
    out.usesInput ||= calls.some((c) => c.args.includes('inp'));
    const targets = calls.map((c) => target(c.node, s));
    const call = (c: (typeof calls)[number]) => `${s.names.fn(c.node.id)}(${c.args.join(', ')})`;
    const awaited: Doc =
      calls.length === 1
        ? atom(`await ${call(calls[0])}`)
        : callDoc(
            'await run_concurrently',
            calls.map((c) => atom(call(c))),
          );
    out.concurrent ||= calls.length > 1;
    // An I/O node may run only for its effect (a POST nobody reads): then nothing is bound.
    const bound = targets.every((t) => t === '_') ? '' : `${targets.join(', ')} = `;
    out.statements.push([`    ${bound}${layout(awaited, 4, bound.length)}`]);
  }
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

/** A synchronous node in `run`: `with ctx.node("id"): id = <value>`, at indent 4. */
function inlineNode(node: NodeIR, local: string, value: Doc, condition: string | undefined): string[] {
  const bind = (indent: number) => `${' '.repeat(indent)}${local} = ${layout(value, indent, `${local} = `.length)}`;
  const body = condition
    ? [`        if ${condition}:`, bind(12), '        else:', `            ${local} = None`]
    : [bind(8)];
  return [`    with ctx.node(${pyString(node.id)}):`, ...body];
}

interface Param {
  name: string;
  type: string;
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
  return [def, `    with ctx.node(${pyString(node.id)}):`, ...body];
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
