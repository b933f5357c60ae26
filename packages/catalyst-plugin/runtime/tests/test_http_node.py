"""http_call (the ``http`` node) and run_concurrently (a ready set of async nodes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from catalyst_runtime import (
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    NodeTimeoutError,
    UpstreamError,
    http_call,
    run_concurrently,
)

Handler = Callable[[httpx.Request], httpx.Response]


def context(handler: Handler) -> ExecutionContext:
    pools = ConnectionPools()
    # The pool's client, with a transport that answers in process instead of a socket.
    pools._clients["http"] = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ExecutionContext("wf", None, pools=pools)


@pytest.mark.anyio
async def test_sends_the_request_and_shapes_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True}, headers={"X-Trace": "t1"})

    ctx = context(handler)
    result = await http_call(
        ctx,
        "create",
        "POST",
        "http://up/items",
        headers={"Authorization": "Bearer x", "X-Skip": None, "X-Count": 3},
        query={"page": 2, "full": True, "gone": None},
        json={"name": "Ada"},
        timeout=2.5,
    )
    assert result == {
        "status": 201,
        "headers": {"content-length": "11", "content-type": "application/json", "x-trace": "t1"},
        "body": {"ok": True},
    }
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "http://up/items?page=2&full=true"
    assert request.headers["authorization"] == "Bearer x"
    assert request.headers["x-count"] == "3"
    assert "x-skip" not in request.headers
    assert request.content == b'{"name":"Ada"}'
    assert request.extensions["timeout"]["read"] == 2.5


@pytest.mark.anyio
async def test_text_and_empty_bodies() -> None:
    ctx = context(
        lambda r: httpx.Response(200, text="plain") if r.url.path == "/t" else httpx.Response(204)
    )
    assert (await http_call(ctx, "a", "GET", "http://up/t"))["body"] == "plain"
    assert (await http_call(ctx, "a", "GET", "http://up/none"))["body"] is None


@pytest.mark.anyio
async def test_error_statuses_and_bad_json_name_the_node() -> None:
    ctx = context(
        lambda r: (
            httpx.Response(404)
            if r.url.path == "/missing"
            else httpx.Response(200, content=b"{", headers={"content-type": "application/json"})
        )
    )
    with pytest.raises(UpstreamError, match='node "fetch": HTTP upstream answered 404'):
        await http_call(ctx, "fetch", "GET", "http://up/missing")
    with pytest.raises(UpstreamError, match="invalid JSON"):
        await http_call(ctx, "fetch", "GET", "http://up/bad")


@pytest.mark.anyio
async def test_retries_transient_failures_then_gives_up() -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, json=1),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert (await http_call(context(handler), "a", "GET", "http://up/", retries=2))["body"] == 1
    with pytest.raises(UpstreamError, match="answered 503"):
        await http_call(context(lambda r: httpx.Response(503)), "a", "GET", "http://up/", retries=1)


@pytest.mark.anyio
async def test_timeouts_become_504_and_a_missing_pool_is_a_config_error() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(NodeTimeoutError, match='node "a": HTTP request timed out'):
        await http_call(context(slow), "a", "GET", "http://up/")
    with pytest.raises(ConfigError, match="no pools"):
        await http_call(ExecutionContext("wf", None), "a", "GET", "http://up/")


@pytest.mark.anyio
async def test_run_concurrently_overlaps_and_cancels_siblings_on_failure() -> None:
    events: list[str] = []

    async def step(name: str, delay: float, fail: bool = False) -> None:
        events.append(f"start {name}")
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            events.append(f"cancelled {name}")
            raise
        if fail:
            raise UpstreamError(name, "down")
        events.append(f"end {name}")

    await run_concurrently(step("a", 0.02), step("b", 0.01))
    assert events == ["start a", "start b", "end b", "end a"]
    events.clear()
    with pytest.raises(UpstreamError, match='node "b"') as caught:
        await run_concurrently(step("a", 5), step("b", 0.01, fail=True))
    assert events == ["start a", "start b", "cancelled a"]
    assert not isinstance(caught.value, BaseExceptionGroup)


@pytest.mark.anyio
async def test_negative_retries_are_refused_before_any_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with pytest.raises(ValueError, match="retries must be 0 or more, not -1"):
        await http_call(context(handler), "n", "GET", "http://up/x", retries=-1)
    assert seen == []
