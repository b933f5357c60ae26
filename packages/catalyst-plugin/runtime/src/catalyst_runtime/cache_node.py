"""``cache:`` on a node at run time: one ``NodeCache`` per cached node, built at import.

Generated code wraps the node's own call, unchanged, in its cache::

    _account_cache = NodeCache("account", ttl=60.0)
    ...
    return await _account_cache.call(ctx, http_call, "account", "GET", url, timeout=5.0)

``call`` keys the entry on the call's arguments (every value the node sends, serialized with
sorted keys and hashed), so two requests share an entry exactly when they would have sent the
same thing; ``call_keyed(ctx, key, fn, ...)`` keys it on the definition's ``cache.key``.

- ``backend="memory"``: an LRU in this process, at most ``CATALYST_CACHE_MAX_ENTRIES`` entries
  per node. ``backend="redis"``: the service's Redis pool (``ctx.pools.redis``), keys under
  ``prefix`` (``catalyst:cache:<workflow>:<node>:``) with the TTL kept by Redis, shared by every
  process.
- Values are kept as orjson bytes in both, so a hit is a fresh copy (no request can change
  another's value) and a value that is not JSON, or is larger than
  ``CATALYST_CACHE_MAX_VALUE_BYTES``, is simply not kept.
- Concurrent misses on one key make one call (``SingleFlight``); the others get a copy of its
  value.
- The cache never fails a request: a Redis read or write that fails, or takes longer than
  ``CATALYST_CACHE_TIMEOUT``, is logged (one line, repeats held back) and counted, and the
  node runs as if uncached. What the node itself raises is raised, and never kept.
- ``Server-Timing`` says what happened: ``account;dur=0.041;desc="cache hit"``, or
  ``cache miss``, ``cache shared`` (waited for a concurrent miss's call), ``cache error``
  (the cache could not be read; the node ran).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson

from .bodies import _default, _escape, dumps
from .cache import MISSING, CacheStats, LRUCache, SingleFlight
from .config import Settings

if TYPE_CHECKING:
    from .context import ExecutionContext

__all__ = ["KEY_TEXT_LIMIT", "NodeCache"]

logger = logging.getLogger("catalyst_runtime")

KEY_TEXT_LIMIT: Final = 200
"""A ``cache.key`` longer than this many characters is kept under its hash."""

observer: Callable[[str, str, str], None] | None = None
"""Set by ``metrics.install`` while metrics are on: told (workflow, node, outcome) each time."""

HIT: Final = "cache hit"
MISS: Final = "cache miss"
SHARED: Final = "cache shared"
ERROR: Final = "cache error"

_DEFAULTS: Final = Settings()
_CANONICAL: Final = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
_FAILED: Any = object()  # what a failed read returns: a miss that is also an error


class NodeCache:
    """The cache of one node: ``ttl`` seconds, in this process or on the Redis pool."""

    __slots__ = ("_flight", "_memory", "backend", "node_id", "prefix", "stats", "ttl")

    def __init__(
        self,
        node_id: str,
        *,
        ttl: float,
        backend: Literal["memory", "redis"] = "memory",
        prefix: str = "",
    ) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        if backend not in ("memory", "redis"):
            raise ValueError(f'backend must be "memory" or "redis", got {backend!r}')
        self.node_id = node_id
        self.ttl = ttl
        self.backend = backend
        self.prefix = prefix
        self.stats = CacheStats()
        self._flight: SingleFlight[tuple[Any, bytes | None]] = SingleFlight()
        # Sized from the service's settings on first use: built at import, before they are read.
        self._memory: LRUCache | None = None

    async def call(
        self, ctx: ExecutionContext, fn: Callable[..., Awaitable[Any]], /, *args: Any, **kwargs: Any
    ) -> Any:
        """``await fn(ctx, *args, **kwargs)``, or the value kept for the same arguments."""
        # A node's rate limiter decides when it calls, not what it sends: not part of the key.
        sent = (
            kwargs
            if "limiter" not in kwargs
            else {k: v for k, v in kwargs.items() if k != "limiter"}
        )
        key = "args:" + _digest(_canonical([args, sent]))
        return await self._run(ctx, key, fn, args, kwargs)

    async def call_keyed(
        self,
        ctx: ExecutionContext,
        key: Any,
        fn: Callable[..., Awaitable[Any]],
        /,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """``await fn(ctx, *args, **kwargs)``, or the value kept under ``key`` (text and numbers
        as written; any other JSON value by its canonical form; long keys by their hash)."""
        return await self._run(ctx, _key_text(key), fn, args, kwargs)

    async def _run(
        self,
        ctx: ExecutionContext,
        key: str,
        fn: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        settings = _DEFAULTS if ctx.pools is None else ctx.pools.settings
        raw = await self._read(ctx, key, settings)
        if raw is not None and raw is not _FAILED:
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass  # not ours (written by hand?): run the node and overwrite it
            else:
                self.stats.hits += 1
                self._say(ctx, HIT)
                return value

        async def run_node() -> tuple[Any, bytes | None]:
            self.stats.misses += 1
            value = await fn(ctx, *args, **kwargs)
            return value, self._encode(value, settings)

        async def store(result: tuple[Any, bytes | None]) -> None:
            if result[1] is not None:
                await self._write(ctx, key, result[1], settings)

        (value, encoded), shared = await self._flight.run(key, run_node, store)
        if shared:
            self.stats.coalesced += 1
            self._say(ctx, SHARED)
            # A copy: the caller that made the call holds the original.
            return value if encoded is None else orjson.loads(encoded)
        self._say(ctx, ERROR if raw is _FAILED else MISS)
        return value

    def _say(self, ctx: ExecutionContext, outcome: str) -> None:
        """The outcome in the node's ``Server-Timing`` entry, and counted when metrics are on."""
        ctx.note(self.node_id, outcome)
        if observer is not None:
            observer(ctx.workflow_id, self.node_id, outcome)

    async def _read(self, ctx: ExecutionContext, key: str, settings: Settings) -> Any:
        """The kept bytes, ``None`` when there are none, ``_FAILED`` when the cache failed."""
        if self.backend == "memory":
            if self._memory is None:
                self._memory = LRUCache(settings.cache_max_entries)
            raw = self._memory.get_now(key)
            return None if raw is MISSING else raw
        try:
            async with asyncio.timeout(settings.cache_timeout):
                return await _redis(ctx).get(self.prefix + key)
        except Exception:
            self._failed("read")
            return _FAILED

    async def _write(self, ctx: ExecutionContext, key: str, raw: bytes, settings: Settings) -> None:
        if self.backend == "memory":
            if self._memory is None:
                self._memory = LRUCache(settings.cache_max_entries)
            self._memory.set_now(key, raw, self.ttl)
            return
        try:
            async with asyncio.timeout(settings.cache_timeout):
                await _redis(ctx).set(self.prefix + key, raw, px=max(1, round(self.ttl * 1000)))
        except Exception:
            self._failed("write")

    def _encode(self, value: Any, settings: Settings) -> bytes | None:
        """The value as JSON bytes to keep, or ``None`` when it cannot or must not be kept."""
        try:
            raw = dumps(value)
        except TypeError:
            logger.warning(
                "node %s: its value is not JSON, so it is not cached",
                self.node_id,
                extra=self._about,
            )
            return None
        if len(raw) > settings.cache_max_value_bytes:
            self.stats.errors += 1
            logger.warning(
                "node %s: a value of %d bytes is over CATALYST_CACHE_MAX_VALUE_BYTES (%d); "
                "not cached",
                self.node_id,
                len(raw),
                settings.cache_max_value_bytes,
                extra=self._about,
            )
            return None
        return raw

    @property
    def _about(self) -> dict[str, str]:
        # The node a line is about, a field of its own in JSON log lines (logs.JsonFormatter).
        return {"node": self.node_id}

    def _failed(self, what: str) -> None:
        self.stats.errors += 1
        # One line (repeats are held back, see logs.py), naming only the exception type: a
        # driver's message may quote the URL. The traceback at debug level.
        exc = sys.exc_info()[1]
        logger.warning(
            "node %s: cache %s failed (%s); running the node uncached",
            self.node_id,
            what,
            "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__,
            extra=self._about,
        )
        logger.debug(
            "node %s: cache %s failure", self.node_id, what, exc_info=True, extra=self._about
        )

    def __repr__(self) -> str:
        return f"NodeCache({self.node_id!r}, ttl={self.ttl!r}, backend={self.backend!r})"


def _redis(ctx: ExecutionContext) -> Any:
    if ctx.pools is None:
        raise RuntimeError("no pools: a redis cache needs the service's Redis pool")
    return ctx.pools.redis


def _canonical(value: Any) -> bytes:
    """One text per value: sorted keys, models as their JSON, integers of any size."""
    try:
        return orjson.dumps(value, default=_default, option=_CANONICAL)
    except orjson.JSONEncodeError:
        return orjson.dumps(_escape(value), default=_default, option=_CANONICAL)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        text = key
    elif isinstance(key, bool):
        text = "true" if key else "false"
    elif isinstance(key, (int, float)):
        text = str(key)
    else:
        return "json:" + _digest(_canonical(key))
    return "key:" + text if len(text) <= KEY_TEXT_LIMIT else "key#" + _digest(text.encode())
