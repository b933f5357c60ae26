"""A streamed run (``trigger.stream: true``): the workflow runs as a task while its events go to
the client the moment they happen.

Generated code builds the context from the request as for a JSON answer (so a bad request is
still a plain 4xx before any stream starts), then hands over::

    return stream_run(run, ctx)

``EventChannel`` is the run's ``ctx.events``: nodes put ``token`` and ``partial`` events into it
without waiting, and the response takes them out as fast as the client reads. When the client
leaves, ``EventStreamResponse`` cancels the stream and the run's task with it (every node still
running, and whatever connection it holds) before the request ends.
"""

from __future__ import annotations

import asyncio
import copy
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from typing import Any, Final

import anyio

from .context import ExecutionContext
from .errors import StreamOverflow
from .sse import EVENT_TYPES, EventStreamResponse, done_event, format_sse, stream_response

__all__ = ["EventChannel", "stream_doc", "stream_run"]

_DEFAULT_MAX_BUFFERED: Final = 1024 * 1024


class EventChannel:
    """``EventSink`` over a queue of formatted events, bounded in bytes.

    Events are formatted when they are put, so what waits is bytes that can be counted (and a
    node's output is written as it was when the node finished). Up to ``limit`` bytes may wait for
    a client that reads slowly; one more event past that stops the run (``StreamOverflow``, the
    stream's last event). An event is always taken when nothing waits, however large, so a big
    partial never fails a client that keeps up.
    """

    __slots__ = ("_buffered", "_events", "_limit", "_overflow", "_task", "_waiter")

    def __init__(self, limit: int = _DEFAULT_MAX_BUFFERED) -> None:
        self._events: deque[bytes] = deque()
        self._buffered = 0
        self._limit = limit
        self._overflow = False
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Future[Any] | None = None

    def token(self, node_id: str, text: str) -> None:
        self._put(format_sse("token", {"node": node_id, "text": text}))

    def partial(self, node_id: str, output: Any, branch: str | None = None) -> None:
        data = (
            {"node": node_id, "output": output}
            if branch is None
            else {"node": node_id, "branch": branch, "output": output}
        )
        self._put(format_sse("partial", data))

    def _put(self, event: bytes) -> None:
        if self._overflow:
            return
        if self._buffered and self._buffered + len(event) > self._limit:
            # Not raised at the caller: a node's own error handling (an LLM's stream, say)
            # would take it for its upstream failing. The run is stopped from here instead.
            self._overflow = True
            if self._task is not None:
                self._task.cancel()
            self._wake()
            return
        self._events.append(event)
        self._buffered += len(event)
        self._wake()

    def _wake(self, _: object = None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def run(
        self, run: Callable[[ExecutionContext], Awaitable[Any]], ctx: ExecutionContext
    ) -> AsyncGenerator[bytes]:
        """Run ``run(ctx)`` as a task; yield its events as they come, then ``done``.

        A failure of the run is raised here, after the events before it (``stream_response``
        turns it into the ``error`` event). Closing this generator early (the client left)
        cancels the run and waits for it, so no node outlives the request.
        """
        ctx.events = self
        task = asyncio.ensure_future(run(ctx))
        self._task = task
        task.add_done_callback(self._wake)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._events:
                    # Whatever has piled up since the last send goes out as one chunk.
                    chunk = b"".join(self._events) if len(self._events) > 1 else self._events[0]
                    self._events.clear()
                    self._buffered = 0
                    yield chunk
                    continue
                if task.done():
                    break
                self._waiter = loop.create_future()
                await self._waiter
                self._waiter = None
        finally:
            if not task.done():
                task.cancel()
                # Shielded: the response's cancel scope keeps cancelling every await inside
                # it, and the run must be seen to finish (connections back in their pools).
                with anyio.CancelScope(shield=True):
                    await asyncio.wait((task,))
            if not task.cancelled():
                task.exception()  # retrieved, so a run failing after the client left logs nothing
        if self._overflow:
            raise StreamOverflow(self._limit)
        yield done_event(task.result(), ctx)


def stream_run(
    run: Callable[[ExecutionContext], Awaitable[Any]], ctx: ExecutionContext
) -> EventStreamResponse:
    """The answer of a streaming workflow: ``run(ctx)``'s events as ``text/event-stream``.

    The buffer limit is the service's ``CATALYST_STREAM_MAX_BUFFERED_BYTES`` (the context's
    pools hold the settings; 1 MiB without them).
    """
    limit = (
        ctx.pools.settings.stream_max_buffered_bytes
        if ctx.pools is not None
        else _DEFAULT_MAX_BUFFERED
    )
    return stream_response(EventChannel(limit).run(run, ctx))


def _event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": name,
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
    }


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_ERROR_ITEM = _object(
    ["type", "loc", "msg"],
    type={"type": "string"},
    loc={"type": "array", "items": {"type": ["string", "integer"]}},
    msg={"type": "string"},
)

_EVENTS: Final[dict[str, dict[str, Any]]] = {
    "partial": _object(
        ["node", "output"],
        node={"type": "string", "description": "The node (or parallel node) that finished."},
        branch={"type": "string", "description": "The branch of a parallel node that finished."},
        output={"description": "Its value."},
    ),
    "token": _object(
        ["node", "text"],
        node={"type": "string", "description": "The node marked stream: true."},
        text={"type": "string"},
    ),
    "done": _object(
        ["output", "timings"],
        output={"description": "The workflow's output, as a JSON answer would carry it."},
        timings={
            "type": "object",
            "additionalProperties": {"type": "number"},
            "description": "Milliseconds per node, and total.",
        },
    ),
    "error": _object(["detail"], detail={"type": "array", "items": _ERROR_ITEM}),
}
assert tuple(_EVENTS) == EVENT_TYPES

_STREAM_RESPONSES: Final = {
    "200": {
        "description": (
            "Server-sent events: partial as each node or parallel branch finishes, token as the "
            "streaming node produces text, then done with the output and timings, or error with "
            "the body a JSON error answer would have."
        ),
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "itemSchema": {"oneOf": [_event(name, data) for name, data in _EVENTS.items()]},
            }
        },
    }
}


def stream_doc(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` for a streaming route: ``extra`` (the request's part, from
    ``input_body`` or ``query_parameters``) and the answer as an event stream."""
    # A copy: FastAPI merges it into the schema it builds, and routes must not share one.
    return {**(extra or {}), "responses": copy.deepcopy(_STREAM_RESPONSES)}
