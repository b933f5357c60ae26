"""What the metrics and tracing middleware both read from a request: its method, bounded, and
the status its answer was sent with."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["StatusSend", "standard_method"]

_METHODS: Final = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
)


def standard_method(method: str) -> str:
    """``method``, or ``_OTHER`` for one outside the standard set.

    An HTTP parser may accept any token as a method (h11 does): a label or span name of its own
    for each would let a client grow the series without bound.
    """
    return method if method in _METHODS else "_OTHER"


class StatusSend:
    """An ASGI ``send`` that keeps the status of the answer it sends: 500 until one is sent,
    which is what the client gets if the app fails before answering."""

    __slots__ = ("send", "status")

    def __init__(self, send: Any) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Any) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)
