"""Server-Sent Events: orjson-encoded events and a response that stops when the client leaves.

A streaming workflow yields ``partial`` events as parallel branches finish, ``token`` events as an
LLM streams, then one ``done`` event carrying the output and per-node timings; a failure becomes
one ``error`` event with the same body an HTTP error would have.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from typing import Any, Final

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .bodies import dumps
from .context import ExecutionContext
from .errors import public_body

__all__ = [
    "EVENT_TYPES",
    "EventStreamResponse",
    "done_event",
    "error_event",
    "format_sse",
    "stream_response",
]


EVENT_TYPES: Final = ("partial", "token", "done", "error")

SSE_HEADERS: Final[Mapping[str, str]] = {
    "cache-control": "no-cache",
    # nginx (and proxies that honour it) would otherwise buffer the stream.
    "x-accel-buffering": "no",
}


def format_sse(event: str, data: Any) -> bytes:
    """One event: ``event: <event>\\ndata: <compact JSON>\\n\\n``.

    orjson never writes a raw newline (it escapes them inside strings), so the data is always one
    ``data:`` line. ``event`` is a name from generated code, never user input.
    """
    return b"event: " + event.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def done_event(output: Any, ctx: ExecutionContext) -> bytes:
    """The final event: the workflow output and per-node timings in milliseconds."""
    return format_sse("done", {"output": output, "timings": ctx.timings_ms()})


def error_event(exc: BaseException, where: str = "stream") -> bytes:
    """The event a failed stream ends with (after logging): the body the HTTP error would carry."""
    return format_sse("error", public_body(exc, where))


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` response that cancels its producer when the client disconnects.

    Starlette does this only for servers that speak ASGI HTTP spec < 2.4; with newer ones the
    producer would run on until its next chunk failed to send, which for an idle LLM stream could
    be a long time. Here the disconnect is always watched.
    """

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def stream_then_stop() -> None:
                # OSError: the client went away mid-send (servers speaking ASGI spec >= 2.4).
                with contextlib.suppress(OSError):
                    await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream_then_stop)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()
        # Close the producer now (running its ``finally`` blocks, closing upstream streams)
        # rather than whenever the garbage collector gets to it.
        aclose = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            await aclose()
        if self.background is not None:
            await self.background()


async def _guarded(events: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    # The status line is already sent, so a failure can only be told as a final event.
    try:
        async for chunk in events:
            yield chunk
    except Exception as exc:
        yield error_event(exc)
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


def stream_response(
    events: AsyncIterable[bytes], *, headers: Mapping[str, str] | None = None
) -> EventStreamResponse:
    """Stream ``events`` (from ``format_sse``) with ``Cache-Control: no-cache`` and
    ``X-Accel-Buffering: no``; an exception in the producer becomes an ``error`` event."""
    return EventStreamResponse(_guarded(events), headers={**SSE_HEADERS, **(headers or {})})
