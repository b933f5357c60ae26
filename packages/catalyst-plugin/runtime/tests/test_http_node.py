"""http_call and url_segment (the ``http`` node), run_concurrently (a ready set of async nodes).

The node's requests go to a real HTTP server on loopback (aiohttp's, in the test's event loop),
whose handler each test writes; ``Seen`` records what arrived.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import pytest
from aiohttp import web
from pydantic import BaseModel
from starlette.requests import Request

from catalyst_runtime import (
    ClientDisconnected,
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    http_call,
    read_input,
    run_concurrently,
    url_segment,
)

from .upstream import Upstream, running_upstream


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: bytes
    port: int  # the client's side of the connection: one port per connection


Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(
    handler: Handler, settings: Settings | None = None
) -> AsyncIterator[tuple[ExecutionContext, str, list[Seen]]]:
    """A context whose pools are the service's own (built as at start-up), an upstream on a free
    loopback port answering with ``handler``, and the requests it received."""
    seen: list[Seen] = []

    async def record(request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        assert request.transport is not None
        port = request.transport.get_extra_info("peername")[1]
        seen.append(Seen(request.method, request.raw_path, headers, body, port))
        return await handler(request)

    server = web.Server(record)
    runner = web.ServerRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    pools = await ConnectionPools.create(settings or Settings(), ["http"])
    try:
        yield ExecutionContext("wf", None, pools=pools), f"http://127.0.0.1:{port}", seen
    finally:
        await pools.close()
        await runner.cleanup()


def answer(status: int = 200, **options: object) -> Handler:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(status=status, **options)  # type: ignore[arg-type]

    return handler


def _without_server_headers(headers: dict[str, str]) -> dict[str, str]:
    # The test server adds Date and Server to every answer.
    return {k: v for k, v in headers.items() if k not in ("date", "server")}


@pytest.mark.anyio
async def test_sends_the_request_and_shapes_the_answer() -> None:
    handler = answer(201, body=b'{"ok": true}', headers={"X-Trace": "t1"},
                     content_type="application/json")  # fmt: skip
    async with serving(handler) as (ctx, up, seen):
        result = await http_call(
            ctx,
            "create",
            "POST",
            f"{up}/items",
            headers={"Authorization": "Bearer x", "X-Skip": None, "X-Count": 3},
            query={"page": 2, "full": True, "gone": None},
            json={"name": "Ada"},
            timeout=2.5,
        )
    assert result["status"] == 201
    assert _without_server_headers(result["headers"]) == {
        "content-length": "12",
        "content-type": "application/json",
        "x-trace": "t1",
    }
    assert result["body"] == {"ok": True}
    (request,) = seen
    assert request.method == "POST"
    assert request.raw_path == "/items?page=2&full=true"
    assert request.headers["authorization"] == "Bearer x"
    assert request.headers["x-count"] == "3"
    assert request.headers["content-type"] == "application/json"
    assert "x-skip" not in request.headers
    assert request.body == b'{"name":"Ada"}'


@pytest.mark.anyio
async def test_text_and_empty_bodies() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text="plain") if request.path == "/t" else web.Response(status=204)

    async with serving(handler) as (ctx, up, _):
        assert (await http_call(ctx, "a", "GET", f"{up}/t"))["body"] == "plain"
        assert (await http_call(ctx, "a", "GET", f"{up}/none"))["body"] is None


@pytest.mark.anyio
async def test_error_statuses_and_bad_json_name_the_node() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if request.path == "/missing":
            return web.Response(status=404)
        return web.Response(body=b"{", content_type="application/json")

    async with serving(handler) as (ctx, up, _):
        with pytest.raises(UpstreamError, match='node "fetch": HTTP upstream answered 404'):
            await http_call(ctx, "fetch", "GET", f"{up}/missing")
        with pytest.raises(UpstreamError, match="invalid JSON"):
            await http_call(ctx, "fetch", "GET", f"{up}/bad")


@pytest.mark.anyio
async def test_retries_transient_failures_then_gives_up() -> None:
    # A connection dropped before any answer, then a 503, then the answer.
    answers: list[str | int] = ["drop", 503, 200]

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        step = answers.pop(0)
        if step == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response()  # never sent: the connection is gone
        assert isinstance(step, int)
        return web.json_response(1, status=step)

    async with serving(handler) as (ctx, up, seen):
        assert (await http_call(ctx, "a", "GET", f"{up}/", retries=2))["body"] == 1
        assert len(seen) == 3
    async with serving(answer(503)) as (ctx, up, seen):
        with pytest.raises(UpstreamError, match="answered 503"):
            await http_call(ctx, "a", "GET", f"{up}/", retries=1)
        assert len(seen) == 2


@pytest.mark.anyio
async def test_timeouts_become_504_and_a_missing_pool_is_a_config_error() -> None:
    async with serving(_hang()) as (ctx, up, _):
        with pytest.raises(NodeTimeoutError, match='node "a": timed out'):
            await http_call(ctx, "a", "GET", f"{up}/", timeout=0.2)
    with pytest.raises(
        ConfigError, match=r"^pools: this workflow has http nodes but the context has no pools$"
    ):
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
    async with serving(answer(204)) as (ctx, up, seen):
        await http_call(ctx, "item", "GET", f"{up}/items/{url_segment(value)}/detail")
    (request,) = seen
    assert "?" not in request.raw_path  # no query, and no fragment (never sent)
    parts = request.raw_path.split("/")
    assert parts[:2] == ["", "items"]
    assert parts[3:] == ["detail"]  # one segment in between, whatever the value
    assert unquote(parts[2]) == value


@pytest.mark.anyio
async def test_negative_retries_are_refused_before_any_request() -> None:
    async with serving(answer(200)) as (ctx, up, seen):
        with pytest.raises(ValueError, match="retries must be 0 or more, not -1"):
            await http_call(ctx, "n", "GET", f"{up}/x", retries=-1)
    assert seen == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/x", "Invalid IPv6 URL"),
        ("http://user:s3cret@127.0.0.1:99999/x", "Port out of range 0-65535"),
        ("http://127.0.0.1:port/x", "Invalid URL: port can't be converted to integer"),
    ],
)
async def test_a_url_that_cannot_be_parsed_is_a_502_naming_the_node(url: str, reason: str) -> None:
    """A base URL from env or global that yarl refuses: an ``UpstreamError`` before any attempt,
    its message without the URL (which may hold a password), not a 500 "failed (ValueError)"."""
    async with serving(answer(200)) as (ctx, _up, seen):
        with pytest.raises(UpstreamError) as caught:
            await http_call(ctx, "fetch", "GET", url, retries=2)
    assert caught.value.status_code == 502
    assert caught.value.message == f'node "fetch": HTTP request URL is not valid ({reason})'
    assert "s3cret" not in caught.value.message
    assert seen == []


@pytest.mark.anyio
async def test_connections_are_kept_alive_and_idle_ones_bounded() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        await asyncio.sleep(0.05)  # long enough for the calls below to overlap
        return web.json_response({})

    settings = Settings(http_max_keepalive=2)
    async with serving(handler, settings) as (ctx, up, seen):
        for _ in range(3):
            await http_call(ctx, "a", "GET", f"{up}/one")
        assert len({r.port for r in seen}) == 1  # one connection, reused
        await asyncio.gather(*(http_call(ctx, "a", "GET", f"{up}/many") for _ in range(6)))
        assert ctx.pools is not None and ctx.pools.http.connector is not None
        idle = sum(len(kept) for kept in ctx.pools.http.connector._conns.values())
        assert idle == 2  # six were open at once; two are kept
        seen.clear()
        await asyncio.gather(*(http_call(ctx, "a", "GET", f"{up}/again") for _ in range(2)))
        assert len({r.port for r in seen}) == 2  # the two kept ones served the next calls


@pytest.mark.anyio
async def test_no_cookie_from_one_answer_goes_out_with_another_call() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.json_response({})
        response.set_cookie("session", "user-a-session")
        return response

    async with serving(handler) as (ctx, up, seen):
        # By name: a cookie jar ignores cookies from an IP address, so 127.0.0.1 proves nothing.
        up = up.replace("127.0.0.1", "localhost")
        first = await http_call(ctx, "a", "GET", f"{up}/login")
        assert "user-a-session" in first["headers"]["set-cookie"]  # the node sees it...
        await http_call(ctx, "a", "GET", f"{up}/other-user")
    assert "cookie" not in seen[1].headers  # ...and no later call sends it


@pytest.mark.anyio
async def test_redirects_are_answers_not_followed() -> None:
    async with serving(answer(302, headers={"Location": "/elsewhere"})) as (ctx, up, seen):
        result = await http_call(ctx, "a", "GET", f"{up}/moved")
    assert result["status"] == 302
    assert result["headers"]["location"] == "/elsewhere"
    assert [r.raw_path for r in seen] == ["/moved"]


@pytest.mark.anyio
async def test_query_adds_to_the_urls_own_and_unsafe_url_characters_are_encoded() -> None:
    async with serving(answer(204)) as (ctx, up, seen):
        query = {"q": "a b&c+d", "u": "é", "e": "ada@example.com", "s": "a/b~*"}
        await http_call(ctx, "a", "GET", f"{up}/s?fixed=1#top", query=query)
        await http_call(ctx, "a", "GET", f"{up}/a b/é/%2E%2E/x")
    # As httpx encoded query values (quote_plus), "@" and "/" included.
    assert seen[0].raw_path == "/s?fixed=1&q=a+b%26c%2Bd&u=%C3%A9&e=ada%40example.com&s=a%2Fb~%2A"
    assert seen[1].raw_path == "/a%20b/%C3%A9/%2E%2E/x"


@pytest.fixture(scope="module")
def raw_upstream() -> Iterator[Upstream]:
    """An upstream that answers exactly the bytes a test gives it (``/raw``), which an aiohttp
    server would not (it adds a Content-Type, and encodes header values itself)."""
    with running_upstream() as server:
        yield server


async def _raw_answer(upstream: Upstream, head: bytes, body: bytes) -> Any:
    """What the node makes of an answer of exactly these header lines and body."""
    url = f"{upstream.url}/raw?head={quote(head)}&body={quote(body)}"
    pools = await ConnectionPools.create(Settings(), ["http"])
    try:
        return await http_call(ExecutionContext("wf", None, pools=pools), "fetch", "GET", url)
    finally:
        await pools.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("head", "body", "text"),
    [
        (b"content-type: text/plain; charset=latin-1\r\n", b"caf\xe9", "caf\u00e9"),
        (b'Content-Type: text/plain; Charset="ISO-8859-1"\r\n', b"caf\xe9", "caf\u00e9"),
        (b"content-type: text/plain; format=flowed; charset='cp1252'\r\n", b"\x80", "\u20ac"),
        (b"content-type: text/plain;charset=latin-1\r\n", b"caf\xe9", "caf\u00e9"),
        (b"content-type: text/plain; charset=latin-1; format=flowed\r\n", b"caf\xe9", "caf\u00e9"),
        # The charset named is used even when the bytes do not fit it: what does not is replaced.
        (b"content-type: text/plain; charset=us-ascii\r\n", b"caf\xc3\xa9", "caf\ufffd\ufffd"),
        # A charset Python does not know, or none named: UTF-8.
        (b"content-type: text/plain; charset=no-such-codec\r\n", b"caf\xc3\xa9", "caf\u00e9"),
        (b"content-type: text/plain; charset=\r\n", b"caf\xc3\xa9", "caf\u00e9"),
        (b"content-type: text/plain\r\n", b"caf\xc3\xa9", "caf\u00e9"),
        # No Content-Type at all: text, and bytes that are not UTF-8 replaced, not an error.
        (b"", b"caf\xc3\xa9", "caf\u00e9"),
        (b"", b"ok \xff", "ok \ufffd"),
        (b"content-type: text/plain; charset=no-such-codec\r\n", b"\xff", "\ufffd"),
    ],
)
async def test_a_text_answer_is_decoded_as_its_content_type_says(
    raw_upstream: Upstream, head: bytes, body: bytes, text: str
) -> None:
    answer = await _raw_answer(raw_upstream, head, body)
    assert answer["body"] == text


@pytest.mark.anyio
async def test_answer_headers_are_lower_case_joined_and_latin_1_when_not_utf_8(
    raw_upstream: Upstream,
) -> None:
    head = b"X-Name: caf\xe9\r\nX-Utf8: caf\xc3\xa9\r\nX-Many: 1\r\nx-many: 2\r\n"
    answer = await _raw_answer(raw_upstream, head, b"")
    headers = answer["headers"]
    assert headers["x-name"] == "caf\u00e9"  # read as Latin-1, what HTTP/1.1 allowed
    assert headers["x-utf8"] == "caf\u00e9"
    assert headers["x-many"] == "1, 2"
    assert answer["body"] is None


@pytest.mark.anyio
async def test_false_and_numbers_are_sent_as_json_would_write_them() -> None:
    async with serving(answer(204)) as (ctx, up, seen):
        await http_call(
            ctx, "a", "GET", f"{up}/q", query={"on": True, "off": False, "n": 1.5},
            headers={"X-Off": False, "X-On": True},
        )  # fmt: skip
    (request,) = seen
    assert request.raw_path == "/q?on=true&off=false&n=1.5"
    assert (request.headers["x-off"], request.headers["x-on"]) == ("false", "true")


@pytest.mark.anyio
async def test_a_400_answer_is_an_error_and_a_399_is_not() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(status=int(request.path.strip("/")), text="x" * 100)

    async with serving(handler) as (ctx, up, _):
        # An error's body is never read: the status is the answer, even past the cap.
        with pytest.raises(UpstreamError, match='node "a": HTTP upstream answered 400'):
            await http_call(ctx, "a", "GET", f"{up}/400", max_bytes=10)
        assert (await http_call(ctx, "a", "GET", f"{up}/399"))["status"] == 399


def _hang(arrived: asyncio.Event | None = None) -> Handler:
    """A handler that never answers and returns once the client has closed its connection, as
    an upstream would stop working (so the server's shutdown does not wait for it)."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if arrived is not None:
            arrived.set()
        # aiohttp gives a handler no event for its connection closing: look every 20 ms.
        while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return web.Response()

    return handler


@pytest.mark.anyio
async def test_a_timed_out_attempt_is_tried_again() -> None:
    async with serving(_hang()) as (ctx, up, seen):
        with pytest.raises(NodeTimeoutError, match='node "a": timed out'):
            await http_call(ctx, "a", "GET", f"{up}/slow", timeout=0.2, retries=1)
        assert [r.raw_path for r in seen] == ["/slow", "/slow"]


@pytest.mark.anyio
async def test_retries_back_off_50_100_then_200_ms() -> None:
    arrived: list[float] = []

    async def unavailable(request: web.BaseRequest) -> web.StreamResponse:
        arrived.append(asyncio.get_running_loop().time())
        return web.Response(status=503)

    async with serving(unavailable) as (ctx, up, _):
        with pytest.raises(UpstreamError, match="answered 503"):
            await http_call(ctx, "a", "GET", f"{up}/", retries=3)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrived)]
    assert len(gaps) == 3
    # At least the back-off before each attempt (a loaded machine only makes the gaps longer).
    for gap, back_off in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert gap >= back_off, gaps


