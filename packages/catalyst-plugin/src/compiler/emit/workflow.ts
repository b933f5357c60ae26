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
import { guard, schedule } from './steps';
import { workflowTemplate } from './templates';
import { valueCode } from './value-code';
import { templatesOf } from '../expr/value';

/** The pseudo-node a failure while computing the response names (`loc: ["nodes", "output"]`). */
export const OUTPUT_NODE = 'output';

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
const TAKEN = new Set(['run', 'router', 'WORKFLOW_ID', 'annotations', 'Request', 'Response', 'BaseModel', 'ConfigDict', 'Field', 'Any', 'Literal', 'monotonic_ns', 'to_json', 'uuid4', 'datetime', 'UTC', 'l', 'O', 'I', 'ExecutionContext', 'WorkflowRouter', 'http_call', 'input_body', 'json_response', 'read_input', 'run_concurrently', 'url_segment', 'quote', 'CatalystError', 'node_error']);

export function emitWorkflow(w: WorkflowEmitInput): string {
  const used = new Set<PyImport | 'input' | 'globals'>();
  const needs = newNeeds();
  const env = (local?: Set<PyImport | 'input' | 'globals'>): EmitEnv => ({
    checked: w.checked,
    inputVar: 'inp',
    use: (n) => (n === 'globals' ? (needs.globals = true) : (used.add(n), local?.add(n))),
    require: (root, name) => needs[root].add(name),
  });
  const plan = schedule(
    w.plan,
    () => {
      const local = new Set<PyImport | 'input' | 'globals'>();
      return { emitter: new PyEmitter(env(local)), used: local };
    },
    (node) => `${w.sourcePath}:${w.nodeLocation(node).line}:${w.nodeLocation(node).column}`,
  );
  for (const node of w.plan.levels.flat()) kindOf(node.def).pools.forEach((p) => needs.pools.add(p));
  const returnUses = new Set<PyImport | 'input' | 'globals'>();
  // The response mapping can fail like a node (a field missing from an upstream body): it is
  // guarded the same way, naming the pseudo-node "output", unless it holds no expression.
  const outputGuarded = templatesOf(w.ir.output).length > 0;
  const returnValue = valueCode(w.ir.output, new PyEmitter({ ...env(returnUses), guardSkipped: w.plan.skippable }), outputGuarded ? 8 : 4, 'return '.length);
  const returnLines = outputGuarded ? guard(OUTPUT_NODE, [`        return ${returnValue}`]) : [`    return ${returnValue}`];
  const guarded = outputGuarded || w.plan.levels.length > 0;
  const classes = w.input.classes.map((c) => ({ name: c.name, fields: c.fields, extraLiteral: pyString(c.extra) }));
  const inputLine = `inp: ${w.input.className} = ctx.input`;
  const runInputLine = plan.inlineUsesInput || returnUses.has('input') ? inputLine : undefined;
  const functionNames = new Set(plan.functions.map((f) => f.name));
  const clash = TAKEN.has(w.ir.id) || functionNames.has(w.ir.id) || classes.some((c) => c.name === w.ir.id);
  return workflowTemplate({
    sourcePath: w.sourcePath,
    importGroups: importGroups(used, w, needs, plan.concurrent, guarded),
    workflowIdLiteral: pyString(w.ir.id),
    classes,
    urlSegment: used.has('url_segment'),
    functions: plan.functions.map((f) => ({ name: f.name, comment: f.block.comment, inputLine: f.block.usesInput ? inputLine : undefined, lines: f.block.lines })),
    inputLine: runInputLine,
    // Steps are separated by a blank line, but none opens the body of `run`.
    steps: plan.steps.map((step, index) => ({ ...step, blankBefore: index > 0 || runInputLine !== undefined })),
    returnLines,
    routerLine: routerLine(needs),
    ...endpoint(w.ir.method, w.ir.route, w.input.className, needs),
    endpointName: clash ? `${w.ir.id}_endpoint` : w.ir.id,
  });
}

function importGroups(used: Set<string>, w: WorkflowEmitInput, needs: Needs, concurrent: boolean, guarded: boolean): string[][] {
  const stdlib: string[] = [];
  if (used.has('datetime')) stdlib.push('from datetime import UTC, datetime');
  if (w.plan.levels.length > 0) stdlib.push('from time import monotonic_ns');
  const typing = ['Any', ...[...w.input.typingImports].filter((n) => n !== 'Any')].sort();
  stdlib.push(importLine('typing', typing));
  if (used.has('url_segment')) stdlib.push('from urllib.parse import quote');
  if (used.has('uuid4')) stdlib.push('from uuid import uuid4');
  const pydantic = ['BaseModel', 'ConfigDict', ...(w.input.usesField ? ['Field'] : [])];
  const body = hasBody(w.ir.method);
  const functions = new Set(['json_response', ...w.plan.levels.flat().flatMap((n) => kindOf(n.def).runtime)]);
  if (body) ['input_body', 'read_input'].forEach((n) => functions.add(n));
  if (used.has('to_json')) functions.add('to_json');
  if (concurrent) functions.add('run_concurrently');
  if (guarded) functions.add('node_error');
  // isort's order: classes first, then functions, each alphabetical.
  const runtime = [...(guarded ? ['CatalystError'] : []), 'ExecutionContext', 'WorkflowRouter', ...[...functions].sort()];
  const fastapi = [...(takesRequest(w.ir.method, needs) ? ['Request'] : []), 'Response'];
  // isort order: catalyst_runtime is an installed dependency like fastapi, not first-party.
  return [stdlib, [importLine('catalyst_runtime', runtime), importLine('fastapi', fastapi), importLine('pydantic', pydantic)]];
}
