/**
 * Pass 6: emit one Python module per workflow. Builds a view-model holding every name,
 * import and Python snippet; the EJS template only lays it out.
 */
import type { Checked } from '../expr/check';
import { PyEmitter, type EmitEnv, type PyImport } from '../expr/emit';
import type { Plan } from '../graph/graph';
import type { InputModel } from '../input/model';
import { kindOf } from '../nodes/kinds';
import type { NodeIR, WorkflowIR } from '../resolve';
import { hasBody } from '../validate/schema';
import { importLine } from './imports';
import { pyString } from './py-literal';
import { endpoint, newNeeds, routerLine, takesRequest, type Needs } from './router';
import { schedule } from './steps';
import { workflowTemplate } from './templates';
import { valueCode } from './value-code';

export interface WorkflowEmitInput {
  ir: WorkflowIR;
  plan: Plan;
  input: InputModel;
  checked: Checked;
  sourcePath: string;
  /** 1-based line and column of each node, for the location comments. */
  nodeLocation(node: NodeIR): { line: number; column: number };
}

/** Module-level names an endpoint function must not shadow; E741-style ambiguous names too. */
const TAKEN = new Set(['run', 'router', 'WORKFLOW_ID', 'annotations', 'Request', 'Response', 'BaseModel', 'ConfigDict', 'Field', 'Any', 'Literal', 'monotonic_ns', 'to_json', 'uuid4', 'datetime', 'UTC', 'l', 'O', 'I', 'ExecutionContext', 'WorkflowRouter', 'http_call', 'input_body', 'json_response', 'read_input', 'run_concurrently']);

export function emitWorkflow(w: WorkflowEmitInput): string {
  const used = new Set<PyImport | 'input'>();
  const needs = newNeeds();
  const env = (local?: Set<PyImport | 'input'>): EmitEnv => ({
    checked: w.checked,
    inputVar: 'inp',
    use: (n) => (used.add(n), local?.add(n)),
    require: (root, name) => needs[root].add(name),
  });
  const plan = schedule(
    w.plan,
    () => {
      const local = new Set<PyImport | 'input'>();
      return { emitter: new PyEmitter(env(local)), used: local };
    },
    (node) => `${w.sourcePath}:${w.nodeLocation(node).line}:${w.nodeLocation(node).column}`,
  );
  for (const node of w.plan.levels.flat()) kindOf(node.def).pools.forEach((p) => needs.pools.add(p));
  const returnUses = new Set<PyImport | 'input'>();
  const returnValue = valueCode(w.ir.output, new PyEmitter({ ...env(returnUses), guardSkipped: w.plan.skippable }), 4, 'return '.length);
  const classes = w.input.classes.map((c) => ({ name: c.name, fields: c.fields, extraLiteral: pyString(c.extra) }));
  const inputLine = `inp: ${w.input.className} = ctx.input`;
  const runInputLine = plan.inlineUsesInput || returnUses.has('input') ? inputLine : undefined;
  const functionNames = new Set(plan.functions.map((f) => f.name));
  const clash = TAKEN.has(w.ir.id) || functionNames.has(w.ir.id) || classes.some((c) => c.name === w.ir.id);
  return workflowTemplate({
    sourcePath: w.sourcePath,
    importGroups: importGroups(used, w, needs, plan.concurrent),
    workflowIdLiteral: pyString(w.ir.id),
    classes,
    functions: plan.functions.map((f) => ({ name: f.name, comment: f.block.comment, inputLine: f.block.usesInput ? inputLine : undefined, lines: f.block.lines })),
    inputLine: runInputLine,
    // Steps are separated by a blank line, but none opens the body of `run`.
    steps: plan.steps.map((step, index) => ({ ...step, blankBefore: index > 0 || runInputLine !== undefined })),
    returnValue,
    routerLine: routerLine(needs),
    ...endpoint(w.ir.method, w.ir.route, w.input.className, needs),
    endpointName: clash ? `${w.ir.id}_endpoint` : w.ir.id,
  });
}

function importGroups(used: Set<string>, w: WorkflowEmitInput, needs: Needs, concurrent: boolean): string[][] {
  const stdlib: string[] = [];
  if (used.has('datetime')) stdlib.push('from datetime import UTC, datetime');
  if (w.plan.levels.length > 0) stdlib.push('from time import monotonic_ns');
  const typing = ['Any', ...[...w.input.typingImports].filter((n) => n !== 'Any')].sort();
  stdlib.push(importLine('typing', typing));
  if (used.has('uuid4')) stdlib.push('from uuid import uuid4');
  const pydantic = ['BaseModel', 'ConfigDict', ...(w.input.usesField ? ['Field'] : [])];
  const body = hasBody(w.ir.method);
  const functions = new Set(['json_response', ...w.plan.levels.flat().flatMap((n) => kindOf(n.def).runtime)]);
  if (body) ['input_body', 'read_input'].forEach((n) => functions.add(n));
  if (used.has('to_json')) functions.add('to_json');
  if (concurrent) functions.add('run_concurrently');
  // isort's order: classes first, then functions, each alphabetical.
  const runtime = ['ExecutionContext', 'WorkflowRouter', ...[...functions].sort()];
  const fastapi = [...(takesRequest(w.ir.method, needs) ? ['Request'] : []), 'Response'];
  // isort order: catalyst_runtime is an installed dependency like fastapi, not first-party.
  return [stdlib, [importLine('catalyst_runtime', runtime), importLine('fastapi', fastapi), importLine('pydantic', pydantic)]];
}
