/**
 * Named placeholders in a `postgres` node's SQL. The definition writes `:name`; asyncpg (like
 * PostgreSQL's own protocol) numbers parameters `$1..$n`. The scanner skips what is not SQL
 * code, so a `:name` inside a string literal, a quoted identifier, a comment or a dollar-quoted
 * body is left alone, and so is a cast (`x::int`).
 */

export interface Placeholder {
  name: string;
  /** Offset of the `:` in the SQL text. */
  offset: number;
}

export interface ScannedSql {
  /** The SQL with each `:name` replaced by `$k`, k numbering names by first use. */
  text: string;
  /** Parameter names in `$k` order. */
  names: string[];
  placeholders: Placeholder[];
  /** Offsets of positional `$n` written in the SQL (not allowed: they would clash with the numbering). */
  positional: number[];
}

const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_]/;
const IDENT_RUN = /^[A-Za-z_][A-Za-z0-9_]*/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/;

export function scanSql(sql: string): ScannedSql {
  const names: string[] = [];
  const numbers = new Map<string, number>();
  const placeholders: Placeholder[] = [];
  const positional: number[] = [];
  let text = '';
  let i = 0;
  const copyUntil = (end: number) => {
    text += sql.slice(i, end);
    i = end;
  };
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'") {
      // E'...' strings take backslash escapes; standard strings only ''.
      const escapes = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !(i > 1 && IDENT.test(sql[i - 2]));
      copyUntil(quotedEnd(sql, i, "'", escapes));
    } else if (c === '"') {
      copyUntil(quotedEnd(sql, i, '"', false));
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end < 0 ? sql.length : end);
    } else if (c === '/' && next === '*') {
      copyUntil(blockCommentEnd(sql, i));
    } else if (c === '$' && !(i > 0 && IDENT.test(sql[i - 1]))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 200))?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        copyUntil(close < 0 ? sql.length : close + tag.length);
      } else {
        if (next !== undefined && /[0-9]/.test(next)) positional.push(i);
        copyUntil(i + 1);
      }
    } else if (c === ':' && next === ':') {
      copyUntil(i + 2);
    } else if (c === ':' && next !== undefined && IDENT_START.test(next)) {
      const name = IDENT_RUN.exec(sql.slice(i + 1))![0];
      placeholders.push({ name, offset: i });
      let k = numbers.get(name);
      if (k === undefined) {
        names.push(name);
        k = names.length;
        numbers.set(name, k);
      }
      text += `$${k}`;
      i += 1 + name.length;
    } else {
      let end = i + 1;
      while (end < sql.length && !'\'"-/$:'.includes(sql[end])) end++;
      copyUntil(end);
    }
  }
  return { text, names, placeholders, positional };
}

/** The offset just past a quoted string or identifier opened at `start` (doubled quotes escape). */
function quotedEnd(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    if (backslash && sql[i] === '\\') i += 2;
    else if (sql[i] === quote && sql[i + 1] === quote) i += 2;
    else if (sql[i] === quote) return i + 1;
    else i++;
  }
  return sql.length;
}

/** The offset just past a `/* ... *\/` comment opened at `start` (they nest in PostgreSQL). */
function blockCommentEnd(sql: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}
