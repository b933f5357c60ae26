"""A request id for every request: the caller's ``X-Request-ID``, or a new one.

``create_app`` puts ``RequestIdMiddleware`` outside everything else of the app (FastAPI's own
error middleware included), so every response carries ``X-Request-ID``, a 500 too, and every
log line written while the request runs names it (``logs.JsonFormatter`` reads
``current_request_id()``).

A fresh id is 32 hexadecimal digits. A caller's id is kept when it is 1 to 128 characters of
``A-Z a-z 0-9 . _ : -`` (what request ids and trace ids are made of); anything else (too long,
spaces, quotes, control characters that could forge a log line) is replaced by a fresh id
rather than refused.
"""

from __future__ import annotations

import itertools
import os
import re
from contextvars import ContextVar
from typing import Any, Final

__all__ = ["RequestIdMiddleware", "assign", "current_request_id", "current_route"]

HEADER: Final = b"x-request-id"
MAX_LENGTH: Final = 128
_VALID: Final = re.compile(rb"[A-Za-z0-9._:-]{1,128}")

# A fresh id is this process's random prefix and a counter: unique across processes and
# restarts like a random one, for a fifth of the cost of os.urandom per request.
_prefix = os.urandom(8).hex()
_counter = itertools.count(1)


def _new_process() -> None:
    # A server that imports the app and then forks its workers (gunicorn --preload) would give
    # every worker the same prefix and counter: each child draws its own.
    global _prefix, _counter
    _prefix = os.urandom(8).hex()
    _counter = itertools.count(1)


os.register_at_fork(after_in_child=_new_process)

# The request's id and its ASGI scope (the router adds the matched route to it).
_current: ContextVar[tuple[str, Any] | None] = ContextVar("catalyst_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served by this task, if any."""
    current = _current.get()
    return None if current is None else current[0]


def current_route() -> Any:
    """The route that matched the request being served by this task, once one has."""
    current = _current.get()
    return None if current is None else current[1].get("route")


def assign(scope: Any) -> tuple[bytes, bytes]:
    """Make the request's id current and return its response header: the caller's
    ``X-Request-ID`` when it is valid, else a fresh id. Shared with the compiled request path
    (``compiled_routes``), which adds the header to the raw headers it sends itself."""
    for name, value in scope["headers"]:
        if name == HEADER and _VALID.fullmatch(value):
            rid = value.decode("ascii")
            break
    else:
        rid = f"{_prefix}{next(_counter):016x}"
    # Not reset afterwards: the server runs each request in a task of its own, whose context
    # dies with it, and its report of an exception the app raised comes after this returns.
    _current.set((rid, scope))
    return (HEADER, rid.encode("ascii"))


class RequestIdMiddleware:
    """Pure ASGI middleware (no ``BaseHTTPMiddleware``: that would copy every response)."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = assign(scope)

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                # A new list: the response's own may be shared between responses.
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self.app(scope, receive, send_with_id)
