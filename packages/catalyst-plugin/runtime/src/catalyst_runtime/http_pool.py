"""The ``http`` pool: one ``aiohttp.ClientSession`` for every ``http`` node of the service.

aiohttp rather than httpx because of what a call costs: on scenario B's calls (loopback, 64 at
once) httpx 0.28 spent about ten times the CPU of aiohttp 3.14 per call (docs/performance.md,
"HTTP client"). The ``llm`` pool stays on httpx, which the provider SDKs take.

Imported only when a service builds the pool, so a service without ``http`` nodes never imports
aiohttp.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from .config import Settings

__all__ = ["KeepAliveConnector", "http_session"]

# How long an idle connection is kept for reuse: httpx's keep-alive expiry, which the pool had.
KEEPALIVE_SECONDS = 5.0


class KeepAliveConnector(aiohttp.TCPConnector):
    """aiohttp's connector keeping at most ``max_idle`` idle connections, all hosts together
    (``CATALYST_HTTP_MAX_KEEPALIVE``); a connection released beyond that is closed. aiohttp
    alone keeps every idle connection, up to the connection limit, until it expires."""

    def __init__(self, max_idle: int, **options: Any) -> None:
        super().__init__(**options)
        self.max_idle = max_idle

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        if not should_close and sum(map(len, self._conns.values())) >= self.max_idle:
            should_close = True
        super()._release(key, protocol, should_close=should_close)


def http_session(
    settings: Settings, trace_configs: list[aiohttp.TraceConfig] | None = None
) -> aiohttp.ClientSession:
    """The session, from ``CATALYST_HTTP_MAX_CONNECTIONS``, ``CATALYST_HTTP_MAX_KEEPALIVE`` and
    ``CATALYST_HTTP_CONNECT_TIMEOUT``. Called within the running event loop (the lifespan).
    ``trace_configs``: the metrics' wait timing, when on (``pools``)."""
    return aiohttp.ClientSession(
        trace_configs=trace_configs,
        connector=KeepAliveConnector(
            settings.http_max_keepalive,
            limit=settings.http_max_connections,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE_SECONDS,
        ),
        # A call's deadline is http_call's own (asyncio.timeout around each attempt, waiting for
        # a free connection included); the session bounds only the opening of a connection.
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.http_connect_timeout),
        # One session serves every request of every user: a cookie an upstream sets in one
        # answer must never go out with another user's call.
        cookie_jar=aiohttp.DummyCookieJar(),
        # As with httpx, a proxy set in the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY,
        # NO_PROXY) is used. Only then is it asked for: aiohttp looks the proxy and ~/.netrc up
        # in a worker thread on every call, two thread hops a call that has no proxy.
        trust_env=_proxy_in_environment(),
    )


def _proxy_in_environment() -> bool:
    import os

    names = ("http_proxy", "https_proxy", "all_proxy")
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in names)
