"""http_call and url_segment (the ``http`` node), run_concurrently (a ready set of async nodes)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import unquote

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
    url_segment,
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

    async def step(name: str, delay: float, fail: bool = False) -> str:
        events.append(f"start {name}")
        try:
            await asyncio.sleep(delay)
        except asyncio.CancelledError:
            events.append(f"cancelled {name}")
            raise
        if fail:
            raise UpstreamError(name, "down")
        events.append(f"end {name}")
        return name

    assert await run_concurrently(step("a", 0.02), step("b", 0.01)) == ("a", "b")
    assert events == ["start a", "start b", "end b", "end a"]
    events.clear()
    with pytest.raises(UpstreamError, match='node "b"') as caught:
        await run_concurrently(step("a", 5), step("b", 0.01, fail=True))
    assert events == ["start a", "start b", "cancelled a"]
    assert not isinstance(caught.value, BaseExceptionGroup)


@pytest.mark.anyio
async def test_run_concurrently_returns_results_in_argument_order() -> None:
    finished: list[str] = []

    async def node(name: str, delay: float) -> dict[str, str]:
        await asyncio.sleep(delay)
        finished.append(name)
        return {"node": name}

    first, second, third = await run_concurrently(
        node("first", 0.03), node("second", 0.015), node("third", 0)
    )
    assert finished == ["third", "second", "first"]  # they finished in reverse order
    assert (first, second, third) == ({"node": "first"}, {"node": "second"}, {"node": "third"})


@pytest.mark.anyio
async def test_run_concurrently_keeps_none_results_and_takes_no_nodes() -> None:
    async def nothing() -> None:
        await asyncio.sleep(0)

    async def something() -> int:
        return 1

    assert await run_concurrently(nothing(), something(), nothing()) == (None, 1, None)
    assert await run_concurrently() == ()


@pytest.mark.parametrize(
    ("value", "segment"),
    [
        ("ada", "ada"),
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("q?x=1&y=2", "q%3Fx%3D1%26y%3D2"),
        ("top#frag", "top%23frag"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("...", "..."),  # not a dot-segment: left as it is
        ("v1.2", "v1.2"),
        ("café", "caf%C3%A9"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
        ("a b+c", "a%20b%2Bc"),
        ("100%", "100%25"),  # no double decoding into a "/" later
        ("%2F", "%252F"),
        ("a\\b;c", "a%5Cb%3Bc"),
        (42, "42"),
        ("", ""),
    ],
)
def test_url_segment_encodes_a_value_as_one_path_segment(value: object, segment: str) -> None:
    assert url_segment(value) == segment


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["..", ".", "a/../../admin", "x?admin=1#top", "ünï/cöde"])
async def test_url_segment_keeps_the_request_on_its_path(value: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    url = f"http://up/items/{url_segment(value)}/detail"
    await http_call(context(handler), "item", "GET", url)
    (request,) = seen
    parts = request.url.raw_path.split(b"/")
    assert parts[:2] == [b"", b"items"]
    assert parts[3:] == [b"detail"]  # one segment in between, whatever the value
    assert request.url.query == b""
    assert request.url.fragment == ""
    assert unquote(parts[2].decode()) == value


@pytest.mark.anyio
async def test_negative_retries_are_refused_before_any_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    with pytest.raises(ValueError, match="retries must be 0 or more, not -1"):
        await http_call(context(handler), "n", "GET", "http://up/x", retries=-1)
    assert seen == []
