"""``@cached`` for async functions: in-memory LRU or Redis, with single flight and counters.

    @cached(ttl=3600, key_fn=lambda ctx, text: f"emb:{text}")
    async def embed(ctx: ExecutionContext, text: str) -> list[float]: ...

Concurrent misses on one key collapse into one call (single flight): the first caller runs the
function, the others await its result. A cache that fails (Redis down) degrades to a miss and is
counted in ``stats.errors``; it never fails the call.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import update_wrapper
from time import monotonic
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar, overload

import orjson

from .bodies import dumps

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "CacheBackend",
    "CacheStats",
    "CachedFunction",
    "LRUCache",
    "MISSING",
    "RedisCache",
    "SingleFlight",
    "cached",
]

logger = logging.getLogger("catalyst_runtime")


def _exc_name() -> str:
    """The type of the exception being handled: a driver's message may quote a URL."""
    return type(sys.exc_info()[1]).__name__


P = ParamSpec("P")
R = TypeVar("R")

_MISSING: Any = object()
MISSING: Any = _MISSING
"""What a backend's ``get`` returns for an absent or expired key (``None`` is a valid value)."""


class CacheBackend(Protocol):
    async def get(self, key: str) -> Any:
        """The value, or ``MISSING`` when absent or expired."""
        ...

    async def set(self, key: str, value: Any, ttl: float) -> None: ...


class LRUCache:
    """In-memory cache holding at most ``maxsize`` entries, least recently used evicted first.

    ``get_now``/``set_now`` are the synchronous core; ``get``/``set`` are the backend interface.
    """

    __slots__ = ("_entries", "maxsize")

    def __init__(self, maxsize: int = 1024) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be at least 1, got {maxsize!r}")
        self.maxsize = maxsize
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get_now(self, key: str) -> Any:
        entry = self._entries.get(key)
        if entry is None:
            return _MISSING
        if entry[0] < monotonic():
            del self._entries[key]
            return _MISSING
        self._entries.move_to_end(key)
        return entry[1]

    def set_now(self, key: str, value: Any, ttl: float) -> None:
        self._entries[key] = (monotonic() + ttl, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    async def get(self, key: str) -> Any:
        return self.get_now(key)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        self.set_now(key, value, ttl)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class RedisCache:
    """Cache entries in Redis as orjson bytes, shared by every process; TTL kept by Redis.

    ``redis`` is a client or a function returning one; by default the app's pool
    (``ConnectionPools.current().redis``), so the decorator can be applied at import time.
    Values must be JSON values (what node outputs are).
    """

    __slots__ = ("_prefix", "_redis")

    def __init__(
        self, redis: Redis | Callable[[], Redis] | None = None, *, prefix: str = "catalyst:cache:"
    ) -> None:
        self._redis = redis
        self._prefix = prefix

    def _client(self) -> Redis:
        from redis.asyncio import Redis

        if isinstance(self._redis, Redis):
            return self._redis
        if self._redis is None:
            from .pools import ConnectionPools

            return ConnectionPools.current().redis
        return self._redis()

    async def get(self, key: str) -> Any:
        raw = await self._client().get(self._prefix + key)
        return _MISSING if raw is None else orjson.loads(raw)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        await self._client().set(self._prefix + key, dumps(value), px=max(1, round(ttl * 1000)))


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0  # calls of the wrapped function
    coalesced: int = 0  # misses that waited for another caller's call (single flight)
    errors: int = 0  # cache reads or writes that failed and were treated as misses


class CachedFunction(Generic[P, R]):
    """The wrapper ``@cached`` returns; ``stats`` counts hits and misses."""

    __name__: str
    __qualname__: str

    def __init__(
        self,
        fn: Callable[P, Awaitable[R]],
        *,
        ttl: float,
        key_fn: Callable[P, str] | None,
        backend: CacheBackend,
    ) -> None:
        self._fn = fn
        self._ttl = ttl
        self._key_fn = key_fn
        self.backend = backend
        self.stats = CacheStats()
        self._flight: SingleFlight[R] = SingleFlight()
        self._name = f"{fn.__module__}.{fn.__qualname__}"
        update_wrapper(self, fn)

    def _key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        if self._key_fn is not None:
            return self._key_fn(*args, **kwargs)
        return f"{self._name}:{dumps([args, kwargs]).decode()}"

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key = self._key(*args, **kwargs)
        try:
            value = await self.backend.get(key)
        except Exception:
            self.stats.errors += 1
            # One line (repeats are rate-limited, see logs.py); the traceback at debug level.
            logger.warning(
                "cache read failed for %s (%s); calling through",
                self._name,
                _exc_name(),
            )
            logger.debug("cache read failure for %s", self._name, exc_info=True)
            value = _MISSING
        if value is not _MISSING:
            self.stats.hits += 1
            return value  # type: ignore[no-any-return]

        async def call() -> R:
            self.stats.misses += 1
            return await self._fn(*args, **kwargs)

        async def store(result: R) -> None:
            try:
                await self.backend.set(key, result, self._ttl)
            except Exception:
                self.stats.errors += 1
                logger.warning("cache write failed for %s (%s)", self._name, _exc_name())
                logger.debug("cache write failure for %s", self._name, exc_info=True)

        result, shared = await self._flight.run(key, call, store)
        if shared:
            self.stats.coalesced += 1
        return result


class SingleFlight(Generic[R]):
    """Concurrent misses on one key make one call: the first caller runs it, the others await
    its result (or its exception). Used by ``cached`` and by the ``cache:`` of a node.

    A waiter whose leader was cancelled (its client left) runs the call itself rather than
    failing; a waiter that is itself cancelled is cancelled.
    """

    __slots__ = ("_inflight",)

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[R]] = {}

    async def run(
        self,
        key: str,
        call: Callable[[], Awaitable[R]],
        store: Callable[[R], Awaitable[None]],
    ) -> tuple[R, bool]:
        """``call()``'s result and whether it was another caller's (``True``: shared).

        ``store(result)`` runs after the waiters have the result but while the key is still in
        flight, so no caller slips into a second call between the result and the entry.
        """
        while (pending := self._inflight.get(key)) is not None:
            try:
                return await asyncio.shield(pending), True
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if pending.cancelled() and task is not None and not task.cancelling():
                    continue  # the caller we waited on was cancelled, not us: try again
                raise
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            try:
                result = await call()
            except asyncio.CancelledError:
                future.cancel()
                raise
            except BaseException as exc:
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody else must log it
                raise
            future.set_result(result)
            await store(result)
            return result, False
        finally:
            del self._inflight[key]

    def __len__(self) -> int:
        """Keys with a call in flight."""
        return len(self._inflight)


