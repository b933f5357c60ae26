/** Static types of expression values, as far as the compiler can know them. */

export type Type =
  | { kind: 'any' | 'null' | 'string' | 'integer' | 'number' | 'boolean'; nullable?: boolean }
  | { kind: 'array'; items: Type; nullable?: boolean }
  | ObjectType;

export interface ObjectType {
  kind: 'object';
  /** Known fields, or null for an open mapping (any key, any value). */
  fields: Map<string, Field> | null;
  /** Name of the pydantic class holding it (input objects): fields are attributes, not keys. */
  model?: string;
  /** The model also keeps undeclared fields (`additionalProperties: true`), in `model_extra`. */
  extra?: boolean;
  nullable?: boolean;
}

export interface Field {
  type: Type;
  /** The Python attribute name, for model fields. */
  attr?: string;
}

export const ANY: Type = { kind: 'any' };
export const STRING: Type = { kind: 'string' };
export const INTEGER: Type = { kind: 'integer' };
export const NUMBER: Type = { kind: 'number' };
export const BOOLEAN: Type = { kind: 'boolean' };
export const NULL: Type = { kind: 'null' };

export const isNumeric = (t: Type): boolean => t.kind === 'integer' || t.kind === 'number';

export function withNullable(t: Type, nullable: boolean): Type {
  return { ...t, nullable: nullable || undefined };
}

/** True when a value of `t` might be null at run time. */
export const mayBeNull = (t: Type): boolean => t.kind === 'null' || t.kind === 'any' || t.nullable === true;

/** The least type holding both (used for conditionals, `or`, defaults and list items). */
export function join(a: Type, b: Type): Type {
  if (a.kind === 'null') return withNullable(b, true);
  if (b.kind === 'null') return withNullable(a, true);
  const nullable = a.nullable === true || b.nullable === true;
  if (a.kind === b.kind && a.kind !== 'array' && a.kind !== 'object') return withNullable(a, nullable);
  if (isNumeric(a) && isNumeric(b)) return withNullable(NUMBER, nullable);
  if (a.kind === 'array' && b.kind === 'array')
    return { kind: 'array', items: join(a.items, b.items), nullable: nullable || undefined };
  // The same model or record on both sides (`input.address | default(input.home)`, one of them a
  // copy made non-null) keeps its fields, so a typo after the default is still an error.
  if (a.kind === 'object' && b.kind === 'object' && a.fields === b.fields && a.model === b.model && a.extra === b.extra)
    return withNullable(a, nullable);
  if (a.kind === 'object' && b.kind === 'object')
    return { kind: 'object', fields: null, nullable: nullable || undefined };
  return ANY;
}

/** The least type holding all of them (`any` for none). */
export function joinAll(types: Type[]): Type {
  return types.length === 0 ? ANY : types.reduce(join);
}

/** Human name: "string", "list of integer", "object", "string or null". */
export function typeName(t: Type): string {
  let base: string;
  if (t.kind === 'array')
    base = t.items.kind === 'any' ? 'list' : `list of ${typeName({ ...t.items, nullable: undefined })}`;
  else if (t.kind === 'object') base = 'object';
  else base = t.kind;
  return t.nullable && t.kind !== 'null' ? `${base} or null` : base;
}

/**
 * The type of the same value as plain data, which is what a value becomes once it is stored or
 * computed (node outputs, list literals, conditionals, defaults): models are dumped to dicts,
 * so fields are keys, not attributes, and a model keeping undeclared fields is an open mapping.
 */
export function plain(t: Type): Type {
  if (!containsModel(t)) return t;
  if (t.kind === 'array') return { ...t, items: plain(t.items) };
  if (t.kind !== 'object') return t;
  const open = t.fields === null || (t.model !== undefined && t.extra === true);
  const fields = open
    ? null
    : new Map([...t.fields!].map(([name, f]): [string, Field] => [name, { type: plain(f.type) }]));
  return { kind: 'object', fields, nullable: t.nullable };
}

/** A model anywhere inside: in an array, or in a field of a plain object. */
function containsModel(t: Type): boolean {
  if (t.kind === 'array') return containsModel(t.items);
  if (t.kind !== 'object') return false;
  return t.model !== undefined || [...(t.fields?.values() ?? [])].some((f) => containsModel(f.type));
}

/** True when the type holds pydantic models (which must be dumped before they leave the input). */
export function holdsModel(t: Type): boolean {
  if (t.kind === 'object') return t.model !== undefined;
  if (t.kind === 'array') return holdsModel(t.items);
  return false;
}
