/** JSON Schema validation keywords → pydantic `Field(...)` arguments (as data), checked against the type. */
import type { JsonPath } from '../report/diagnostics';
import type { Type } from '../expr/types';
import type { Reporter } from '../report/reporter';
import type { InputSchema } from '../validate/schema';
import { portablePattern } from './pattern';

type Keyword =
  | 'minLength'
  | 'maxLength'
  | 'pattern'
  | 'minimum'
  | 'maximum'
  | 'exclusiveMinimum'
  | 'exclusiveMaximum'
  | 'minItems'
  | 'maxItems';

const KEYWORDS: Record<Keyword, { arg: string; applies: Type['kind'][] }> = {
  minLength: { arg: 'min_length', applies: ['string'] },
  maxLength: { arg: 'max_length', applies: ['string'] },
  pattern: { arg: 'pattern', applies: ['string'] },
  minimum: { arg: 'ge', applies: ['integer', 'number'] },
  maximum: { arg: 'le', applies: ['integer', 'number'] },
  exclusiveMinimum: { arg: 'gt', applies: ['integer', 'number'] },
  exclusiveMaximum: { arg: 'lt', applies: ['integer', 'number'] },
  minItems: { arg: 'min_length', applies: ['array'] },
  maxItems: { arg: 'max_length', applies: ['array'] },
};

/** One `Field(...)` keyword argument: `min_length=1`, `pattern="^a"`. */
export interface FieldArg {
  name: string;
  value: string | number;
}

/** The `Field` arguments for a property's validation keywords; keywords that do not apply are reported. */
export function constraintArgs(schema: InputSchema, type: Type, path: JsonPath, reporter: Reporter): FieldArg[] {
  const args: FieldArg[] = [];
  for (const keyword of Object.keys(KEYWORDS) as Keyword[]) {
    const value = schema[keyword];
    if (value === undefined) continue;
    const { arg, applies } = KEYWORDS[keyword];
    if (!applies.includes(type.kind)) {
      reporter.error(
        'input_schema',
        { path: [...path, keyword], key: true },
        `"${keyword}" applies to ${applies.join(' and ')} values, not ${type.kind}`,
      );
      continue;
    }
    if (keyword === 'pattern') {
      const portable = portablePattern(value as string);
      if (!portable.ok) {
        reporter.error('input_schema', { path: [...path, keyword], stringOffset: portable.offset }, portable.message);
        continue;
      }
      args.push({ name: arg, value: portable.pattern });
      continue;
    }
    args.push({ name: arg, value });
  }
  validateDefault(schema, type, path, reporter);
  return args;
}

/** True when the JSON value `v` has the (top-level) kind of `type`. */
function fits(v: unknown, type: Type): boolean {
  switch (type.kind) {
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    default:
      return true;
  }
}

function validateDefault(schema: InputSchema, type: Type, path: JsonPath, reporter: Reporter): void {
  (schema.enum ?? []).forEach((v, i) => {
    if (!fits(v, type))
      reporter.error(
        'input_schema',
        { path: [...path, 'enum', i] },
        `the enum value ${JSON.stringify(v)} is not a valid ${type.kind}`,
      );
  });
  const d = schema.default;
  if (d === undefined || type.kind === 'any') return;
  const ok = fits(d, type);
  if (!ok)
    reporter.error(
      'input_schema',
      { path: [...path, 'default'] },
      `the default ${JSON.stringify(d)} is not a valid ${type.kind}`,
    );
  if (ok && schema.enum && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(d))) {
    reporter.error(
      'input_schema',
      { path: [...path, 'default'] },
      `the default ${JSON.stringify(d)} is not one of the enum values`,
    );
  }
  const inner = ok ? mismatch(d, schema, '') : undefined;
  if (inner)
    reporter.error('input_schema', { path: [...path, 'default'] }, `the default does not match the schema: ${inner}`);
}

/** Where a default's nested objects and lists break their schema (types and required fields). */
function mismatch(value: unknown, schema: InputSchema, at: string): string | undefined {
  if (Array.isArray(value) && schema.items) {
    for (let i = 0; i < value.length; i++) {
      const problem = itemMismatch(value[i], schema.items, `${at}[${i}]`);
      if (problem) return problem;
    }
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    const props = schema.properties;
    const missing = (schema.required ?? []).find((k) => !Object.prototype.hasOwnProperty.call(value, k));
    if (missing) return `${at || 'it'} lacks the required field "${missing}"`;
    for (const [k, v] of Object.entries(value)) {
      if (!Object.prototype.hasOwnProperty.call(props, k)) {
        if (schema.additionalProperties !== true) return `${at ? `${at}.` : ''}${k} is not a declared property`;
        continue;
      }
      const problem = itemMismatch(v, props[k], `${at ? `${at}.` : ''}${k}`);
      if (problem) return problem;
    }
  }
  return undefined;
}

function itemMismatch(value: unknown, schema: InputSchema, at: string): string | undefined {
  const kind = schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : undefined);
  if (kind !== undefined && !fits(value, { kind } as Type)) return `${at} is not a valid ${kind}`;
  return mismatch(value, schema, at);
}
