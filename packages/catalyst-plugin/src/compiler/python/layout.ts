/**
 * Layout of generated Python, following `ruff format` (default 88 columns). A call stays on one
 * line when it fits, else puts its arguments on one indented line, else one per line with a
 * trailing comma; a dict or list that does not fit goes one item per line; a long conditional
 * breaks before `if` and `else`. Items are laid out the same way in turn.
 */

export const LINE_WIDTH = 88;

export type Doc =
  | { kind: 'atom'; code: string }
  | { kind: 'cond'; body: string; test: string; orelse: string }
  | { kind: 'group'; open: string; close: string; call: boolean; items: { prefix: string; doc: Doc }[] };

export const atom = (code: string): Doc => ({ kind: 'atom', code });

/** An emitted expression (code, or a conditional's three parts): a conditional can break across lines. */
export const codeDoc = (p: { code: string; cond?: { body: string; test: string; orelse: string } }): Doc =>
  p.cond ? { kind: 'cond', ...p.cond } : atom(p.code);

/** `fn(arg, ...)` as a breakable group. */
export const callDoc = (fn: string, args: Doc[]): Doc => ({
  kind: 'group',
  open: `${fn}(`,
  close: ')',
  call: true,
  items: args.map((doc) => ({ prefix: '', doc })),
});

function flat(doc: Doc): string {
  if (doc.kind === 'atom') return doc.code;
  if (doc.kind === 'cond') return `${doc.body} if ${doc.test} else ${doc.orelse}`;
  return `${doc.open}${doc.items.map((i) => `${i.prefix}${flat(i.doc)}`).join(', ')}${doc.close}`;
}

/**
 * Renders `doc` starting at column `indent + used`, with `trailing` characters to follow it on
 * its last line. Continuation lines are indented absolutely.
 */
export function layout(doc: Doc, indent: number, used = 0, trailing = 0): string {
  const oneLine = flat(doc);
  if (doc.kind === 'atom' || indent + used + oneLine.length + trailing <= LINE_WIDTH) return oneLine;
  const pad = ' '.repeat(indent);
  if (doc.kind === 'cond') return `${doc.body}\n${pad}if ${breakTest(doc.test, indent)}\n${pad}else ${doc.orelse}`;
  const inner = ' '.repeat(indent + 4);
  if (doc.call) {
    const args = doc.items.map((i) => `${i.prefix}${flat(i.doc)}`).join(', ');
    if (indent + 4 + args.length <= LINE_WIDTH) return `${doc.open}\n${inner}${args}\n${pad}${doc.close}`;
  }
  const lines = doc.items.map((i) => `${inner}${i.prefix}${layout(i.doc, indent + 4, i.prefix.length, 1)},`);
  return `${doc.open}\n${lines.join('\n')}\n${pad}${doc.close}`;
}

/**
 * A conditional's test after `if `: when it does not fit, ruff puts each operand of a top-level
 * `or` (else `and`) chain on its own line, starting with the operator; a lone parenthesised
 * `(...) is not None` (a bound default) gets its `is not None` on the next line.
 */
function breakTest(test: string, indent: number): string {
  const fits = (line: string): boolean => indent + 'if '.length + line.length <= LINE_WIDTH;
  if (fits(test)) return test;
  const pad = ' '.repeat(indent);
  for (const op of [' or ', ' and ']) {
    const parts = splitTopLevel(test, op);
    if (parts.length > 1) return parts.join(`\n${pad}${op.trimStart()}`);
  }
  const compared = splitTopLevel(test, ' is not None');
  if (compared.length === 2 && compared[1] === '' && bracketed(compared[0])) {
    if (fits(compared[0])) return `${compared[0]}\n${pad}is not None`;
    // Too long even alone: the brackets open, and what they hold breaks as a test would.
    const inner = indent + 4;
    return `(\n${' '.repeat(inner)}${breakHeld(compared[0].slice(1, -1), inner)}\n${pad})\n${pad}is not None`;
  }
  return test;
}

/**
 * What a bracket holds (`_d0 := a if t else b`, `_d0 := a and b`), at column `indent`: one
 * conditional breaks before `if` and `else`, else a top-level `or` (else `and`) chain before each
 * operator, as ruff does.
 */
function breakHeld(code: string, indent: number): string {
  if (indent + code.length <= LINE_WIDTH) return code;
  const pad = ' '.repeat(indent);
  const [body, ...rest] = splitTopLevel(code, ' if ');
  const branches = rest.length === 1 ? splitTopLevel(rest[0], ' else ') : [];
  if (branches.length === 2) return `${body}\n${pad}if ${branches[0]}\n${pad}else ${branches[1]}`;
  for (const op of [' or ', ' and ']) {
    const parts = splitTopLevel(code, op);
    if (parts.length > 1) return parts.join(`\n${pad}${op.trimStart()}`);
  }
  return code;
}

/** Whether `code` is one bracketed group: the `(` it starts with closes at its end. */
function bracketed(code: string): boolean {
  if (!code.startsWith('(')) return false;
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'") {
      for (i++; i < code.length && code[i] !== c; i++) if (code[i] === '\\') i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && --depth === 0) return i === code.length - 1;
  }
  return false;
}

/** `code` split at each `sep` outside brackets and string literals. */
function splitTopLevel(code: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'") {
      for (i++; i < code.length && code[i] !== c; i++) if (code[i] === '\\') i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && code.startsWith(sep, i)) {
      parts.push(code.slice(start, i));
      start = i + sep.length;
      i = start - 1;
    }
  }
  parts.push(code.slice(start));
  return parts;
}
