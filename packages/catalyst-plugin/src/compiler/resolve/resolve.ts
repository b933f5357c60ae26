/**
 * Pass 3: names and references. Checks ids, parses every template in the workflow, and
 * records each node's dependencies (references plus `after`). Produces the workflow IR.
 */
import type { JsonPath } from '../report/diagnostics';
import type { Template } from '../expr/ast';
import { parseTemplate } from '../expr/template';
import { expressionsOf, parseValue, templatesOf, type ValueTemplate } from '../expr/value';
import { nodeRefs } from '../expr/refs';
import { kindOf } from '../nodes/kinds';
import { checkSecretHosts } from './secret-hosts';
import type { Reporter } from '../report/reporter';
import { identifierProblem, toIdentifier } from '../python/names';
import { didYouMean, suggest } from '../util/suggest';
import { hasBody, type InputSchema, type Node, type Workflow } from '../validate/schema';

export interface Dependency {
  nodeId: string;
  /** False when every reference sits inside `| default(...)`, or for `after`. */
  hard: boolean;
  at: { path: JsonPath; stringOffset?: number };
}

export interface NodeIR {
  id: string;
  index: number;
  path: JsonPath;
  def: Node;
  templates: Record<string, ValueTemplate>;
  when?: { template: Template; path: JsonPath };
  deps: Dependency[];
}

export interface WorkflowIR {
  id: string;
  method: string;
  route: string;
  nodes: NodeIR[];
  output: ValueTemplate;
}

/** Workflow ids name modules imported into `__init__.py`, which binds `router` and imports `WorkflowRouter`. */
const RESERVED_WORKFLOW_IDS = new Set(['router', 'WorkflowRouter']);
/** Node ids that already name something in a response: `output` is where a failing output mapping
 * is reported, `total` is the whole run's entry in `Server-Timing` and the `done` event. */
const RESERVED_NODE_IDS: ReadonlyMap<string, string> = new Map([
  ['output', 'a failure in the output mapping is reported as node "output"'],
  ['total', '"total" is the whole run in Server-Timing'],
]);

export function resolve(wf: Workflow, reporter: Reporter): WorkflowIR {
  reportBadId(wf.id, 'workflow', ['id'], reporter);
  if (RESERVED_WORKFLOW_IDS.has(wf.id))
    reporter.error(
      'invalid_id',
      { path: ['id'] },
      `workflow id "${wf.id}" is reserved; choose another, e.g. "${wf.id}_flow"`,
    );
  const method = wf.trigger?.method ?? 'POST';
  if (!hasBody(method)) queryProblems(method, wf.input?.properties ?? {}, reporter);
  if (wf.trigger?.stream)
    reporter.error(
      'unsupported',
      { path: ['trigger', 'stream'] },
      'streaming responses need a streaming node (llm), which this version does not have; remove "stream: true"',
    );

  const defs = wf.nodes ?? [];
  const seen = new Map<string, number>();
  defs.forEach((def, index) => {
    const path = ['nodes', index, 'id'];
    reportBadId(def.id, 'node', path, reporter);
    const why = RESERVED_NODE_IDS.get(def.id);
    if (why)
      reporter.error(
        'invalid_id',
        { path },
        `node id "${def.id}" is reserved (${why}); choose another, e.g. "${def.id}_step"`,
      );
    const first = seen.get(def.id);
    if (first !== undefined) {
      const line = reporter.source.position(reporter.source.locate(['nodes', first, 'id'])).line;
      reporter.error(
        'duplicate_id',
        { path },
        `duplicate node id "${def.id}" (first defined on line ${line}); node ids must be unique`,
      );
    } else {
      seen.set(def.id, index);
    }
  });
  const ids = [...seen.keys()];
  const idSet = new Set(ids);

  const nodes = defs.map((def, index): NodeIR => {
    const path: JsonPath = ['nodes', index];
    const templates = kindOf(def).templates(def, path, reporter);
    const node: NodeIR = { id: def.id, index, path, def, templates, deps: [] };
    if (def.when !== undefined) node.when = parseWhen(def.when, [...path, 'when'], reporter);
    const sites = Object.values(templates).flatMap(templatesOf);
    if (node.when) sites.push(node.when);
    node.deps = dependencies(sites, idSet);
    (def.after ?? []).forEach((after, i) => {
      const at = { path: [...path, 'after', i] };
      if (!seen.has(after))
        reporter.error(
          'unknown_after',
          at,
          `"after" names unknown node "${after}"${didYouMean(after, ids)}`,
          suggest(after, ids),
        );
      else node.deps.push({ nodeId: after, hard: false, at });
    });
    return node;
  });

  checkSecretHosts(nodes, reporter);
  const output = parseValue(wf.output ?? {}, ['output'], reporter);
  // Unknown nodes in the output are reported by the type checker, like everywhere else.
  return { id: wf.id, method, route: wf.trigger?.path ?? `/${wf.id}`, nodes, output };
}

function reportBadId(id: string, what: string, path: JsonPath, reporter: Reporter): void {
  const problem = identifierProblem(id);
  if (problem) {
    const better = toIdentifier(id);
    reporter.error('invalid_id', { path }, `${what} id "${id}" ${problem}; try "${better}"`, better);
  }
}

function parseWhen(value: string, path: JsonPath, reporter: Reporter): NodeIR['when'] {
  const { template, errors } = parseTemplate(value);
  for (const err of errors) reporter.error('expression_syntax', { path, stringOffset: err.offset }, err.message);
  if (!template) return undefined;
  if (template.kind !== 'single') {
    reporter.error(
      'expression_syntax',
      { path },
      '"when" must be exactly one expression, e.g. "{{ input.count > 0 }}"',
    );
    return undefined;
  }
  return { template, path };
}

/** One dependency per referenced node (hard if any reference is hard); unknown ids are left to the checker. */
function dependencies(sites: { template: Template; path: JsonPath }[], ids: ReadonlySet<string>): Dependency[] {
  const deps = new Map<string, Dependency>();
  for (const site of sites) {
    for (const expr of expressionsOf(site.template)) {
      for (const ref of nodeRefs(expr)) {
        if (!ids.has(ref.nodeId)) continue;
        const prev = deps.get(ref.nodeId);
        if (!prev)
          deps.set(ref.nodeId, {
            nodeId: ref.nodeId,
            hard: !ref.soft,
            at: { path: site.path, stringOffset: ref.offset },
          });
        else if (!ref.soft) prev.hard = true;
      }
    }
  }
  return [...deps.values()];
}

/**
 * A GET or DELETE request has no body: its input properties are query parameters, which are
 * text, so each must be a scalar, an enum or a list of those (the parameter repeated).
 */
function queryProblems(method: string, properties: Record<string, InputSchema>, reporter: Reporter): void {
  const isObject = (s: InputSchema) => s.type === 'object' || (s.type === undefined && s.properties !== undefined);
  const isList = (s: InputSchema) => s.type === 'array' || (s.type === undefined && s.items !== undefined);
  for (const [key, schema] of Object.entries(properties)) {
    const nested =
      isObject(schema) || (isList(schema) && (!schema.items || isObject(schema.items) || isList(schema.items)));
    if (nested)
      reporter.error(
        'unsupported',
        { path: ['input', 'properties', key], key: true },
        `a ${method} request has no body: "${key}" is a query parameter, which can be a string, number, integer, boolean, enum or a list of those (repeated), not ${isObject(schema) ? 'an object' : 'a list of objects or lists'}; use POST for structured input`,
      );
  }
}
