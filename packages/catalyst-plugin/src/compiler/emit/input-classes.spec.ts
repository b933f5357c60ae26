/**
 * The input model's classes as Python, read whole from hand-made models: each annotation, each
 * `Field` argument in its order, item aliases, the trace table, and where each breaks its line.
 * The golden folders hold these through whole modules; these say which rule broke, in milliseconds.
 */
import type { ModelClass, ModelField } from '../model/input-model';
import { classCode } from './input-classes';

const field = (f: Partial<ModelField> & Pick<ModelField, 'attr'>): ModelField => ({
  annotation: { kind: 'str' },
  orNone: false,
  constraints: [],
  validateDefault: false,
  ...f,
});

const model = (fields: ModelField[], more: Partial<ModelClass> = {}): ModelClass => ({
  name: 'M',
  fields,
  extra: 'forbid',
  ...more,
});

const fieldsOf = (...fields: ModelField[]): string[] => classCode(model(fields)).fields;

describe('classCode: annotations', () => {
  it('writes each kind of annotation', () => {
    expect(
      fieldsOf(
        field({ attr: 's' }),
        field({ attr: 'i', annotation: { kind: 'int' } }),
        field({ attr: 'f', annotation: { kind: 'float' } }),
        field({ attr: 'b', annotation: { kind: 'bool' } }),
        field({ attr: 'a', annotation: { kind: 'Any' } }),
        field({ attr: 'd', annotation: { kind: 'dict' } }),
        field({ attr: 'l', annotation: { kind: 'list', items: { kind: 'list', items: { kind: 'int' } } } }),
        field({ attr: 'm', annotation: { kind: 'model', name: 'Inner' } }),
        field({ attr: 't', annotation: { kind: 'list', items: { kind: 'alias', name: 'MTItem' } } }),
        field({ attr: 'e', annotation: { kind: 'literal', values: ['a', 1, true, null] } }),
      ),
    ).toEqual([
      's: str',
      'i: int',
      'f: float',
      'b: bool',
      'a: Any',
      'd: dict[str, Any]',
      'l: list[list[int]]',
      'm: Inner',
      't: list[MTItem]',
      'e: Literal["a", 1, True, None]',
    ]);
  });

  it('adds `| None` to an optional field without a default', () => {
    expect(fieldsOf(field({ attr: 'x', orNone: true, default: { value: null } }))).toEqual(['x: str | None = None']);
  });
});

describe('classCode: defaults and Field arguments', () => {
  it('writes a plain default without Field, and Field only when it has arguments', () => {
    expect(
      fieldsOf(
        field({ attr: 'a', default: { value: '!' } }),
        field({ attr: 'b', annotation: { kind: 'int' }, default: { value: 0 } }),
        field({ attr: 'c', annotation: { kind: 'list', items: { kind: 'str' } }, default: { value: ['x'] } }),
      ),
    ).toEqual(['a: str = "!"', 'b: int = 0', 'c: list[str] = ["x"]']);
  });

  it('puts the alias first, then the constraints, the description and validate_default', () => {
    const all = field({
      attr: 'when_',
      alias: 'when',
      constraints: [
        { name: 'min_length', value: 1 },
        { name: 'pattern', value: '^a"b$' },
      ],
      description: 'The "when".',
      validateDefault: true,
    });
    expect(fieldsOf(all)).toEqual([
      'when_: str = Field(\n' +
        '        alias="when",\n' +
        '        min_length=1,\n' +
        "        pattern='^a\"b$',\n" +
        '        description=\'The "when".\',\n' +
        '        validate_default=True,\n' +
        '    )',
    ]);
    expect(fieldsOf(field({ attr: 'd', description: 'D' }))).toEqual(['d: str = Field(description="D")']);
    expect(fieldsOf(field({ attr: 'v', annotation: { kind: 'model', name: 'V' }, validateDefault: true }))).toEqual([
      'v: V = Field(validate_default=True)',
    ]);
  });

  it('writes the default first among Field arguments', () => {
    expect(
      fieldsOf(
        field({
          attr: 'n',
          annotation: { kind: 'int' },
          default: { value: 3 },
          constraints: [{ name: 'ge', value: 1 }],
        }),
      ),
    ).toEqual(['n: int = Field(default=3, ge=1)']);
  });

  it('writes integer bounds as integers and others as floats', () => {
    expect(
      fieldsOf(
        field({
          attr: 'x',
          annotation: { kind: 'float' },
          constraints: [
            { name: 'ge', value: 0 },
            { name: 'lt', value: 2.5 },
            { name: 'multiple_of', value: -0.5 },
          ],
        }),
      ),
    ).toEqual(['x: float = Field(ge=0, lt=2.5, multiple_of=-0.5)']);
  });

  it('breaks Field(...) where the field line passes 88 columns, after `    attr: annotation = `', () => {
    // `    d: str = Field(description="…")`: 4 + 10 + 15 + text + 2 columns.
    const fits = 'x'.repeat(88 - '    d: str = Field(description="")'.length);
    expect(fieldsOf(field({ attr: 'd', description: fits }))).toEqual([`d: str = Field(description="${fits}")`]);
    expect(fieldsOf(field({ attr: 'd', description: `${fits}x` }))).toEqual([
      `d: str = Field(\n        description="${fits}x"\n    )`,
    ]);
  });
});