class _Order(BaseModel):
    id: int


async def _served_call(
    up: str, ctx: ExecutionContext, leaves: asyncio.Event | None, **options: Any
) -> Any:
    """What a generated route does: read the body (which keeps the request's ``receive`` for
    http_call), then call the upstream. The client leaves when ``leaves`` is set."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b'{"id": 7}'}
        if leaves is None:
            await asyncio.Event().wait()  # a client that stays
        else:
            await leaves.wait()
        return {"type": "http.disconnect"}

    headers = [(b"content-type", b"application/json")]
    order = await read_input(Request({"type": "http", "headers": headers}, receive), _Order)
    return await http_call(ctx, "fetch", "GET", f"{up}/orders/{order.id}", **options)


@pytest.mark.anyio
async def test_a_client_that_leaves_cancels_the_call_in_process() -> None:
    arrived = asyncio.Event()
    async with serving(_hang(arrived)) as (ctx, up, seen), asyncio.timeout(20):
        leaves = asyncio.Event()
        # A task of its own, as a request has: the kept receive stays in its context.
        call = asyncio.create_task(_served_call(up, ctx, leaves, timeout=15))
        await arrived.wait()
        leaves.set()
        with pytest.raises(ClientDisconnected):
            await call
    assert [r.raw_path for r in seen] == ["/orders/7"]


@pytest.mark.anyio
async def test_a_client_that_stays_gets_the_answer_and_other_cancellations_pass() -> None:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if "slow" in request.query:
            return await _hang()(request)
        return web.json_response({"id": 7})

    async with serving(handler) as (ctx, up, _), asyncio.timeout(20):
        answer = await asyncio.create_task(_served_call(up, ctx, None))
        assert answer["body"] == {"id": 7}
        # The node's own deadline holds while the client is watched.
        with pytest.raises(NodeTimeoutError, match='node "fetch": timed out'):
            await asyncio.create_task(_served_call(up, ctx, None, query={"slow": 1}, timeout=0.2))

        # A deadline around the whole run (not the client leaving) is the caller's own timeout.
        async def bounded() -> Any:
            async with asyncio.timeout(0.3):
                return await _served_call(up, ctx, None, query={"slow": 1})

        with pytest.raises(TimeoutError):
            await asyncio.create_task(bounded())


@pytest.mark.anyio
async def test_a_body_is_sent_only_for_json_and_labelled_once() -> None:
    async def echo(request: web.BaseRequest) -> web.StreamResponse:
        return web.json_response({"types": request.headers.getall("Content-Type", [])})

    async with serving(echo) as (ctx, up, seen):
        plain = await http_call(ctx, "a", "GET", f"{up}/plain")
        labelled = await http_call(ctx, "a", "POST", f"{up}/json", json={"n": 1})
        merge_patch = {"content-type": "application/merge-patch+json"}
        patch = await http_call(ctx, "a", "PATCH", f"{up}/patch", json=[], headers=merge_patch)
    assert (plain["body"], seen[0].body) == ({"types": []}, b"")
    assert (labelled["body"], seen[1].body) == ({"types": ["application/json"]}, b'{"n":1}')
    assert (patch["body"], seen[2].body) == ({"types": ["application/merge-patch+json"]}, b"[]")


@pytest.mark.anyio
async def test_without_options_one_attempt_within_the_settings_deadline() -> None:
    async with serving(answer(503)) as (ctx, up, seen):
        with pytest.raises(UpstreamError, match="answered 503"):
            await http_call(ctx, "a", "GET", f"{up}/")
        assert len(seen) == 1  # no retry unless the node asks for one
    async with serving(_hang(), Settings(http_timeout=0.2)) as (ctx, up, _), asyncio.timeout(20):
        with pytest.raises(NodeTimeoutError, match='node "a": timed out'):
            await http_call(ctx, "a", "GET", f"{up}/")


def _chunked(size: int, pieces: int = 1) -> Handler:
    """An answer of ``size`` bytes with no declared length, in ``pieces`` writes apart."""

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in range(pieces):
            await response.write(bytes([ord("a") + piece]) * (size // pieces))
            await asyncio.sleep(0.05)  # each arrives on its own
        await response.write_eof()
        return response

    return handler


@pytest.mark.anyio
async def test_an_answer_of_exactly_the_cap_is_kept_declared_or_not() -> None:
    async with serving(answer(body=b"x" * 10)) as (ctx, up, _):
        assert (await http_call(ctx, "a", "GET", f"{up}/", max_bytes=10))["body"] == "x" * 10
        with pytest.raises(
            UpstreamError, match=r'^node "big": HTTP upstream answer is larger than 9 bytes$'
        ):
            await http_call(ctx, "big", "GET", f"{up}/", max_bytes=9)
    async with serving(_chunked(10)) as (ctx, up, _):
        assert (await http_call(ctx, "a", "GET", f"{up}/", max_bytes=10))["body"] == "a" * 10
        with pytest.raises(UpstreamError, match=r'node "big": .* larger than 9 bytes'):
            await http_call(ctx, "big", "GET", f"{up}/", max_bytes=9)


@pytest.mark.anyio
async def test_an_answer_in_several_pieces_is_joined_as_sent() -> None:
    async with serving(_chunked(9, pieces=3)) as (ctx, up, _):
        assert (await http_call(ctx, "a", "GET", f"{up}/"))["body"] == "aaabbbccc"


class ClientConnection:
    """A request's ASGI ``receive`` after its body was read: it answers ``http.disconnect`` once
    ``leave()`` is called. Counts the waits begun on it and those cancelled."""

    def __init__(self) -> None:
        self.gone = asyncio.Event()
        self.waits = 0
        self.cancelled = 0

    async def receive(self) -> dict[str, str]:
        self.waits += 1
        try:
            await self.gone.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return {"type": "http.disconnect"}

    def leave(self) -> None:
        self.gone.set()


@asynccontextmanager
async def client_connection() -> AsyncIterator[ClientConnection]:
    """A connection made the request's, as ``read_input`` makes it once the body is read."""
    from catalyst_runtime.bodies import _receive

    connection = ClientConnection()
    token = _receive.set(connection.receive)
    try:
        yield connection
    finally:
        _receive.reset(token)


