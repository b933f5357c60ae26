/**
 * Pass 6: emit one Python module per workflow. Builds a view-model holding every name,
 * import and Python snippet; the EJS template only lays it out.
 */
import type { Checked } from '../expr/check';
import { ExprEmitter } from '../expr/emit';
import type { Type } from '../expr/types';
import { templatesOf } from '../expr/value';
import { readNodes, type Plan } from '../plan/plan';
import type { InputModel } from '../model/input-model';
import { kindOf, poolsOf, type Declaration } from '../nodes/kinds';
import type { NodeIR, WorkflowIR } from '../resolve/resolve';
import { namesRead } from '../python/scan';
import { classCode } from './input-classes';
import { MODULE_OF, importGroups, type ImportedName } from '../python/imports';
import { Namer } from '../python/names';
import { commentText, pyString } from '../python/literal';
import { layout } from '../python/layout';
import { cacheDeclaration } from '../nodes/cache';
import { endpoint, newNeeds, routerLine } from './router';
import { annotationOf, functionNodes, runBody, scheduleOf, type BlockEnv, type NodeNames, type Root } from './run';
import { innerGraphs } from './graphs';
import { workflowTemplate } from './templates';
import { valueCode } from '../expr/value-code';

export interface WorkflowEmitInput {
  ir: WorkflowIR;
  plan: Plan;
  input: InputModel;
  checked: Checked;
  /** Each node's output type (plain data), for the annotations of node functions. */
  outputs: ReadonlyMap<string, Type>;
  /** The type of each map node's items. */
  items: ReadonlyMap<string, Type>;
  sourcePath: string;
  /** 1-based line and column of each node, for the location comments. */
  nodeLocation(node: { path: NodeIR['path'] }): { line: number; column: number };
}

/** Module-level names besides the imports. */
const MODULE_NAMES = ['run', 'router', 'WORKFLOW_ID', 'ctx', 'inp', 'item', 'index'];

export function emitWorkflow(w: WorkflowEmitInput): string {
  const needs = newNeeds();
  // Classes: the input's, then each node's own (an llm node's output schema), in node order.
  const classes = [...w.input.classes, ...w.ir.all.flatMap((n) => kindOf(n.def).classes?.(n.def) ?? [])];
  const namer = new Namer([...MODULE_NAMES, ...Object.keys(MODULE_OF), ...classes.map((c) => c.name)]);
  const endpointName = namer.claim(namer.has(w.ir.id) ? `${w.ir.id}_endpoint` : w.ir.id);
  const schedule = scheduleOf(w.plan.readySets);
  const functions = [schedule, ...[...w.plan.graphs.values()].map(scheduleOf)].flatMap(functionNodes);
  const base = nodeNames(w.ir.all, functions, namer);
  const declarations = declarationsOf(w.ir.all, w.ir.id, base.local, namer);
  const names: NodeNames = {
    ...base,
    declared: (id) => {
      const own: Record<string, string> = {};
      for (const [key, d] of declarations) if (key.startsWith(`${id}#`)) own[key.slice(id.length + 1)] = d.name;
      return own;
    },
    cache: (id) => declarations.get(`${id}.cache`)?.name,
  };

  const newBlock = (extra: { guardSkipped?: ReadonlySet<string> } = {}): BlockEnv => {
    const roots = new Set<Root>();
    const reads = new Set<string>();
    const read = (id: string) => (reads.add(id), names.local(id));
    const emitter = new ExprEmitter({
      checked: w.checked,
      inputVar: 'inp',
      use: (n) => {
        if (n === 'globals') needs.globals = true;
        else roots.add(n === 'input' ? 'inp' : n);
      },
      node: read,
      require: (root, name) => needs[root].add(name),
      ...extra,
    });
    return { emitter, usesInput: () => roots.has('inp'), roots, reads, use: (r) => roots.add(r), read };
  };
  const byId = new Map(w.ir.all.map((n) => [n.id, n]));

  const body = runBody({
    plan: w.plan,
    schedule,
    byId,
    inner: innerGraphs,
    itemAnnotationOf: (id) => itemAnnotation(w.items.get(id) ?? { kind: 'any' }),
    read: readNodes(w.ir.all, w.ir.output),
    readByOutput: readNodes([], w.ir.output),
    names,
    newBlock,
    location: (node) => `${commentText(w.sourcePath)}:${w.nodeLocation(node).line}:${w.nodeLocation(node).column}`,
    annotation: (node) => annotationOf(w.outputs.get(node.id) ?? { kind: 'any' }, w.plan.skippable.has(node.id)),
    inputClass: w.input.className,
    partials: w.ir.stream,
  });
  for (const node of w.ir.all) poolsOf(node.def).forEach((p) => needs.pools.add(p));
  // A map's item limit and a stream's buffer limit are settings, which the pools hold.
  needs.settings = w.ir.stream || w.ir.all.some((n) => n.def.type === 'map');

  // The response mapping can fail like a node (a field missing from an upstream body): it runs
  // in `with ctx.output():`, naming the pseudo-node "output", unless it holds no expression.
  const response = newBlock({ guardSkipped: w.plan.skippable });
  const outputGuarded = templatesOf(w.ir.output).length > 0;
  const indent = outputGuarded ? 8 : 4;
  const returnLine = `${' '.repeat(indent)}return ${valueCode(w.ir.output, response.emitter, indent, 'return '.length)}`;
  const returnLines = outputGuarded ? ['    with ctx.output():', returnLine] : [returnLine];
  const inputLine = body.usesInput || response.usesInput() ? `inp: ${w.input.className} = ctx.input` : undefined;

  const vm = {
    // Lines 1 and 2 are fixed text, so nothing from a definition can stand where Python reads an
    // encoding declaration; the path (escaped to one line) comes third.
    sourcePath: commentText(w.sourcePath),
    importGroups: [] as string[][],
    workflowIdLiteral: pyString(w.ir.id),
    declarations: [...declarations.values()].filter((d) => !d.usesClasses).map((d) => d.line),
    classDeclarations: [...declarations.values()].filter((d) => d.usesClasses).map((d) => d.line),
    classes: classes.map(classCode),
    functions: body.functions,
    inputLine,
    // Statements are set apart by a blank line, but none opens the body of `run`.
    statements: body.statements.map((lines, index) => ({ lines, blankBefore: index > 0 || inputLine !== undefined })),
    returnLines,
    routerLine: routerLine(needs),
    ...endpoint(w.ir.method, w.ir.route, w.input.className, needs, hasQuery(w.input), w.ir.stream),
    endpointName,
    // The runtime's compiled request path may call the endpoint straight from its ASGI entry
    // (runtime compiled_routes.py): true of every endpoint. A json_response's bytes and raw
    // headers are sent as they are; any other response (a stream) plays itself, as under FastAPI.
    compiled: true,
  };
  // The imports are whatever importable names the module's code reads, so they cannot drift
  // from it: lay the module out without them, read its names, then lay it out with them.
  const read = namesRead(workflowTemplate(vm));
  vm.importGroups = importGroups(Object.keys(MODULE_OF).filter((n): n is ImportedName => read.has(n)));
  return workflowTemplate(vm);
}

