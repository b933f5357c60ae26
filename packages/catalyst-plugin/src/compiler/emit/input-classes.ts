/**
 * The input model's pydantic classes as Python: each field `attr: annotation = default`, or
 * `= Field(...)` when it has an alias, constraints, a description or a model default.
 */
import type { FieldArg } from '../model/constraints';
import type { Annotation, ModelClass, ModelField } from '../model/input-model';
import { atom, callDoc, layout, type Doc } from '../python/layout';
import { pyNumber, pyString, pyValue } from '../python/literal';

export interface ClassCode {
  name: string;
  /** For an item alias, the whole statement (`Name = Annotated[...]`), laid out. */
  alias?: string;
  /** `extra=` of the model config, as a Python literal. */
  extraLiteral: string;
  /** One line (or laid-out statement) per field, at indent 4. */
  fields: string[];
  /** `__catalyst_trace__ = {...}`: the fields a trace may record, JSON key to attribute. */
  traceLine?: string;
}

export function classCode(cls: ModelClass): ClassCode {
  if (cls.item) {
    const annotated: Doc = {
      kind: 'group',
      open: 'Annotated[',
      close: ']',
      call: true,
      items: [
        { prefix: '', doc: atom(annotationCode(cls.item.inner)) },
        {
          prefix: '',
          doc: callDoc(
            'Field',
            cls.item.constraints.map((c) => atom(constraintCode(c))),
          ),
        },
      ],
    };
    const head = `${cls.name} = `;
    return { name: cls.name, alias: `${head}${layout(annotated, 0, head.length)}`, extraLiteral: '', fields: [] };
  }
  const code: ClassCode = { name: cls.name, extraLiteral: pyString(cls.extra), fields: cls.fields.map(fieldCode) };
  if (cls.traced) {
    // A dunder class attribute: pydantic leaves it alone (never a field), and no field can be
    // named so (mangled names are refused).
    const pairs = cls.traced.map((t) => atom(`${pyString(t.key)}: ${pyString(t.attr)}`));
    const head = '__catalyst_trace__ = ';
    const dict: Doc = {
      kind: 'group',
      open: '{',
      close: '}',
      call: false,
      items: pairs.map((doc) => ({ prefix: '', doc })),
    };
    code.traceLine = `${head}${layout(dict, 4, head.length)}`;
  }
  return code;
}

function annotationCode(a: Annotation): string {
  switch (a.kind) {
    case 'dict':
      return 'dict[str, Any]';
    case 'list':
      return `list[${annotationCode(a.items)}]`;
    case 'model':
    case 'alias':
      return a.name;
    case 'literal':
      return `Literal[${a.values.map(pyValue).join(', ')}]`;
    default:
      return a.kind;
  }
}

/** One validation keyword as a `Field` argument: `min_length=1`. */
function constraintCode(c: FieldArg): string {
  return `${c.name}=${typeof c.value === 'string' ? pyString(c.value) : pyNumber(c.value, Number.isInteger(c.value))}`;
}

/** `Field(...)` keyword arguments other than the default, in a fixed order. */
function fieldArgs(f: ModelField): string[] {
  const args = f.constraints.map(constraintCode);
  if (f.alias !== undefined) args.unshift(`alias=${pyString(f.alias)}`);
  if (f.description !== undefined) args.push(`description=${pyString(f.description)}`);
  if (f.validateDefault) args.push('validate_default=True');
  return args;
}

function fieldCode(f: ModelField): string {
  const head = `${f.attr}: ${annotationCode(f.annotation)}${f.orNone ? ' | None' : ''}`;
  const defaultValue = f.default === undefined ? undefined : pyValue(f.default.value);
  const args = fieldArgs(f);
  if (args.length === 0) return defaultValue === undefined ? head : `${head} = ${defaultValue}`;
  const all = defaultValue === undefined ? args : [`default=${defaultValue}`, ...args];
  return `${head} = ${layout(callDoc('Field', all.map(atom)), 4, head.length + 3)}`;
}
