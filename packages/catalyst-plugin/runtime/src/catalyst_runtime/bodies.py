"""Request and response bodies: pydantic-core parses requests, orjson writes responses."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from .errors import (
    BodyTimeout,
    BodyTooLarge,
    ClientDisconnected,
    InputValidationError,
    UnsupportedMediaType,
)

if TYPE_CHECKING:
    from starlette.types import Message, Receive

    from .config import Settings
    from .context import ExecutionContext

__all__ = [
    "RequestLimits",
    "dumps",
    "input_body",
    "json_response",
    "read_input",
    "request_receive",
    "time_first_read",
    "to_json",
    "watch_without_body",
]

ModelT = TypeVar("ModelT", bound=BaseModel)

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_FALLBACK_OPTIONS = _OPTIONS | orjson.OPT_NON_STR_KEYS
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # the integers orjson writes itself


def _default(value: Any) -> Any:
    """Types orjson does not write natively (it already handles dataclasses, UUID, datetime)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Decimal):
        # Same choice as FastAPI's jsonable_encoder: integral decimals stay integers.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    asyncpg = sys.modules.get("asyncpg")
    if asyncpg is not None and isinstance(value, asyncpg.Record):
        return dict(value.items())
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """Compact JSON bytes via orjson (pydantic models, decimals, sets and rows included).

    orjson's fast path covers almost every value. What it refuses (integers beyond 64 bits, which
    JSON allows and Python keeps exact; dict keys that are not strings) is retried once through
    ``_escape``, so a rare value costs a second pass instead of a failed request.
    """
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        return orjson.dumps(_escape(value), default=_default, option=_FALLBACK_OPTIONS)


def _escape(value: Any) -> Any:
    """``value`` with out-of-range integers as raw JSON fragments (their exact digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return orjson.Fragment(int.__repr__(value))
    if isinstance(value, dict):
        return {key: _escape(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_escape(item) for item in value]
    if value is None or isinstance(value, (str, float)):
        return value
    try:
        converted = _default(value)
    except TypeError:
        return value  # orjson's own types (datetime, UUID, dataclass...) or a true failure
    return _escape(converted)


def to_json(value: Any) -> str:
    """The ``json`` filter: compact JSON text."""
    return dumps(value).decode()


class RequestLimits:
    """What ``read_input`` accepts; ``create_app`` keeps one on the app, from ``Settings``."""

    __slots__ = ("body_timeout", "max_body_bytes", "max_validation_errors")

    def __init__(
        self,
        max_body_bytes: int = 1024 * 1024,
        body_timeout: float = 30.0,
        max_validation_errors: int = 20,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.max_validation_errors = max_validation_errors

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(settings.max_body_bytes, settings.body_timeout, settings.max_validation_errors)


LIMITS_ATTRIBUTE: Final = "catalyst_limits"
"""The app attribute holding its ``RequestLimits`` (an attribute: cheaper to read than state)."""
_DEFAULT_LIMITS: Final = RequestLimits()
_JSON: Final = b"application/json"

_receive: ContextVar[Receive | None] = ContextVar("catalyst_receive", default=None)
# Whether ``read_input`` also times the wait for a body's first bytes: under uvicorn ``serve``'s
# protocol does (one timer only for requests with a body), granian does not (serve_granian).
_time_first_read = False


def time_first_read(on: bool) -> None:
    """Make ``read_input`` answer 408 when a body's first bytes do not come within
    ``body_timeout`` (for servers that do not time it themselves: granian)."""
    global _time_first_read
    _time_first_read = on


def request_receive() -> Receive | None:
    """The ASGI ``receive`` of the request whose body ``read_input`` read in this task (or the
    task that started this one): after the body it only ever says ``http.disconnect``, which is
    how ``http_call`` learns that the client left."""
    return _receive.get()


def watch_without_body(receive: Receive) -> None:
    """Record the ``receive`` of a request whose body is never read (a GET or DELETE
    workflow's), passing over the body's messages, so ``http_call`` still learns that the client
    left: without it, an http node of such a workflow ran on to its deadline for nobody."""

    async def after_body() -> Message:
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message

    _receive.set(after_body)


def _is_json(content_type: bytes | None) -> bool:
    """``application/json`` or ``application/<anything>+json``, parameters and case ignored."""
    if content_type is None:
        return False
    media = content_type.split(b";", 1)[0].strip().lower()
    if not media.startswith(b"application/"):
        return False
    subtype = media[len(b"application/") :]
    return subtype == b"json" or (subtype.endswith(b"+json") and len(subtype) > 5)


async def read_input(request: Request, model: type[ModelT]) -> ModelT:
    """Read the body within the app's limits, then parse and validate it in one step in
    pydantic-core.

    In order: a Content-Type that is not JSON is a 415 (a cross-site form or ``text/plain``
    post cannot start a workflow without a CORS preflight); a declared Content-Length over
    ``max_body_bytes`` is a 413 before any of the body is read, and so is a body that grows past
    it while it is read in chunks; a body still incomplete after ``body_timeout`` is a 408; a
    client that leaves mid-body is ``ClientDisconnected`` (one log line). Invalid JSON and
    schema violations both raise ``InputValidationError`` (422) with at most
    ``max_validation_errors`` entries and one more saying how many were left out. The error
    list is FastAPI-shaped (``type``, ``loc`` starting with ``"body"``, ``msg``) and never
    carries the offending input value.
    """
    scope = request.scope
    content_type: bytes | None = None
    length: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is None:
                content_type = value
        elif name == b"content-length":
            length = value
    if content_type != _JSON and not _is_json(content_type):
        raise UnsupportedMediaType()
    limits: RequestLimits = getattr(scope.get("app"), LIMITS_ATTRIBUTE, _DEFAULT_LIMITS)
    # (A server has already refused a malformed length; an in-process caller may not have.)
    if length is not None and length.isdigit() and int(length) > limits.max_body_bytes:
        raise BodyTooLarge(limits.max_body_bytes)
    receive = request.receive
    message = await (_first_read(receive, limits) if _time_first_read else receive())
    if message["type"] != "http.request":
        raise ClientDisconnected()
    body: bytes = message.get("body", b"")
    if message.get("more_body", False):
        body = await _read_rest(receive, body, limits)
    elif len(body) > limits.max_body_bytes:
        raise BodyTooLarge(limits.max_body_bytes)
    request._body = body  # as Starlette caches it: a later request.body() or .json() gets it
    _receive.set(receive)
    try:
        # pydantic-core's validator itself: ``model_validate_json`` only checks its keyword
        # arguments (none are passed here) before calling it, about 0.5 µs a request.
        return model.__pydantic_validator__.validate_json(body)  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise _input_error(exc, limits.max_validation_errors) from None


async def _first_read(receive: Receive, limits: RequestLimits) -> Message:
    try:
        async with asyncio.timeout(limits.body_timeout):
            return await receive()
    except TimeoutError:
        raise BodyTimeout(limits.body_timeout) from None


async def _read_rest(receive: Receive, first: bytes, limits: RequestLimits) -> bytes:
    """The rest of a body that comes in several messages, never more than the limit."""
    chunks = [first]
    size = len(first)
    limit = limits.max_body_bytes
    try:
        async with asyncio.timeout(limits.body_timeout):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientDisconnected()
                chunk: bytes = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        raise BodyTimeout(limits.body_timeout) from None


def _input_error(exc: ValidationError, limit: int) -> InputValidationError:
    """At most ``limit`` errors, and a last entry counting the rest.

    ``errors()`` builds a dict per error (1 s and hundreds of MB for the 500k errors a 1 MiB
    body can hold), so past the limit the errors are taken from ``json()``, written in Rust,
    and only the first ``limit`` of them are decoded.
    """
    count = exc.error_count()
    raw: Sequence[Mapping[str, Any]]
    if count <= limit:
        raw = exc.errors(include_url=False, include_context=False, include_input=False)
    else:
        raw = _first_errors(exc, limit)
    errors: list[dict[str, Any]] = [
        {"type": error["type"], "loc": ["body", *error["loc"]], "msg": error["msg"]}
        for error in raw
    ]
    if count > limit:
        more = count - limit
        errors.append(
            {
                "type": "too_many_errors",
                "loc": ["body"],
                "msg": f"{more} more error{'s' if more > 1 else ''} not shown",
            }
        )
    return InputValidationError(errors)


def _first_errors(exc: ValidationError, limit: int) -> list[dict[str, Any]]:
    text = exc.json(include_url=False, include_context=False, include_input=False)
    decoder = json.JSONDecoder()
    first: list[dict[str, Any]] = []
    index = 1  # after "["
    for _ in range(limit):
        error, index = decoder.raw_decode(text, index)
        first.append(error)
        index += 1  # the "," between errors
    return first


def input_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose body ``read_input`` parses, so /docs shows it.

    Nested models are inlined: a ``$ref`` inside ``openapi_extra`` cannot point into
    ``components``, which FastAPI builds only from the parameters it sees.
    """
    schema = model.model_json_schema(by_alias=True)
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, definitions, ())}},
        }
    }


