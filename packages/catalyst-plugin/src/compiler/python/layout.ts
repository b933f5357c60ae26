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
 * `or` (else `and`) chain on its own line, starting with the operator; an operand too long for
 * its line that is a bound default, `(...) is not None`, breaks as `openTested` says.
 */
function breakTest(test: string, indent: number): string {
  if (indent + 'if '.length + test.length <= LINE_WIDTH) return test;
  const pad = ' '.repeat(indent);
  for (const op of ['or', 'and']) {
    const parts = splitTopLevel(test, ` ${op} `);
    if (parts.length > 1)
      return parts
        .map((p, i) =>
          i === 0 ? openTested(p, indent, 'if '.length) : `${op} ${openTested(p, indent, op.length + 1)}`,
        )
        .join(`\n${pad}`);
  }
  return openTested(test, indent, 'if '.length);
}

/**
 * One operand of a test, `lead` columns past the indent: a bound value `(...) is not None` too
 * long for its line gets its `is not None` on the next line, and if still too long its brackets
 * open and what they hold breaks as a test would.
 */
function openTested(part: string, indent: number, lead: number): string {
  if (indent + lead + part.length <= LINE_WIDTH) return part;
  const compared = splitTopLevel(part, ' is not None');
  if (compared.length !== 2 || compared[1] !== '' || !bracketed(compared[0])) return part;
  const pad = ' '.repeat(indent);
  if (indent + lead + compared[0].length <= LINE_WIDTH) return `${compared[0]}\n${pad}is not None`;
  const inner = indent + 4;
  return `(\n${' '.repeat(inner)}${breakHeld(compared[0].slice(1, -1), inner)}\n${pad})\n${pad}is not None`;
}

/**
 * What a bracket holds (`_d0 := a if t else b`, `_d0 := a and b`), at column `indent`, as ruff
 * breaks it: one conditional before `if` and `else`, else a top-level `or`, `and`, `+`/`-` or
 * `*`/`/`/`%` chain (the loosest found) before each operator. A line still too long that ends in
 * a bracketed value opens that bracket in turn.
 */
function breakHeld(code: string, indent: number): string {
  if (indent + code.length <= LINE_WIDTH) return code;
  const lines = (segments: string[]): string =>
    segments.map((line) => openLast(line, indent)).join(`\n${' '.repeat(indent)}`);
  const [body, ...rest] = splitTopLevel(code, ' if ');
  const branches = rest.length === 1 ? splitTopLevel(rest[0], ' else ') : [];
  if (branches.length === 2) return lines([body, `if ${branches[0]}`, `else ${branches[1]}`]);
  for (const ops of [['or'], ['and'], ['+', '-'], ['*', '/', '%']]) {
    const segments = splitOperators(code, ops);
    if (segments.length > 1) return lines(segments);
  }
  return code;
}

/** `code` split before each top-level binary operator of `ops`, each piece after the first led by its operator. */
function splitOperators(code: string, ops: string[]): string[] {
  const { parts, found } = splitAt(
    code,
    ops.map((op) => ` ${op} `),
  );
  return parts.map((part, k) => (k === 0 ? part : `${found[k - 1].trim()} ${part}`));
}

/** A line at column `indent` too long for it that ends in a bracketed value (`_d0 := (...)`, `else (...)`): the bracket opens. */
function openLast(line: string, indent: number): string {
  if (indent + line.length > LINE_WIDTH) {
    const start = lastGroupStart(line);
    if (start === 0 || (start > 0 && line[start - 1] === ' ')) {
      const inner = indent + 4;
      return `${line.slice(0, start)}(\n${' '.repeat(inner)}${breakHeld(line.slice(start + 1, -1), inner)}\n${' '.repeat(indent)})`;
    }
  }
  return line;
}

/** Where the `(` that closes at the end of `code` opens, at the top level; -1 if `code` does not end so. */
function lastGroupStart(code: string): number {
  let start = -1;
  for (const { i, depth } of outsideStrings(code)) {
    if (depth !== 0) continue;
    if ('([{'.includes(code[i])) start = code[i] === '(' ? i : -1;
    else if (')]}'.includes(code[i]) && i === code.length - 1) return start;
  }
  return -1;
}

/** Whether `code` is one bracketed group: the `(` it starts with closes at its end. */
function bracketed(code: string): boolean {
  return lastGroupStart(code) === 0;
}

/** `code` split at each `sep` outside brackets and string literals. */
function splitTopLevel(code: string, sep: string): string[] {
  return splitAt(code, [sep]).parts;
}

/** `code` split at each of `seps` outside brackets and string literals, and the one found at each cut. */
function splitAt(code: string, seps: string[]): { parts: string[]; found: string[] } {
  const parts: string[] = [];
  const found: string[] = [];
  let start = 0;
  for (const { i, depth } of outsideStrings(code)) {
    if (depth !== 0 || i < start) continue;
    const sep = seps.find((s) => code.startsWith(s, i));
    if (sep === undefined) continue;
    parts.push(code.slice(start, i));
    found.push(sep);
    start = i + sep.length;
  }
  parts.push(code.slice(start));
  return { parts, found };
}

/**
 * Each character of `code` outside its string literals, with the bracket depth around it (a
 * bracket's own depth is the one outside it).
 */
function* outsideStrings(code: string): Generator<{ i: number; depth: number }> {
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (c === '"' || c === "'") {
      for (i++; i < code.length && code[i] !== c; i++) if (code[i] === '\\') i++;
      continue;
    }
    if (c === ')' || c === ']' || c === '}') depth--;
    yield { i, depth };
    if (c === '(' || c === '[' || c === '{') depth++;
  }
}
