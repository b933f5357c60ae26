/**
 * The schedule as code. Each ready set runs its synchronous nodes inline, in source order, then
 * its async nodes: awaited directly when alone, through `run_concurrently` when there are
 * several. Each async node becomes its own `async def _<id>(ctx)` above `run`, so a ready set
 * reads as one line and a stack trace names the node's function. Every node's statements sit in
 * one `try:` turning a failure into the runtime's error naming the node (`guard`).
 */
import type { PyEmitter, PyImport } from '../expr/emit';
import type { Plan } from '../graph/graph';
import { kindOf } from '../nodes/kinds';
import type { NodeIR } from '../resolve';
import { pyString } from './py-literal';
import { LINE_WIDTH } from './value-code';

export interface NodeBlock {
  node: NodeIR;
  /** `# id (kind), file:line:col` */
  comment: string;
  /** Statements at indent 4 (a function or `run` body): `try:`, guard and timing included. */
  lines: string[];
  /** True when the block reads the input model (`inp`). */
  usesInput: boolean;
}

/** One entry of `run`'s body: a comment and its lines (already indented). */
export interface Step {
  lines: string[];
}

export interface Schedule {
  /** Async nodes, each rendered as `async def <name>(ctx)`. */
  functions: { name: string; block: NodeBlock }[];
  steps: Step[];
  /** Some inline block reads the input model. */
  inlineUsesInput: boolean;
  concurrent: boolean;
}

/** Module-level name of an async node's function; distinct ids give distinct names. */
export const functionName = (nodeId: string): string => `_${nodeId}`;

export type BlockEmitter = (node: NodeIR) => { emitter: PyEmitter; used: Set<PyImport | 'input' | 'globals'> };

export function schedule(plan: Plan, newEmitter: BlockEmitter, location: (node: NodeIR) => string): Schedule {
  const functions: Schedule['functions'] = [];
  const steps: Step[] = [];
  let inlineUsesInput = false;
  let concurrent = false;
  for (const level of plan.levels) {
    const calls: NodeIR[] = [];
    for (const node of level) {
      const block = nodeBlock(node, plan, newEmitter, location(node));
      if (kindOf(node.def).async) {
        functions.push({ name: functionName(node.id), block });
        calls.push(node);
      } else {
        inlineUsesInput ||= block.usesInput;
        steps.push({ lines: [`    # ${block.comment}`, ...block.lines] });
      }
    }
    if (calls.length === 0) continue;
    const kinds = [...new Set(calls.map((n) => n.def.type))].join(', ');
    const names = calls.map((n) => n.id).join(', ');
    if (calls.length === 1) {
      steps.push({ lines: [`    # ${names} (${kinds})`, `    await ${functionName(calls[0].id)}(ctx)`] });
    } else {
      concurrent = true;
      const args = calls.map((n) => `${functionName(n.id)}(ctx)`);
      const flat = `    await run_concurrently(${args.join(', ')})`;
      const call = flat.length <= LINE_WIDTH ? [flat] : ['    await run_concurrently(', ...args.map((a) => `        ${a},`), '    )'];
      steps.push({ lines: [`    # ${names} (${kinds}): independent, run concurrently`, ...call] });
    }
  }
  return { functions, steps, inlineUsesInput, concurrent };
}

function nodeBlock(node: NodeIR, plan: Plan, newEmitter: BlockEmitter, location: string): NodeBlock {
  const { emitter, used } = newEmitter(node);
  const guarded = plan.skippable.has(node.id);
  // Inside `try:`, and inside the guard when there is one.
  const indent = guarded ? 12 : 8;
  const pad = ' '.repeat(indent);
  const id = pyString(node.id);
  const conditions = node.deps.filter((d) => d.hard && plan.skippable.has(d.nodeId)).map((d) => `ctx.outputs[${pyString(d.nodeId)}] is not None`);
  if (node.when) {
    const when = emitter.template(node.when.template);
    // Conditionals and `or` bind looser than `and`.
    conditions.push(conditions.length > 0 && when.prec < 3 ? `(${when.code})` : when.code);
  }
  const body = [
    `${pad}started = monotonic_ns()`,
    ...kindOf(node.def).emit(node.def, node.templates, emitter, indent).map((s) => `${pad}${s}`),
    `${pad}ctx.record_timing(${id}, started)`,
  ];
  const lines = guarded ? [`        if ${conditions.join(' and ')}:`, ...body, '        else:', `            ctx.set_output(${id}, None)`] : body;
  return { node, comment: `${node.id} (${node.def.type}), ${location}`, lines: guard(node.id, lines), usesInput: used.has('input') };
}

/**
 * `lines` (at indent 8) inside `try:` at indent 4: an exception the node raises becomes the
 * runtime's error naming it (`node_error`: a 500 `node_failed`, or 502/504 for a connection
 * failure or a timeout); the runtime's own errors, which already name their node or say what is
 * misconfigured, pass through with their cause.
 */
export function guard(nodeId: string, lines: string[]): string[] {
  return ['    try:', ...lines, '    except CatalystError:', '        raise', '    except Exception as exc:', `        raise node_error(${pyString(nodeId)}, exc) from exc`];
}
