/**
 * The graphs inside `parallel` and `map` nodes, as module-level functions. A branch is an
 * `async def _<node>_<branch>(ctx, <what it reads from around it>)` whose body is laid out like
 * `run`'s (in order, or dataflow in a task group) and which returns its last node's value; a
 * branch of one async node is simply that node's function. A map's nodes are one
 * `async def _<node>_item(ctx, item, index, ...)` that the runtime calls per item.
 *
 * What a graph reads from around it (`inp`, an enclosing map's `item`, nodes outside) becomes
 * its function's parameters, and is read by the node holding it, so it arrives the same way as
 * any node's inputs do.
 */
import { kindOf, type InnerGraph } from '../nodes/kinds';
import type { NodeIR } from '../resolve/resolve';
import { atom, callDoc, layout } from '../python/layout';
import { asFunction, rootParams, runBody, scheduleOf, type BlockEnv, type RunBody, type RunBodyInput } from './run';

export function innerGraphs(node: NodeIR, block: BlockEnv, out: RunBody, s: RunBodyInput): InnerGraph[] {
  const isMap = node.def.type === 'map';
  return node.children.map((graph): InnerGraph => {
    const last = graph.nodes[graph.nodes.length - 1];
    const itemAnnotation = isMap ? s.itemAnnotationOf(node.id) : s.itemAnnotation;
    const sub: RunBodyInput = {
      ...s,
      schedule: scheduleOf(s.plan.graphs.get(graph)!),
      read: new Set([...s.read, last.id]),
      readByOutput: new Set([last.id]),
      itemAnnotation,
      partials: false,
    };
    if (!isMap && graph.nodes.length === 1 && kindOf(last.def).async) {
      // A branch of one async node: that node's function is the branch.
      const args = asFunction(last, sub, out).slice(1);
      passOn(args, block, sub);
      return { branch: graph.branch, fn: s.names.fn(last.id), args };
    }
    const body = runBody(sub);
    out.functions.push(...body.functions);
    const own = new Set(graph.nodes.map((n) => n.id));
    const roots = new Set(body.roots);
    if (isMap) {
      roots.delete('item');
      roots.delete('index');
    }
    const params = [
      ...rootParams(roots, s),
      ...[...body.reads]
        .filter((id) => !own.has(id))
        .map((id) => ({ name: s.names.local(id), type: s.annotation(s.byId.get(id)!) })),
    ];
    const args = params.map((p) => p.name);
    passOn(args, block, s);
    const fn = s.names.graphFn(node.id, graph.branch);
    const signature = [
      'ctx: ExecutionContext',
      ...(isMap ? [`item: ${itemAnnotation}`, 'index: int'] : []),
      ...params.map((p) => `${p.name}: ${p.type}`),
    ];
    const returns = ` -> ${s.annotation(last)}:`;
    const def = `${layout(callDoc(`async def ${fn}`, signature.map(atom)), 0, 0, returns.length)}${returns}`;
    const where = isMap
      ? `# ${node.id} (map): the nodes run for each item, ${s.location({ path: [...node.path, 'nodes'] })}`
      : `# ${node.id} (parallel): branch "${graph.branch}", ${s.location({ path: [...node.path, 'branches', graph.branch!] })}`;
    const statements = body.statements.flatMap((lines, i) => (i > 0 ? ['', ...lines] : lines));
    out.functions.push([where, def, ...statements, '', `    return ${s.names.local(last.id)}`]);
    return { branch: graph.branch, fn, args };
  });
}

/** What a graph's function is passed, the node holding it reads: `inp`, `item`, `index`, node locals. */
function passOn(args: string[], block: BlockEnv, s: RunBodyInput): void {
  const locals = new Map([...s.byId.keys()].map((id) => [s.names.local(id), id]));
  for (const arg of args) {
    if (arg === 'inp' || arg === 'item' || arg === 'index') block.use(arg);
    else block.read(locals.get(arg)!);
  }
}
