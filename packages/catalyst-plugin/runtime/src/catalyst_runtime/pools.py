"""ConnectionPools: every client a service needs, made once at start-up, closed at shutdown.

Only the pools named in ``needs`` are built, and each driver is imported only when its pool is:
a service without a ``postgres`` node never imports asyncpg.

For metrics (``metrics.install``, before the pools are built) this module also says how full each
pool is (``ConnectionPools.usage``) and times how long a request waits for a connection
(``wait_observer``): what it reads of each driver stays here, so a change of client changes only
this module (and ``http_pool``, which builds the http session). With metrics off no pool is
built differently.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, get_args

from .config import Settings
from .errors import ConfigError
from .llm_providers import PROVIDERS, build_provider

if TYPE_CHECKING:
    import aiohttp
    import asyncpg
    import httpx
    from qdrant_client import AsyncQdrantClient
    from redis.asyncio import Redis

    from .llm_providers import ProviderClients

__all__ = ["ConnectionPools", "POOL_NAMES", "PoolName"]

PoolName = Literal["http", "llm", "postgres", "redis", "qdrant", "anthropic", "openai", "groq"]
POOL_NAMES: Final[frozenset[str]] = frozenset(get_args(PoolName))

wait_observer: Callable[[str, float], None] | None = None
"""Set by ``metrics.install`` while metrics are on: told ``(pool, seconds)`` each time a request
gets a connection (PostgreSQL, Redis, the http and llm clients), so the wait can be measured.
Read when a pool is built (and by ``acquire_postgres``); ``None``: nothing is timed."""


class ConnectionPools:
    """The service's shared clients. Read them as attributes: ``pools.postgres``.

    Asking for a pool that was not built raises ``ConfigError`` saying how to get it, instead of
    creating a client during a request.
    """

    __slots__ = ("_clients", "_closed", "settings")

    _current: ClassVar[ConnectionPools | None] = None

    def __init__(self, settings: Settings | None = None) -> None:
        self._clients: dict[str, Any] = {}
        self._closed = False
        # What the pools were built from; nodes read their limits here (``http_call``).
        self.settings = Settings() if settings is None else settings

    @classmethod
    async def create(
        cls, settings: Settings | None = None, needs: Iterable[str] = ("http",)
    ) -> ConnectionPools:
        """Build the pools in ``needs`` (a subset of ``POOL_NAMES``) from ``settings``.

        If one pool fails to start, the ones already built are closed before the error
        propagates, so a failed start-up leaks no connection.
        """
        settings = Settings.from_env() if settings is None else settings
        wanted = set(needs)
        unknown = wanted - POOL_NAMES
        if unknown:
            raise ValueError(f"unknown pools {sorted(unknown)}; known: {sorted(POOL_NAMES)}")
        pools = cls(settings)
        try:
            for name in _ORDER:
                if name in wanted:
                    pools._clients[name] = await _BUILDERS[name](settings)
            # Groq's SDK sends on the llm pool's httpx client; Anthropic's and OpenAI's on an
            # httpx2 client of their own with the same limits, so only Groq needs the pool.
            for name in PROVIDERS:
                if name in wanted:
                    if name == "groq" and "llm" not in pools._clients:
                        pools._clients["llm"] = await _llm(settings)
                    pools._clients[name] = await build_provider(name, settings, pools)
        except BaseException:
            await pools.close()
            raise
        ConnectionPools._current = pools
        return pools

    @classmethod
    def current(cls) -> ConnectionPools:
        """The pools most recently created and not yet closed: the process's singleton, for
        helpers built at import time (``RedisCache()``, ``RedisRateLimiter(...)``)."""
        if cls._current is None:
            raise ConfigError("pools", "no pools are open: the app's lifespan has not started")
        return cls._current

    @property
    def names(self) -> frozenset[str]:
        """Names of the pools that were built."""
        return frozenset(self._clients)

    def _get(self, name: str) -> Any:
        try:
            return self._clients[name]
        except KeyError:
            state = "closed" if self._closed else "not created"
            raise ConfigError(
                f"pools.{name}",
                f"pool is {state}: list {name!r} in the pools the app needs "
                f"(create_app(..., pools=[..., {name!r}]))",
            ) from None

    @property
    def http(self) -> aiohttp.ClientSession:
        """General HTTP client (``http`` nodes)."""
        return self._get("http")  # type: ignore[no-any-return]

    @property
    def llm(self) -> httpx.AsyncClient:
        """Dedicated HTTP client for LLM and embedding providers, so their long streams never
        take connections from ordinary HTTP calls."""
        return self._get("llm")  # type: ignore[no-any-return]

    @property
    def postgres(self) -> asyncpg.Pool[asyncpg.Record]:
        return self._get("postgres")  # type: ignore[no-any-return]

    @property
    def redis(self) -> Redis:
        return self._get("redis")  # type: ignore[no-any-return]

    @property
    def qdrant(self) -> AsyncQdrantClient:
        return self._get("qdrant")  # type: ignore[no-any-return]

    def provider(self, name: str) -> ProviderClients:
        """The SDK clients of LLM provider ``name`` (``anthropic``, ``openai``, ``groq``)."""
        return self._get(name)  # type: ignore[no-any-return]

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Close every pool. Safe to call twice; one pool failing to close does not stop the
        others from closing."""
        if ConnectionPools._current is self:
            ConnectionPools._current = None
        clients, self._clients, self._closed = self._clients, {}, True
        errors: list[BaseException] = []
        for name, client in reversed(list(clients.items())):
            try:
                await _CLOSERS[name](client)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    async def check(self, within: float) -> dict[str, str]:
        """Whether each built pool that holds connections to a server can reach it, all pinged at
        once: ``{"postgres": "ok", "redis": "unreachable (ConnectionError)"}``. HTTP clients
        have no server of their own to ask. Only the exception's type is given: a driver's
        message may quote a URL and its password."""
        names = [name for name in self._clients if name in _PINGS]
        results = await asyncio.gather(*(self._ping(name, within) for name in names))
        return dict(zip(names, results, strict=True))

    def usage(self) -> list[tuple[str, int, int, int]]:
        """``(pool, in use, idle, limit)`` of every built pool that holds connections (Qdrant's
        client does not say), read now: for the metrics' gauges when scraped."""
        out = []
        for name, client in self._clients.items():
            count = _USAGE.get(name)
            counts = None if count is None else count(client)
            if counts is not None:
                out.append((name, *counts))
        return out

    async def _ping(self, name: str, within: float) -> str:
        try:
            await asyncio.wait_for(_PINGS[name](self._clients[name]), within)
        except TimeoutError:
            return f"no answer within {within:g} s"
        except Exception as exc:
            return f"unreachable ({type(exc).__name__})"
        return "ok"

    def __repr__(self) -> str:
        return f"ConnectionPools({sorted(self._clients)}, closed={self._closed})"