describe('classCode: classes, item aliases and traces', () => {
  it('gives the class its name, its extra= literal and no alias or trace by default', () => {
    expect(classCode(model([field({ attr: 'a' })], { name: 'Orders', extra: 'allow' }))).toEqual({
      name: 'Orders',
      extraLiteral: '"allow"',
      fields: ['a: str'],
    });
  });

  it('writes an item alias as one Annotated statement with the item keywords', () => {
    const alias: ModelClass = {
      name: 'OrderTagsItem',
      item: { inner: { kind: 'str' }, constraints: [{ name: 'min_length', value: 2 }] },
      fields: [],
      extra: 'forbid',
    };
    expect(classCode(alias)).toEqual({
      name: 'OrderTagsItem',
      alias: 'OrderTagsItem = Annotated[str, Field(min_length=2)]',
      extraLiteral: '',
      fields: [],
    });
    const long = (pattern: string): ModelClass => ({
      ...alias,
      item: {
        inner: { kind: 'list', items: { kind: 'int' } },
        constraints: [
          { name: 'min_length', value: 1 },
          { name: 'max_length', value: 10 },
          { name: 'pattern', value: pattern },
        ],
      },
    });
    // Laid out from column 0 after `OrderTagsItem = `: both items on one indented line while they fit.
    const p = 'p'.repeat(27);
    expect(classCode(long(p)).alias).toBe(
      `OrderTagsItem = Annotated[\n    list[int], Field(min_length=1, max_length=10, pattern="${p}")\n]`,
    );
    expect(classCode(long(`${p}p`)).alias).toBe(
      `OrderTagsItem = Annotated[\n    list[int],\n    Field(min_length=1, max_length=10, pattern="${p}p"),\n]`,
    );
  });

  it('writes the trace table from JSON key to attribute, broken at indent 4 when long', () => {
    const traced = (pairs: [string, string][]) =>
      classCode(model([], { traced: pairs.map(([key, attr]) => ({ key, attr })) })).traceLine;
    expect(traced([['when', 'when_']])).toBe('__catalyst_trace__ = {"when": "when_"}');
    const long = traced([
      ['customer_email_address', 'customer_email_address'],
      ['shipping_postcode', 'shipping_postcode'],
    ]);
    // A dict goes one item per line even where the items would fit on one indented line (a call's layout).
    const k = 'k'.repeat(15);
    const v = 'v'.repeat(15);
    expect(
      traced([
        [k, k],
        [v, v],
      ]),
    ).toBe(`__catalyst_trace__ = {\n        "${k}": "${k}",\n        "${v}": "${v}",\n    }`);
    expect(long).toBe(
      '__catalyst_trace__ = {\n' +
        '        "customer_email_address": "customer_email_address",\n' +
        '        "shipping_postcode": "shipping_postcode",\n' +
        '    }',
    );
  });
});
