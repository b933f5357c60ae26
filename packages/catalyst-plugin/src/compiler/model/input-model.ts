/**
 * The workflow's `input` JSON Schema → the pydantic classes to emit (as data: emit/input-classes.ts
 * writes their Python) and the static type expressions are checked against. Declared objects
 * become nested models, read by attribute; objects without declared properties stay
 * `dict[str, Any]`, read by key.
 */
import type { JsonPath } from '../report/diagnostics';
import type { Reporter } from '../report/reporter';
import type { InputSchema } from '../validate/schema';
import {
  ANY,
  BOOLEAN,
  INTEGER,
  NUMBER,
  STRING,
  holdsModel,
  type Field,
  type ObjectType,
  type Type,
} from '../expr/types';
import { PYTHON_BUILTIN_NAMES, PYTHON_KEYWORDS, pascalCase } from '../python/names';
import { MODULE_OF } from '../python/imports';
import { didYouMean, suggest } from '../util/suggest';
import { constraintArgs, type FieldArg } from './constraints';

/** A field's Python annotation, as data. */
export type Annotation =
  | { kind: 'str' | 'int' | 'float' | 'bool' | 'Any' | 'dict' }
  | { kind: 'list'; items: Annotation }
  /** A module-level alias for a list item with validation keywords of its own (`ModelClass.item`). */
  | { kind: 'alias'; name: string }
  | { kind: 'model'; name: string }
  | { kind: 'literal'; values: unknown[] };

export interface ModelField {
  /** The Python attribute. */
  attr: string;
  /** The JSON key, when it is not `attr` (`Field(alias=...)`). */
  alias?: string;
  annotation: Annotation;
  /** `| None`: optional and without a default. */
  orNone: boolean;
  /** Required fields have none; optional ones their JSON default, or null. */
  default?: { value: unknown };
  /** Validation keywords, in a fixed order. */
  constraints: FieldArg[];
  description?: string;
  /** pydantic does not validate defaults: a dict default must still become the nested model. */
  validateDefault: boolean;
}

export interface ModelClass {
  name: string;
  /**
   * Set when this is not a class but an alias for a list's item type with the item's own
   * validation keywords: `OrderTagsItem = Annotated[str, Field(min_length=2)]`. (An alias, not
   * the same `Annotated[...]` inline in the field: the annotation stays short and readable.)
   */
  item?: { inner: Annotation; constraints: FieldArg[] };
  /** In declaration order. */
  fields: ModelField[];
  extra: 'forbid' | 'allow';
  /** The fields a trace may record (`trace: { input: [...] }`): JSON key and attribute. */
  traced?: { key: string; attr: string }[];
}

export interface InputModel {
  className: string;
  type: ObjectType;
  /** Classes in definition order: nested models before the models using them. */
  classes: ModelClass[];
}

/** Attributes of pydantic's BaseModel that a field must not shadow. */
const BASEMODEL_NAMES = new Set([
  'copy',
  'dict',
  'json',
  'schema',
  'schema_json',
  'construct',
  'validate',
  'fields',
  'parse_obj',
  'parse_raw',
  'parse_file',
  'from_orm',
  'update_forward_refs',
]);

export function buildInputModel(schema: InputSchema | undefined, className: string, reporter: Reporter): InputModel {
  const model: InputModel = { className, type: { kind: 'object', fields: new Map(), model: className }, classes: [] };
  const root = schema ?? { type: 'object', properties: {} };
  if (root.type !== undefined && root.type !== 'object') {
    reporter.error(
      'input_schema',
      { path: ['input', 'type'] },
      `the input must be an object (type: object), not ${root.type}: requests send a JSON object`,
    );
    return model;
  }
  const builder = new ModelBuilder(model, reporter, new Set(), className);
  // `input: { type: object }` without properties is any JSON object, as documented: a model that
  // keeps every field (extra="allow"), read by key from `model_extra`.
  const free = schema?.type === 'object' && schema.properties === undefined && schema.additionalProperties !== false;
  model.type = builder.objectModel(
    { ...root, properties: root.properties ?? {}, ...(free ? { additionalProperties: true } : {}) },
    className,
    ['input'],
  );
  return model;
}

/**
 * A JSON Schema other than the input (an `llm` node's `output_schema`) as pydantic classes, made
 * exactly as the input's are, so the two cannot drift: `className` and the classes nested in it,
 * reported at `path`. `taken`: class names already used in the module.
 */
export function buildSchemaModel(
  schema: InputSchema,
  className: string,
  path: JsonPath,
  reporter: Reporter,
  taken: Set<string>,
): InputModel {
  const model: InputModel = { className, type: { kind: 'object', fields: new Map(), model: className }, classes: [] };
  if (schema.type !== undefined && schema.type !== 'object') {
    reporter.error(
      'input_schema',
      { path: [...path, 'type'] },
      `the schema must describe an object (type: object), not ${schema.type}: wrap the value in a property, e.g. properties: { value: { type: ${schema.type} } }`,
    );
    return model;
  }
  const builder = new ModelBuilder(model, reporter, taken, className);
  model.type = builder.objectModel({ ...schema, properties: schema.properties ?? {} }, className, path);
  return model;
}

class ModelBuilder {
  constructor(
    private readonly model: InputModel,
    private readonly reporter: Reporter,
    private readonly classNames: Set<string>,
    /** The root class's name, which every nested class's name starts with. */
    private readonly rootName: string,
  ) {}

  private uniqueName(wanted: string): string {
    let name = wanted;
    for (let n = 2; this.classNames.has(name); n++) name = `${wanted}${n}`;
    this.classNames.add(name);
    return name;
  }