async def _http(settings: Settings) -> aiohttp.ClientSession:
    from .http_pool import http_session

    return http_session(settings, _aiohttp_wait_traces("http"))


async def _llm(settings: Settings) -> httpx.AsyncClient:
    import httpx

    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=settings.llm_max_connections,
            max_keepalive_connections=settings.llm_max_connections,
        ),
        timeout=httpx.Timeout(settings.llm_timeout, connect=settings.http_connect_timeout),
        **_http_wait_hooks("llm"),
    )


def _http_wait_hooks(name: str) -> dict[str, Any]:
    """With metrics on, the client's ``event_hooks``: each request carries httpcore's ``trace``
    extension, whose first event comes once the pool has given the request a connection (a
    reused one's first write, or a new one's connect), so the time from the hook to that event is
    the wait. Off: no hooks, the client is the plain one."""
    observe = wait_observer
    if observe is None:
        return {}

    async def on_request(request: httpx.Request) -> None:
        if "trace" in request.extensions:  # a caller's own tracing is left alone
            return
        started = perf_counter()
        waiting = True

        async def trace(event: str, info: dict[str, Any]) -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                observe(name, perf_counter() - started)

        request.extensions["trace"] = trace

    return {"event_hooks": {"request": [on_request]}}


def _aiohttp_wait_traces(name: str) -> list[Any]:
    """With metrics on, a ``TraceConfig`` for the session: from the start of each request (each
    attempt) to the moment the connector hands it a connection (a kept one reused, or a new one
    starting to connect) is the wait, as httpcore's first trace event marks it for httpx. Off:
    none, the session is the plain one."""
    observe = wait_observer
    if observe is None:
        return []
    import aiohttp

    async def started(_session: Any, context: Any, _params: Any) -> None:
        context.catalyst_wait_started = perf_counter()

    async def connected(_session: Any, context: Any, _params: Any) -> None:
        began = getattr(context, "catalyst_wait_started", None)
        if began is not None:
            context.catalyst_wait_started = None
            observe(name, perf_counter() - began)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    trace.on_connection_reuseconn.append(connected)
    trace.on_connection_create_start.append(connected)
    return [trace]