@pytest.mark.anyio
async def test_calls_in_series_share_one_watch_on_the_client_and_it_ends_with_them() -> None:
    async with serving(answer(200, text="ok")) as (ctx, up, seen), client_connection() as client:
        for path in ("/a", "/b", "/c"):
            await http_call(ctx, "n", "GET", f"{up}{path}")
        assert client.waits == 1  # one watcher for the three calls, not one each
        await asyncio.sleep(0)  # the loop's next turn with no call under way
        await asyncio.sleep(0)  # (the cancelled wait unwinds)
        assert (client.waits, client.cancelled) == (1, 1)
        await http_call(ctx, "n", "GET", f"{up}/d")  # a later call watches again
        assert client.waits == 2
    assert [r.raw_path for r in seen] == ["/a", "/b", "/c", "/d"]


@pytest.mark.anyio
async def test_a_client_leaving_cancels_every_call_under_way_and_any_later_one() -> None:
    arrived, done = asyncio.Event(), asyncio.Event()

    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        if len(seen) == 2:
            arrived.set()
        await done.wait()  # the calls are cancelled long before; this only ends the test
        return web.Response()

    async with serving(handler) as (ctx, up, seen), client_connection() as client:
        calls = [asyncio.ensure_future(http_call(ctx, f"n{i}", "GET", f"{up}/{i}")) for i in (1, 2)]
        await asyncio.wait_for(arrived.wait(), 20)
        client.leave()
        results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 20)
        assert [type(r) for r in results] == [ClientDisconnected, ClientDisconnected]
        with pytest.raises(ClientDisconnected):  # the client is known to be gone: not sent
            await http_call(ctx, "n3", "GET", f"{up}/3")
        done.set()
    assert sorted(r.raw_path for r in seen) == ["/1", "/2"]


def test_a_query_is_written_as_urlencode_writes_it() -> None:
    # Plain keys and values skip quote_plus; every text must still come out as urlencode's.
    from urllib.parse import urlencode

    from catalyst_runtime.http_node import _url

    texts = ["", "ada", "A-Z_a.z~09", "a b", "a+b", "a*b", "50%", "é", "x/y", "k=v&w", "😀", "~-._"]
    for key in texts:
        for value in texts:
            params = {key: value, "limit": "5"}
            assert str(_url("n", "http://up/o", params)) == f"http://up/o?{urlencode(params)}"
