"""The ``http_fanout`` golden, served for real: its two independent http nodes overlap.

The upstream is a tiny ASGI app under real uvicorn on a loopback port (in a thread of this
process, so it can record what arrived when); the generated service runs in process with its
lifespan, so its http nodes go through the real pooled httpx client over real sockets. The
proof of concurrency is ordering, not wall time: both requests arrive before either answers.
The same upstream checks that input in a URL arrives as one encoded path segment, and that an
answer lacking a field the workflow reads fails the node that reads it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from catalyst_runtime import create_app
from catalyst_runtime.testing import free_port

TESTDATA = Path(__file__).resolve().parent
SLOW = 0.3  # seconds each upstream answer takes
# /orders takes longer, so a node that needs only /accounts can be seen to start before it ends.
DELAYS = {"/orders": 3 * SLOW}


class Upstream:
    """Records ``("start"|"end", path)`` per request; answers after ``SLOW`` seconds (longer
    for the paths in ``DELAYS``).

    ``raw_paths`` keeps each request's path as sent, before percent-decoding.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.tokens: list[str] = []
        self.raw_paths: list[bytes] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        self.events.append(("start", path))
        self.raw_paths.append(scope["raw_path"])
        self.tokens.append(dict(scope["headers"]).get(b"authorization", b"").decode())
        await asyncio.sleep(DELAYS.get(path, SLOW))
        self.events.append(("end", path))
        status, body = 200, {"items": [1, 2, 3]}
        if path == "/accounts/nobody":
            body = {}  # an answer without the field the workflow reads
        elif path.startswith("/accounts/"):
            body = {"name": path.removeprefix("/accounts/").title()}
        elif path == "/audit":
            status, body = 201, {"ok": True}
        headers = [(b"content-type", b"application/json")]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": orjson.dumps(body)})


@pytest.fixture(scope="module")
def upstream(
    serve_in_thread: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[tuple[str, Upstream]]:
    app = Upstream()
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("http_fanout")
    (root / "http_fanout_live").mkdir()
    (root / "http_fanout_live" / "__init__.py").write_text("")
    shutil.copytree(
        TESTDATA / "http_fanout" / "expected", root / "http_fanout_live" / "_generated"
    )
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module("http_fanout_live._generated").router
    finally:
        sys.path.remove(str(root))


async def _calls(
    router: Any,
    calls: list[tuple[str | None, dict[str, Any]]],
    path: str = "/profile",
) -> list[Any]:
    """Start the service once; for each call, optionally repoint UPSTREAM_URL, then POST."""
    app = create_app(router, title="http_fanout")
    transport = httpx.ASGITransport(app=app)
    responses = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://svc") as client,
    ):
        for url, body in calls:
            if url is not None:
                # Read per request (env.UPSTREAM_URL), so no restart is needed; the test's
                # monkeypatch restores it.
                os.environ["UPSTREAM_URL"] = url
            responses.append(await client.post(path, json=body))
    return responses


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, upstream: tuple[str, Upstream]) -> None:
    monkeypatch.setenv("UPSTREAM_URL", upstream[0])
    monkeypatch.setenv("UPSTREAM_TOKEN", "t0ken")


def test_independent_http_nodes_overlap(
    router: Any, upstream: tuple[str, Upstream], env: None
) -> None:
    _, app = upstream
    app.events.clear()
    (response,) = asyncio.run(
        _calls(router, [(None, {"user": "ada", "verbose": True})])
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "Ada", "orders": 3, "audited": True}
    # account and orders were both in flight before either answered. audit, which needs only
    # account, started as soon as account had answered, while the slower orders was still
    # running (dataflow, not ready sets: those would start it after both).
    first_two = {path for _, path in app.events[:2]}
    assert app.events[0][0] == app.events[1][0] == "start", app.events
    assert first_two == {"/accounts/ada", "/orders"}, app.events
    events = app.events
    assert events.index(("end", "/accounts/ada")) < events.index(("start", "/audit")), (
        events
    )
    assert events.index(("start", "/audit")) < events.index(("end", "/orders")), events
    assert "Bearer t0ken" in app.tokens
    timing = response.headers["server-timing"]
    assert "account;dur=" in timing and "orders;dur=" in timing


