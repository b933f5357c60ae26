"""The runtime's errors, and how foreign exceptions become them.

Hierarchy (HTTP status in brackets)::

    CatalystError                 [500] base; never raised bare by the runtime
    ├── InputValidationError      [422] the request body is not valid JSON or not the input schema
    │   ├── BodyTooLarge          [413] the body is over the limit (CATALYST_MAX_BODY_BYTES)
    │   ├── UnsupportedMediaType  [415] the body is not declared as JSON (Content-Type)
    │   └── BodyTimeout           [408] the body did not arrive in time (CATALYST_BODY_TIMEOUT)
    ├── ClientDisconnected        [499] the client left before its body was complete (logged)
    ├── ConfigError               [500] a setting is missing or malformed (raised at start-up)
    ├── StreamOverflow            [503] a streamed run's client read too slowly (its last event)
    └── NodeError                 [500] a node failed; carries ``node_id``
        ├── UpstreamError         [502] an HTTP service, PostgreSQL, Redis, Qdrant or LLM failed
        ├── NodeTimeoutError      [504] a node or an upstream call ran out of time
        └── RateLimitExceeded     [429] a rate-limit slot was not free within the timeout
            └── ProviderRateLimited [429] an LLM provider kept answering 429

Every error renders as a FastAPI-style body, ``{"detail": [{"type", "loc", "msg"}]}``. The
message is written by the runtime, never copied from a foreign exception, so it cannot echo an
input value, a connection string or a secret; the foreign exception stays on ``__cause__`` for
the server log.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, ClassVar, Final

__all__ = [
    "BodyTimeout",
    "BodyTooLarge",
    "CatalystError",
    "ClientDisconnected",
    "ConfigError",
    "INTERNAL_ERROR_BODY",
    "InputValidationError",
    "NodeError",
    "NodeTimeoutError",
    "ProviderRateLimited",
    "RateLimitExceeded",
    "StreamOverflow",
    "UnsupportedMediaType",
    "UpstreamError",
    "node_error",
    "public_body",
]

ErrorDetail = dict[str, Any]

_CLOSE: Final[Mapping[str, str]] = MappingProxyType({"connection": "close"})

INTERNAL_ERROR_BODY: Final[dict[str, Any]] = {
    "detail": [{"type": "internal_error", "loc": [], "msg": "internal error"}]
}
"""The body of a 500 for an exception the runtime did not expect: it says nothing more."""


class CatalystError(Exception):
    """Base of every error the runtime raises on purpose."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "internal_error"
    headers: ClassVar[Mapping[str, str] | None] = None
    """Extra response headers (``Connection: close`` when the rest of the request is unread)."""

    @property
    def response_headers(self) -> Mapping[str, str] | None:
        """The headers the error's response carries (``headers``, unless a subclass computes
        them per error, as ``RateLimitExceeded`` does with ``Retry-After``)."""
        return self.headers

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> list[ErrorDetail]:
        """The ``detail`` list of the HTTP body."""
        return [{"type": self.error_type, "loc": [], "msg": self.message}]

    def to_body(self) -> dict[str, Any]:
        return {"detail": self.details()}


class InputValidationError(CatalystError):
    """The request body is not valid JSON, or does not match the workflow's input schema."""

    status_code = 422
    error_type = "input_invalid"

    def __init__(self, errors: Sequence[ErrorDetail]) -> None:
        self.errors = list(errors)
        first = self.errors[0]["msg"] if self.errors else "invalid input"
        super().__init__(f"invalid input: {first}")

    def details(self) -> list[ErrorDetail]:
        return self.errors


class BodyTooLarge(InputValidationError):
    """The request body is larger than the service accepts; the connection is closed after the
    answer, so the rest of the body is never read."""

    status_code = 413
    headers = _CLOSE

    def __init__(self, limit: int) -> None:
        super().__init__(
            [
                {
                    "type": "body_too_large",
                    "loc": ["body"],
                    "msg": f"request body is larger than {limit} bytes",
                }
            ]
        )


class UnsupportedMediaType(InputValidationError):
    """The request does not say its body is JSON (``application/json`` or a ``+json`` type)."""

    status_code = 415

    def __init__(self) -> None:
        super().__init__(
            [
                {
                    "type": "unsupported_media_type",
                    "loc": ["header", "content-type"],
                    "msg": "Content-Type must be application/json (or a +json type)",
                }
            ]
        )


