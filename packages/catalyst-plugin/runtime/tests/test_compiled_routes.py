"""Which routes the compiled request path takes, and that it bypasses FastAPI for them.

That its answers equal FastAPI's, byte for byte over real uvicorn, is
``testdata/test_compiled_path.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from catalyst_runtime import (
    ExecutionContext,
    Settings,
    WorkflowRouter,
    compiled_route,
    create_app,
    json_response,
    read_input,
)
from catalyst_runtime.compiled_routes import route_table

from .conftest import in_process


class Name(BaseModel):
    name: str


def _router() -> WorkflowRouter:
    router = WorkflowRouter()

    @router.post("/hello")
    @compiled_route
    async def hello(request: Request) -> Response:
        ctx = ExecutionContext("hello", await read_input(request, Name))
        return json_response({"hi": ctx.input.name}, ctx)

    @router.get("/plain")
    @compiled_route
    async def plain() -> Response:
        ctx = ExecutionContext("plain", None)
        return json_response({"ok": True}, ctx)

    @router.get("/stream")
    @compiled_route
    async def stream() -> Response:
        async def parts() -> AsyncIterator[bytes]:
            yield b"a"
            yield b"b"

        return StreamingResponse(parts(), media_type="text/plain")

    @router.get("/broken")
    @compiled_route
    async def broken() -> Response:
        raise RuntimeError("a bug outside any node")

    @router.get("/unmarked")
    async def unmarked() -> Response:
        return Response(b"{}", media_type="application/json")

    @router.get("/depends")
    @compiled_route
    async def depends(value: int = Depends(lambda: 1)) -> Response:
        return Response(b"{}", media_type="application/json")

    return router


@pytest.fixture
def handled(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The paths FastAPI's own route handling ran for."""
    seen: list[str] = []
    original = APIRoute.handle

    async def handle(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        seen.append(self.path)
        await original(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", handle)
    yield seen


def test_the_table_holds_only_routes_fastapi_would_run_bare() -> None:
    app = create_app(_router(), title="t")
    assert sorted(route_table(app.router.routes)) == [
        ("GET", "/broken"),
        ("GET", "/plain"),
        ("GET", "/stream"),
        ("POST", "/hello"),
    ]


def test_a_route_an_earlier_one_would_match_is_left_to_fastapi() -> None:
    app = FastAPI()

    @app.post("/{anything}")
    async def catch_all(anything: str) -> None: ...

    app.router.routes.extend(_router().routes)
    assert ("POST", "/hello") not in route_table(app.router.routes)
    assert ("GET", "/plain") in route_table(app.router.routes)


@pytest.mark.anyio
@pytest.mark.parametrize("user_middleware", [False, True])
async def test_compiled_routes_bypass_fastapis_routing(
    handled: list[str], user_middleware: bool
) -> None:
    app = create_app(_router(), title="t")
    if user_middleware:

        @app.middleware("http")
        async def tag(request: Request, call_next: Any) -> Response:
            response: Response = await call_next(request)
            response.headers["x-user"] = "1"
            return response

    async with in_process(app) as client:
        hello = await client.post("/hello", json={"name": "Ada"})
        plain = await client.get("/plain")
        stream = await client.get("/stream")
        unmarked = await client.get("/unmarked")
        bad = await client.post("/hello", json={"name": 1})
    assert hello.json() == {"hi": "Ada"} and "server-timing" in hello.headers
    assert plain.json() == {"ok": True}
    assert stream.text == "ab"  # a response that is not JSON bytes plays itself
    assert unmarked.status_code == 200
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "name"]
    assert ("x-user" in hello.headers) is user_middleware
    assert handled == ["/unmarked"]


@pytest.mark.anyio
async def test_off_leaves_every_request_to_fastapi(handled: list[str]) -> None:
    app = create_app(_router(), title="t", settings=Settings(compiled_routes=False))
    async with in_process(app) as client:
        assert (await client.post("/hello", json={"name": "Ada"})).json() == {"hi": "Ada"}
    assert handled == ["/hello"]


@pytest.mark.anyio
@pytest.mark.parametrize("compiled", [True, False])
async def test_an_unexpected_error_is_the_same_500_and_still_reaches_the_server(
    compiled: bool,
) -> None:
    app = create_app(_router(), title="t", settings=Settings(compiled_routes=compiled))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)  # raises what the app raises, as uvicorn logs it
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            with pytest.raises(RuntimeError, match="a bug outside any node"):
                await client.get("/broken")
        answered: list[Any] = []

        async def send(message: Any) -> None:
            answered.append(message)

        async def receive() -> Any:
            return {"type": "http.request", "body": b""}

        scope = {
            "type": "http", "method": "GET", "path": "/broken", "root_path": "",
            "headers": [(b"x-request-id", b"r1")], "query_string": b"",
        }  # fmt: skip
        with pytest.raises(RuntimeError):
            await app(scope, receive, send)
    assert answered[0] == {
        "type": "http.response.start",
        "status": 500,
        "headers": [
            (b"content-length", b"70"),
            (b"content-type", b"application/json"),
            (b"x-request-id", b"r1"),
        ],
    }
    assert answered[1]["body"] == (
        b'{"detail":[{"type":"internal_error","loc":[],"msg":"internal error"}]}'
    )
