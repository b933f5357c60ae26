"""The compiled request path answers exactly as FastAPI does, over real uvicorn.

Golden cases are served in one service twice, with the compiled path on (the default) and off
(``CATALYST_COMPILED_ROUTES=off``: FastAPI routes every request), and the same raw HTTP/1.1
requests go to both: every ``requests.json`` call of the cases, and the edges around them (no
or wrong Content-Type, invalid JSON, a body over the limit declared or streamed, a body that
stops arriving, a head too large, a wrong method, ``HEAD``, a trailing slash, an unknown path,
``/docs``, ``/openapi.json``, the probes, a given ``X-Request-ID``, a user's own route). Status,
every header but ``Date`` (in order, as sent) and the body must be the same byte for byte; the
durations inside ``Server-Timing`` and a fresh request id are compared by shape. Three set-ups:
plain, with user middleware and a user exception handler (the compiled path then sits inside
FastAPI's stack), and with metrics and tracing on (the scrape's request counts compared too).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from catalyst_runtime.testing import running_server

TESTDATA = Path(__file__).resolve().parent
# Cases whose requests need no secret, variable, global or database, and whose routes differ.
CASES = [
    "hello",
    "query_params",
    "strict_input",
    "node_errors",
    "nested_input",
    "optional_input",
    "filters",
    "plain_outputs",
    "many_workflows",
]
LIMIT = 2048  # CATALYST_MAX_BODY_BYTES for both servers: small, so a 413 is cheap to provoke

MAIN = '''
import os

from catalyst_runtime import WorkflowRouter, create_app
from fastapi import Request
from fastapi.responses import JSONResponse

{imports}

router = WorkflowRouter()
{includes}
app = create_app(router, title="compiled-path")


@app.get("/user/ping")
async def ping(n: int = 1) -> dict[str, int]:
    return {{"pong": n}}


if os.environ.get("WITH_USER_MIDDLEWARE") == "1":

    class Tag:
        """Pure ASGI user middleware: adds a header naming the route it saw after the call."""

        def __init__(self, app):
            self.app = app

        async def __call__(self, scope, receive, send):
            async def tagged(message):
                if message["type"] == "http.response.start":
                    message["headers"] = [*message["headers"], (b"x-user", b"seen")]
                await send(message)

            await self.app(scope, receive, tagged)

    app.add_middleware(Tag)

    class Teapot(Exception):
        pass

    @app.exception_handler(Teapot)
    async def teapot(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({{"teapot": True}}, 418)
'''


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compiled_path")
    for case in CASES:
        package = root / f"{case}_cp"
        package.mkdir()
        (package / "__init__.py").write_text("")
        shutil.copytree(TESTDATA / case / "expected", package / "_generated")
    imports = "\n".join(f"import {case}_cp._generated" for case in CASES)
    includes = "\n".join(f"router.include_router({case}_cp._generated.router)" for case in CASES)
    (root / "compiled_main.py").write_text(MAIN.format(imports=imports, includes=includes))
    return root


def _request(method: str, path: str, body: bytes | None = None, **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if body is not None and "content_length" not in headers:
        headers["content_length"] = str(len(body))
    lines += [f"{k.replace('_', '-').title()}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


def requests() -> list[tuple[str, bytes | tuple[bytes, ...]]]:
    """(name, raw request) pairs; a tuple is sent in pieces, the connection kept open after."""
    out: list[tuple[str, bytes | tuple[bytes, ...]]] = []
    json_type = {"content_type": "application/json"}
    for case in CASES:
        for i, call in enumerate(json.loads((TESTDATA / case / "requests.json").read_text())):
            method = call.get("method", "POST")
            if method in ("GET", "DELETE") and "body" not in call and "raw" not in call:
                out.append((f"{case}#{i}", _request(method, call["path"])))
                continue
            raw = call["raw"] if "raw" in call else json.dumps(call.get("body", {}))
            out.append((f"{case}#{i}", _request(method, call["path"], raw.encode(), **json_type)))
    body = b'{"name": "Ada"}'
    big = b'{"name": "' + b"x" * (2 * LIMIT) + b'"}'
    out += [
        ("no content-type", _request("POST", "/hello", body)),
        ("text/plain", _request("POST", "/hello", body, content_type="text/plain")),
        ("+json", _request("POST", "/hello", body, content_type="application/vnd.a+json; q=1")),
        ("invalid json", _request("POST", "/hello", b'{"name": ', **json_type)),
        ("declared too large", _request("POST", "/hello", big, **json_type)),
        (
            "streamed too large",
            _request("POST", "/hello", None, transfer_encoding="chunked", **json_type)
            + b"".join(b"%x\r\n%s\r\n" % (256, b"x" * 256) for _ in range(12))
            + b"0\r\n\r\n",
        ),
        (
            "body stops arriving",
            (_request("POST", "/hello", None, content_length="100", **json_type) + b'{"na',),
        ),
        ("head too large", _request("POST", "/hello", body, x_big="y" * 20000, **json_type)),
        ("request id kept", _request("POST", "/hello", body, x_request_id="abc-123", **json_type)),
        ("bad request id", _request("POST", "/hello", body, x_request_id="a b", **json_type)),
        ("wrong method", _request("GET", "/hello")),
        ("put", _request("PUT", "/hello", body, **json_type)),
        ("head", _request("HEAD", "/search?q=a")),
        ("trailing slash", _request("POST", "/hello/", body, **json_type)),
        ("unknown path", _request("POST", "/nowhere", body, **json_type)),
        ("query", _request("GET", "/search?q=a&tag=x&tag=y&limit=5")),
        ("query errors", _request("GET", "/search?limit=x&exact=maybe&zzz=1")),
        ("docs", _request("GET", "/docs")),
        ("openapi", _request("GET", "/openapi.json")),
        ("healthz", _request("GET", "/healthz")),
        ("readyz", _request("GET", "/readyz")),
        ("user route", _request("GET", "/user/ping?n=3")),
        ("user route 422", _request("GET", "/user/ping?n=x")),
        ("options", _request("OPTIONS", "/hello")),
    ]
    return out


def exchange(url: str, raw: bytes | tuple[bytes, ...]) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for piece in raw if isinstance(raw, tuple) else (raw,):
            try:
                sock.sendall(piece)
            except OSError:
                break  # the server answered (a 413) and closed while the body was being sent
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def normalised(response: bytes) -> dict[str, Any]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(": ")
        if name.lower() == "date":
            continue
        if name.lower() == "server-timing":
            value = re.sub(r"dur=\d+\.\d{3}", "dur=D", value)
        if name.lower() == "x-request-id" and re.fullmatch(r"[0-9a-f]{32}", value):
            value = "<fresh id>"
        headers.append((name, value))
    return {"status": status, "headers": headers, "body": body.decode("latin-1")}


def answers(root: Path, env: dict[str, str]) -> Iterator[tuple[str, dict[str, Any]]]:
    settings = {"CATALYST_MAX_BODY_BYTES": str(LIMIT), "CATALYST_BODY_TIMEOUT": "0.5", **env}
    with running_server("compiled_main:app", cwd=root, env=settings, startup_timeout=120) as url:
        for name, raw in requests():
            yield name, normalised(exchange(url, raw))
        if env.get("CATALYST_METRICS") == "on":
            scrape = normalised(exchange(url, _request("GET", "/metrics")))["body"]
            counts = sorted(re.findall(r"catalyst_requests_seconds_count(\{.*\}) (\S+)", scrape))
            yield "metrics", {"request counts": counts}


SETUPS = {
    "plain": {},
    "user middleware": {"WITH_USER_MIDDLEWARE": "1"},
    "metrics and tracing": {
        "CATALYST_METRICS": "on",
        "CATALYST_TRACING": "on",
        "OTEL_TRACES_SAMPLER": "always_on",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",  # nothing listens: export fails
        "OTEL_BSP_SCHEDULE_DELAY": "60000",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "1",
    },
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_the_compiled_path_answers_as_fastapi_does(service: Path, setup: str) -> None:
    env = SETUPS[setup]
    compiled = dict(answers(service, env))
    time.sleep(0.1)
    fastapi = dict(answers(service, {**env, "CATALYST_COMPILED_ROUTES": "off"}))
    assert list(compiled) == list(fastapi)
    different = [name for name in compiled if compiled[name] != fastapi[name]]
    assert not different, "\n".join(
        f"{name}:\n  compiled {compiled[name]}\n  fastapi  {fastapi[name]}" for name in different
    )
    # The requests reached what they were meant to (not, say, every one a 404).
    statuses = {name: answer["status"] for name, answer in compiled.items() if "status" in answer}
    assert statuses["hello#0"] == "HTTP/1.1 200 OK"
    assert statuses["declared too large"].startswith("HTTP/1.1 413")
    assert statuses["streamed too large"].startswith("HTTP/1.1 413")
    assert statuses["body stops arriving"].startswith("HTTP/1.1 408")
    assert statuses["head too large"].startswith("HTTP/1.1 431")
    assert statuses["text/plain"].startswith("HTTP/1.1 415")
    assert statuses["wrong method"].startswith("HTTP/1.1 405")
    assert statuses["unknown path"].startswith("HTTP/1.1 404")
    assert statuses["query errors"].startswith("HTTP/1.1 422")
    assert statuses["user route"] == "HTTP/1.1 200 OK"
    if setup == "user middleware":
        assert ("x-user", "seen") in compiled["hello#0"]["headers"]
    if setup == "metrics and tracing":
        counts = compiled["metrics"]["request counts"]
        assert any('route="/hello"' in labels for labels, _ in counts)
