/**
 * The workflow's `input` JSON Schema → pydantic classes (as a view-model) and the static type
 * expressions are checked against. Declared objects become nested models, read by attribute;
 * objects without declared properties stay `dict[str, Any]`, read by key.
 */
import type { JsonPath } from '../diagnostics';
import { pyString, pyValue } from '../emit/py-literal';
import { atom, callDoc, layout } from '../emit/value-code';
import type { Reporter } from '../report';
import type { InputSchema } from '../validate/schema';
import { ANY, BOOLEAN, INTEGER, NUMBER, STRING, holdsModel, type Field, type ObjectType, type Type } from '../expr/types';
import { PYTHON_KEYWORDS, pascalCase } from '../util/python-names';
import { didYouMean, suggest } from '../util/suggest';
import { checkConstraints } from './constraints';

export interface ModelClass {
  name: string;
  /** `name: annotation = default` lines, in declaration order. */
  fields: string[];
  extra: 'forbid' | 'allow';
}

export interface InputModel {
  className: string;
  type: ObjectType;
  /** Classes in definition order: nested models before the models using them. */
  classes: ModelClass[];
  typingImports: Set<'Any' | 'Literal'>;
  usesField: boolean;
}

/** Attributes of pydantic's BaseModel that a field must not shadow. */
const BASEMODEL_NAMES = new Set(['copy', 'dict', 'json', 'schema', 'schema_json', 'construct', 'validate', 'fields', 'parse_obj', 'parse_raw', 'parse_file', 'from_orm', 'update_forward_refs']);

export function buildInputModel(schema: InputSchema | undefined, className: string, reporter: Reporter): InputModel {
  const model: InputModel = { className, type: { kind: 'object', fields: new Map(), model: className }, classes: [], typingImports: new Set(), usesField: false };
  const root = schema ?? { type: 'object', properties: {} };
  if (root.type !== undefined && root.type !== 'object') {
    reporter.error('input_schema', { path: ['input', 'type'] }, `the input must be an object (type: object), not ${root.type}: requests send a JSON object`);
    return model;
  }
  const builder = new ModelBuilder(model, reporter, new Set());
  model.type = builder.objectModel({ ...root, properties: root.properties ?? {} }, className, ['input']);
  return model;
}

class ModelBuilder {
  constructor(
    private readonly model: InputModel,
    private readonly reporter: Reporter,
    private readonly classNames: Set<string>,
  ) {}

  objectModel(schema: InputSchema, wanted: string, path: JsonPath): ObjectType {
    let name = wanted;
    for (let n = 2; this.classNames.has(name); n++) name = `${wanted}${n}`;
    this.classNames.add(name);
    const properties = schema.properties ?? {};
    const required = new Set(schema.required ?? []);
    (schema.required ?? []).forEach((key, i) => {
      if (!Object.prototype.hasOwnProperty.call(properties, key)) {
        const hint = didYouMean(key, Object.keys(properties));
        this.reporter.error('input_schema', { path: [...path, 'required', i] }, `required field "${key}" is not among the declared properties${hint}`, suggest(key, Object.keys(properties)));
      }
    });
    const fields = new Map<string, Field>();
    const lines: string[] = [];
    const attrs = new Set<string>();
    for (const [key, prop] of Object.entries(properties)) {
      const propPath = [...path, 'properties', key];
      const attr = attributeName(key, attrs);
      attrs.add(attr);
      const { type, annotation } = this.annotate(prop, `${name}${pascalCase(attr) || 'Field'}`, propPath);
      const args = checkConstraints(prop, type, propPath, this.reporter);
      if (attr !== key) args.unshift(`alias=${pyString(key)}`);
      if (prop.description !== undefined) args.push(`description=${pyString(prop.description)}`);
      let fieldType = type;
      let defaultValue: string | undefined;
      if (required.has(key)) {
        if (prop.default !== undefined) this.reporter.warning('input_schema', { path: [...propPath, 'default'], key: true }, `"${key}" is required, so its default is never used`);
      } else if (prop.default !== undefined) {
        defaultValue = pyValue(prop.default);
        // pydantic does not validate defaults: a dict default must still become the nested model.
        if (holdsModel(type)) args.push('validate_default=True');
      } else {
        defaultValue = 'None';
        fieldType = { ...type, nullable: true };
      }
      const fullAnnotation = defaultValue === 'None' && prop.default === undefined ? `${annotation} | None` : annotation;
      const head = `${attr}: ${fullAnnotation}`;
      lines.push(`${head}${fieldValue(head, defaultValue, args)}`);
      if (args.length > 0) this.model.usesField = true;
      fields.set(key, { type: fieldType, attr });
    }
    const extra = schema.additionalProperties === true;
    this.model.classes.push({ name, fields: lines, extra: extra ? 'allow' : 'forbid' });
    return { kind: 'object', fields, model: name, extra: extra || undefined };
  }

  private annotate(schema: InputSchema, nestedName: string, path: JsonPath): { type: Type; annotation: string } {
    const kind = schema.type ?? (schema.properties ? 'object' : schema.items ? 'array' : undefined);
    if (schema.enum !== undefined) {
      this.model.typingImports.add('Literal');
      const base = kind === 'integer' ? INTEGER : kind === 'number' ? NUMBER : kind === 'boolean' ? BOOLEAN : kind === undefined ? ANY : STRING;
      return { type: base, annotation: `Literal[${schema.enum.map(pyValue).join(', ')}]` };
    }
    switch (kind) {
      case 'string':
        return { type: STRING, annotation: 'str' };
      case 'integer':
        return { type: INTEGER, annotation: 'int' };
      case 'number':
        return { type: NUMBER, annotation: 'float' };
      case 'boolean':
        return { type: BOOLEAN, annotation: 'bool' };
      case 'array': {
        const item = schema.items ? this.annotate(schema.items, `${nestedName}Item`, [...path, 'items']) : this.anyType();
        return { type: { kind: 'array', items: item.type }, annotation: `list[${item.annotation}]` };
      }
      case 'object':
        if (schema.properties === undefined) {
          this.model.typingImports.add('Any');
          return { type: { kind: 'object', fields: null }, annotation: 'dict[str, Any]' };
        }
        return { type: this.objectModel(schema, nestedName, path), annotation: nestedName };
      default:
        return this.anyType();
    }
  }

  private anyType(): { type: Type; annotation: string } {
    this.model.typingImports.add('Any');
    return { type: ANY, annotation: 'Any' };
  }
}

/** The Python attribute for a JSON property: itself when safe, else a mangled name (aliased). */
function attributeName(key: string, taken: Set<string>): string {
  const ok = /^[A-Za-z][A-Za-z0-9_]*$/.test(key) && !PYTHON_KEYWORDS.has(key) && !key.startsWith('model_') && !BASEMODEL_NAMES.has(key);
  let base = ok ? key : `${key.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^[_0-9]+/, '') || 'field'}_`;
  if (/^model_/.test(base)) base = `f_${base}`;
  let attr = base;
  for (let n = 2; taken.has(attr); n++) attr = `${base}${n}`;
  return attr;
}

/** ` = default`, or ` = Field(...)` laid out for a class body (indent 4) after `head`. */
function fieldValue(head: string, defaultValue: string | undefined, args: string[]): string {
  if (args.length === 0) return defaultValue === undefined ? '' : ` = ${defaultValue}`;
  const all = defaultValue === undefined ? args : [`default=${defaultValue}`, ...args];
  return ` = ${layout(callDoc('Field', all.map(atom)), 4, head.length + 3)}`;
}
