/** JSON Schema validation keywords → pydantic `Field(...)` arguments, checked against the type. */
import type { JsonPath } from '../diagnostics';
import { pyNumber, pyString } from '../emit/py-literal';
import type { Type } from '../expr/types';
import type { Reporter } from '../report';
import type { InputSchema } from '../validate/schema';

type Keyword = 'minLength' | 'maxLength' | 'pattern' | 'minimum' | 'maximum' | 'exclusiveMinimum' | 'exclusiveMaximum' | 'minItems' | 'maxItems';

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

export function checkConstraints(schema: InputSchema, type: Type, path: JsonPath, reporter: Reporter): string[] {
  const args: string[] = [];
  for (const keyword of Object.keys(KEYWORDS) as Keyword[]) {
    const value = schema[keyword];
    if (value === undefined) continue;
    const { arg, applies } = KEYWORDS[keyword];
    if (!applies.includes(type.kind)) {
      reporter.error('input_schema', { path: [...path, keyword], key: true }, `"${keyword}" applies to ${applies.join(' and ')} values, not ${type.kind}`);
      continue;
    }
    if (keyword === 'pattern') {
      try {
        new RegExp(value as string, 'u');
      } catch {
        reporter.error('input_schema', { path: [...path, keyword] }, `"pattern" is not a valid regular expression`);
        continue;
      }
      args.push(`${arg}=${pyString(value as string)}`);
    } else {
      args.push(`${arg}=${pyNumber(value as number, Number.isInteger(value))}`);
    }
  }
  checkDefault(schema, type, path, reporter);
  return args;
}

function checkDefault(schema: InputSchema, type: Type, path: JsonPath, reporter: Reporter): void {
  const d = schema.default;
  if (d === undefined || type.kind === 'any') return;
  const ok =
    (type.kind === 'string' && typeof d === 'string') ||
    (type.kind === 'integer' && Number.isInteger(d)) ||
    (type.kind === 'number' && typeof d === 'number') ||
    (type.kind === 'boolean' && typeof d === 'boolean') ||
    (type.kind === 'array' && Array.isArray(d)) ||
    (type.kind === 'object' && d !== null && typeof d === 'object' && !Array.isArray(d));
  if (!ok) reporter.error('input_schema', { path: [...path, 'default'] }, `the default ${JSON.stringify(d)} is not a valid ${type.kind}`);
  if (ok && schema.enum && !schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(d))) {
    reporter.error('input_schema', { path: [...path, 'default'] }, `the default ${JSON.stringify(d)} is not one of the enum values`);
  }
}
