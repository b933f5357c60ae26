"""The seed's checklist, checked over every golden's generated code (``*/expected/*.py``).

Each item is a function returning the problems it finds in one case's modules, read as Python
syntax trees (so a word in a string or a comment is never mistaken for code):

- **No eval/exec**: no name ``eval``, ``exec``, ``compile``, ``__import__``, ``breakpoint`` or
  ``builtins``, called or not, unless the module binds it itself (a workflow named ``eval`` is
  imported as a module by ``__init__.py``).
- **No ``import json``**: a module imports only from ``__future__``, ``typing``, ``datetime``,
  ``uuid``, ``catalyst_runtime``, ``fastapi`` and ``pydantic`` (and ``__init__.py`` its siblings):
  JSON goes through the runtime's orjson, and no driver or client library can be reached.
- **Pools from the context, never a client per request**: inside a function no runtime class
  is built but ``ExecutionContext`` (limiters and caches are module-level); every context a
  route makes is given ``request.app.state.pools`` when the module's router declares pools; and
  the router declares every pool its nodes' helpers use.
- **Timings in every response**: every route returns ``json_response(..., ctx)`` (which writes
  ``Server-Timing``) with the context it made, and every node (each has its ``# id (kind), file``
  comment) runs inside ``with ctx.node("id")``. (``test_expected_python.py`` also finds the
  header on every 200 its ``requests.json`` calls get.)
- **uvloop and httptools in use**: no module imports ``asyncio`` or ``uvloop`` or sets a loop
  policy (the import rule above), and a golden served the way every service is
  (``python -m catalyst_runtime.serve``) reports, from inside a request, a ``uvloop.Loop`` and
  the httptools protocol and parser.

``test_each_check_fails_on_a_broken_golden`` breaks a real golden once per item and requires
that item to object, so no check can silently pass everything.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import catalyst_runtime
import httpx
import pytest
from catalyst_runtime.testing import running_server

TESTDATA = Path(__file__).resolve().parent
CASES = sorted(p.parent.name for p in TESTDATA.glob("*/expected") if p.is_dir())

Sources = dict[str, str]  # file name -> text
Check = Callable[[Sources], list[str]]

DYNAMIC = {"eval", "exec", "compile", "__import__", "breakpoint", "builtins"}
ALLOWED_MODULES = {
    "__future__",
    "typing",
    "datetime",
    "uuid",
    "catalyst_runtime",
    "fastapi",
    "pydantic",
}
# The runtime's classes; a route may build only its run's context.
RUNTIME_CLASSES = {
    name
    for name in catalyst_runtime.__all__
    if isinstance(getattr(catalyst_runtime, name), type)
}
PER_REQUEST_CLASSES = {"ExecutionContext"}
# Which pool each node helper (or module-level object) takes from the context.
POOL_OF_HELPER = {
    "http_call": "http",
    "pg_query": "postgres",
    "redis_command": "redis",
    "RedisRateLimiter": "redis",
    "vector_search": "qdrant",
}
ROUTE_VERBS = {"get", "post", "put", "patch", "delete", "head"}
NODE_COMMENT = re.compile(r"^\s*# (\w+) \(\w+\), \S+:\d+:\d+$", re.MULTILINE)


def sources(case: str) -> Sources:
    return {
        p.name: p.read_text()
        for p in sorted((TESTDATA / case / "expected").glob("*.py"))
    }


def trees(src: Sources) -> Iterator[tuple[str, ast.Module]]:
    for name, text in src.items():
        yield name, ast.parse(text, filename=name)


def calls_named(node: ast.AST, names: set[str]) -> Iterator[ast.Call]:
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Name)
            and sub.func.id in names
        ):
            yield sub


def functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for sub in ast.walk(tree):
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield sub


def routes(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions decorated with ``@router.<verb>(...)``."""
    for fn in functions(tree):
        for deco in fn.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id == "router"
                and target.attr in ROUTE_VERBS
            ):
                yield fn


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


# --- the checks -----------------------------------------------------------------------------