def _aiohttp_usage(session: aiohttp.ClientSession) -> tuple[int, int, int] | None:
    # A connection being opened for a request counts as in use (aiohttp adds it to _acquired
    # before connecting), as httpx's does below.
    connector = session.connector
    if connector is None:
        return None
    idle = sum(len(kept) for kept in connector._conns.values())
    return len(connector._acquired), idle, connector.limit


def _http_usage(client: httpx.AsyncClient) -> tuple[int, int, int] | None:
    # httpx keeps its httpcore pool on the transport; a connection being opened for a request
    # counts as in use.
    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if pool is None:
        return None
    connections = pool.connections
    idle = sum(1 for connection in connections if connection.is_idle())
    return len(connections) - idle, idle, pool._max_connections


def _provider_usage(clients: ProviderClients) -> tuple[int, int, int] | None:
    # anthropic and openai send on an httpx2 client of their own (httpcore2's pool, read as
    # httpcore's); groq sends on the llm pool, counted as that.
    own = clients.own_http
    return None if own is None else _http_usage(own)


def _unreachable(variable: str, exc: BaseException) -> ConfigError:
    # The driver's message may quote the URL (and its password); name only the exception type.
    return ConfigError(variable, f"could not connect to the server it names ({type(exc).__name__})")


def _require(value: str | None, variable: str, node: str, example: str) -> str:
    if value is None:
        raise ConfigError(variable, f"required by {node} nodes; set it to a URL like {example}")
    return value