def test_upstream_down_is_a_502_naming_the_node_and_the_service_keeps_serving(
    router: Any, upstream: tuple[str, Upstream], env: None
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    body = {"user": "ada"}
    failed, recovered = asyncio.run(_calls(router, [(down, body), (upstream[0], body)]))
    assert failed.status_code == 502, failed.text
    (detail,) = failed.json()["detail"]
    assert detail["type"] == "upstream_error"
    assert detail["loc"] in (["nodes", "account"], ["nodes", "orders"])
    assert detail["msg"].startswith(f'node "{detail["loc"][1]}": HTTP request failed')
    assert recovered.status_code == 200, recovered.text
    assert recovered.json() == {"name": "Ada", "orders": 3, "audited": False}


def test_a_get_workflow_reaches_the_pool_too(router: Any, env: None) -> None:
    async def call() -> httpx.Response:
        app = create_app(router, title="http_fanout")
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://svc") as client,
        ):
            return await client.get("/health")

    response = asyncio.run(call())
    assert response.status_code == 200, response.text
    assert response.json() == {"upstream": 200}


@pytest.mark.parametrize(
    ("user", "raw_path"),
    [
        ("../admin?x=1#", b"/accounts/..%2Fadmin%3Fx%3D1%23"),
        ("..", b"/accounts/%2E%2E"),
        ("a b/c", b"/accounts/a%20b%2Fc"),
    ],
)
def test_url_interpolations_are_encoded_path_segments(
    router: Any, upstream: tuple[str, Upstream], env: None, user: str, raw_path: bytes
) -> None:
    """Input in the URL stays one path segment: no "..", "?" or "#" reaches the upstream raw.

    The request carries the Authorization secret, so it must go where the definition says.
    """
    _, app = upstream
    app.raw_paths.clear()
    (response,) = asyncio.run(_calls(router, [(None, {"user": user})]))
    assert response.status_code == 200, response.text
    assert raw_path in app.raw_paths, app.raw_paths
    assert all(p.startswith((b"/accounts/", b"/orders")) for p in app.raw_paths)
    # The upstream decodes the segment back to exactly what the client sent.
    assert response.json()["name"] == user.title()


def test_an_upstream_body_without_a_field_fails_the_node_that_reads_it(
    router: Any, upstream: tuple[str, Upstream], env: None
) -> None:
    """``summary`` reads ``nodes.account.body.name``: a body without it is a 500 naming
    ``summary`` (not an anonymous internal error), and the service keeps serving."""
    failed, recovered = asyncio.run(
        _calls(router, [(None, {"user": "nobody"}), (None, {"user": "ada"})])
    )
    assert failed.status_code == 500, failed.text
    assert failed.json() == {
        "detail": [
            {
                "type": "node_failed",
                "loc": ["nodes", "summary"],
                "msg": 'node "summary": failed (KeyError)',
            }
        ]
    }
    assert recovered.status_code == 200, recovered.text
    assert recovered.json()["name"] == "Ada"


def test_a_default_on_an_upstream_body_field_covers_a_missing_key(
    router: Any, upstream: tuple[str, Upstream], env: None
) -> None:
    """``nodes.account.body.name | default(...)`` reads with ``.get``: a body without the key
    (or without the object holding it) gives the fallback, not a 500."""
    missing, present = asyncio.run(
        _calls(
            router, [(None, {"user": "nobody"}), (None, {"user": "ada"})], "/nickname"
        )
    )
    assert missing.status_code == 200, missing.text
    assert missing.json() == {"name": "anonymous", "nick": "none"}
    assert present.status_code == 200, present.text
    assert present.json() == {"name": "Ada", "nick": "none"}