def dynamic_code(src: Sources) -> list[str]:
    problems = []
    for name, tree in trees(src):
        # A workflow may be called "eval": `from . import eval` binds the module, not the
        # builtin. Attributes are left alone too: `inp.exec` is an input field.
        bound = {
            (alias.asname or alias.name).split(".")[0]
            for sub in ast.walk(tree)
            if isinstance(sub, (ast.Import, ast.ImportFrom))
            for alias in sub.names
        }
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Name) and sub.id in DYNAMIC and sub.id not in bound:
                problems.append(f"{name}:{sub.lineno}: uses {sub.id}")
    return problems


def foreign_imports(src: Sources) -> list[str]:
    problems = []
    for name, tree in trees(src):
        for sub in ast.walk(tree):
            if isinstance(sub, ast.Import):
                modules = [alias.name for alias in sub.names]
            elif isinstance(sub, ast.ImportFrom):
                if sub.level > 0 and name == "__init__.py":
                    continue  # the package's own modules
                modules = [sub.module or "."]
            else:
                continue
            for module in modules:
                if module.split(".")[0] not in ALLOWED_MODULES:
                    problems.append(f"{name}:{sub.lineno}: imports {module}")
    return problems


def clients_per_request(src: Sources) -> list[str]:
    problems = []
    for name, tree in trees(src):
        built = RUNTIME_CLASSES - PER_REQUEST_CLASSES
        for fn in functions(tree):
            for call in calls_named(fn, built):
                problems.append(
                    f"{name}:{call.lineno}: {fn.name} builds {ast.unparse(call.func)} per request"
                )
        routers = list(calls_named(tree, {"WorkflowRouter"}))
        declared: set[str] = set()
        for router in routers:
            pools = keyword(router, "pools")
            if isinstance(pools, ast.Tuple):
                declared |= {ast.literal_eval(e) for e in pools.elts}
        for helper, pool in POOL_OF_HELPER.items():
            used = next(calls_named(tree, {helper}), None)
            if used is None:
                for call in calls_named(tree, {"NodeCache"}):
                    backend = keyword(call, "backend")
                    if (
                        pool == "redis"
                        and backend is not None
                        and ast.literal_eval(backend) == "redis"
                    ):
                        used = call
            if used is not None and pool not in declared and name != "__init__.py":
                problems.append(
                    f"{name}:{used.lineno}: uses the {pool} pool, not declared"
                )
        if not declared:
            continue
        for route in routes(tree):
            for call in calls_named(route, {"ExecutionContext"}):
                pools = keyword(call, "pools")
                if pools is None or ast.unparse(pools) != "request.app.state.pools":
                    problems.append(
                        f"{name}:{call.lineno}: {route.name}'s context lacks the app's pools"
                    )
    return problems


def untimed(src: Sources) -> list[str]:
    problems = []
    for name, tree in trees(src):
        for route in routes(tree):
            contexts = {
                t.id
                for a in ast.walk(route)
                if isinstance(a, ast.Assign)
                and isinstance(a.value, ast.Call)
                and isinstance(a.value.func, ast.Name)
                and a.value.func.id == "ExecutionContext"
                for t in a.targets
                if isinstance(t, ast.Name)
            }
            returns = [r for r in ast.walk(route) if isinstance(r, ast.Return)]
            for ret in returns or [route]:
                value = getattr(ret, "value", None)
                ok = (
                    isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Name)
                    # A streamed answer's timings are in its done event (stream_run(run, ctx)).
                    and value.func.id in {"json_response", "stream_response", "stream_run"}
                    and len(value.args) >= 2
                    and isinstance(value.args[1], ast.Name)
                    and value.args[1].id in contexts
                )
                if not ok:
                    problems.append(
                        f"{name}:{ret.lineno}: {route.name} answers without its run's timings"
                    )
        timed = {
            ast.literal_eval(call.args[0])
            for call in ast.walk(tree)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "node"
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "ctx"
            and call.args
        }
        for node_id in NODE_COMMENT.findall(src[name]):
            if node_id not in timed:
                problems.append(
                    f'{name}: node "{node_id}" runs outside ctx.node("{node_id}")'
                )
    return problems


CHECKS: dict[str, Check] = {
    "no eval/exec": dynamic_code,
    "no import json": foreign_imports,
    "pools from the context": clients_per_request,
    "timings in every response": untimed,
}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("case", CASES)
def test_checklist(case: str, check: str) -> None:
    assert CHECKS[check](sources(case)) == []


