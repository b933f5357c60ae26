/**
 * Python names in one generated module. Every name the module binds (imports, classes, node
 * functions, the route function) and every local of `run` comes from one `Namer`, so no two
 * collide and none shadows a builtin the emitted code calls: a node or workflow id that would is
 * given a trailing "_" (the route function, "_endpoint") instead of breaking every request.
 */
import { PYTHON_KEYWORDS } from '../util/python-names';

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
