/** A value template (a JSON value whose strings may hold expressions) as a layout document. */
import { atom, codeDoc, layout, type Doc } from '../python/layout';
import { pyString, pyValue } from '../python/literal';
import type { ExprEmitter } from './emit';
import type { ValueTemplate } from './value';

export function valueDoc(v: ValueTemplate, emitter: ExprEmitter): Doc {
  switch (v.kind) {
    case 'const':
      return atom(pyValue(v.value));
    case 'template':
      return codeDoc(emitter.template(v.template));
    case 'list':
      return v.items.length === 0
        ? atom('[]')
        : {
            kind: 'group',
            open: '[',
            close: ']',
            call: false,
            items: v.items.map((i) => ({ prefix: '', doc: valueDoc(i, emitter) })),
          };
    case 'object':
      return v.entries.length === 0
        ? atom('{}')
        : {
            kind: 'group',
            open: '{',
            close: '}',
            call: false,
            items: v.entries.map(([k, e]) => ({ prefix: `${pyString(k)}: `, doc: valueDoc(e, emitter) })),
          };
  }
}

/** A value template as Python source at `indent`, after `used` characters on its first line. */
export function valueCode(v: ValueTemplate, emitter: ExprEmitter, indent: number, used = 0): string {
  return layout(valueDoc(v, emitter), indent, used);
}
