/**
 * The keys a zod object schema accepts at a JSON path, for "did you mean" on unknown fields.
 * Walks zod's public definitions (`_zod.def`) alongside the value, choosing the branch of a
 * discriminated union by the value's discriminator.
 */
import type { z } from 'zod';
import type { JsonPath } from '../report/diagnostics';
import { own } from '../util/own';
import { Workflow } from './schema';

type AnyDef = { type: string } & Record<string, unknown>;

const defOf = (schema: unknown): AnyDef => (schema as { _zod: { def: AnyDef } })._zod.def;

export function knownKeysAt(root: unknown, path: JsonPath): string[] {
  let schema: unknown = Workflow;
  let value = root;
  for (const part of [...path, undefined]) {
    schema = unwrap(schema, value);
    if (part === undefined) break;
    const def = defOf(schema);
    value = value !== null && typeof value === 'object' ? (value as Record<string | number, unknown>)[part] : undefined;
    if (def.type === 'object') schema = own(def.shape as Record<string, unknown>, String(part));
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else return [];
    if (schema === undefined) return [];
  }
  const def = defOf(schema);
  return def.type === 'object' ? Object.keys(def.shape as object) : [];
}

function unwrap(schema: unknown, value: unknown): unknown {
  for (let i = 0; i < 20; i++) {
    const def = defOf(schema);
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') schema = def.innerType;
    else if (def.type === 'lazy') schema = (def.getter as () => unknown)();
    else if (def.type === 'pipe') schema = def.in;
    else if (def.type === 'union') schema = pickOption(def, value);
    else return schema;
  }
  return schema;
}

function pickOption(def: AnyDef, value: unknown): unknown {
  const options = def.options as z.ZodType[];
  const discriminator = def.discriminator as string | undefined;
  if (discriminator && value !== null && typeof value === 'object') {
    const tag = (value as Record<string, unknown>)[discriminator];
    const match = options.find((o) => {
      const d = defOf(o);
      const field = d.type === 'object' ? defOf((d.shape as Record<string, unknown>)[discriminator]) : undefined;
      return field?.type === 'literal' && (field.values as unknown[]).includes(tag);
    });
    if (match) return match;
  }
  return options[0];
}
