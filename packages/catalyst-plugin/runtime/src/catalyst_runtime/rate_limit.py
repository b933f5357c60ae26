"""Per-key rate limiting, in memory or shared through Redis, behind one interface.

Both limiters use GCRA (the "generic cell rate algorithm", a leaky bucket kept as one timestamp per
key): each key has a theoretical arrival time ``tat``; a call may go at ``tat - tolerance`` and
moves ``tat`` on by one ``interval``. ``interval`` alone means "at least this long between calls";
``rate`` with ``burst`` allows ``burst`` calls at once, then ``rate`` per second.

A caller *reserves* its slot when it calls ``acquire`` and then sleeps until the slot comes, so
callers are served in the order they asked (fair) and nothing needs a lock: the reservation is
made without an ``await`` in between (in memory) or by one atomic Lua script (Redis). A caller
whose slot is further away than ``timeout`` reserves nothing and gets ``RateLimitExceeded`` at
once: ``timeout`` decides up front whether to wait at all, it is not a deadline that cancels a
wait (hence the ASYNC109 exemptions).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from time import monotonic_ns
from typing import TYPE_CHECKING, Any, Protocol

from .errors import RateLimitExceeded

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

__all__ = ["InMemoryRateLimiter", "RateLimiter", "RedisRateLimiter"]

_NS = 1_000_000_000


class RateLimiter(Protocol):
    """What a ``rate_limit`` node calls."""

    async def acquire(self, key: str, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        """Wait for a slot on ``key``; return the seconds waited. Raise ``RateLimitExceeded``
        when the slot is more than ``timeout`` seconds away (``None``: wait as long as needed)."""
        ...


def _gcra(interval: float | None, rate: float | None, burst: int) -> tuple[int, int]:
    """(interval, tolerance) in nanoseconds, checking the settings."""
    if (interval is None) == (rate is None):
        raise ValueError(
            "give exactly one of interval (seconds between calls) or rate (per second)"
        )
    if interval is not None and not interval > 0:
        raise ValueError(f"interval must be a positive number of seconds, got {interval!r}")
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be a positive number of calls per second, got {rate!r}")
    if burst < 1:
        raise ValueError(f"burst must be at least 1, got {burst!r}")
    period = interval if interval is not None else 1 / rate  # type: ignore[operator]
    step = max(1, round(period * _NS))
    return step, step * (burst - 1)


class InMemoryRateLimiter:
    """One process's limiter: per-key, fair, async-safe, with a timeout.

    ``name`` is the node id that ``RateLimitExceeded`` carries. A caller cancelled while waiting
    gives its slot back when no one has queued behind it.
    """

    __slots__ = ("_interval", "_name", "_sweep_at", "_tat", "_tolerance")

    def __init__(
        self,
        *,
        interval: float | None = None,
        rate: float | None = None,
        burst: int = 1,
        name: str = "rate_limit",
    ) -> None:
        self._interval, self._tolerance = _gcra(interval, rate, burst)
        self._name = name
        self._tat: dict[str, int] = {}
        self._sweep_at = 10_000

    async def acquire(self, key: str, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        now = monotonic_ns()
        tat = self._tat.get(key, now)
        if tat < now:
            tat = now
        wait = tat - self._tolerance - now
        if wait <= 0:
            self._tat[key] = tat + self._interval
            if len(self._tat) > self._sweep_at:
                self._forget_idle(now)
            return 0.0
        if timeout is not None and wait > timeout * _NS:
            raise RateLimitExceeded(self._name, key, timeout, retry_after=wait / _NS)
        reserved = self._tat[key] = tat + self._interval
        try:
            await asyncio.sleep(wait / _NS)
        except asyncio.CancelledError:
            if self._tat.get(key) == reserved:  # nobody queued after us: hand the slot back
                self._tat[key] = tat
            raise
        return wait / _NS

    def _forget_idle(self, now: int) -> None:
        # A key whose tat has passed behaves exactly like a key never seen: drop it.
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]
        # Sweep again only once the table has doubled: amortised O(1) per call.
        self._sweep_at = max(10_000, 2 * len(self._tat))


# KEYS[1]: the key. ARGV: interval, tolerance, max wait (all microseconds; max wait < 0: none).
# Returns {wait, reserved tat, tat before}: the microseconds to wait (-1 when that would exceed
# the max wait: nothing reserved, and the second item is the wait refused), the value stored and
# the one it replaced, so that a caller
# cancelled while waiting can give its slot back. Redis's own clock is used, so every process
# and host agrees on "now".
_GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if max_wait >= 0 and wait > max_wait then return {-1, wait, 0} end
local new_tat = tat + interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {wait, new_tat, tat}
"""

