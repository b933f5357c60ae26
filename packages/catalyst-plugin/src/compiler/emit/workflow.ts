/**
 * Pass 6: emit one Python module per workflow. Builds a view-model holding every name,
 * import and Python snippet; the EJS template only lays it out.
 */
import type { Checked } from '../expr/check';
import { ExprEmitter } from '../expr/emit';
import type { Type } from '../expr/types';
import { templatesOf } from '../expr/value';
import { readNodes, type Plan } from '../plan/plan';
import type { InputModel } from '../resolve/input-model';
import { kindOf, poolsOf } from '../nodes/kinds';
import type { NodeIR, WorkflowIR } from '../resolve/resolve';
import { namesRead } from '../python/scan';
import { classCode } from './input-classes';
import { MODULE_OF, importGroups, type ImportedName } from '../python/imports';
import { Namer } from '../python/names';
import { commentText, pyString } from '../python/literal';
import { layout } from '../python/layout';
import { endpoint, newNeeds, routerLine } from './router';
import { annotationOf, functionNodes, runBody, scheduleOf, type BlockEnv, type NodeNames } from './run';
import { workflowTemplate } from './templates';
import { valueCode } from '../expr/value-code';

export interface WorkflowEmitInput {
  ir: WorkflowIR;
  plan: Plan;
  input: InputModel;
  checked: Checked;
  /** Each node's output type (plain data), for the annotations of node functions. */
  outputs: ReadonlyMap<string, Type>;
  sourcePath: string;
  /** 1-based line and column of each node, for the location comments. */
  nodeLocation(node: NodeIR): { line: number; column: number };
}

/** Module-level names besides the imports. */
const MODULE_NAMES = ['run', 'router', 'WORKFLOW_ID', 'ctx', 'inp'];

export function emitWorkflow(w: WorkflowEmitInput): string {
  const needs = newNeeds();
  const namer = new Namer([...MODULE_NAMES, ...Object.keys(MODULE_OF), ...w.input.classes.map((c) => c.name)]);
  const endpointName = namer.claim(namer.has(w.ir.id) ? `${w.ir.id}_endpoint` : w.ir.id);
  const schedule = scheduleOf(w.plan);
  const base = nodeNames(w.ir.nodes, functionNodes(schedule), namer);
  const declarations = declarationsOf(w.ir.nodes, w.ir.id, base.local, namer);
  const names: NodeNames = { ...base, declared: (id) => declarations.get(id)?.name };

  const newBlock = (extra: { guardSkipped?: ReadonlySet<string> } = {}): BlockEnv => {
    let usesInput = false;
    const reads = new Set<string>();
    const emitter = new ExprEmitter({
      checked: w.checked,
      inputVar: 'inp',
      use: (n) => {
        if (n === 'input') usesInput = true;
        else needs.globals = true;
      },
      node: (id) => (reads.add(id), names.local(id)),
      require: (root, name) => needs[root].add(name),
      ...extra,
    });
    return { emitter, usesInput: () => usesInput, reads };
  };

  const body = runBody({
    plan: w.plan,
    schedule,
    read: readNodes(w.ir.nodes, w.ir.output),
    readByOutput: readNodes([], w.ir.output),
    names,
    newBlock,
    location: (node) => `${commentText(w.sourcePath)}:${w.nodeLocation(node).line}:${w.nodeLocation(node).column}`,
    annotation: (node) => annotationOf(w.outputs.get(node.id) ?? { kind: 'any' }, w.plan.skippable.has(node.id)),
    inputClass: w.input.className,
  });
  for (const node of w.plan.readySets.flat()) poolsOf(node.def).forEach((p) => needs.pools.add(p));

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
    declarations: [...declarations.values()].map((d) => d.line),
    classes: w.input.classes.map(classCode),
    functions: body.functions,
    inputLine,
    // Statements are set apart by a blank line, but none opens the body of `run`.
    statements: body.statements.map((lines, index) => ({ lines, blankBefore: index > 0 || inputLine !== undefined })),
    returnLines,
    routerLine: routerLine(needs),
    ...endpoint(w.ir.method, w.ir.route, w.input.className, needs, hasQuery(w.input)),
    endpointName,
  };
  // The imports are whatever importable names the module's code reads, so they cannot drift
  // from it: lay the module out without them, read its names, then lay it out with them.
  const read = namesRead(workflowTemplate(vm));
  vm.importGroups = importGroups(Object.keys(MODULE_OF).filter((n): n is ImportedName => read.has(n)));
  return workflowTemplate(vm);
}

/** Each node's local (its id, unless that is taken) and, for nodes run as functions, the function. */
function nodeNames(nodes: NodeIR[], functions: NodeIR[], namer: Namer): Omit<NodeNames, 'declared'> {
  const locals = new Map(nodes.map((n) => [n.id, namer.claim(n.id)]));
  const fns = new Map(functions.map((n) => [n.id, namer.claim(`_${locals.get(n.id)}`)]));
  return { local: (id) => locals.get(id)!, fn: (id) => fns.get(id)! };
}

/** Module-level objects the nodes use (`NodeKind.declaration`): each one's name and line. */
function declarationsOf(
  nodes: NodeIR[],
  workflowId: string,
  local: (id: string) => string,
  namer: Namer,
): Map<string, { name: string; line: string }> {
  const out = new Map<string, { name: string; line: string }>();
  for (const node of nodes) {
    const declaration = kindOf(node.def).declaration?.(node.def, workflowId);
    if (!declaration) continue;
    const name = namer.claim(`_${local(node.id)}_${declaration.suffix}`);
    out.set(node.id, { name, line: `${name} = ${layout(declaration.value, 0, name.length + 3)}` });
  }
  return out;
}

/** Whether a body-less workflow reads query parameters: its input declares some, or takes any. */
function hasQuery(input: InputModel): boolean {
  const root = input.classes.find((c) => c.name === input.className);
  return root !== undefined && (root.fields.length > 0 || root.extra === 'allow');
}
