/**
 * Pass 1: parse a YAML or JSON definition into a plain value plus a map from JSON paths to
 * source offsets, so every later diagnostic can point at the exact key or value.
 * JSON goes through the same YAML 1.2 parser (JSON is YAML), then is checked as strict JSON.
 */
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
} from 'yaml';
import { scalarOffset, type ScalarSource } from './scalar-offsets';

/** A workflow definition as read from disk; `path` is relative to the service's project root. */
export interface SourceFile {
  path: string;
  text: string;
  /**
   * Set when the bytes were not UTF-8 (`decodeDefinition`): where the first bad byte stands in
   * `text` (as U+FFFD) and its value. The compiler reports it and compiles nothing of the file.
   */
  notUtf8?: { offset: number; byte: number };
}

/** A position inside a source file: 1-based line and column. */
export interface SourcePosition {
  line: number;
  column: number;
}

/** A path into the parsed definition: keys and array indexes. */
export type JsonPath = readonly (string | number)[];

/** Where one value sits in the source: its start, its key (for mapping values), its raw scalar. */
interface PosEntry {
  start: number;
  keyStart?: number;
  scalar?: ScalarSource;
}

export interface ParseProblem {
  code: 'syntax' | 'not_json' | 'not_utf8' | 'empty_file' | 'too_large' | 'too_deep' | 'constant_value';
  offset: number;
  message: string;
}

/** Size limits of one definition file, each reported as a `too_large` / `too_deep` diagnostic. */
export const MAX_SOURCE_CHARS = 20 * 1024 * 1024;
/** Nesting of YAML/JSON collections. */
export const MAX_DEPTH = 200;
/** YAML aliases (`*name`) followed while reading the file. */
export const MAX_ALIAS_EXPANSIONS = 10_000;
/** Values (scalars and collections) once aliases are expanded, in the whole file. */
export const MAX_VALUES = 1_000_000;
/** Values that aliases add (the copies, not the anchored original). */
export const MAX_ALIAS_VALUES = 100_000;
/** Characters of keys and strings once aliases are expanded. */
export const MAX_EXPANDED_CHARS = MAX_SOURCE_CHARS;

const pathKey = (path: JsonPath): string => path.join('\u0000');

export class ParsedSource {
  constructor(
    readonly file: SourceFile,
    readonly value: unknown,
    private readonly entries: Map<string, PosEntry>,
    private readonly lines: LineCounter,
  ) {}

  /**
   * The source offset of a path: the value (or its key with `key: true`), or the character at
   * `stringOffset` inside a string value. Paths that do not exist fall back to their nearest
   * existing ancestor, so a missing field points at the object that lacks it.
   */
  locate(path: JsonPath, opts: { key?: boolean; stringOffset?: number } = {}): number {
    for (let n = path.length; n >= 0; n--) {
      const entry = this.entries.get(pathKey(path.slice(0, n)));
      if (!entry) continue;
      if (n < path.length) return entry.start;
      if (opts.key && entry.keyStart !== undefined) return entry.keyStart;
      if (opts.stringOffset !== undefined && entry.scalar) return scalarOffset(entry.scalar, opts.stringOffset);
      return entry.start;
    }
    return 0;
  }

  /** Position of an offset in text that did not parse. */
  static positionIn(text: string, offset: number): SourcePosition {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset && i < text.length; i++) {
      const c = text[i];
      if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) {
        line++;
        lineStart = i + 1;
      }
    }
    return { line, column: offset - lineStart + 1 };
  }

  position(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}

/** Parses one source file; returns the parsed source, or the problems that stopped it. */
export function parseSource(file: SourceFile): { source?: ParsedSource; problems: ParseProblem[] } {
  if (file.notUtf8) {
    const hex = file.notUtf8.byte.toString(16).toUpperCase().padStart(2, '0');
    return {
      problems: [
        {
          code: 'not_utf8',
          offset: file.notUtf8.offset,
          message: `the file is not UTF-8 (byte 0x${hex} here); save it as UTF-8`,
        },
      ],
    };
  }
  // A lone CR ends a line (old Mac files): read it as LF, which keeps every offset.
  const text = file.text.includes('\r') ? file.text.replace(/\r(?!\n)/g, '\n') : file.text;
  if (text.length > MAX_SOURCE_CHARS) {
    return {
      problems: [
        {
          code: 'too_large',
          offset: 0,
          message: `definition is ${text.length} characters; the limit is ${MAX_SOURCE_CHARS}. Split it into several workflows.`,
        },
      ],
    };
  }
  if (text.trim() === '') {
    return {
      problems: [
        { code: 'empty_file', offset: 0, message: 'the definition is empty; a workflow needs at least an "id"' },
      ],
    };
  }
  const lines = new LineCounter();
  let doc;
  try {
    doc = parseDocument(text, { lineCounter: lines, keepSourceTokens: true, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    // The YAML parser recurses; absurd nesting can exhaust the stack.
    return {
      problems: [
        {
          code: 'too_deep',
          offset: 0,
          message: `the definition could not be parsed (${err instanceof RangeError ? 'nested too deeply' : String(err)})`,
        },
      ],
    };
  }
  const problems: ParseProblem[] = doc.errors.map((e) =>
    /call stack/i.test(e.message)
      ? { code: 'too_deep', offset: e.pos[0], message: 'the definition is nested too deeply to read' }
      : { code: 'syntax', offset: e.pos[0], message: cleanYamlMessage(e.message) },
  );
  if (problems.length > 0) return { problems };

  const entries = new Map<string, PosEntry>();
  const builder = new Builder(text, entries, doc);
  const value = builder.build(doc.contents, [], 0, undefined);
  if (builder.problem) return { problems: [builder.problem] };
  if (/\.json$/i.test(file.path)) {
    const jsonProblem = checkStrictJson(text);
    if (jsonProblem) return { problems: [jsonProblem] };
  }
  return { source: new ParsedSource(file, value, entries, lines), problems: [] };
}

function cleanYamlMessage(message: string): string {
  const first = message
    .split('\n')[0]
    .replace(/ at line \d+, column \d+:?$/, '')
    .trim();
  return `invalid YAML: ${first}`;
}

/** YAML accepts more than JSON (comments, single quotes, trailing commas); a .json file must be JSON. */
function checkStrictJson(text: string): ParseProblem | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(message);
    return {
      code: 'not_json',
      offset: m ? Number(m[1]) : 0,
      message: `invalid JSON: ${message.replace(/ in JSON at position \d+.*$/, '')}`,
    };
  }
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATE_MESSAGE =
  'the text holds a lone surrogate (a \\u escape of half a pair), which is not a character and cannot be sent as UTF-8; escape the whole pair (\\ud83d\\ude00) or write the character';

/**
 * What a JSON/YAML value cannot mean in Python or on the wire: a number beyond a float
 * (`1e400`, `.inf`, `.nan`), an integer beyond 2^53 (read as a float here, it would lose digits),
 * a lone surrogate.
 */
function valueProblem(value: unknown, raw: string): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      return `${raw.trim()} is not a finite number; JSON and the generated code need one, so write a smaller number`;
    if (/^\s*[-+]?[0-9]+\s*$/.test(raw) && !Number.isSafeInteger(value))
      return `the integer ${raw.trim()} is beyond 2^53 (9007199254740992) and would lose digits; write it as a string, or use a smaller number`;
  }
  if (typeof value === 'string' && LONE_SURROGATE.test(value)) return LONE_SURROGATE_MESSAGE;
  return undefined;
}

