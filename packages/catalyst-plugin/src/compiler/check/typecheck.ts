/**
 * Pass 5: type-check every expression, nodes in dependency order so each node's output type
 * is known before anything reads it. Annotations land in one shared `Checked` table.
 */
import type { Template } from '../expr/ast';
import { Checker, describe, type Checked } from '../expr/check';
import type { Scope } from '../expr/scope';
import {
  BOOLEAN,
  INTEGER,
  NULL,
  NUMBER,
  STRING,
  joinAll,
  mayBeNull,
  plain,
  type Field,
  type Type,
} from '../expr/types';
import type { ValueTemplate } from '../expr/value';
import type { Plan } from '../plan/plan';
import type { InputModel } from '../resolve/input-model';
import { kindOf } from '../nodes/kinds';
import type { Reporter } from '../report/reporter';
import type { NodeIR, WorkflowIR } from '../resolve/resolve';

export interface Typed {
  checked: Checked;
  /** Each node's output type, as plain data (what its Python local holds). */
  outputs: ReadonlyMap<string, Type>;
}

export function typecheck(ir: WorkflowIR, plan: Plan, input: InputModel, reporter: Reporter): Typed {
  const checked: Checked = { types: new Map(), nullable: new Set(), lenient: new Set() };
  const outputs = new Map<string, Type>();
  const scope: Scope = {
    input: input.type,
    nodeOutputs: outputs,
    nodeIds: ir.nodes.map((n) => n.id),
    skippable: plan.skippable,
    inMap: false,
  };
  const ordered = plan.readySets.flat();
  const inOrder = new Set(ordered);
  const rest = ir.nodes.filter((n) => !inOrder.has(n));
  for (const node of [...ordered, ...rest]) {
    const types: Record<string, Type> = {};
    for (const [name, value] of Object.entries(node.templates))
      types[name] = valueType(value, scope, checked, reporter);
    if (node.when) templateType(node.when.template, node.when.path, scope, checked, reporter);
    // Stored outputs are plain data (models were dumped on the way in): read them as dicts.
    if (inOrder.has(node)) outputs.set(node.id, plain(kindOf(node.def).outputType(node.def, types)));
  }
  valueType(ir.output, scope, checked, reporter);
  return { checked, outputs };
}

function valueType(v: ValueTemplate, scope: Scope, checked: Checked, reporter: Reporter): Type {
  switch (v.kind) {
    case 'const':
      return jsonType(v.value);
    case 'template':
      return templateType(v.template, v.path, scope, checked, reporter);
    case 'list':
      return { kind: 'array', items: joinAll(v.items.map((i) => valueType(i, scope, checked, reporter))) };
    case 'object':
      return {
        kind: 'object',
        fields: new Map(
          v.entries.map(([k, e]): [string, Field] => [k, { type: valueType(e, scope, checked, reporter) }]),
        ),
      };
  }
}

function templateType(t: Template, path: NodeIR['path'], scope: Scope, checked: Checked, reporter: Reporter): Type {
  const checker = new Checker(scope, checked);
  if (t.kind === 'single') {
    const result = checker.check(t.expr);
    report(checker, path, reporter);
    return result;
  }
  for (const part of t.parts) {
    if (part.kind !== 'expr') continue;
    const type = checker.check(part.expr);
    // "Hello None" is a bug waiting in a response; make the author choose the text for null.
    if (type.kind !== 'any' && mayBeNull(type) && !checker.problems.some((p) => p.severity !== 'warning')) {
      reporter.error(
        'bad_access',
        { path, stringOffset: part.span.start },
        `${describe(part.expr)} may be null, which text cannot show; add | default('') or another fallback`,
      );
    }
  }
  report(checker, path, reporter);
  return STRING;
}

function report(checker: Checker, path: NodeIR['path'], reporter: Reporter): void {
  for (const p of checker.problems) {
    if (p.severity === 'warning') reporter.warning(p.code, { path, stringOffset: p.offset }, p.message);
    else reporter.error(p.code, { path, stringOffset: p.offset }, p.message, p.suggestion);
  }
}

function jsonType(value: unknown): Type {
  if (value === null) return NULL;
  if (typeof value === 'string') return STRING;
  if (typeof value === 'boolean') return BOOLEAN;
  if (typeof value === 'number') return Number.isInteger(value) ? INTEGER : NUMBER;
  if (Array.isArray(value)) return { kind: 'array', items: joinAll(value.map(jsonType)) };
  return {
    kind: 'object',
    fields: new Map(Object.entries(value as object).map(([k, x]): [string, Field] => [k, { type: jsonType(x) }])),
  };
}
