from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from catalyst_runtime import (
    ConnectionPools,
    InMemoryRateLimiter,
    RateLimiter,
    RateLimitExceeded,
    RedisRateLimiter,
    Settings,
)

# A reported wait is computed, not measured: it is never more than the limiter's schedule allows
# (upper bounds are tight) and may be less when the test itself ran late (lower bounds are loose,
# so a busy CI machine does not fail them). Timers may fire up to a millisecond early.
SLACK = 0.004


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def _factories(redis_client: Redis | None, unique: str) -> dict[str, Callable[..., RateLimiter]]:
    factories: dict[str, Callable[..., RateLimiter]] = {"memory": InMemoryRateLimiter}
    if redis_client is not None:
        factories["redis"] = lambda **kw: RedisRateLimiter(redis_client, prefix=unique, **kw)
    return factories


@pytest.fixture(params=["memory", "redis"])
async def make(
    request: pytest.FixtureRequest, redis_url: str, unique: str
) -> AsyncIterator[Callable[..., RateLimiter]]:
    client = Redis.from_url(redis_url)
    yield _factories(client, unique)[request.param]
    await client.aclose()


async def _timed(call: Awaitable[float]) -> tuple[float, float]:
    started = time.monotonic()
    waited = await call
    return waited, time.monotonic() - started


@pytest.mark.anyio
async def test_minimum_interval_per_key(make: Callable[..., RateLimiter]) -> None:
    # 0.2 s apart: wide enough that two Redis round trips on a loaded machine stay inside it
    # (at 0.05 s, a slow "b" call let the second "a" pass at once).
    limiter = make(interval=0.2)
    started = time.monotonic()
    assert await limiter.acquire("a") == 0.0
    assert await limiter.acquire("b") == 0.0  # another key is independent
    second = await limiter.acquire("a")
    third = await limiter.acquire("a")
    assert 0 < second <= 0.2 + SLACK
    assert 0 < third <= 0.2 + SLACK
    assert time.monotonic() - started >= 0.4 - SLACK


@pytest.mark.anyio
async def test_rate_with_burst(make: Callable[..., RateLimiter]) -> None:
    # 4 per second: the fourth call waits unless the first three took a quarter of a second.
    limiter = make(rate=4, burst=3)
    waits = [await limiter.acquire("k") for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 0.25 + SLACK


@pytest.mark.anyio
async def test_waiters_are_served_in_order(make: Callable[..., RateLimiter]) -> None:
    limiter = make(interval=0.02)
    served: list[int] = []
    # Order is the order requests reach the limiter; for Redis, open the connections first so
    # that connecting does not reorder them.
    await asyncio.gather(*(limiter.acquire(f"warm-up{n}") for n in range(6)))

    async def caller(n: int) -> None:
        await limiter.acquire("k")
        served.append(n)

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(caller(n)))
        await asyncio.sleep(0.003)  # arrive in a known order
    await asyncio.gather(*tasks)
    assert served == list(range(6))


@pytest.mark.anyio
async def test_timeout_raises_without_taking_a_slot(make: Callable[..., RateLimiter]) -> None:
    # A wide interval: the refusal holds even if the machine stalls for most of it in between.
    limiter = make(interval=0.5, name="throttle")
    await limiter.acquire("user:1")
    with pytest.raises(RateLimitExceeded) as caught:
        await limiter.acquire("user:1", timeout=0.01)
    assert caught.value.node_id == "throttle"
    assert caught.value.key == "user:1"
    assert caught.value.timeout == 0.01
    assert caught.value.status_code == 429
    # The refused caller reserved nothing: the next one waits at most one interval, not two
    # (a slot reserved by the refused call would put it past this timeout).
    waited, _ = await _timed(limiter.acquire("user:1", timeout=0.75))
    assert 0 < waited <= 0.5 + SLACK


async def _settled(limiter: RateLimiter) -> None:
    """Wait until the slots cancelled callers gave back are back (Redis: a background task)."""
    for _ in range(500):
        if not getattr(limiter, "_releases", None):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a release never finished")


@pytest.mark.anyio
async def test_cancelled_waiter_gives_its_slot_back(make: Callable[..., RateLimiter]) -> None:
    limiter = make(interval=0.5)
    await limiter.acquire("k")
    waiter = asyncio.create_task(limiter.acquire("k"))
    await asyncio.sleep(0.1)  # it has reserved the next slot and is waiting for it
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await _settled(limiter)
    waited = await limiter.acquire("k")
    assert waited <= 0.5 + SLACK  # not 0.9: the cancelled reservation was returned


@pytest.mark.anyio
async def test_many_cancelled_waiters_leak_no_capacity(make: Callable[..., RateLimiter]) -> None:
    # Clients that disconnect one after another, each while waiting: the limit is not used up.
    limiter = make(interval=0.5)
    await limiter.acquire("k")
    for _ in range(5):
        waiter = asyncio.create_task(limiter.acquire("k"))
        await asyncio.sleep(0.02)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await _settled(limiter)
    waited = await limiter.acquire("k", timeout=1)  # five leaked slots would be 2.5 s away
    assert waited <= 0.5 + SLACK