class BodyTimeout(InputValidationError):
    """The request body did not arrive within the time allowed."""

    status_code = 408
    headers = _CLOSE

    def __init__(self, seconds: float) -> None:
        super().__init__(
            [
                {
                    "type": "body_timeout",
                    "loc": ["body"],
                    "msg": f"request body not received within {seconds:g} s",
                }
            ]
        )


class ClientDisconnected(CatalystError):
    """The client went away before its request body was complete: nobody is left to answer.

    Logged as one line at info level (no traceback); the status is nginx's 499, for the log.
    """

    status_code = 499
    error_type = "client_disconnected"

    def __init__(self) -> None:
        super().__init__("client disconnected before the request body was complete")


class StreamOverflow(CatalystError):
    """A streamed run made events faster than its client read them, past the limit: the run is
    stopped, and this is the stream's last event (it can only be told in the stream, whose status
    line has gone)."""

    status_code = 503
    error_type = "stream_overflow"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"the client read the event stream too slowly: more than {limit} bytes of events "
            "were waiting (CATALYST_STREAM_MAX_BUFFERED_BYTES)"
        )


class ConfigError(CatalystError):
    """A setting is missing or malformed; the message names the variable and the expected form."""

    error_type = "config_error"

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {problem}")


class NodeError(CatalystError):
    """A node failed. The body names the node; the cause stays on ``__cause__``."""

    error_type = "node_failed"

    def __init__(self, node_id: str, message: str) -> None:
        self.node_id = node_id
        self.reason = message
        # Where the node sits when it runs inside a parallel branch or a map item, outermost
        # first: ("lookups", "user") for branch "user" of "lookups", ("fanout", 3) for item 3.
        self.within: tuple[str | int, ...] = ()
        super().__init__(f'node "{node_id}": {message}')

    def inside(self, container: str, part: str | int) -> NodeError:
        """Say that the node failed inside ``container``'s branch ``part`` (a name) or item
        ``part`` (an index): the message reads ``node "x" in branch "user" of "lookups": ...``
        and ``loc`` is ``["nodes", "lookups", "user", "x"]``.

        Returns a copy (with the same cause and traceback) and leaves this error as it was: one
        exception object can reach several requests or items at once (a cache's single flight
        hands the leader's failure to every waiter), and each must name its own place."""
        error = type(self).__new__(type(self))
        error.__dict__.update(self.__dict__)
        error.__cause__ = self.__cause__
        error.__traceback__ = self.__traceback__
        error.within = (container, part, *self.within)
        places = []
        for i in range(len(error.within) - 2, -1, -2):
            owner, where = error.within[i], error.within[i + 1]
            kind = f"item {where}" if isinstance(where, int) else f'branch "{where}"'
            places.append(f'{kind} of "{owner}"')
        error.message = f'node "{error.node_id}" in {" in ".join(places)}: {error.reason}'
        error.args = (error.message,)
        return error

    def details(self) -> list[ErrorDetail]:
        loc = ["nodes", *self.within, self.node_id]
        return [{"type": self.error_type, "loc": loc, "msg": self.message}]


class UpstreamError(NodeError):
    """A service the node calls (HTTP, PostgreSQL, Redis, Qdrant, an LLM provider) failed."""

    status_code = 502
    error_type = "upstream_error"


class NodeTimeoutError(NodeError):
    """The node, or the call it was making, did not finish in time."""

    status_code = 504
    error_type = "timeout"


class RateLimitExceeded(NodeError):
    """No rate-limit slot for the key became free within the timeout."""

    status_code = 429
    error_type = "rate_limited"

    def __init__(
        self, node_id: str, key: str, timeout: float, retry_after: float | None = None
    ) -> None:
        self.key = key
        self.timeout = timeout
        self.retry_after = retry_after
        super().__init__(node_id, f"rate limit: no slot within {timeout:g} s")

    @property
    def response_headers(self) -> Mapping[str, str]:
        """``Retry-After``: whole seconds until the slot this caller was refused frees (at
        least 1; 1 when the limiter did not say)."""
        seconds = 1 if self.retry_after is None else max(1, math.ceil(self.retry_after))
        return {"retry-after": str(seconds)}


