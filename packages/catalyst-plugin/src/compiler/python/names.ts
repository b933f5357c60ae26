/**
 * Python naming rules the generated code depends on, and the `Namer` that gives every name in a
 * generated module. Every name the module binds (imports, classes, node functions, the route
 * function) and every local of `run` comes from one `Namer`, so no two collide and none shadows
 * a builtin the emitted code calls: a node or workflow id that would is given a trailing "_"
 * (the route function, "_endpoint") instead of breaking every request.
 */

/**
 * Python's keywords, `keyword.kwlist` of Python 3.11 (the oldest the runtime supports; 3.12 and
 * 3.13 add none): no Python name, module or package may be one of these. The plugin checks
 * service names against this list too, so there is one list.
 */
export const PYTHON_HARD_KEYWORDS: ReadonlySet<string> = new Set([
  'False',
  'None',
  'True',
  'and',
  'as',
  'assert',
  'async',
  'await',
  'break',
  'class',
  'continue',
  'def',
  'del',
  'elif',
  'else',
  'except',
  'finally',
  'for',
  'from',
  'global',
  'if',
  'import',
  'in',
  'is',
  'lambda',
  'nonlocal',
  'not',
  'or',
  'pass',
  'raise',
  'return',
  'try',
  'while',
  'with',
  'yield',
]);

/**
 * The names generated code never takes: the keywords, and the soft keywords (3.11
 * `keyword.softkwlist`, plus `type` from 3.12), which are legal names but confusing in
 * generated code.
 */
export const PYTHON_KEYWORDS: ReadonlySet<string> = new Set([...PYTHON_HARD_KEYWORDS, 'match', 'case', 'type', '_']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Why `name` cannot be a Python identifier in generated code, or undefined when it can. Ids are
 * ASCII on purpose: they name modules, files and routes, and Python folds other letters (NFKC),
 * so two ids that look different could name one thing.
 */
export function identifierProblem(name: string): string | undefined {
  if (!IDENTIFIER.test(name))
    return /[^\x00-\x7f]/.test(name)
      ? 'may use only ASCII letters (a-z, A-Z), digits and "_", not starting with a digit'
      : 'is not a Python identifier (ASCII letters, digits and "_", not starting with a digit)';
  if (PYTHON_KEYWORDS.has(name)) return 'is a Python keyword';
  if (name.startsWith('__')) return 'starts with "__", which Python reserves';
  return undefined;
}

/**
 * A close identifier to offer instead of `name`: accents are dropped (`é` → `e`, `ß` → `ss`),
 * other invalid characters become "_".
 */
export function toIdentifier(name: string): string {
  let s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/ß/g, 'ss')
    .replace(/[æÆ]/g, 'ae')
    .replace(/[øØ]/g, 'o')
    .replace(/[^A-Za-z0-9_]+/g, '_')
    .replace(/^_+/, '');
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

/** Python 3.11's builtins (`dir(builtins)` without dunders). */
const PYTHON_BUILTINS = `ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup
BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError ConnectionAbortedError
ConnectionError ConnectionRefusedError ConnectionResetError DeprecationWarning EOFError Ellipsis
EncodingWarning EnvironmentError Exception ExceptionGroup False FileExistsError FileNotFoundError
FloatingPointError FutureWarning GeneratorExit IOError ImportError ImportWarning IndentationError
IndexError InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError
ModuleNotFoundError NameError None NotADirectoryError NotImplemented NotImplementedError OSError
OverflowError PendingDeprecationWarning PermissionError ProcessLookupError RecursionError
ReferenceError ResourceWarning RuntimeError RuntimeWarning StopAsyncIteration StopIteration
SyntaxError SyntaxWarning SystemError SystemExit TabError TimeoutError True TypeError
UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError UnicodeTranslateError
UnicodeWarning UserWarning ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin
bool breakpoint bytearray bytes callable chr classmethod compile complex copyright credits delattr
dict dir divmod enumerate eval exec exit filter float format frozenset getattr globals hasattr hash
help hex id input int isinstance issubclass iter len license list locals map max memoryview min
next object oct open ord pow print property quit range repr reversed round set setattr slice sorted
staticmethod str sum super tuple type vars zip`.split(/\s+/);

/** Python's builtins: a class attribute or module name must not take one of these. */
export const PYTHON_BUILTIN_NAMES: ReadonlySet<string> = new Set(PYTHON_BUILTINS);

/** Temporaries the expression emitter binds (`_d0 :=` for defaults, `_m0` in comprehensions). */
const TEMPORARY = /^_[dm]\d+$/;

export class Namer {
  private readonly taken: Set<string>;

  /** `reserved`: names the module already binds or reads (imports, classes, `run`, ...). */
  constructor(reserved: Iterable<string>) {
    this.taken = new Set([...PYTHON_BUILTINS, ...PYTHON_KEYWORDS, 'annotations', ...reserved]);
  }

  /** `preferred` when it is free, else `preferred` + "_" (repeated until free); then taken. */
  claim(preferred: string): string {
    let name = preferred;
    while (this.taken.has(name) || TEMPORARY.test(name)) name += '_';
    this.taken.add(name);
    return name;
  }

  has(name: string): boolean {
    return this.taken.has(name);
  }
}
