/**
 * `postgres`: one SQL statement on the service's asyncpg pool (`ctx.pools.postgres`), through
 * the runtime's `pg_query`, which owns the connection, the timeout, the conversion of rows to
 * JSON-ready values, the retry on a lost connection and the mapping of failures to 502/504
 * naming the node. Values never enter the SQL text: the SQL names them as `:name`, `params`
 * gives each an expression, and the compiler rewrites the names to asyncpg's `$1..$n`, so every
 * value travels as a bound parameter.
 */
import type { JsonPath } from '../report/diagnostics';
import { pyNumber, pyString } from '../python/literal';
import { valueDoc } from '../expr/value-code';
import { atom, type Doc } from '../python/layout';
import { parseValue, type ValueTemplate } from '../expr/value';
import { ANY, INTEGER, STRING, withNullable, type Field, type Type } from '../expr/types';
import type { Reporter } from '../report/reporter';
import { didYouMean, suggest } from '../util/suggest';
import type { Node } from '../validate/schema';
import type { NodeKind } from './kinds';
import { scanSql } from './sql';

type Postgres = Extract<Node, { type: 'postgres' }>;
type ColumnType = NonNullable<Postgres['columns']>[string];

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The type checker's type for each declared column (or payload key) type. */
export const COLUMN_TYPE: Record<ColumnType, Type> = {
  string: STRING,
  integer: INTEGER,
  number: { kind: 'number' },
  boolean: { kind: 'boolean' },
  object: { kind: 'object', fields: null },
  array: { kind: 'array', items: ANY },
  any: ANY,
};

export const postgres: NodeKind<Postgres> = {
  async: true,
  pools: ['postgres'],
  // A query that reads: its rows may be kept. (A rows-mode statement that writes, such as
  // INSERT ... RETURNING, is the author's to leave uncached; the compiler does not parse SQL.)
  idempotent: (node) =>
    node.mode === 'execute'
      ? 'mode execute runs a statement for its effect, which a kept status would skip; only rows, row and value can be cached (remove "cache")'
      : true,
  templates(node, path, reporter) {
    checkQuery(node, path, reporter);
    if (node.columns !== undefined && node.mode === 'execute') {
      reporter.error(
        'invalid_value',
        { path: [...path, 'columns'], key: true },
        '"columns" describes the rows a query returns, and mode "execute" returns none (only { status }); remove "columns", or use mode "rows"',
      );
    }
    const templates: Record<string, ValueTemplate> = {};
    if (node.params !== undefined) templates.params = parseValue(node.params, [...path, 'params'], reporter);
    return templates;
  },
  outputType: (node) => outputType(node),
  emit(node, templates, emitter) {
    const sql = scanSql(node.query);
    const params = templates.params?.kind === 'object' ? new Map(templates.params.entries) : new Map();
    const items: { prefix: string; doc: Doc }[] = [
      { prefix: '', doc: atom('ctx') },
      { prefix: '', doc: atom(pyString(node.id)) },
      { prefix: '', doc: atom(pyString(sql.text)) },
    ];
    if (sql.names.length > 0) {
      const values = sql.names.map((name) => {
        const value = params.get(name) as ValueTemplate | undefined;
        return { prefix: '', doc: value ? valueDoc(value, emitter) : atom('None') };
      });
      items.push({ prefix: '', doc: { kind: 'group', open: '[', close: ']', call: false, items: values } });
    }
    items.push({ prefix: 'mode=', doc: atom(pyString(node.mode ?? 'rows')) });
    if (node.timeout !== undefined) items.push({ prefix: 'timeout=', doc: atom(pyNumber(node.timeout, false)) });
    return { kind: 'group', open: 'await pg_query(', close: ')', call: true, items };
  },
};

/** The row's type: the declared columns, or an open object. */
function rowType(node: Postgres): Type {
  if (node.columns === undefined) return { kind: 'object', fields: null };
  const fields = new Map<string, Field>(
    Object.entries(node.columns).map(([name, t]) => [name, { type: COLUMN_TYPE[t] }]),
  );
  return { kind: 'object', fields };
}

function outputType(node: Postgres): Type {
  switch (node.mode ?? 'rows') {
    case 'rows':
      return {
        kind: 'object',
        fields: new Map([
          ['rows', { type: { kind: 'array', items: rowType(node) } }],
          ['count', { type: INTEGER }],
        ]),
      };
    case 'row':
      return withNullable(rowType(node), true);
    case 'value': {
      const first = Object.values(node.columns ?? {})[0];
      return first === undefined ? ANY : withNullable(COLUMN_TYPE[first], true);
    }
    case 'execute':
      return { kind: 'object', fields: new Map([['status', { type: STRING }]]) };
  }
}

/** Expressions in the SQL, positional `$n`, and placeholders without a param or params without a placeholder. */
function checkQuery(node: Postgres, path: JsonPath, reporter: Reporter): void {
  const queryPath = [...path, 'query'];
  if (node.query.trim() === '') {
    reporter.error('invalid_value', { path: queryPath }, 'the query is empty; write the SQL statement to run');
    return;
  }
  for (let at = node.query.indexOf('{{'); at >= 0; at = node.query.indexOf('{{', at + 2)) {
    reporter.error(
      'sql_expression',
      { path: queryPath, stringOffset: at },
      'the SQL text cannot hold {{ expressions }}: values are sent as bound parameters, never spliced into SQL; use params: write :name here and give name its value under "params"',
    );
  }
  const sql = scanSql(node.query);
  for (const at of sql.positional) {
    reporter.error(
      'sql_parameter',
      { path: queryPath, stringOffset: at },
      'write a named placeholder (:name, with its value under "params") instead of a numbered one: the compiler numbers the parameters itself',
    );
  }
  const params = Object.keys(node.params ?? {});
  const declared = new Set(params);
  for (const { name, offset } of sql.placeholders) {
    if (declared.has(name)) continue;
    const valid = params.filter((p) => PARAM_NAME.test(p));
    reporter.error(
      'sql_parameter',
      { path: queryPath, stringOffset: offset },
      `placeholder :${name} has no value: add "${name}" under "params"${didYouMean(name, valid)}`,
      suggest(name, valid),
    );
  }
  const used = new Set(sql.names);
  for (const name of params) {
    if (used.has(name)) continue;
    const problem = PARAM_NAME.test(name)
      ? `param "${name}" is not used in the query; write :${name} where its value goes, or remove it`
      : `param "${name}" cannot be named in the query: a placeholder is :name, with letters, digits and "_" (not starting with a digit)`;
    reporter.error('sql_parameter', { path: [...path, 'params', name], key: true }, problem);
  }
}
