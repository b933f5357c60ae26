"""The http node against a real, misbehaving upstream on loopback: a deadline per attempt, a
cap on the answer, exact big integers, headers that cannot be sent, a client that leaves, and a
bounded shutdown (docs/runtime.md, "Limits")."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    http_call,
)
from catalyst_runtime.testing import free_port, running_server

from .upstream import Upstream, running_upstream

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


@pytest.fixture
async def ctx() -> AsyncIterator[ExecutionContext]:
    pools = await ConnectionPools.create(Settings(http_max_response_bytes=2 * MiB), ["http"])
    try:
        yield ExecutionContext("wf", None, pools=pools)
    finally:
        await pools.close()


@pytest.mark.anyio
async def test_timeout_is_a_deadline_for_the_whole_answer(
    ctx: ExecutionContext, upstream: Upstream
) -> None:
    # A byte every 0.2 s: no single read waits a second, but the whole answer takes 8 s.
    count = len(upstream.seen)
    async with asyncio.timeout(30):  # bounds the test itself
        with pytest.raises(NodeTimeoutError, match='node "drip": timed out'):
            await http_call(ctx, "drip", "GET", f"{upstream.url}/drip", timeout=1)
    seen = upstream.wait_for_request(count + 1)
    assert seen.sent < 40  # it gave up while the upstream was still sending


@pytest.mark.anyio
async def test_an_endless_answer_is_cut_at_the_cap(
    ctx: ExecutionContext, upstream: Upstream
) -> None:
    count = len(upstream.seen)
    async with asyncio.timeout(30):
        with pytest.raises(UpstreamError, match=r'node "big": .*larger than 1048576 bytes'):
            await http_call(ctx, "big", "GET", f"{upstream.url}/endless", max_bytes=MiB)
    seen = upstream.wait_for_request(count + 1)
    assert seen.closed.wait(20)  # the connection was dropped, so the upstream stopped
    assert seen.sent < 64 * MiB  # what loopback buffers hold, not what the upstream could send


@pytest.mark.anyio
async def test_the_cap_defaults_to_the_setting_and_a_declared_length_fails_at_once(
    ctx: ExecutionContext, upstream: Upstream
) -> None:
    async with asyncio.timeout(30):
        with pytest.raises(UpstreamError, match="larger than 2097152 bytes"):
            await http_call(ctx, "big", "GET", f"{upstream.url}/declared-huge")
        with pytest.raises(UpstreamError, match="larger than 2097152 bytes"):
            await http_call(ctx, "big", "GET", f"{upstream.url}/endless")


@pytest.mark.anyio
async def test_big_integers_from_upstream_stay_exact(
    ctx: ExecutionContext, upstream: Upstream
) -> None:
    body = b'{"n": 123456789012345678901234567890, "neg": -9223372036854775809, "f": 1.5, "s": "1234567890123456789012"}'  # noqa: E501
    url = f"{upstream.url}/json?body={quote(body)}"
    answer = await http_call(ctx, "nums", "GET", url)
    assert answer["body"] == {
        "n": 123456789012345678901234567890,
        "neg": -9223372036854775809,
        "f": 1.5,
        "s": "1234567890123456789012",
    }
    assert type(answer["body"]["n"]) is int
    small = await http_call(ctx, "nums", "GET", f"{upstream.url}/json?body={quote(b'[1, 2.5]')}")
    assert small["body"] == [1, 2.5]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[NaN, 12345678901234567890]", "NaN is not JSON"),
        (b"[1e400, 12345678901234567890]", "number out of range"),
        (b"{", "unexpected end of data"),
    ],
)
async def test_not_json_stays_invalid_on_either_parser(
    ctx: ExecutionContext, upstream: Upstream, body: bytes, why: str
) -> None:
    with pytest.raises(
        UpstreamError, match='node "nums": HTTP upstream sent invalid JSON'
    ) as caught:
        await http_call(ctx, "nums", "GET", f"{upstream.url}/json?body={quote(body)}")
    # The parser's reason stays the cause, for the log's traceback.
    assert str(caught.value.__cause__).startswith(why)


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["Zoë", "日本", "a\r\nX-Injected: 1", "a\nb", "nul\x00"])
async def test_a_header_value_that_cannot_be_sent_names_the_node_and_header(
    ctx: ExecutionContext, upstream: Upstream, value: str
) -> None:
    count = len(upstream.seen)
    message = (
        'node "hdr": header "X-Name" has a value that cannot be sent: HTTP header values must be '
        "printable ASCII"
    )
    with pytest.raises(UpstreamError) as caught:
        await http_call(
            ctx, "hdr", "GET", f"{upstream.url}/json?body=1", headers={"X-Name": value}, retries=2
        )
    assert caught.value.message == message
    assert caught.value.status_code == 502
    assert value not in str(caught.value)
    assert len(upstream.seen) == count  # nothing was sent, and nothing retried


@pytest.mark.anyio
async def test_tabs_and_ordinary_values_are_sent(ctx: ExecutionContext, upstream: Upstream) -> None:
    count = len(upstream.seen)
    headers = {"X-Tab": "a\tb", "X-Plain": "Bearer abc.DEF-123_~+/="}
    await http_call(ctx, "hdr", "GET", f"{upstream.url}/json?body=1", headers=headers)
    head = upstream.wait_for_request(count + 1).head
    assert b"x-tab: a\tb\r\n" in head.lower()


def _wait_for_line(log: Path, text: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text()
        if text in content:
            return content
        time.sleep(0.1)
    return log.read_text()


_BODY = b'{"path": "/hang"}'


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /fetch HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY),
        # A GET workflow reads no body, so nothing else records how to hear the client leave.
        b"GET /fetch?path=%2Fhang HTTP/1.1\r\nHost: t\r\n\r\n",
    ],
    ids=["body", "query"],
)
def test_a_client_that_leaves_cancels_the_upstream_call(
    apps_dir: Path, upstream: Upstream, tmp_path: Path, request_bytes: bytes
) -> None:
    # The node allows itself 60 s; the client leaves after the upstream has the request. The
    # upstream must see its connection closed long before the 60 s are up.
    log = tmp_path / "server.log"
    env = {"UPSTREAM_URL": upstream.url}
    count = len(upstream.seen)
    with running_server("upstream_app:app", cwd=apps_dir, env=env, log_file=log) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(request_bytes)
            seen = upstream.wait_for_request(count + 1)
        # The client has gone.
        assert seen.closed.wait(20), "the upstream call went on after the client left"
        content = _wait_for_line(log, "client disconnected")
    assert "client disconnected" in content
    assert "Traceback" not in content


def test_shutdown_does_not_wait_for_ever_on_a_running_request(
    apps_dir: Path, upstream: Upstream
) -> None:
    port = free_port()
    env = {
        "UPSTREAM_URL": upstream.url,
        "CATALYST_SHUTDOWN_TIMEOUT": "1",
    }
    import os

    server = subprocess.Popen(
        [sys.executable, "-m", "catalyst_runtime.serve", "upstream_app:app", "--port", str(port)],
        cwd=apps_dir,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/docs", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        count = len(upstream.seen)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            body = b'{"path": "/hang"}'
            sock.sendall(
                b"POST /fetch HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            seen = upstream.wait_for_request(count + 1)
            server.send_signal(signal.SIGTERM)
            # The request would run 60 s; the server gives it one, then cancels it and stops.
            _, stderr = server.communicate(timeout=30)
        assert seen.closed.wait(10)
        assert b"timeout graceful shutdown exceeded" in stderr, stderr.decode()[-2000:]
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
