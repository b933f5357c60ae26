/**
 * Names a service may not take, because its Python package or its distribution would collide with
 * one that Python or the workspace already has (issue: a service named `json` cannot import, one
 * named `redis` breaks `uv lock` for the whole workspace).
 */

/**
 * `sys.stdlib_module_names` of Python 3.11, the oldest Python a service runs on (`requires-python
 * >=3.11`). A package named like one of these shadows the standard-library module, or is shadowed
 * by it. Compared in lower case, as a case-insensitive file system would (`cProfile`).
 */
export const STDLIB_MODULE_NAMES: ReadonlySet<string> = new Set(
  `
__future__ _abc _aix_support _ast _asyncio _bisect _blake2 _bootsubprocess _bz2 _codecs _codecs_cn
_codecs_hk _codecs_iso2022 _codecs_jp _codecs_kr _codecs_tw _collections _collections_abc
_compat_pickle _compression _contextvars _crypt _csv _ctypes _curses _curses_panel _datetime _dbm
_decimal _elementtree _frozen_importlib _frozen_importlib_external _functools _gdbm _hashlib _heapq
_imp _io _json _locale _lsprof _lzma _markupbase _md5 _msi _multibytecodec _multiprocessing _opcode
_operator _osx_support _overlapped _pickle _posixshmem _posixsubprocess _py_abc _pydecimal _pyio
_queue _random _scproxy _sha1 _sha256 _sha3 _sha512 _signal _sitebuiltins _socket _sqlite3 _sre _ssl
_stat _statistics _string _strptime _struct _symtable _thread _threading_local _tkinter _tokenize
_tracemalloc _typing _uuid _warnings _weakref _weakrefset _winapi _zoneinfo abc aifc antigravity
argparse array ast asynchat asyncio asyncore atexit audioop base64 bdb binascii bisect builtins bz2
cProfile calendar cgi cgitb chunk cmath cmd code codecs codeop collections colorsys compileall
concurrent configparser contextlib contextvars copy copyreg crypt csv ctypes curses dataclasses
datetime dbm decimal difflib dis distutils doctest email encodings ensurepip enum errno faulthandler
fcntl filecmp fileinput fnmatch fractions ftplib functools gc genericpath getopt getpass gettext
glob graphlib grp gzip hashlib heapq hmac html http idlelib imaplib imghdr imp importlib inspect io
ipaddress itertools json keyword lib2to3 linecache locale logging lzma mailbox mailcap marshal math
mimetypes mmap modulefinder msilib msvcrt multiprocessing netrc nis nntplib nt ntpath nturl2path
numbers opcode operator optparse os ossaudiodev pathlib pdb pickle pickletools pipes pkgutil
platform plistlib poplib posix posixpath pprint profile pstats pty pwd py_compile pyclbr pydoc
pydoc_data pyexpat queue quopri random re readline reprlib resource rlcompleter runpy sched secrets
select selectors shelve shlex shutil signal site smtpd smtplib sndhdr socket socketserver spwd
sqlite3 sre_compile sre_constants sre_parse ssl stat statistics string stringprep struct subprocess
sunau symtable sys sysconfig syslog tabnanny tarfile telnetlib tempfile termios textwrap this
threading time timeit tkinter token tokenize tomllib trace traceback tracemalloc tty turtle
turtledemo types typing unicodedata unittest urllib uu uuid venv warnings wave weakref webbrowser
winreg winsound wsgiref xdrlib xml xmlrpc zipapp zipfile zipimport zlib zoneinfo
`
    .trim()
    .split(/\s+/),
);

/**
 * The distributions `uv lock` resolves for a Catalyst workspace: the runtime's dependencies
 * (runtime/pyproject.toml), the optional qdrant client and LLM SDKs, the runtime's and the services' dev groups,
 * and what those depend on (from a lock of a fresh workspace). A workspace member by one of these
 * names stands in for the registry's package, so the lock fails for every project.
 */
export const DEPENDENCY_DISTRIBUTIONS: ReadonlySet<string> = new Set([
  'aiohappyeyeballs',
  'aiohttp',
  'aiosignal',
  'annotated-doc',
  'annotated-types',
  'anthropic',
  'anyio',
  'ast-serialize',
  'async-timeout',
  'asyncpg',
  'asyncpg-stubs',
  'attrs',
  'catalyst-runtime',
  'certifi',
  'click',
  'colorama',
  'coverage',
  'distro',
  'docstring-parser',
  'fastapi',
  'frozenlist',
  'groq',
  'grpcio',
  'h11',
  'h2',
  'hpack',
  'httpcore',
  'httpcore2',
  'httptools',
  'httpx',
  'httpx2',
  'httpx2-jsfetch',
  'hyperframe',
  'idna',
  'iniconfig',
  'jiter',
  'librt',
  'multidict',
  'mypy',
  'mypy-extensions',
  'numpy',
  'openai',
  'opentelemetry-api',
  'orjson',
  'packaging',
  'pathspec',
  'pluggy',
  'portalocker',
  'propcache',
  'protobuf',
  'psutil',
  'pydantic',
  'pydantic-core',
  'pygments',
  'pyperf',
  'pytest',
  'pytest-cov',
  'python-dotenv',
  'qdrant-client',
  'redis',
  'ruff',
  'sniffio',
  'starlette',
  'truststore',
  'typing-extensions',
  'typing-inspection',
  'urllib3',
  'uvicorn',
  'uvloop',
  'yarl',
]);

/**
 * Import names of those distributions (where they differ from the distribution name: `dotenv` for
 * python-dotenv, `grpc` for grpcio, `google` for protobuf), and the service's own test folders. A
 * service package by one of these names shadows what the runtime, the generated code or pytest
 * imports.
 */
export const DEPENDENCY_IMPORT_NAMES: ReadonlySet<string> = new Set([
  ...[...DEPENDENCY_DISTRIBUTIONS].map((name) => name.replace(/-/g, '_')),
  '_pytest',
  'attr', // attrs installs both attr and attrs
  'dotenv',
  'google',
  'grpc',
  'opentelemetry',
  'py',
  'test',
  'tests',
]);
