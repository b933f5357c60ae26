"""The ``http`` node at run time: one request on the service's pooled client.

Generated code calls ``await http_call(ctx, "node_id", "GET", url, ...)`` once per node instead of
re-emitting request, retry and error handling per node. The client is ``ctx.pools.http``, an
``aiohttp.ClientSession`` built once at start-up; a request never makes its own client.
"""

from __future__ import annotations

import asyncio
import json as stdlib_json
import math
import re
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from .bodies import dumps, request_receive
from .errors import ClientDisconnected, ConfigError, UpstreamError, node_error

if TYPE_CHECKING:
    import aiohttp
    from starlette.types import Receive
    from yarl import URL

    from .context import ExecutionContext

__all__ = ["ClientWatch", "http_call", "url_segment"]

T = TypeVar("T")

# Worth retrying: the upstream (or a proxy before it) says "not now", not "no".
_RETRY_STATUSES = frozenset({502, 503, 504})
_BACKOFF_START = 0.05
_BACKOFF_MAX = 1.0
# orjson reads an integer beyond 64 bits as a float, silently rounded; a run of 19 digits or
# more (anywhere, strings included: a false alarm only costs the slower, exact parser) sends the
# body to the standard library's parser, which keeps every integer exact.
_LONG_DIGITS = re.compile(rb"\d{19}")
# A URL made only of these is sent as it is written. yarl, left to parse a URL itself, decodes
# "%2E" to "." and then removes dot segments: "/items/%2E%2E/detail" (url_segment("..")) would
# become "/detail". So the URL is given to yarl as already encoded, after percent-encoding what
# HTTP cannot carry raw (spaces, non-ASCII text), existing escapes kept.
_URL_SAFE = "-._~:/?#[]@!$&'()*+,;=%"
_RAW_URL = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_JSON_TYPE = "application/json"


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
    empty). ``headers`` keys are lower case (a repeated header's values joined by ", "). A header
    or query value that is ``None`` is left out, so ``| default`` can make one optional; others
    are sent as text. ``json=None`` sends no body; otherwise the body is the value as compact JSON
    (``dumps``) with ``Content-Type: application/json`` unless the headers name one.

    ``timeout`` (seconds; default ``CATALYST_HTTP_TIMEOUT``) is a deadline for each attempt as a
    whole, from waiting for a connection to the last byte of the answer, not a bound on each read.
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
    session: aiohttp.ClientSession = pools.http
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries}")
    settings = pools.settings
    deadline = settings.http_timeout if timeout is None else timeout
    cap = settings.http_max_response_bytes if max_bytes is None else max_bytes
    sent_headers = _headers(node_id, headers)
    body: bytes | None = None
    if json is not None:
        body = dumps(json)
        if sent_headers is None:
            sent_headers = {"Content-Type": _JSON_TYPE}
        elif not any(name.lower() == "content-type" for name in sent_headers):
            sent_headers["Content-Type"] = _JSON_TYPE
    request = _Request(method, _url(node_id, url, _texts(query)), sent_headers, body)
    watch: ClientWatch | None = ctx.client_watch
    if watch is None:
        receive = request_receive()
        if receive is None:
            return await _attempts(session, request, node_id, deadline, cap, retries)
        watch = ctx.client_watch = ClientWatch(receive)
    return await watch.run(_attempts(session, request, node_id, deadline, cap, retries))


class _Request:
    """What every attempt sends: built once, before the first."""

    __slots__ = ("body", "headers", "method", "url")

    def __init__(
        self, method: str, url: URL, headers: dict[str, str] | None, body: bytes | None
    ) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


def _url(node_id: str, url: str, params: dict[str, str] | None) -> URL:
    from yarl import URL

    if _RAW_URL.fullmatch(url) is None:
        from urllib.parse import quote

        url = quote(url, safe=_URL_SAFE)
    if params:
        # Encoded as httpx encoded them (form style: "+" for a space, "@" as %40...), which
        # upstreams that compare query strings see unchanged; added to the URL's own query.
        query = "&".join(f"{_form(key)}={_form(value)}" for key, value in params.items())
        base, hash_, fragment = url.partition("#")
        url = f"{base}{'&' if '?' in base else '?'}{query}{hash_}{fragment}"
    try:
        parsed = URL(url, encoded=True)
        # yarl checks the port only when it is read; aiohttp reads it first thing, so this
        # costs nothing more and fails here, before the first attempt, as the host does.
        parsed.port  # noqa: B018
    except ValueError as exc:
        # A base URL from env or global that cannot be parsed ("http://[::1", a port of 99999):
        # the service's configuration, not the client's request, so a 502 naming the node.
        # yarl's messages never quote the URL, which may carry credentials.
        raise UpstreamError(node_id, f"HTTP request URL is not valid ({exc})") from None
    return parsed


# What quote_plus leaves as it is: most query keys and values (names, ids, numbers).
_FORM_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _form(text: str) -> str:
    """``text`` as ``urlencode`` writes a key or a value (``quote_plus``, nothing safe), without
    its cost for the common text that needs no escape: 8 µs for a two-item query before."""
    if _FORM_PLAIN.fullmatch(text) is not None:
        return text
    from urllib.parse import quote_plus

    return quote_plus(text, safe="")


