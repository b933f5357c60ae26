/**
 * Pass 6: emit one Python module per workflow. Builds a view-model holding every name,
 * import and Python snippet; the EJS template only lays it out.
 */
import type { Checked } from '../expr/check';
import { PyEmitter, type PyImport } from '../expr/emit';
import type { Plan } from '../graph/graph';
import type { InputModel } from '../input/model';
import { kindOf } from '../nodes/kinds';
import type { NodeIR, WorkflowIR } from '../resolve';
import { hasBody } from '../validate/schema';
import { pyString } from './py-literal';
import { workflowTemplate } from './templates';
import { importLine } from './imports';
import { atom, callDoc, layout, valueCode } from './value-code';

export interface WorkflowEmitInput {
  ir: WorkflowIR;
  plan: Plan;
  input: InputModel;
  checked: Checked;
  sourcePath: string;
  /** 1-based line and column of each node, for the location comments. */
  nodeLocation(node: NodeIR): { line: number; column: number };
}

const RUNTIME_NAMES = ['ExecutionContext', 'input_body', 'json_response', 'read_input'];
const BODY_NAMES = new Set(['input_body', 'read_input', 'Request']);
/** Module-level names an endpoint function must not shadow; E741-style ambiguous names too. */
const TAKEN = new Set(['run', 'router', 'WORKFLOW_ID', 'annotations', 'APIRouter', 'Request', 'Response', 'BaseModel', 'ConfigDict', 'Field', 'Any', 'Literal', 'monotonic_ns', 'to_json', 'uuid4', 'datetime', 'UTC', 'l', 'O', 'I', ...RUNTIME_NAMES]);

export function emitWorkflow(w: WorkflowEmitInput): string {
  const used = new Set<PyImport | 'input'>();
  const env = { checked: w.checked, inputVar: 'inp', use: (n: PyImport | 'input') => used.add(n) };
  const emitter = new PyEmitter(env);
  const nodes = w.plan.levels.flat().map((node) => nodeView(node, w, emitter));
  const outputEmitter = new PyEmitter({ ...env, guardSkipped: w.plan.skippable });
  const returnValue = valueCode(w.ir.output, outputEmitter, 4, 'return '.length);
  const classes = w.input.classes.map((c) => ({ name: c.name, fields: c.fields, extraLiteral: pyString(c.extra) }));
  return workflowTemplate({
    sourcePath: w.sourcePath,
    importGroups: importGroups(used, w, nodes.length > 0),
    workflowIdLiteral: pyString(w.ir.id),
    classes,
    inputLine: used.has('input') ? `inp: ${w.input.className} = ctx.input` : undefined,
    nodes,
    returnValue,
    ...endpoint(w),
    endpointName: TAKEN.has(w.ir.id) || classes.some((c) => c.name === w.ir.id) ? `${w.ir.id}_endpoint` : w.ir.id,
  });
}

/** The route: decorator, parameters and the context line, laid out like `ruff format`. */
function endpoint(w: WorkflowEmitInput) {
  const cls = w.input.className;
  const route = atom(pyString(w.ir.route));
  const body = hasBody(w.ir.method);
  const decorator = callDoc(`router.${w.ir.method.toLowerCase()}`, body ? [route, atom(`openapi_extra=input_body(${cls})`)] : [route]);
  const context = callDoc('ExecutionContext', [atom('WORKFLOW_ID'), atom(body ? `await read_input(request, ${cls})` : `${cls}()`)]);
  return {
    decorator: layout(decorator, 0, 1),
    endpointParameters: body ? 'request: Request' : '',
    context: layout(context, 4, 'ctx = '.length),
  };
}

function nodeView(node: NodeIR, w: WorkflowEmitInput, emitter: PyEmitter) {
  const guarded = w.plan.skippable.has(node.id);
  const indent = guarded ? 8 : 4;
  const { line, column } = w.nodeLocation(node);
  const conditions = node.deps.filter((d) => d.hard && w.plan.skippable.has(d.nodeId)).map((d) => `ctx.outputs[${pyString(d.nodeId)}] is not None`);
  if (node.when) {
    const when = emitter.template(node.when.template);
    // Conditionals and `or` bind looser than `and`.
    conditions.push(conditions.length > 0 && when.prec < 3 ? `(${when.code})` : when.code);
  }
  return {
    comment: `${node.id} (${node.def.type}), ${w.sourcePath}:${line}:${column}`,
    guard: guarded ? conditions.join(' and ') : undefined,
    pad: ' '.repeat(indent),
    idLiteral: pyString(node.id),
    statements: kindOf(node.def).emit(node.def, node.templates, emitter, indent),
  };
}

function importGroups(used: Set<string>, w: WorkflowEmitInput, hasNodes: boolean): string[][] {
  const stdlib: string[] = [];
  if (used.has('datetime')) stdlib.push('from datetime import UTC, datetime');
  if (hasNodes) stdlib.push('from time import monotonic_ns');
  const typing = ['Any', ...[...w.input.typingImports].filter((n) => n !== 'Any')].sort();
  stdlib.push(importLine('typing', typing));
  if (used.has('uuid4')) stdlib.push('from uuid import uuid4');
  const pydantic = ['BaseModel', 'ConfigDict', ...(w.input.usesField ? ['Field'] : [])];
  const body = hasBody(w.ir.method);
  const runtime = [...RUNTIME_NAMES, ...(used.has('to_json') ? ['to_json'] : [])].filter((n) => body || !BODY_NAMES.has(n));
  const fastapi = ['APIRouter', 'Request', 'Response'].filter((n) => body || !BODY_NAMES.has(n));
  // isort order: catalyst_runtime is an installed dependency like fastapi, not first-party.
  return [stdlib, [importLine('catalyst_runtime', runtime), importLine('fastapi', fastapi), importLine('pydantic', pydantic)]];
}