  objectModel(schema: InputSchema, wanted: string, path: JsonPath): ObjectType {
    const name = this.uniqueName(wanted);
    const properties = schema.properties ?? {};
    const required = new Set(schema.required ?? []);
    (schema.required ?? []).forEach((key, i) => {
      if (!Object.prototype.hasOwnProperty.call(properties, key)) {
        const hint = didYouMean(key, Object.keys(properties));
        this.reporter.error(
          'input_schema',
          { path: [...path, 'required', i] },
          `required field "${key}" is not among the declared properties${hint}`,
          suggest(key, Object.keys(properties)),
        );
      }
    });
    const fields = new Map<string, Field>();
    const modelFields: ModelField[] = [];
    const attrs = new Set<string>();
    for (const [key, prop] of Object.entries(properties)) {
      const propPath = [...path, 'properties', key];
      const attr = attributeName(key, attrs, this.rootName);
      attrs.add(attr);
      const { type, annotation } = this.annotate(prop, `${name}${pascalCase(attr) || 'Field'}`, propPath);
      const field: ModelField = {
        attr,
        annotation,
        orNone: false,
        constraints: constraintArgs(prop, type, propPath, this.reporter),
        validateDefault: false,
      };
      if (attr !== key) field.alias = key;
      if (prop.description !== undefined) field.description = prop.description;
      let fieldType = type;
      if (required.has(key)) {
        if (prop.default !== undefined)
          this.reporter.warning(
            'input_schema',
            { path: [...propPath, 'default'], key: true },
            `"${key}" is required, so its default is never used`,
          );
      } else if (prop.default !== undefined) {
        field.default = { value: prop.default };
        field.validateDefault = holdsModel(type);
      } else {
        field.default = { value: null };
        field.orNone = true;
        fieldType = { ...type, nullable: true };
      }
      modelFields.push(field);
      fields.set(key, { type: fieldType, attr });
    }
    const extra = schema.additionalProperties === true;
    this.model.classes.push({ name, fields: modelFields, extra: extra ? 'allow' : 'forbid' });
    return { kind: 'object', fields, model: name, extra: extra || undefined };
  }

  private annotate(schema: InputSchema, nestedName: string, path: JsonPath): { type: Type; annotation: Annotation } {
    const kind = schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : undefined);
    if (schema.enum !== undefined) {
      const base =
        kind === 'integer'
          ? INTEGER
          : kind === 'number'
            ? NUMBER
            : kind === 'boolean'
              ? BOOLEAN
              : kind === undefined
                ? ANY
                : STRING;
      return { type: base, annotation: { kind: 'literal', values: schema.enum } };
    }
    switch (kind) {
      case 'string':
        return { type: STRING, annotation: { kind: 'str' } };
      case 'integer':
        return { type: INTEGER, annotation: { kind: 'int' } };
      case 'number':
        return { type: NUMBER, annotation: { kind: 'float' } };
      case 'boolean':
        return { type: BOOLEAN, annotation: { kind: 'bool' } };
      case 'array': {
        if (!schema.items)
          return { type: { kind: 'array', items: ANY }, annotation: { kind: 'list', items: ANY_FIELD.annotation } };
        const itemPath = [...path, 'items'];
        const item = this.annotate(schema.items, `${nestedName}Item`, itemPath);
        // The items' own keywords (`items: { type: string, pattern: ... }`) bind each item: every
        // input has a limit, a list's items included.
        const constraints = constraintArgs(schema.items, item.type, itemPath, this.reporter);
        if (constraints.length === 0)
          return { type: { kind: 'array', items: item.type }, annotation: { kind: 'list', items: item.annotation } };
        const name = this.uniqueName(`${nestedName}Item`);
        this.model.classes.push({ name, fields: [], extra: 'forbid', item: { inner: item.annotation, constraints } });
        return {
          type: { kind: 'array', items: item.type },
          annotation: { kind: 'list', items: { kind: 'alias', name } },
        };
      }
      case 'object': {
        if (schema.properties === undefined)
          return { type: { kind: 'object', fields: null }, annotation: { kind: 'dict' } };
        // The class may be renamed to stay unique: annotate with the name it got.
        const type = this.objectModel(schema, nestedName, path);
        return { type, annotation: { kind: 'model', name: type.model! } };
      }
      default:
        return ANY_FIELD;
    }
  }
}

const ANY_FIELD = { type: ANY, annotation: { kind: 'Any' } } as const;

/**
 * The Python attribute for a JSON property: itself when safe, else a mangled name (aliased).
 * pydantic evaluates a class's annotations in the class namespace, and the class body reads
 * `Field`, so an attribute must not take a name the module's classes read: a builtin (`list`,
 * `str`, `int`), an imported name (`Literal`, `Field`, `BaseModel`) or a model class's name
 * (all start with the root class's name). Those become `list_` with `alias="list"`.
 */
function attributeName(key: string, taken: Set<string>, rootName: string): string {
  const ok =
    /^[A-Za-z][A-Za-z0-9_]*$/.test(key) &&
    !PYTHON_KEYWORDS.has(key) &&
    !PYTHON_BUILTIN_NAMES.has(key) &&
    !Object.prototype.hasOwnProperty.call(MODULE_OF, key) &&
    !key.startsWith(rootName) &&
    !key.startsWith('model_') &&
    !BASEMODEL_NAMES.has(key);
  let base = ok ? key : `${key.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^[_0-9]+/, '') || 'field'}_`;
  if (/^model_/.test(base)) base = `f_${base}`;
  let attr = base;
  for (let n = 2; taken.has(attr); n++) attr = `${base}${n}`;
  return attr;
}
