from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Message

from catalyst_runtime import (
    ConfigError,
    ExecutionContext,
    UpstreamError,
    done_event,
    error_event,
    format_sse,
)
from catalyst_runtime.sse import EVENT_TYPES, EventStreamResponse

from .conftest import import_app, in_process


def _events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        event_line, data_line = block.split("\n")
        events.append((event_line.removeprefix("event: "), orjson.loads(data_line[6:])))
    return events


def test_format_sse() -> None:
    assert format_sse("token", {"text": "a\nb"}) == b'event: token\ndata: {"text":"a\\nb"}\n\n'
    assert EVENT_TYPES == ("partial", "token", "done", "error")
    kilobyte = format_sse("partial", {"text": "x" * 1024})
    assert kilobyte.count(b"\n") == 3


def test_done_event_carries_output_and_timings() -> None:
    ctx = ExecutionContext("wf", None)
    with ctx.node("a"):
        pass
    [(event, data)] = _events(done_event({"x": 1}, ctx).decode())
    assert event == "done"
    assert data["output"] == {"x": 1}
    assert set(data["timings"]) == {"a", "total"}


def test_error_event_names_the_node() -> None:
    [(event, data)] = _events(error_event(UpstreamError("reply", "LLM provider failed")).decode())
    assert event == "error"
    assert data["detail"][0]["loc"] == ["nodes", "reply"]


def test_error_event_for_unexpected_exceptions_says_nothing() -> None:
    [(event, data)] = _events(error_event(RuntimeError("hunter2")).decode())
    assert event == "error"
    assert data == {"detail": [{"type": "internal_error", "loc": [], "msg": "internal error"}]}


def test_error_event_for_a_config_error_tells_the_log_not_the_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    error = ConfigError("MAIL_TOKEN", "secret is not set in the environment")
    [(event, data)] = _events(error_event(error).decode())
    assert event == "error"
    assert data == {"detail": [{"type": "internal_error", "loc": [], "msg": "internal error"}]}
    assert "MAIL_TOKEN: secret is not set" in caplog.text


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sse") / "marker"


@pytest.fixture(scope="module")
def stream_url(apps_dir: Path, marker: Path) -> Iterator[str]:
    from catalyst_runtime.testing import running_server

    with running_server(
        "stream_app:app", cwd=apps_dir, env={"CATALYST_TEST_MARKER": str(marker)}
    ) as url:
        yield url


def test_stream_over_http(stream_url: str) -> None:
    with httpx.stream("POST", f"{stream_url}/answer") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        events = _events(response.read().decode())
    kinds = [event for event, _ in events]
    assert kinds == ["partial", "partial", "token", "token", "done"]
    assert [data["node"] for _, data in events[:2]] == ["fast", "slow"]  # as they finish
    assert [data["output"] for _, data in events[:2]] == [{"hits": 1}, {"hits": 5}]
    assert [data["text"] for _, data in events[2:4]] == ["Hel", "lo"]
    done = events[-1][1]
    assert done["output"] == {"answer": "Hello"}
    assert set(done["timings"]) == {"fast", "slow", "reply", "total"}
    assert done["timings"]["slow"] >= 45  # uvloop timers may fire up to a millisecond early


def test_client_disconnect_cancels_the_producer(stream_url: str, marker: Path) -> None:
    marker.unlink(missing_ok=True)
    with httpx.stream("GET", f"{stream_url}/forever") as response:
        lines = response.iter_lines()
        assert next(lines) == "event: token"
        assert next(lines) == 'data: {"n":0}'
    # The connection is closed; the server notices and stops the generator, well before the
    # next token would have failed to send.
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.read_text() in {"cancelled", "closed"}


def test_failure_mid_stream_ends_with_an_error_event(stream_url: str) -> None:
    response = httpx.get(f"{stream_url}/fails")
    assert response.status_code == 200
    events = _events(response.text)
    assert events[-1] == (
        "error",
        {
            "detail": [
                {
                    "type": "upstream_error",
                    "loc": ["nodes", "reply"],
                    "msg": 'node "reply": LLM provider failed',
                }
            ]
        },
    )


@pytest.mark.anyio
async def test_in_process_stream_and_crash() -> None:
    app = import_app("stream_app")
    async with in_process(app) as client:
        crashed = await client.get("/crashes")
        answered = await client.post("/answer")
    assert crashed.headers["x-extra"] == "1"
    assert _events(crashed.text)[-1][0] == "error"
    assert "hunter2" not in crashed.text
    assert _events(answered.text)[-1][0] == "done"


@pytest.mark.anyio
async def test_disconnect_cancels_even_on_asgi_2_4_servers() -> None:
    """Starlette watches for disconnects only below ASGI spec 2.4; EventStreamResponse always."""
    cancelled = asyncio.Event()
    first_sent = asyncio.Event()

    async def producer() -> Any:
        try:
            yield b"event: token\ndata: 0\n\n"
            await asyncio.sleep(30)  # an LLM that has gone quiet
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def receive() -> Message:
        await first_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            first_sent.set()

    scope = {"type": "http", "asgi": {"spec_version": "2.4"}}
    response = EventStreamResponse(producer())
    await asyncio.wait_for(response(scope, receive, send), timeout=5)
    assert cancelled.is_set()


@pytest.mark.anyio
async def test_send_failure_stops_the_stream() -> None:
    async def producer() -> Any:
        while True:
            yield b"event: token\ndata: 0\n\n"
            await asyncio.sleep(0)

    async def receive() -> Message:
        await asyncio.sleep(30)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: Message) -> None:
        if message["type"] == "http.response.body":
            raise OSError("connection reset")

    async def background() -> None:
        ran.set()

    from starlette.background import BackgroundTask

    ran = asyncio.Event()
    response = EventStreamResponse(producer(), background=BackgroundTask(background))
    await asyncio.wait_for(response({"type": "http"}, receive, send), timeout=5)
    assert ran.is_set()