class ProviderRateLimited(RateLimitExceeded):
    """An LLM or embedding provider answered 429 on every attempt the node made; its
    ``Retry-After`` (when it sent one) is passed on."""

    def __init__(self, node_id: str, provider: str, retry_after: float | None) -> None:
        NodeError.__init__(self, node_id, f"{provider} answered 429 (rate limited)")
        self.key = provider
        self.timeout = 0.0
        self.retry_after = retry_after


def node_error(node_id: str, exc: BaseException) -> CatalystError:
    """Map an exception raised inside node ``node_id`` to the runtime's own error.

    Use at the node boundary: ``except Exception as exc: raise node_error("docs", exc) from exc``.
    Drivers are looked up in ``sys.modules`` instead of imported: an exception can only come from
    a driver that is already loaded, and a service that never uses asyncpg never imports it.
    """
    if isinstance(exc, CatalystError):
        return exc
    name = type(exc).__name__
    aiohttp = sys.modules.get("aiohttp")
    # Before the generic cases: aiohttp's timeouts are TimeoutErrors and its connection errors
    # OSErrors, and the message says which HTTP step failed.
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        if isinstance(exc, TimeoutError):
            return NodeTimeoutError(node_id, f"HTTP request timed out ({name})")
        # (Not "answered <status>" for a ClientResponseError: http_call never asks aiohttp to
        # raise for a status, so one is an answer aiohttp could not parse, given a 400.)
        return UpstreamError(node_id, f"HTTP request failed ({name})")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return NodeTimeoutError(node_id, "timed out")
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        if isinstance(exc, httpx.TimeoutException):
            return NodeTimeoutError(node_id, f"HTTP request timed out ({name})")
        if isinstance(exc, httpx.HTTPStatusError):
            status = exc.response.status_code
            return UpstreamError(node_id, f"HTTP upstream answered {status}")
        return UpstreamError(node_id, f"HTTP request failed ({name})")
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(
        exc, (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
    ):
        if isinstance(exc, asyncpg.QueryCanceledError):
            return NodeTimeoutError(node_id, f"PostgreSQL query cancelled ({name})")
        sqlstate = getattr(exc, "sqlstate", None)
        suffix = f", SQLSTATE {sqlstate}" if sqlstate else ""
        return UpstreamError(node_id, f"PostgreSQL error ({name}{suffix})")
    redis_exceptions = sys.modules.get("redis.exceptions")
    if redis_exceptions is not None and isinstance(exc, redis_exceptions.RedisError):
        if isinstance(exc, redis_exceptions.TimeoutError):
            return NodeTimeoutError(node_id, f"Redis command timed out ({name})")
        return UpstreamError(node_id, f"Redis error ({name})")
    if isinstance(exc, (ConnectionError, OSError)):
        return UpstreamError(node_id, f"connection failed ({name})")
    return NodeError(node_id, f"failed ({name})")


_logger = logging.getLogger("catalyst_runtime")


def public_body(exc: BaseException, where: str) -> dict[str, Any]:
    """What a client is told about ``exc``, after logging it; shared by JSON responses and the
    ``error`` event of a stream, so both say the same.

    Input and node errors carry their own body (they name a field or a node, never data). A
    configuration problem (a missing secret, a pool not built) is the operator's to fix: the log
    names it, the client gets the internal-error body. Anything else is logged with its traceback.
    """
    if isinstance(exc, InputValidationError):
        return exc.to_body()
    if isinstance(exc, ClientDisconnected | StreamOverflow):
        _logger.info("%s: %s", where, exc)
        return exc.to_body()
    if isinstance(exc, NodeError):
        # The runtime's own message only; the cause (which may quote data) stays at debug level.
        # ``node`` is a field of its own in JSON log lines (logs.JsonFormatter).
        _logger.warning("%s -> %d: %s", where, exc.status_code, exc, extra={"node": exc.node_id})
        _logger.debug("cause", exc_info=exc, extra={"node": exc.node_id})
        return exc.to_body()
    if isinstance(exc, CatalystError):
        _logger.error("%s -> %d: %s", where, exc.status_code, exc)
    else:
        _logger.error("%s failed", where, exc_info=exc)
    return INTERNAL_ERROR_BODY