def _inline(node: Any, definitions: Mapping[str, Any], expanding: tuple[str, ...]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        siblings = {k: _inline(v, definitions, expanding) for k, v in node.items() if k != "$ref"}
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in expanding:
                # A recursive model cannot be inlined; describe the inner level as any object.
                return {"type": "object", **siblings}
            target = _inline(definitions[name], definitions, (*expanding, name))
            return {**target, **siblings}
        return siblings
    if isinstance(node, list):
        return [_inline(item, definitions, expanding) for item in node]
    return node


class _JSONResponse(Response):
    """A JSON response whose raw headers are written directly.

    ``Response(headers={...})`` builds them through ``init_headers`` (a dict walk, encoding,
    the content-type and content-length rules): 1.8 µs for a small body against 0.56 µs here
    (docs/performance.md). A workflow's JSON body is never empty and its status is never
    1xx/204/304, so content-length always applies; the header names are fixed and the
    ``Server-Timing`` value is ASCII (node ids are identifiers).
    """

    media_type = "application/json"
    background = None

    def __init__(self, body: bytes, status_code: int, server_timing: str) -> None:
        self.status_code = status_code
        self.body = body
        self.raw_headers = [
            (b"content-length", b"%d" % len(body)),
            _CONTENT_TYPE,
            (b"server-timing", server_timing.encode("latin-1")),
        ]


_CONTENT_TYPE: Final = (b"content-type", b"application/json")


def json_response(data: Any, ctx: ExecutionContext, status_code: int = 200) -> Response:
    """A JSON response written by orjson, with the run's ``Server-Timing`` header."""
    return _JSONResponse(dumps(data), status_code, ctx.server_timing())
