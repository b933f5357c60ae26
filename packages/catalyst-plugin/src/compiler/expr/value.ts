/**
 * Value templates: a JSON value (from `set:`, `output:`, node config) whose strings may hold
 * expressions. Parsed once; checked and emitted as a whole, keeping mappings and lists.
 */
import type { JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import type { Expr, Template } from './ast';
import { parseTemplate } from './template';

export type ValueTemplate =
  | { kind: 'const'; value: unknown }
  | { kind: 'template'; template: Template; path: JsonPath }
  | { kind: 'list'; items: ValueTemplate[] }
  | { kind: 'object'; entries: [string, ValueTemplate][] };

/** Parses every string in `value`; syntax errors go to the reporter (the result is still usable). */
export function parseValue(value: unknown, path: JsonPath, reporter: Reporter): ValueTemplate {
  if (typeof value === 'string') {
    if (!value.includes('{{')) return { kind: 'const', value };
    const { template, errors } = parseTemplate(value);
    for (const err of errors) reporter.error('expression_syntax', { path, stringOffset: err.offset }, err.message);
    return template ? { kind: 'template', template, path } : { kind: 'const', value: null };
  }
  if (Array.isArray(value)) return { kind: 'list', items: value.map((v, i) => parseValue(v, [...path, i], reporter)) };
  if (value !== null && typeof value === 'object') {
    return {
      kind: 'object',
      entries: Object.entries(value).map(([k, v]) => [k, parseValue(v, [...path, k], reporter)]),
    };
  }
  return { kind: 'const', value };
}

/** Every template in a value, with its path. */
export function templatesOf(v: ValueTemplate): { template: Template; path: JsonPath }[] {
  switch (v.kind) {
    case 'const':
      return [];
    case 'template':
      return [{ template: v.template, path: v.path }];
    case 'list':
      return v.items.flatMap(templatesOf);
    case 'object':
      return v.entries.flatMap(([, e]) => templatesOf(e));
  }
}

/** Every expression in a template. */
export function expressionsOf(t: Template): Expr[] {
  return t.kind === 'single' ? [t.expr] : t.parts.flatMap((p) => (p.kind === 'expr' ? [p.expr] : []));
}