class _Decorator(Protocol):
    def __call__(self, fn: Callable[P, Awaitable[R]], /) -> CachedFunction[P, R]: ...


@overload
def cached(
    *,
    ttl: float,
    key_fn: None = None,
    backend: CacheBackend | None = None,
    maxsize: int = 1024,
) -> _Decorator: ...


@overload
def cached(
    *,
    ttl: float,
    key_fn: Callable[P, str],
    backend: CacheBackend | None = None,
    maxsize: int = 1024,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]: ...


def cached(
    *,
    ttl: float,
    key_fn: Callable[P, str] | None = None,
    backend: CacheBackend | None = None,
    maxsize: int = 1024,
) -> Callable[[Callable[P, Awaitable[R]]], CachedFunction[P, R]]:
    """Cache an async function's results for ``ttl`` seconds.

    ``key_fn`` gets the call's arguments and returns the cache key; without it the key is the
    function's name and its JSON-encoded arguments. ``backend`` defaults to a private
    ``LRUCache(maxsize)``; pass ``RedisCache()`` to share entries across processes.
    """
    if not ttl > 0:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")

    def decorate(fn: Callable[P, Awaitable[R]]) -> CachedFunction[P, R]:
        chosen = LRUCache(maxsize) if backend is None else backend
        return CachedFunction(fn, ttl=ttl, key_fn=key_fn, backend=chosen)

    return decorate
