/** Python naming rules the generated code depends on. */

/**
 * Python's keywords, `keyword.kwlist` of Python 3.11 (the oldest the runtime supports; 3.12 and
 * 3.13 add none): no Python name, module or package may be one of these. The plugin checks
 * service names against this list too, so there is one list.
 */
export const PYTHON_HARD_KEYWORDS: ReadonlySet<string> = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue',
  'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in',
  'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield',
]);

/**
 * The names generated code never takes: the keywords, and the soft keywords (3.11
 * `keyword.softkwlist`, plus `type` from 3.12), which are legal names but confusing in
 * generated code.
 */
export const PYTHON_KEYWORDS: ReadonlySet<string> = new Set([...PYTHON_HARD_KEYWORDS, 'match', 'case', 'type', '_']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Why `name` cannot be a Python identifier in generated code, or undefined when it can. */
export function identifierProblem(name: string): string | undefined {
  if (!IDENTIFIER.test(name)) return 'is not a Python identifier (letters, digits and "_", not starting with a digit)';
  if (PYTHON_KEYWORDS.has(name)) return 'is a Python keyword';
  if (name.startsWith('__')) return 'starts with "__", which Python reserves';
  return undefined;
}

/** A close identifier to offer instead of `name`: invalid characters become "_". */
export function toIdentifier(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+/, '');
  if (s === '' || /^[0-9]/.test(s)) s = `n_${s}`;
  if (PYTHON_KEYWORDS.has(s)) s = `${s}_`;
  return s;
}

/** `hello_world` → `HelloWorld`, for class names. */
export function pascalCase(id: string): string {
  return id
    .split('_')
    .filter((part) => part !== '')
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}