class Builder {
  problem?: ParseProblem;
  private aliasCount = 0;
  private values = 0;
  private aliasValues = 0;
  private chars = 0;
  /** How many aliases the value being built sits inside. */
  private aliasDepth = 0;

  /** Counts one value (or key) of `length` characters; false (with a problem) once a limit is passed. */
  private count(length: number, start: number, key = false): boolean {
    if (!key) this.values++;
    if (!key && this.aliasDepth > 0) this.aliasValues++;
    this.chars += length;
    const message =
      this.values > MAX_VALUES
        ? `the definition holds more than ${MAX_VALUES} values (aliases expanded); split it into several workflows`
        : this.aliasValues > MAX_ALIAS_VALUES
          ? `aliases copy more than ${MAX_ALIAS_VALUES} values; write what they share once (a global, a node) instead`
          : this.chars > MAX_EXPANDED_CHARS
            ? `the definition holds more than ${MAX_EXPANDED_CHARS} characters of keys and strings (aliases expanded); split it or use fewer aliases`
            : undefined;
    if (message === undefined) return true;
    this.problem = { code: 'too_large', offset: start, message };
    return false;
  }

  constructor(
    private readonly text: string,
    private readonly entries: Map<string, PosEntry>,
    private readonly doc: Document,
  ) {}

  build(node: YamlNode | null, path: JsonPath, depth: number, keyStart: number | undefined): unknown {
    if (this.problem) return null;
    if (node === null || node === undefined) return null;
    const [start, end] = node.range ?? [0, 0];
    if (depth > MAX_DEPTH) {
      this.problem = {
        code: 'too_deep',
        offset: start,
        message: `the definition is nested more than ${MAX_DEPTH} levels deep`,
      };
      return null;
    }
    const entry: PosEntry = { start, keyStart };
    this.entries.set(pathKey(path), entry);
    if (isAlias(node)) {
      if (++this.aliasCount > MAX_ALIAS_EXPANSIONS) {
        this.problem = {
          code: 'too_large',
          offset: start,
          message: `more than ${MAX_ALIAS_EXPANSIONS} aliases are followed; write the values out or use fewer aliases`,
        };
        return null;
      }
      const target = node.resolve(this.doc) as YamlNode | undefined;
      this.aliasDepth++;
      try {
        return this.build(target ?? null, path, depth + 1, keyStart);
      } finally {
        this.aliasDepth--;
      }
    }
    if (!this.count(isScalar(node) && typeof node.value === 'string' ? node.value.length : 0, start)) return null;
    if (isScalar(node)) {
      const problem = valueProblem(node.value, this.text.slice(start, end));
      if (problem) {
        this.problem = { code: 'constant_value', offset: start, message: problem };
        return null;
      }
      if (typeof node.value === 'string') {
        entry.scalar = { type: node.type ?? 'PLAIN', raw: this.text.slice(start, end), value: node.value, start };
      }
      return node.value;
    }
    if (isSeq(node)) {
      return node.items.map((item, i) => this.build(item as YamlNode | null, [...path, i], depth + 1, undefined));
    }
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const key = isScalar(keyNode) ? String(keyNode.value) : keyNode === null ? '' : undefined;
        const kStart = keyNode?.range?.[0] ?? start;
        if (key === undefined) {
          this.problem = { code: 'syntax', offset: kStart, message: 'keys must be plain strings' };
          return null;
        }
        if (!this.count(key.length, kStart, true)) return null;
        if (LONE_SURROGATE.test(key)) {
          this.problem = { code: 'constant_value', offset: kStart, message: LONE_SURROGATE_MESSAGE };
          return null;
        }
        const childPath = [...path, key];
        const value = pair.value === null ? null : this.build(pair.value as YamlNode, childPath, depth + 1, kStart);
        if (pair.value === null) this.entries.set(pathKey(childPath), { start: kStart, keyStart: kStart });
        // defineProperty, so a key named "__proto__" is data, not a prototype.
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return null;
  }
}
