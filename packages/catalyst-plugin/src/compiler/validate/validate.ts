/**
 * Pass 2: check the parsed value against the zod schemas and turn every issue into a
 * diagnostic at the offending key or value, with a suggestion where one is close.
 */
import type { z } from 'zod';
import { formatPath, type JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import { didYouMean, suggest } from '../util/suggest';
import { own } from '../util/own';
import { knownKeysAt } from './known-keys';
import { Workflow } from './schema';

export function validate(value: unknown, reporter: Reporter): Workflow | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    const got = describeValue(value);
    reporter.error(
      'invalid_type',
      { path: [] },
      `a workflow definition must be a mapping with "id", "nodes" and "output", not ${got}`,
    );
    return undefined;
  }
  if (reportForbiddenKeys(value, [], reporter)) return undefined;
  const result = Workflow.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) reportIssue(issue, value, reporter);
  return undefined;
}

/**
 * Where a field that is known elsewhere belongs, for one written in the wrong place: a streamed
 * answer is asked for on the trigger, not on the workflow or on a node.
 */
function misplaced(key: string, path: JsonPath): string | undefined {
  if (key !== 'stream') return undefined;
  const streamed = 'to answer with server-sent events, set it on the trigger: trigger: { stream: true }';
  if (path.length === 0) return `; ${streamed}`;
  if (path[path.length - 2] === 'nodes' || path[path.length - 3] === 'branches')
    return `; only an llm node streams its text (stream: true); ${streamed}`;
  return undefined;
}

function reportIssue(issue: z.core.$ZodIssue, root: unknown, reporter: Reporter): void {
  const path = issue.path as JsonPath;
  const where = formatPath(path);
  const actual = valueAt(root, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(root, path);
      for (const key of issue.keys) {
        const hint = misplaced(key, path) ?? didYouMean(key, known);
        const list =
          hint === '' && known.length > 0 ? `; expected one of ${known.map((k) => `"${k}"`).join(', ')}` : '';
        reporter.error(
          'unknown_field',
          { path: [...path, key], key: true },
          `unknown field "${key}" in ${describeObject(root, path)}${hint}${list}`,
          suggest(key, known),
        );
      }
      return;
    }
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator !== undefined && 'options' in issue) {
        const kinds = (issue.options as unknown[]).map(String);
        if (actual === undefined) {
          reporter.error(
            'missing_field',
            { path: path.slice(0, -1) },
            `${describeObject(root, path.slice(0, -1))} needs a "type" (one of ${kinds.join(', ')})`,
          );
        } else {
          const given = typeof actual === 'string' ? actual : JSON.stringify(actual);
          const hint = didYouMean(given, kinds);
          reporter.error(
            'unknown_node_kind',
            { path },
            `unknown node type ${JSON.stringify(actual)}${hint}; known types: ${kinds.join(', ')}`,
            suggest(given, kinds),
          );
        }
        return;
      }
      if (actual === undefined) {
        // A required field whose schema is a union (a JSON value): missing, like any other.
        reporter.error(
          'missing_field',
          { path: path.slice(0, -1) },
          `${describeObject(root, path.slice(0, -1))} is missing the required field "${String(path[path.length - 1])}"`,
        );
        return;
      }
      reporter.error('invalid_value', { path }, `${where} must be a JSON value, not ${describeValue(actual)}`);
      return;
    }
    case 'invalid_type':
      if (actual === undefined) {
        const field = path[path.length - 1];
        reporter.error(
          'missing_field',
          { path: path.slice(0, -1) },
          `${describeObject(root, path.slice(0, -1))} is missing the required field "${String(field)}"`,
        );
      } else {
        reporter.error(
          'invalid_type',
          { path },
          `${where} must be ${article(issue.expected)}, not ${describeValue(actual)}`,
        );
      }
      return;
    case 'invalid_value': {
      const options = issue.values.map((v) => JSON.stringify(v));
      const hint = typeof actual === 'string' ? didYouMean(actual, issue.values.map(String)) : '';
      reporter.error(
        'invalid_value',
        { path },
        `${where} must be one of ${options.join(', ')}, not ${JSON.stringify(actual)}${hint}`,
      );
      return;
    }
    default:
      reporter.error('invalid_value', { path }, `${where} ${lowerFirst(issue.message)}`);
  }
}

/**
 * Keys that would mislead: zod (like any plain JS object) takes "__proto__" as the prototype and
 * drops it, and "<<" looks like a YAML merge key, which YAML 1.2 does not have.
 */
const FORBIDDEN_KEYS: Record<string, string> = {
  ['__proto__']: 'the key "__proto__" is not allowed; rename it', // computed: a plain key would set the prototype
  '<<': 'YAML merge keys ("<<") are not supported; write the fields out',
};

function reportForbiddenKeys(value: unknown, path: JsonPath, reporter: Reporter): boolean {
  if (value === null || typeof value !== 'object') return false;
  let found = false;
  for (const [key, child] of Object.entries(value)) {
    const message = own(FORBIDDEN_KEYS, key);
    if (message) {
      reporter.error('invalid_value', { path: [...path, key], key: true }, message);
      found = true;
    }
    found = reportForbiddenKeys(child, [...path, Array.isArray(value) ? Number(key) : key], reporter) || found;
  }
  return found;
}

function valueAt(root: unknown, path: JsonPath): unknown {
  let cur: unknown = root;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, part)) return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

/** "the workflow", "node \"greet\"", "trigger", "input schema at input.properties.name". */
export function describeObject(root: unknown, path: JsonPath): string {
  if (path.length === 0) return 'the workflow';
  if (isNodePath(path)) {
    const id = valueAt(root, [...path, 'id']);
    if (typeof id === 'string') return `node "${id}"`;
    const number = `node #${Number(path[path.length - 1]) + 1}`;
    return path.length === 2 ? number : `${number} of ${formatPath(path.slice(0, -1))}`;
  }
  if (path[0] === 'input') return `the input schema at ${formatPath(path)}`;
  return formatPath(path);
}

/** A node: an item of the workflow's `nodes`, of a `map` node's `nodes`, or of a `parallel` branch. */
function isNodePath(path: JsonPath): boolean {
  const n = path.length;
  return (
    path[0] === 'nodes' && typeof path[n - 1] === 'number' && (path[n - 2] === 'nodes' || path[n - 3] === 'branches')
  );
}

export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value; // not a JSON value: the parsers never produce one
}

function article(expected: string): string {
  const names: Record<string, string> = {
    record: 'a mapping',
    object: 'a mapping',
    array: 'a list',
    string: 'a string',
    number: 'a number',
    boolean: 'a boolean (true or false)',
    int: 'an integer',
  };
  return names[expected] ?? `a ${expected}`;
}

function lowerFirst(s: string): string {
  return s.length > 0 ? s[0].toLowerCase() + s.slice(1) : s;
}
