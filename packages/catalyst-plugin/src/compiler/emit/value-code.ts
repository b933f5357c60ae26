/**
 * Layout of generated Python values, following `ruff format` (default 88 columns): a call, dict
 * or list stays on one line when it fits; otherwise each item goes on its own line with a
 * trailing comma, and items are laid out the same way in turn.
 */
import type { PyEmitter } from '../expr/emit';
import type { ValueTemplate } from '../expr/value';
import { pyString, pyValue } from './py-literal';

export const LINE_WIDTH = 88;

export type Doc = { kind: 'atom'; code: string } | { kind: 'group'; open: string; close: string; items: { prefix: string; doc: Doc }[] };

export const atom = (code: string): Doc => ({ kind: 'atom', code });

/** `fn(arg, ...)` as a breakable group. */
export const callDoc = (fn: string, args: Doc[]): Doc => ({ kind: 'group', open: `${fn}(`, close: ')', items: args.map((doc) => ({ prefix: '', doc })) });

export function valueDoc(v: ValueTemplate, emitter: PyEmitter): Doc {
  switch (v.kind) {
    case 'const':
      return atom(pyValue(v.value));
    case 'template':
      return atom(emitter.template(v.template).code);
    case 'list':
      return v.items.length === 0 ? atom('[]') : { kind: 'group', open: '[', close: ']', items: v.items.map((i) => ({ prefix: '', doc: valueDoc(i, emitter) })) };
    case 'object':
      return v.entries.length === 0
        ? atom('{}')
        : { kind: 'group', open: '{', close: '}', items: v.entries.map(([k, e]) => ({ prefix: `${pyString(k)}: `, doc: valueDoc(e, emitter) })) };
  }
}

function flat(doc: Doc): string {
  if (doc.kind === 'atom') return doc.code;
  return `${doc.open}${doc.items.map((i) => `${i.prefix}${flat(i.doc)}`).join(', ')}${doc.close}`;
}

/**
 * Renders `doc` starting at column `indent + used`, with `trailing` characters to follow it on
 * its last line. Continuation lines are indented absolutely.
 */
export function layout(doc: Doc, indent: number, used = 0, trailing = 0): string {
  const oneLine = flat(doc);
  if (doc.kind === 'atom' || indent + used + oneLine.length + trailing <= LINE_WIDTH) return oneLine;
  const pad = ' '.repeat(indent + 4);
  const lines = doc.items.map((i) => `${pad}${i.prefix}${layout(i.doc, indent + 4, i.prefix.length, 1)},`);
  return `${doc.open}\n${lines.join('\n')}\n${' '.repeat(indent)}${doc.close}`;
}

/** A value template as Python source at `indent`, after `used` characters on its first line. */
export function valueCode(v: ValueTemplate, emitter: PyEmitter, indent: number, used = 0): string {
  return layout(valueDoc(v, emitter), indent, used);
}
