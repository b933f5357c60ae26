"""The ``http`` node at run time: one request on the service's pooled client.

Generated code calls ``await http_call(ctx, "node_id", "GET", url, ...)`` once per node instead of
re-emitting request, retry and error handling per node. The client is ``ctx.pools.http``, built
once at start-up; a request never makes its own client.
"""

from __future__ import annotations

import asyncio
import json as stdlib_json
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from .bodies import request_receive
from .errors import ClientDisconnected, ConfigError, UpstreamError, node_error

if TYPE_CHECKING:
    import httpx
    from starlette.types import Receive

    from .context import ExecutionContext

__all__ = ["http_call", "url_segment"]

# Worth retrying: the upstream (or a proxy before it) says "not now", not "no".
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_START = 0.05
_BACKOFF_MAX = 1.0
# orjson reads an integer beyond 64 bits as a float, silently rounded; a run of 19 digits or
# more (anywhere, strings included: a false alarm only costs the slower, exact parser) sends the
# body to the standard library's parser, which keeps every integer exact.
_LONG_DIGITS = re.compile(rb"\d{19}")


async def http_call(
    ctx: ExecutionContext,
    node_id: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    json: Any = None,
    timeout: float | None = None,  # noqa: ASYNC109 - a deadline per attempt, see below
    retries: int = 0,
    max_bytes: int | None = None,
) -> dict[str, Any]:
    """Send the request and return ``{"status", "headers", "body"}``.

    ``body`` is the parsed JSON when the response says it is JSON, else the text (``None`` when
    empty). ``headers`` keys are lower case. A header or query value that is ``None`` is left
    out, so ``| default`` can make one optional; others are sent as text. ``json=None`` sends no
    body.

    ``timeout`` (seconds; default ``CATALYST_HTTP_TIMEOUT``) is a deadline for each attempt as a
    whole, from sending the request to the last byte of the answer, not a bound on each read.
    ``max_bytes`` (default ``CATALYST_HTTP_MAX_RESPONSE_BYTES``) caps the answer's body, as
    received after decompression: a longer one is a 502 naming the node, and reading stops there.
    If the client that made the request disconnects, the call is cancelled.

    A connection failure, a timeout or a 502/503/504 answer is tried again up to ``retries``
    times, with a short exponential back-off. Then any answer of 400 or more raises
    ``UpstreamError`` (502) naming the node and the status; a timeout raises
    ``NodeTimeoutError`` (504); other transport failures ``UpstreamError``.
    """
    pools = ctx.pools
    if pools is None:
        raise ConfigError("pools", "this workflow has http nodes but the context has no pools")
    client: httpx.AsyncClient = pools.http
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    settings = pools.settings
    deadline = settings.http_timeout if timeout is None else timeout
    cap = settings.http_max_response_bytes if max_bytes is None else max_bytes
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = timeout
    if json is not None:
        options["json"] = json
    sent_headers = _headers(node_id, headers)
    params = _texts(query)
    request = client.build_request(method, url, headers=sent_headers, params=params, **options)
    receive = request_receive()
    if receive is None:
        return await _attempts(client, request, node_id, deadline, cap, retries)
    return await _unless_disconnected(
        receive, _attempts(client, request, node_id, deadline, cap, retries)
    )


async def _attempts(
    client: httpx.AsyncClient,
    request: httpx.Request,
    node_id: str,
    deadline: float,
    cap: int,
    retries: int,
) -> dict[str, Any]:
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            async with asyncio.timeout(deadline):
                status, headers, content = await _send(client, request, node_id, cap)
        except UpstreamError:
            raise
        except Exception as exc:
            if last or not _transient(exc):
                raise node_error(node_id, exc) from exc
        else:
            if last or status not in _RETRY_STATUSES:
                break
        await asyncio.sleep(min(_BACKOFF_START * 2**attempt, _BACKOFF_MAX))
    if status >= 400:
        raise UpstreamError(node_id, f"HTTP upstream answered {status}")
    return {"status": status, "headers": headers, "body": _body(node_id, headers, content)}


async def _send(
    client: httpx.AsyncClient, request: httpx.Request, node_id: str, cap: int
) -> tuple[int, dict[str, str], bytes]:
    """One attempt: the status, the headers and at most ``cap`` bytes of body."""
    response = await client.send(request, stream=True)
    try:
        status = response.status_code
        headers = dict(response.headers)
        if status >= 400:
            return status, headers, b""  # an error's body is never read, nor shown
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(node_id, cap)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise _too_large(node_id, cap)
            chunks.append(chunk)
        return status, headers, b"".join(chunks)
    finally:
        await response.aclose()


def _too_large(node_id: str, cap: int) -> UpstreamError:
    return UpstreamError(node_id, f"HTTP upstream answer is larger than {cap} bytes")


async def _unless_disconnected(receive: Receive, call: Any) -> dict[str, Any]:
    """Run ``call`` in this task, cancelled if the client's connection goes away first."""
    task = asyncio.current_task()
    assert task is not None
    left = False

    async def watch() -> None:
        nonlocal left
        message = await receive()
        # After a body has been read, only a disconnect (or the response's completion, which
        # cannot come while the handler is still running) ends this wait.
        if message["type"] == "http.disconnect":
            left = True
            task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        result: dict[str, Any] = await call
    except asyncio.CancelledError:
        if left and task.uncancel() == 0:
            raise ClientDisconnected() from None
        raise
    finally:
        watcher.cancel()
    return result


def url_segment(value: object) -> str:
    """``value`` as one URL path segment: reserved characters, "." and ".." encoded.

    Generated code wraps every interpolation in an http node's URL but the leading base in it,
    so input can neither add path segments nor start a query or a fragment.
    """
    from urllib.parse import quote

    segment = quote(str(value), safe="")
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def _transient(exc: Exception) -> bool:
    import httpx

    # TimeoutError: the attempt's own deadline, like httpx's timeouts (TransportErrors).
    return isinstance(exc, (httpx.TransportError, TimeoutError))


def _headers(node_id: str, values: Mapping[str, Any] | None) -> dict[str, str] | None:
    texts = _texts(values)
    if texts:
        for name, value in texts.items():
            # HTTP header values are ASCII without control characters (RFC 9110, 5.5); httpx
            # would fail with UnicodeEncodeError (a 500) or, for a line break, try again.
            if not (value.isascii() and (value.isprintable() or _printable_with_tabs(value))):
                raise UpstreamError(
                    node_id,
                    f'header "{name}" has a value that cannot be sent: HTTP header values '
                    "must be printable ASCII",
                )
    return texts


def _printable_with_tabs(value: str) -> bool:
    return value.replace("\t", " ").isprintable()


def _texts(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not values:
        return None
    return {key: _text(value) for key, value in values.items() if value is not None}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON would say it, not Python's "True"
    return value if isinstance(value, str) else str(value)


def _body(node_id: str, headers: Mapping[str, str], content: bytes) -> Any:
    if not content:
        return None
    content_type = headers.get("content-type", "")
    if "json" in content_type:
        try:
            if _LONG_DIGITS.search(content) is None:
                return orjson.loads(content)
            return stdlib_json.loads(content, parse_constant=_reject, parse_float=_finite)
        except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise UpstreamError(node_id, "HTTP upstream sent invalid JSON") from exc
    return _decode(content, content_type)


def _decode(content: bytes, content_type: str) -> str:
    encoding = "utf-8"
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            encoding = value.strip("\"'")
    try:
        return content.decode(encoding, errors="replace")
    except LookupError:
        return content.decode("utf-8", errors="replace")


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value