# KEYS[1]: the key. ARGV: the tat a cancelled caller stored, the tat it replaced. Puts the old
# value back only if nobody reserved after the caller (the stored value is still its own), as
# the in-memory limiter does. Returns 1 when the slot was given back.
_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', math.ceil((tat - now) / 1000) + 1000)
end
return 1
"""


def _current_redis() -> Redis:
    from .pools import ConnectionPools

    return ConnectionPools.current().redis


class RedisRateLimiter:
    """The same limiter held in Redis, so every process and host shares one limit per key.

    ``redis`` is a ``redis.asyncio.Redis`` client, or a function returning one; by default the
    app's pool (``ConnectionPools.current().redis``), so a limiter can be built at import time.
    Slots are reserved atomically by a Lua script (loaded once, then run by its SHA) using the
    Redis server's clock. A caller cancelled while waiting for its slot, or while its reservation
    was on its way, gives the slot back when nobody has reserved after it (a second script,
    compare-and-set), so clients that disconnect do not use up the limit.
    """

    __slots__ = (
        "_interval_us",
        "_name",
        "_prefix",
        "_redis",
        "_releases",
        "_script",
        "_tolerance_us",
    )

    def __init__(
        self,
        redis: Redis | Callable[[], Redis] | None = None,
        *,
        interval: float | None = None,
        rate: float | None = None,
        burst: int = 1,
        name: str = "rate_limit",
        prefix: str = "catalyst:rl:",
    ) -> None:
        interval_ns, tolerance_ns = _gcra(interval, rate, burst)
        self._interval_us = max(1, interval_ns // 1000)
        self._tolerance_us = tolerance_ns // 1000
        self._name = name
        self._prefix = prefix
        self._redis = _current_redis if redis is None else redis
        self._script: tuple[Redis, AsyncScript, AsyncScript] | None = None
        # Releases under way, kept so that they are not garbage-collected mid-flight.
        self._releases: set[asyncio.Future[Any]] = set()

    def _scripts_for(self) -> tuple[AsyncScript, AsyncScript]:
        from redis.asyncio import Redis

        client = self._redis if isinstance(self._redis, Redis) else self._redis()
        if self._script is None or self._script[0] is not client:
            self._script = (
                client,
                client.register_script(_GCRA_LUA),
                client.register_script(_RELEASE_LUA),
            )
        return self._script[1], self._script[2]

    async def acquire(self, key: str, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        reserve, release = self._scripts_for()
        max_wait = -1 if timeout is None else math.floor(timeout * 1_000_000)
        keys = [self._prefix + key]
        # Shielded: if this caller is cancelled while the script runs, the reservation still
        # lands, and is then given back as soon as its answer says what it was.
        pending = asyncio.ensure_future(
            reserve(keys=keys, args=[self._interval_us, self._tolerance_us, max_wait])
        )
        try:
            reply = await asyncio.shield(pending)
        except asyncio.CancelledError:
            pending.add_done_callback(lambda done: self._release_reply(release, keys, done))
            raise
        wait_us, reserved, before = (int(part) for part in reply)
        if wait_us < 0:
            raise RateLimitExceeded(
                self._name,
                key,
                timeout if timeout is not None else 0.0,
                retry_after=reserved / 1_000_000,
            )
        if wait_us:
            try:
                await asyncio.sleep(wait_us / 1_000_000)
            except asyncio.CancelledError:
                self._release(release, keys, reserved, before)
                raise
        return wait_us / 1_000_000

    def _release_reply(
        self, release: AsyncScript, keys: list[str], done: asyncio.Future[Any]
    ) -> None:
        if done.cancelled() or done.exception() is not None:
            return  # nothing was reserved, or nobody can know: the key expires by itself
        wait_us, reserved, before = (int(part) for part in done.result())
        if wait_us >= 0:
            self._release(release, keys, reserved, before)

    def _release(self, release: AsyncScript, keys: list[str], reserved: int, before: int) -> None:
        """Give a cancelled caller's slot back, in a task of its own: the caller is being
        cancelled and must not wait (or be cancelled again) on the way out."""
        task = asyncio.ensure_future(release(keys=keys, args=[reserved, before]))
        self._releases.add(task)
        task.add_done_callback(self._released)

    def _released(self, task: asyncio.Future[Any]) -> None:
        self._releases.discard(task)
        if not task.cancelled():
            task.exception()  # a Redis failure here costs one slot, until the key expires
