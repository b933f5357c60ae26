"""The ``http`` node at run time: one request on the service's pooled client.

Generated code calls ``await http_call(ctx, "node_id", "GET", url, ...)`` once per node instead of
re-emitting request, retry and error handling per node. The client is ``ctx.pools.http``, built
once at start-up; a request never makes its own client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from .errors import ConfigError, UpstreamError, node_error

if TYPE_CHECKING:
    import httpx

    from .context import ExecutionContext

__all__ = ["http_call", "url_segment"]

# Worth retrying: the upstream (or a proxy before it) says "not now", not "no".
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_START = 0.05
_BACKOFF_MAX = 1.0


async def http_call(
    ctx: ExecutionContext,
    node_id: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    json: Any = None,
    # httpx applies it to each phase of this one request; asyncio.timeout could not do that.
    timeout: float | None = None,  # noqa: ASYNC109
    retries: int = 0,
) -> dict[str, Any]:
    """Send the request and return ``{"status", "headers", "body"}``.

    ``body`` is the parsed JSON when the response says it is JSON, else the text (``None`` when
    empty). ``headers`` keys are lower case. A header or query value that is ``None`` is left
    out, so ``| default`` can make one optional; others are sent as text. ``json=None`` sends no
    body. ``timeout`` (seconds) replaces the pool's default for this call.

    A connection failure, a timeout or a 502/503/504 answer is tried again up to ``retries``
    times, with a short exponential back-off. Then any answer of 400 or more raises
    ``UpstreamError`` (502) naming the node and the status; a timeout raises
    ``NodeTimeoutError`` (504); other transport failures ``UpstreamError``.
    """
    if ctx.pools is None:
        raise ConfigError("pools", "this workflow has http nodes but the context has no pools")
    client: httpx.AsyncClient = ctx.pools.http
    options: dict[str, Any] = {}
    if timeout is not None:
        options["timeout"] = timeout
    if json is not None:
        options["json"] = json
    sent_headers = _texts(headers)
    params = _texts(query)
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = await client.request(
                method, url, headers=sent_headers, params=params, **options
            )
        except Exception as exc:
            if last or not _transient(exc):
                raise node_error(node_id, exc) from exc
        else:
            if last or response.status_code not in _RETRY_STATUSES:
                break
        await asyncio.sleep(min(_BACKOFF_START * 2**attempt, _BACKOFF_MAX))
    if response.status_code >= 400:
        raise UpstreamError(node_id, f"HTTP upstream answered {response.status_code}")
    return {
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": _body(node_id, response),
    }


def url_segment(value: object) -> str:
    """``value`` as one URL path segment: reserved characters, "." and ".." encoded.

    Generated code wraps every interpolation in an http node's URL but the leading base in it,
    so input can neither add path segments nor start a query or a fragment.
    """
    segment = quote(str(value), safe="")
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def _transient(exc: Exception) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError)


def _texts(values: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not values:
        return None
    return {key: _text(value) for key, value in values.items() if value is not None}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"  # as JSON would say it, not Python's "True"
    return value if isinstance(value, str) else str(value)


def _body(node_id: str, response: httpx.Response) -> Any:
    content = response.content
    if not content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError(node_id, "HTTP upstream sent invalid JSON") from exc
    return response.text