async def _postgres(settings: Settings) -> asyncpg.Pool[asyncpg.Record]:
    import asyncpg

    from .postgres_node import setup_connection

    dsn = _require(settings.postgres_dsn, "DATABASE_URL", "postgres", "postgresql://user@host/db")
    try:
        # json/jsonb decoded to values on every connection; at most max_size queries at once
        # (CATALYST_POSTGRES_MAX_SIZE, 10 by default), so independent nodes do not queue.
        return await asyncpg.create_pool(
            dsn,
            min_size=settings.postgres_min_size,
            max_size=settings.postgres_max_size,
            init=setup_connection,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable("DATABASE_URL", exc) from exc


def acquire_postgres(pool: asyncpg.Pool[asyncpg.Record], timeout: float | None) -> Any:
    """``pool.acquire(timeout=timeout)``, timed for the metrics while they are on."""
    acquire = pool.acquire(timeout=timeout)
    observe = wait_observer
    return acquire if observe is None else _TimedAcquire(acquire, observe)


class _TimedAcquire:
    __slots__ = ("_acquire", "_observe")

    def __init__(self, acquire: Any, observe: Callable[[str, float], None]) -> None:
        self._acquire = acquire
        self._observe = observe

    async def __aenter__(self) -> Any:
        started = perf_counter()
        try:
            return await self._acquire.__aenter__()
        finally:  # a wait that ended in a timeout was a wait too
            self._observe("postgres", perf_counter() - started)

    async def __aexit__(self, *exc_info: object) -> None:
        await self._acquire.__aexit__(*exc_info)


def _postgres_usage(pool: asyncpg.Pool[asyncpg.Record]) -> tuple[int, int, int]:
    idle = pool.get_idle_size()
    return pool.get_size() - idle, idle, pool.get_max_size()


async def _redis(settings: Settings) -> Redis:
    from redis.asyncio import Redis

    url = _require(settings.redis_url, "REDIS_URL", "redis", "redis://localhost:6379/0")
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError

    # A pooled connection that Redis closed (a restart, an idle cut) fails its next command;
    # redis-py's pool does not try again unless told, so every stale connection cost a request
    # a 502 after Redis came back. One more try, on a new connection, for a lost connection
    # only: a timeout is not tried again (it would double the wait), and a Redis that is still
    # down fails the second try at once.
    options: dict[str, Any] = {
        "max_connections": settings.redis_max_connections,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    }
    observe = wait_observer
    if observe is None:
        client = Redis.from_url(url, **options)
    else:
        client = Redis.from_pool(_timed_redis_pool(observe).from_url(url, **options))
    try:
        await client.ping()  # fail at start-up, not on the first request
    except BaseException as exc:
        await client.aclose()
        if isinstance(exc, (OSError, RedisError)):
            raise _unreachable("REDIS_URL", exc) from exc
        raise
    return client


def _timed_redis_pool(observe: Callable[[str, float], None]) -> Any:
    """redis-py's pool, telling ``observe`` how long each command waited for a connection (its
    lock, and a connect when none is idle; the pool does not queue: past its limit a command
    fails at once, a node error)."""
    from redis.asyncio import ConnectionPool

    class TimedConnectionPool(ConnectionPool):
        async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            try:
                return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
            finally:
                observe("redis", perf_counter() - started)

    return TimedConnectionPool


def _redis_usage(client: Redis) -> tuple[int, int, int]:
    pool: Any = client.connection_pool
    return len(pool._in_use_connections), len(pool._available_connections), pool.max_connections


async def _qdrant(settings: Settings) -> AsyncQdrantClient:
    try:
        from qdrant_client import AsyncQdrantClient
    except ImportError:
        # One line at start-up instead of a traceback on the first search.
        raise ConfigError(
            "qdrant-client",
            "this service's vector_search nodes need it and it is not installed; depend on "
            '"catalyst-runtime[qdrant]" instead of "catalyst-runtime"',
        ) from None

    if settings.qdrant_url is not None:
        # No version check: the client would run it as a blocking request in a background
        # thread. Its own timeout (whole seconds) bounds each request as the node's does.
        return AsyncQdrantClient(
            url=settings.qdrant_url,
            api_key=settings.qdrant_api_key,
            timeout=math.ceil(settings.qdrant_timeout),
            check_compatibility=False,
        )
    if settings.qdrant_path is None:
        return AsyncQdrantClient(location=":memory:")
    try:
        # Local mode loads the folder's collections into memory and locks it for this process.
        return AsyncQdrantClient(path=settings.qdrant_path)
    except RuntimeError as exc:
        if "already accessed" not in str(exc):
            raise
        raise ConfigError(
            "CATALYST_QDRANT_PATH",
            "the folder is in use by another process: local mode serves one process only; "
            "run a Qdrant server and set QDRANT_URL to serve from several",
        ) from exc


async def _close_http(session: aiohttp.ClientSession) -> None:
    await session.close()


async def _close_llm(client: httpx.AsyncClient) -> None:
    await client.aclose()


async def _close_postgres(pool: asyncpg.Pool[asyncpg.Record]) -> None:
    # A bounded wait: a connection stuck in a query must not hang shutdown forever.
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except TimeoutError:
        pool.terminate()


async def _close_redis(client: Redis) -> None:
    await client.aclose()


async def _close_qdrant(client: AsyncQdrantClient) -> None:
    await client.close()


async def _ping_postgres(pool: asyncpg.Pool[asyncpg.Record]) -> None:
    # Every connection busy with queries: the server answers, and a probe must not queue behind
    # the requests (a loaded service is not an unready one). Otherwise one idle connection (or a
    # new one) runs a query, which fails when the server is gone.
    if pool.get_size() > 0 and pool.get_idle_size() == 0:
        return
    await pool.fetchval("SELECT 1")


async def _ping_redis(client: Redis) -> None:
    await client.ping()


async def _ping_qdrant(client: AsyncQdrantClient) -> None:
    await client.get_collections()


async def _close_provider(clients: ProviderClients) -> None:
    await clients.close()


# Built in this order (the providers after, on the llm pool), so start-up is the same every time.
_ORDER: Final = ("http", "llm", "postgres", "redis", "qdrant")
_PINGS: Final[dict[str, Any]] = {
    "postgres": _ping_postgres,
    "redis": _ping_redis,
    "qdrant": _ping_qdrant,
}
_USAGE: Final[dict[str, Any]] = {
    "http": _aiohttp_usage,
    "llm": _http_usage,
    "postgres": _postgres_usage,
    "redis": _redis_usage,
    "anthropic": _provider_usage,
    "openai": _provider_usage,
}
_BUILDERS: Final[dict[str, Any]] = {
    "http": _http,
    "llm": _llm,
    "postgres": _postgres,
    "redis": _redis,
    "qdrant": _qdrant,
}
_CLOSERS: Final[dict[str, Any]] = {
    "http": _close_http,
    "llm": _close_llm,
    "postgres": _close_postgres,
    "redis": _close_redis,
    "qdrant": _close_qdrant,
    "anthropic": _close_provider,
    "openai": _close_provider,
    "groq": _close_provider,
}