@pytest.mark.anyio
async def test_cancelled_waiter_with_others_behind_keeps_the_queue(
    make: Callable[..., RateLimiter],
) -> None:
    limiter = make(interval=0.25)
    await limiter.acquire("k")
    first = asyncio.create_task(limiter.acquire("k"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(limiter.acquire("k"))
    await asyncio.sleep(0.05)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await _settled(limiter)
    assert await second >= 0.3  # its reservation (two intervals out) stands


@pytest.mark.anyio
async def test_a_caller_cancelled_while_reserving_gives_the_slot_back(
    redis: Redis, unique: str
) -> None:
    limiter = RedisRateLimiter(redis, interval=5, prefix=unique)
    await limiter.acquire("k")
    stored = await redis.get(f"{unique}k")
    waiter = asyncio.create_task(limiter.acquire("k"))
    await asyncio.sleep(0)  # the script is on its way
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The reservation lands (its script was sent) and is then given back.
    for _ in range(500):
        if not limiter._releases and await redis.get(f"{unique}k") == stored:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    await _settled(limiter)
    assert await redis.get(f"{unique}k") == stored  # the first caller's slot, not a second one


@pytest.mark.anyio
async def test_idle_keys_are_forgotten() -> None:
    limiter = InMemoryRateLimiter(interval=1e-6)
    for n in range(10_050):
        await limiter.acquire(f"key{n}")
    assert len(limiter._tat) < 10_050


@pytest.mark.anyio
async def test_the_idle_sweep_keeps_keys_that_are_still_limited() -> None:
    # Every key is 10 s from its next slot when the table outgrows the sweep threshold: the
    # sweep must forget none of them, or the first key would pass again at once.
    limiter = InMemoryRateLimiter(interval=10)
    for n in range(10_001):
        await limiter.acquire(f"key{n}")
    assert len(limiter._tat) == 10_001
    with pytest.raises(RateLimitExceeded):
        await limiter.acquire("key0", timeout=1)


@pytest.mark.anyio
async def test_an_idle_key_does_not_bank_its_idle_time(make: Callable[..., RateLimiter]) -> None:
    # Idle for six intervals, the key gets one call at once, then one per interval again: the
    # calls it skipped are not saved up as a burst (its old timestamp is not reused).
    limiter = make(interval=0.05)
    await limiter.acquire("k")
    await asyncio.sleep(0.3)
    started = time.monotonic()
    waits = [await limiter.acquire("k") for _ in range(4)]
    # A lower bound only: a slow machine makes the calls take longer, never shorter.
    assert time.monotonic() - started >= 0.15 - 3 * SLACK
    assert waits[0] == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "^give exactly one of interval"),
        ({"interval": 1, "rate": 1}, "^give exactly one of interval"),
        ({"interval": 0}, "^interval must be a positive"),
        ({"rate": -1}, "^rate must be a positive"),
        ({"rate": 0}, "^rate must be a positive"),
        ({"rate": 1, "burst": 0}, "^burst must be at least 1"),
    ],
)
def test_bad_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InMemoryRateLimiter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_defaults_name_the_node_rate_limit_and_keep_keys_under_catalyst_rl(
    redis: Redis, unique: str
) -> None:
    key = f"{unique}-k"
    limiters: list[RateLimiter] = [
        InMemoryRateLimiter(interval=5),
        RedisRateLimiter(redis, interval=5),
    ]
    for limiter in limiters:
        await limiter.acquire(key)
        with pytest.raises(RateLimitExceeded) as caught:
            await limiter.acquire(key, timeout=0.01)
        assert caught.value.node_id == "rate_limit"
    assert await redis.exists(f"catalyst:rl:{key}") == 1
    await redis.delete(f"catalyst:rl:{key}")


@pytest.mark.anyio
async def test_redis_limiter_uses_the_app_pool_by_default(redis_url: str, unique: str) -> None:
    # A wide interval, so that a slow, shared machine cannot use it up between the two calls.
    limiter = RedisRateLimiter(interval=0.5, prefix=unique)
    pools = await ConnectionPools.create(Settings(redis_url=redis_url), ["redis"])
    try:
        assert await limiter.acquire("k") == 0.0
        assert 0 < await limiter.acquire("k") <= 0.5  # waited: limited, however slow the machine
        assert await pools.redis.exists(f"{unique}k") == 1
    finally:
        await pools.close()


def test_redis_limiter_holds_one_limit_across_two_processes(
    apps_dir: Path, redis_url: str, unique: str
) -> None:
    interval, per_process = 0.05, 5
    start_at = time.time() + 1.0  # both processes import, connect, then start together
    command = [sys.executable, str(apps_dir / "worker.py"), "limit", redis_url, f"{unique}shared"]
    workers = [
        subprocess.Popen(
            [*command, str(interval), str(per_process), str(start_at)], stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=30)[0] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0]
    times = sorted(t for out in outputs for t in orjson.loads(out))
    assert len(times) == 2 * per_process
    # One limit for both: the i-th slot overall cannot come before i intervals after the start.
    # Two separate limits would let each process take its 5 slots in 4 intervals (0.2 s).
    offsets = [round(t - start_at, 3) for t in times]
    for i, t in enumerate(times):
        assert t - start_at >= i * interval - 0.003, (i, offsets)
    assert times[-1] - start_at >= (2 * per_process - 1) * interval - 0.003, offsets