/**
 * Each node's local (its id, unless that is taken); for nodes run as functions, the function;
 * for the graphs inside nodes, theirs (`_<node>_<branch>`, `_<node>_item`).
 */
function nodeNames(nodes: NodeIR[], functions: NodeIR[], namer: Namer): Omit<NodeNames, 'declared' | 'cache'> {
  const locals = new Map(nodes.map((n) => [n.id, namer.claim(n.id)]));
  const fns = new Map(functions.map((n) => [n.id, namer.claim(`_${locals.get(n.id)}`)]));
  const graphs = new Map<string, string>();
  for (const n of nodes)
    for (const g of n.children) {
      const key = `${n.id}/${g.branch ?? ''}`;
      graphs.set(key, namer.claim(`_${locals.get(n.id)}_${g.branch ?? 'item'}`));
    }
  return {
    local: (id) => locals.get(id)!,
    fn: (id) => fns.get(id)!,
    graphFn: (owner, branch) => graphs.get(`${owner}/${branch ?? ''}`)!,
  };
}

/** The annotation of a map's `item` (plain data: `over` is evaluated as a value). */
function itemAnnotation(t: Type): string {
  return annotationOf(t, false);
}

/**
 * Module-level objects the nodes use, each one's name and line: the kind's (`NodeKind.declarations`)
 * under `<id>#<suffix>`, a cached node's cache under `<id>.cache`.
 */
function declarationsOf(
  nodes: NodeIR[],
  workflowId: string,
  local: (id: string) => string,
  namer: Namer,
): Map<string, { name: string; line: string; usesClasses: boolean }> {
  const out = new Map<string, { name: string; line: string; usesClasses: boolean }>();
  for (const node of nodes) {
    const cache = cacheDeclaration(node.def, workflowId);
    const objects: [string, Declaration | undefined][] = [
      ...(kindOf(node.def).declarations?.(node.def, workflowId) ?? []).map((d): [string, Declaration] => [
        `${node.id}#${d.suffix}`,
        d,
      ]),
      [`${node.id}.cache`, cache && { suffix: 'cache', value: cache }],
    ];
    for (const [key, object] of objects) {
      if (!object) continue;
      const name = namer.claim(`_${local(node.id)}_${object.suffix}`);
      const line = `${name} = ${layout(object.value, 0, name.length + 3)}`;
      out.set(key, { name, line, usesClasses: object.usesClasses === true });
    }
  }
  return out;
}

/** Whether a body-less workflow reads query parameters: its input declares some, or takes any. */
function hasQuery(input: InputModel): boolean {
  const root = input.classes.find((c) => c.name === input.className);
  return root !== undefined && (root.fields.length > 0 || root.extra === 'allow');
}
