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
  ANY,
  joinAll,
  mayBeNull,
  plain,
  typeName,
  withNullable,
  type Field,
  type Type,
} from '../expr/types';
import type { ValueTemplate } from '../expr/value';
import { orderedNodes, type Plan } from '../plan/plan';
import type { InputModel } from '../model/input-model';
import { kindOf } from '../nodes/kinds';
import type { Reporter } from '../report/reporter';
import { hiddenFrom, type GraphIR, type NodeIR, type WorkflowIR } from '../resolve/resolve';

export interface Typed {
  checked: Checked;
  /** Each node's output type, as plain data (what its Python local holds). */
  outputs: ReadonlyMap<string, Type>;
  /** The type of each map node's items (`item` in its nodes). */
  items: ReadonlyMap<string, Type>;
}

export function typecheck(ir: WorkflowIR, plan: Plan, input: InputModel, reporter: Reporter): Typed {
  const checked: Checked = { types: new Map(), nullable: new Set(), lenient: new Set() };
  const outputs = new Map<string, Type>();
  const items = new Map<string, Type>();
  const byId = new Map<string, NodeIR>();
  for (const n of ir.all) if (!byId.has(n.id)) byId.set(n.id, n); // a duplicate id is reported by resolve
  const scopeFor = (graph: GraphIR, item: Type | undefined): Scope => ({
    input: input.type,
    nodeOutputs: outputs,
    nodeIds: ir.all.map((n) => n.id),
    skippable: plan.skippable,
    item,
    hidden: (id) => {
      const target = byId.get(id);
      return target ? hiddenFrom(target, graph) : undefined;
    },
  });

  /** Checks a graph's nodes in dependency order (those in a cycle last, unstored). */
  const checkGraph = (nodes: NodeIR[], ordered: NodeIR[], scope: Scope): void => {
    const inOrder = new Set(ordered);
    for (const node of [...ordered, ...nodes.filter((n) => !inOrder.has(n))]) {
      const types: Record<string, Type> = {};
      for (const [name, value] of Object.entries(node.templates))
        types[name] = valueType(value, scope, checked, reporter);
      kindOf(node.def).checkTypes?.(node.def, types, node.path, reporter);
      if (node.when) templateType(node.when.template, node.when.path, scope, checked, reporter);
      Object.assign(types, checkChildren(node, types, scope));
      // Stored outputs are plain data (models were dumped on the way in): read them as dicts.
      if (inOrder.has(node)) outputs.set(node.id, plain(kindOf(node.def).outputType(node.def, types)));
    }
  };

  /**
   * The graphs a `parallel` or `map` node holds, checked where they run (a map's nodes with
   * `item` the type of an element of `over`), and their values' types for the node's output:
   * `branches` (an object, one field per branch) or `each` (one item's value).
   */
  const checkChildren = (node: NodeIR, types: Record<string, Type>, scope: Scope): Record<string, Type> => {
    if (node.def.type !== 'parallel' && node.def.type !== 'map') return {};
    const item = node.def.type === 'map' ? itemType(node, types.over, reporter) : scope.item;
    if (node.def.type === 'map') items.set(node.id, item!);
    const values = new Map<string, Field>();
    for (const child of node.children) {
      checkGraph(child.nodes, orderedNodes(plan, child), scopeFor(child, item));
      const last = child.nodes[child.nodes.length - 1];
      const type = last ? (outputs.get(last.id) ?? ANY) : ANY;
      values.set(child.branch ?? '', { type: withNullable(type, mayBeNull(type) || plan.skippable.has(last?.id)) });
    }
    if (node.def.type === 'map') return { each: values.get('')!.type };
    return { branches: { kind: 'object', fields: values } };
  };

  checkGraph(ir.nodes, orderedNodes(plan, undefined), scopeFor(ir.graph, undefined));
  valueType(ir.output, scopeFor(ir.graph, undefined), checked, reporter);
  return { checked, outputs, items };
}

/** The type of one element of a map's `over`, which must be a list. */
function itemType(node: NodeIR, over: Type | undefined, reporter: Reporter): Type {
  if (!over || over.kind === 'any') return ANY;
  if (over.kind !== 'array') {
    reporter.error(
      'invalid_type',
      { path: [...node.path, 'over'] },
      `map node "${node.id}" goes over ${typeName(over)}, not a list; "over" must give a list, e.g. "{{ input.ids }}"`,
    );
    return ANY;
  }
  if (over.nullable)
    reporter.error(
      'bad_access',
      { path: [...node.path, 'over'] },
      `map node "${node.id}": "over" may be null; add | default([]) to map over nothing then`,
    );
  // `over` is evaluated as a value, so input models arrive dumped to plain data.
  return plain(over.items);
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
