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
import { cacheTemplates } from '../nodes/cache';
import { checkSecretHosts } from './secret-hosts';
import { checkStreamNodes } from './stream-nodes';
import type { Reporter } from '../report/reporter';
import { identifierProblem, toIdentifier } from '../python/names';
import { didYouMean, suggest } from '../util/suggest';
import { hasBody, type InputSchema, type Node, type Workflow } from '../validate/schema';

export interface Dependency {
  nodeId: string;
  /** False when every reference sits inside `| default(...)`, or for `after`. */
  hard: boolean;
  at: { path: JsonPath; stringOffset?: number };
  /**
   * The node is in an enclosing graph (the node sits in a branch or a map): it has finished
   * before this graph starts, so it orders nothing here, but a guard may still test it.
   */
  outer?: boolean;
}

/**
 * A list of nodes run together: the workflow's own, a `parallel` branch, or a `map` node's
 * nodes (run once per item). Nodes in a graph read nodes of their own graph and of the graphs
 * around it; nothing outside reads into it, except through the node that owns it.
 */
export interface GraphIR {
  nodes: NodeIR[];
  /** The `parallel` or `map` node holding this graph; none for the workflow's own nodes. */
  owner?: NodeIR;
  /** The branch's name, for a `parallel` branch. */
  branch?: string;
  parent?: GraphIR;
}

export interface NodeIR {
  id: string;
  index: number;
  path: JsonPath;
  def: Node;
  templates: Record<string, ValueTemplate>;
  when?: { template: Template; path: JsonPath };
  deps: Dependency[];
  /** The graph the node is in. */
  graph: GraphIR;
  /** The graphs a `parallel` (one per branch) or `map` node holds; empty for other kinds. */
  children: GraphIR[];
}

export interface WorkflowIR {
  id: string;
  method: string;
  route: string;
  /** `trigger.stream`: the answer is server-sent events (partials, tokens, done) instead of JSON. */
  stream: boolean;
  /** The workflow's own nodes (the top graph). */
  nodes: NodeIR[];
  /** Every node, in the nested ones too, in definition order. */
  all: NodeIR[];
  /** The graph of the workflow's own nodes. */
  graph: GraphIR;
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
  const root: GraphIR = { nodes: [] };
  const all: NodeIR[] = [];
  buildGraph(root, wf.nodes ?? [], ['nodes'], all, reporter);
  const seen = new Map<string, NodeIR>();
  for (const node of all) {
    const path = [...node.path, 'id'];
    reportBadId(node.id, 'node', path, reporter);
    const why = RESERVED_NODE_IDS.get(node.id);
    if (why)
      reporter.error(
        'invalid_id',
        { path },
        `node id "${node.id}" is reserved (${why}); choose another, e.g. "${node.id}_step"`,
      );
    const first = seen.get(node.id);
    if (first !== undefined) {
      const line = reporter.source.position(reporter.source.locate([...first.path, 'id'])).line;
      reporter.error(
        'duplicate_id',
        { path },
        `duplicate node id "${node.id}" (first defined on line ${line}); node ids must be unique in the workflow, inside branches and maps too`,
      );
    } else {
      seen.set(node.id, node);
    }
  }
  const ids = [...seen.keys()];

  for (const node of all) {
    const { def, path } = node;
    node.templates = { ...kindOf(def).templates(def, path, reporter), ...cacheTemplates(def, path, reporter) };
    if (def.when !== undefined) node.when = parseWhen(def.when, [...path, 'when'], reporter);
    const sites = Object.values(node.templates).flatMap(templatesOf);
    if (node.when) sites.push(node.when);
    for (const dep of dependencies(sites, seen)) addDependency(node, dep, seen);
    (def.after ?? []).forEach((after, i) => {
      const at = { path: [...path, 'after', i] };
      const target = seen.get(after);
      if (!target)
        reporter.error(
          'unknown_after',
          at,
          `"after" names unknown node "${after}"${didYouMean(after, ids)}`,
          suggest(after, ids),
        );
      else {
        const hidden = hiddenFrom(target, node.graph);
        if (hidden) reporter.error('out_of_scope', at, `"after" names ${hidden}`);
        else addDependency(node, { nodeId: after, hard: false, at }, seen);
      }
    });
  }
  const nodes = root.nodes;