async def _attempts(
    session: aiohttp.ClientSession,
    request: _Request,
    node_id: str,
    deadline: float,
    cap: int,
    retries: int,
) -> dict[str, Any]:
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            async with asyncio.timeout(deadline):
                status, headers, content = await _send(session, request, node_id, cap)
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
    session: aiohttp.ClientSession, request: _Request, node_id: str, cap: int
) -> tuple[int, dict[str, str], bytes]:
    """One attempt: the status, the headers and at most ``cap`` bytes of body."""
    response = await session.request(
        request.method,
        request.url,
        headers=request.headers,
        data=request.body,
        allow_redirects=False,
    )
    # Released (the connection back to the pool) only when the whole body was read; any other
    # way out closes the connection, so an unread or cut answer never reaches the next request.
    try:
        status = response.status
        headers = _response_headers(response.raw_headers)
        if status >= 400:
            response.close()
            return status, headers, b""  # an error's body is never read, nor shown
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_large(node_id, cap)
        chunks: list[bytes] = []
        size = 0
        # readany() itself rather than ``async for`` over iter_any(), which wraps each read and
        # ends with a StopAsyncIteration: b"" is the end of the body either way.
        read = response.content.readany
        while chunk := await read():
            size += len(chunk)
            if size > cap:
                raise _too_large(node_id, cap)
            chunks.append(chunk)
    except BaseException:
        response.close()
        # The transport closes its socket on the loop's next turn: take that turn here, so the
        # upstream sees the connection gone (and stops sending) before the failure is reported.
        await asyncio.sleep(0)
        raise
    response.release()
    return status, headers, b"".join(chunks)


def _response_headers(raw: tuple[tuple[bytes, bytes], ...]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        try:
            text = value.decode()
        except UnicodeDecodeError:
            text = value.decode("latin-1")
        previous = headers.get(key)
        headers[key] = text if previous is None else f"{previous}, {text}"
    return headers


def _too_large(node_id: str, cap: int) -> UpstreamError:
    return UpstreamError(node_id, f"HTTP upstream answer is larger than {cap} bytes")


class ClientWatch:
    """Cancels a run's http calls if the client's connection goes away while they wait.

    One watcher task per run, awaiting the request's ``receive`` (after the body it only ever
    says ``http.disconnect``) while any call is under way, rather than one task made and
    cancelled per call: for scenario B's three calls in series that was about 5 % of the
    service's CPU (docs/performance.md). Calls in series share the watcher, since the next
    call starts before the loop's next turn; it is stopped on the first turn with no call
    under way, so it never outlives the run.
    """

    __slots__ = ("calls", "left", "receive", "watcher")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.calls: set[asyncio.Task[Any]] = set()
        self.left = False
        self.watcher: asyncio.Task[None] | None = None

    async def run(self, call: Coroutine[Any, Any, T]) -> T:
        """``call``, in this task, cancelled if the client leaves first (``ClientDisconnected``)."""
        task = asyncio.current_task()
        assert task is not None
        if self.left:  # gone before this call: it is never sent
            call.close()
            raise ClientDisconnected()
        if self.watcher is None:
            self.watcher = asyncio.get_running_loop().create_task(self._watch())
        self.calls.add(task)
        try:
            return await call
        except asyncio.CancelledError:
            if self.left and task.uncancel() == 0:
                raise ClientDisconnected() from None
            raise
        finally:
            self.calls.discard(task)
            if not self.calls:
                asyncio.get_running_loop().call_soon(self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        if not self.calls and self.watcher is not None:
            self.watcher.cancel()
            self.watcher = None

    async def _watch(self) -> None:
        message = await self.receive()
        # After a body has been read, only a disconnect (or the response's completion, which
        # cannot come while a call is still running) ends this wait.
        if message["type"] == "http.disconnect":
            self.left = True
            for task in self.calls:
                task.cancel()
        if self.watcher is asyncio.current_task():
            self.watcher = None


def url_segment(value: object) -> str:
    """``value`` as one URL path segment: reserved characters, "." and ".." encoded.

    Generated code wraps every interpolation in an http node's URL but the leading base in it,
    so input can neither add path segments nor start a query or a fragment.
    """
    from urllib.parse import quote

    segment = quote(str(value), safe="")
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def _transient(exc: Exception) -> bool:
    import aiohttp

    # A connection that failed, was refused or dropped, an answer that could not be parsed or
    # was cut short, a deadline (the attempt's own, or opening a connection): all may pass, as
    # httpx's TransportErrors did. Not a URL aiohttp refuses (InvalidURL, not HTTP).
    transient = (
        aiohttp.ClientConnectionError,
        aiohttp.ClientPayloadError,
        aiohttp.ClientResponseError,
        TimeoutError,
    )
    return isinstance(exc, transient)


def _headers(node_id: str, values: Mapping[str, Any] | None) -> dict[str, str] | None:
    texts = _texts(values)
    if texts:
        for name, value in texts.items():
            # HTTP header values are ASCII without control characters (RFC 9110, 5.5); the
            # client would fail with an encoding error (a 500) or refuse a line break late.
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