# Each item broken once in a real golden: the check for that item must object.
BREAKS: list[tuple[str, str, str, str, str]] = [
    # (check, case, file, text, replacement)
    (
        "no eval/exec",
        "hello",
        "hello.py",
        "inp.name.upper()",
        'eval("inp.name.upper()")',
    ),
    (
        "no eval/exec",
        "hello",
        "hello.py",
        "inp.name.upper()",
        "getattr(builtins, 'ev' + 'al')",
    ),
    (
        "no import json",
        "hello",
        "hello.py",
        "from typing import Any",
        "import json\nfrom typing import Any",
    ),
    (
        "no import json",
        "hello",
        "hello.py",
        "from typing import Any",
        "from typing import Any\nimport httpx",
    ),
    (
        "pools from the context",
        "cache_nodes",
        "user.py",
        "        return await _account_cache.call(",
        '        return await NodeCache("account", ttl=60.0).call(',
    ),
    (
        "pools from the context",
        "cache_nodes",
        "user.py",
        "WORKFLOW_ID, read_query(request, UserInput), pools=request.app.state.pools",
        "WORKFLOW_ID, read_query(request, UserInput)",
    ),
    (
        "pools from the context",
        "cache_nodes",
        "shared_user.py",
        'pools=("http", "redis")',
        'pools=("http",)',
    ),
    (
        "timings in every response",
        "hello",
        "hello.py",
        "return json_response(await run(ctx), ctx)",
        "return Response(content=b'{}')",
    ),
    (
        "timings in every response",
        "stream_partials",
        "ping.py",
        "return stream_run(run, ctx)",
        "return stream_response(run(ctx))",
    ),
    (
        "timings in every response",
        "cache_nodes",
        "user.py",
        '    with ctx.node("account", "http"):\n        return',
        "    if True:\n        return",
    ),
]


@pytest.mark.parametrize(("check", "case", "file", "text", "replacement"), BREAKS)
def test_each_check_fails_on_a_broken_golden(
    check: str, case: str, file: str, text: str, replacement: str
) -> None:
    src = sources(case)
    assert text in src[file], (
        f"{case}/{file} no longer holds {text!r}: update this break"
    )
    assert CHECKS[check](src) == []
    broken = {**src, file: src[file].replace(text, replacement, 1)}
    assert CHECKS[check](broken) != []


def test_every_item_has_a_break() -> None:
    assert {b[0] for b in BREAKS} == set(CHECKS)


PROBE = '''

def _qualified(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


@app.get("/__probe")
async def probe() -> dict[str, str]:
    """The loop, and the uvicorn protocol and parser serving this very request."""
    import asyncio

    task = asyncio.current_task()
    assert task is not None
    cycle = task.get_coro().cr_frame.f_locals["self"]
    protocol = cycle.transport.get_protocol()
    return {
        "loop": _qualified(asyncio.get_running_loop()),
        "protocol": _qualified(protocol),
        "parser": _qualified(protocol.parser),
    }
'''


def test_a_golden_is_served_on_uvloop_and_httptools(
    golden_service: Callable[[str, str], tuple[Path, str]],
) -> None:
    # The user's main.py with a probe route beside the golden's; the serving path is the one
    # every service takes (python -m catalyst_runtime.serve, as `nx run <svc>:serve` runs it).
    root, app = golden_service("hello", "hello_checklist")
    main = root / "hello_checklist" / "main.py"
    main.write_text(main.read_text() + PROBE)
    with running_server(app, cwd=root) as url:
        probe = httpx.get(f"{url}/__probe").json()
        hello = httpx.post(f"{url}/hello", json={"name": "Ada"})
    assert probe == {
        "loop": "uvloop.Loop",
        "protocol": "catalyst_runtime.serve.LimitedHttpToolsProtocol",
        "parser": "httptools.parser.parser.HttpRequestParser",
    }
    assert hello.status_code == 200
    assert re.fullmatch(
        r"greet;dur=[0-9.]+, total;dur=[0-9.]+", hello.headers["server-timing"]
    )