  checkSecretHosts(all, reporter);
  checkStreamNodes(all, reporter);
  const output = parseValue(wf.output ?? {}, ['output'], reporter);
  // Unknown nodes in the output are reported by the type checker, like everywhere else.
  const route = wf.trigger?.path ?? `/${wf.id}`;
  return { id: wf.id, method, route, stream: wf.trigger?.stream === true, nodes, all, graph: root, output };
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
function dependencies(
  sites: { template: Template; path: JsonPath }[],
  ids: ReadonlyMap<string, unknown>,
): Dependency[] {
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

/** Lays out one list of nodes as a graph, and the graphs inside its `parallel` and `map` nodes. */
function buildGraph(graph: GraphIR, defs: Node[], path: JsonPath, all: NodeIR[], reporter: Reporter): void {
  defs.forEach((def, index) => {
    const node: NodeIR = {
      id: def.id,
      index: all.length,
      path: [...path, index],
      def,
      templates: {},
      deps: [],
      graph,
      children: [],
    };
    graph.nodes.push(node);
    all.push(node);
    if (def.type === 'parallel') {
      const names = Object.keys(def.branches);
      if (names.length === 0)
        reporter.error(
          'empty_graph',
          { path: [...node.path, 'branches'] },
          `parallel node "${def.id}" has no branches; give it at least one, e.g. branches: { a: [ ...nodes ] }`,
        );
      for (const name of names) {
        const at: JsonPath = [...node.path, 'branches', name];
        const problem = identifierProblem(name);
        if (problem)
          reporter.error(
            'invalid_id',
            { path: at, key: true },
            `branch name "${name}" ${problem}; it names a field of the output, try "${toIdentifier(name)}"`,
            toIdentifier(name),
          );
        const child: GraphIR = { nodes: [], owner: node, branch: name, parent: graph };
        node.children.push(child);
        if (def.branches[name].length === 0)
          reporter.error(
            'empty_graph',
            { path: at },
            `branch "${name}" of parallel node "${def.id}" has no nodes; its value is its last node's value, so give it one (or remove the branch)`,
          );
        buildGraph(child, def.branches[name], at, all, reporter);
      }
    } else if (def.type === 'map') {
      const child: GraphIR = { nodes: [], owner: node, parent: graph };
      node.children.push(child);
      if (def.nodes.length === 0)
        reporter.error(
          'empty_graph',
          { path: [...node.path, 'nodes'] },
          `map node "${def.id}" has no nodes; give it the nodes to run for each item (each item's value is its last node's value)`,
        );
      buildGraph(child, def.nodes, [...node.path, 'nodes'], all, reporter);
    }
  });
}

/** The graphs around `graph`, itself first. */
export function graphChain(graph: GraphIR): GraphIR[] {
  const out: GraphIR[] = [];
  for (let g: GraphIR | undefined = graph; g; g = g.parent) out.push(g);
  return out;
}

/** Where a graph sits, for messages: `branch "user" of "lookups"`, `map "fanout"`. */
export function graphName(graph: GraphIR): string {
  const owner = graph.owner!;
  return graph.branch !== undefined ? `branch "${graph.branch}" of "${owner.id}"` : `map "${owner.id}"`;
}

/**
 * Why a node in graph `from` cannot read `target`, or undefined when it can: a node reads the nodes of its own
 * graph and of the graphs around it, but not the node it is inside, nor into another graph.
 */
export function hiddenFrom(target: NodeIR, from: GraphIR): string | undefined {
  const around = graphChain(from);
  if (around.some((g) => g.owner === target))
    return `node "${target.id}" from inside it; its value exists only once everything in it has finished`;
  if (around.includes(target.graph)) return undefined;
  // The outermost graph holding the target that the reader cannot see into.
  let inner = target.graph;
  while (inner.parent && !around.includes(inner.parent)) inner = inner.parent;
  const owner = inner.owner!;
  if (inner.branch !== undefined) {
    const last = inner.nodes[inner.nodes.length - 1] === target && inner === target.graph;
    const way = last
      ? `read the branch's value instead: nodes.${owner.id}.${inner.branch}`
      : `read it through the branch's value: make it the branch's last node and read nodes.${owner.id}.${inner.branch}`;
    return `node "${target.id}", which is inside branch "${inner.branch}" of parallel node "${owner.id}"; ${way}`;
  }
  const values =
    owner.def.type === 'map' && owner.def.on_error === 'collect' ? `nodes.${owner.id}.results` : `nodes.${owner.id}`;
  return `node "${target.id}", which runs once per item inside map node "${owner.id}"; read every item's value instead: ${values} (a list of each item's last node value)`;
}

/**
 * Records that `node` reads `dep.nodeId`. In its own graph that orders the two; in a graph
 * around it, the node holding this graph there waits for it instead (each graph starts only
 * once what it reads from outside is ready). Out-of-scope reads are left to the checker.
 */
function addDependency(node: NodeIR, dep: Dependency, byId: ReadonlyMap<string, NodeIR>): void {
  const target = byId.get(dep.nodeId)!;
  if (hiddenFrom(target, node.graph)) return;
  if (target.graph === node.graph) {
    mergeDependency(node, dep);
    return;
  }
  mergeDependency(node, { ...dep, outer: true });
  // The container in the target's graph that holds `node` waits for the target (softly: the
  // nodes inside test it in their own guards).
  let holder = node.graph.owner!;
  while (holder.graph !== target.graph) holder = holder.graph.owner!;
  mergeDependency(holder, { nodeId: dep.nodeId, hard: false, at: dep.at });
}

function mergeDependency(node: NodeIR, dep: Dependency): void {
  const prev = node.deps.find((d) => d.nodeId === dep.nodeId);
  if (!prev) node.deps.push(dep);
  else if (dep.hard && !prev.outer === !dep.outer) prev.hard = true;
}
