from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from catalyst_runtime import ConnectionPools, LRUCache, RedisCache, Settings, cached
from catalyst_runtime.cache import MISSING
from catalyst_runtime.testing import free_port


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_lru_evicts_least_recently_used() -> None:
    cache = LRUCache(maxsize=2)
    cache.set_now("a", 1, ttl=60)
    cache.set_now("b", 2, ttl=60)
    assert cache.get_now("a") == 1  # a is now the most recent
    cache.set_now("c", 3, ttl=60)
    assert cache.get_now("b") is MISSING
    assert cache.get_now("a") == 1
    assert cache.get_now("c") == 3
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="maxsize"):
        LRUCache(maxsize=0)


@pytest.mark.anyio
async def test_lru_entries_expire() -> None:
    cache = LRUCache()
    await cache.set("k", None, ttl=0.02)
    assert await cache.get("k") is None  # None is a value, not a miss
    await asyncio.sleep(0.03)
    assert await cache.get("k") is MISSING
    assert len(cache) == 0


@pytest.mark.anyio
async def test_hits_and_misses_are_counted() -> None:
    calls: list[str] = []

    @cached(ttl=60)
    async def shout(text: str, *, times: int = 1) -> str:
        calls.append(text)
        return text.upper() * times

    assert await shout("a") == "A"
    assert await shout("a") == "A"
    assert await shout("a") == "A"
    assert await shout("a", times=2) == "AA"
    assert calls == ["a", "a"]
    assert (shout.stats.hits, shout.stats.misses, shout.stats.coalesced) == (2, 2, 0)
    assert shout.__name__ == "shout"
    assert isinstance(shout.backend, LRUCache)


@pytest.mark.anyio
async def test_concurrent_misses_make_one_call() -> None:
    calls = 0
    release = asyncio.Event()

    @cached(ttl=60, key_fn=lambda text: f"emb:{text}")
    async def embed(text: str) -> list[float]:
        nonlocal calls
        calls += 1
        await release.wait()
        return [float(len(text))]

    callers = [asyncio.create_task(embed("hello")) for _ in range(10)]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*callers)
    assert calls == 1
    assert results == [[5.0]] * 10
    assert (embed.stats.misses, embed.stats.coalesced) == (1, 9)
    assert await embed("hello") == [5.0]
    assert embed.stats.hits == 1


@pytest.mark.anyio
async def test_a_failure_reaches_every_waiter_and_is_not_cached() -> None:
    attempts = 0
    release = asyncio.Event()

    @cached(ttl=60, key_fn=lambda: "k")
    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        await release.wait()
        if attempts == 1:
            raise RuntimeError("upstream down")
        return "ok"

    callers = [asyncio.create_task(flaky()) for _ in range(3)]
    await asyncio.sleep(0.01)
    release.set()
    results = await asyncio.gather(*callers, return_exceptions=True)
    assert [str(r) for r in results] == ["upstream down"] * 3
    assert await flaky() == "ok"
    assert attempts == 2


@pytest.mark.anyio
async def test_waiters_take_over_when_the_caller_is_cancelled() -> None:
    calls = 0
    started = asyncio.Event()

    @cached(ttl=60, key_fn=lambda: "k")
    async def slow() -> int:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(0.05)
        return calls

    leader = asyncio.create_task(slow())
    await started.wait()
    follower = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await follower == 2  # it ran the call itself
    with pytest.raises(asyncio.CancelledError):
        await leader


@pytest.mark.anyio
async def test_a_cancelled_waiter_is_cancelled() -> None:
    release = asyncio.Event()

    @cached(ttl=60, key_fn=lambda: "k")
    async def slow() -> int:
        await release.wait()
        return 1

    leader = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(slow())
    await asyncio.sleep(0.01)
    follower.cancel()
    with pytest.raises(asyncio.CancelledError):
        await follower
    release.set()
    assert await leader == 1


def test_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError, match="ttl must be a positive"):
        cached(ttl=0)


@pytest.mark.anyio
async def test_redis_backend(redis: Redis, unique: str) -> None:
    backend = RedisCache(redis, prefix=unique)

    @cached(ttl=0.2, key_fn=lambda n: str(n), backend=backend)
    async def square(n: int) -> dict[str, int]:
        return {"n": n * n}

    assert await square(3) == {"n": 9}
    assert await square(3) == {"n": 9}
    assert (square.stats.hits, square.stats.misses) == (1, 1)
    raw = await redis.get(f"{unique}3")
    assert isinstance(raw, bytes)
    assert orjson.loads(raw) == {"n": 9}
    assert 0 < await redis.pttl(f"{unique}3") <= 200


@pytest.mark.anyio
async def test_redis_backend_from_the_app_pool(redis_url: str, unique: str) -> None:
    backend = RedisCache(prefix=unique)
    pools = await ConnectionPools.create(Settings(redis_url=redis_url), ["redis"])
    try:
        await backend.set("k", [1, 2], ttl=10)
        assert await backend.get("k") == [1, 2]
        assert await RedisCache(lambda: pools.redis, prefix=unique).get("k") == [1, 2]
        assert await backend.get("absent") is MISSING
    finally:
        await pools.close()


@pytest.mark.anyio
async def test_a_broken_cache_degrades_to_calls(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", "catalyst_runtime")
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")

    @cached(ttl=60, key_fn=lambda: "k", backend=RedisCache(dead))
    async def value() -> int:
        return 7

    assert await value() == 7
    assert value.stats.errors == 2  # the read and the write
    name = f"{__name__}.test_a_broken_cache_degrades_to_calls.<locals>.value"
    lines = [
        (r.levelname, r.getMessage(), r.exc_info is not None)
        for r in caplog.records
        if r.name == "catalyst_runtime"
    ]
    assert lines == [
        ("WARNING", f"cache read failed for {name} (ConnectionError); calling through", False),
        ("DEBUG", f"cache read failure for {name}", True),
        ("WARNING", f"cache write failed for {name} (ConnectionError)", False),
        ("DEBUG", f"cache write failure for {name}", True),
    ]
    assert await value() == 7
    assert value.stats.errors == 4
    await dead.aclose()


def test_lru_holds_1024_entries_unless_told_and_at_least_one() -> None:
    default = LRUCache()
    for n in range(1025):
        default.set_now(str(n), n, 60)
    assert default.get_now("0") is MISSING and default.get_now("1") == 1
    one = LRUCache(maxsize=1)
    one.set_now("a", 1, 60)
    one.set_now("b", 2, 60)
    assert (one.get_now("a"), one.get_now("b")) == (MISSING, 2)
    with pytest.raises(ValueError, match=r"^maxsize must be at least 1, got 0"):
        LRUCache(maxsize=0)


@pytest.mark.anyio
async def test_cached_keeps_1024_results_by_default() -> None:
    @cached(ttl=60)
    async def same(n: int) -> int:
        return n

    assert isinstance(same.backend, LRUCache) and same.backend.maxsize == 1024


@pytest.mark.anyio
async def test_a_key_function_gets_keyword_arguments_too() -> None:
    calls: list[int] = []

    @cached(ttl=60, key_fn=lambda n, *, scale: f"{n}x{scale}")
    async def scaled(n: int, *, scale: int) -> int:
        calls.append(n)
        return n * scale

    assert await scaled(2, scale=3) == 6
    assert await scaled(2, scale=4) == 8
    assert await scaled(2, scale=3) == 6
    assert calls == [2, 2]


@pytest.mark.anyio
async def test_concurrent_misses_on_different_keys_make_their_own_calls() -> None:
    gate = asyncio.Event()

    @cached(ttl=60)
    async def echo(text: str) -> str:
        await gate.wait()
        return text

    calls = [asyncio.create_task(echo(t)) for t in ("a", "b")]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*calls) == ["a", "b"]


@pytest.mark.anyio
async def test_redis_cache_keys_live_under_catalyst_cache(redis: Redis, unique: str) -> None:
    cache = RedisCache(redis)
    await cache.set(f"{unique}-k", {"v": 1}, 5)
    assert await redis.delete(f"catalyst:cache:{unique}-k") == 1


def test_redis_cache_is_shared_by_two_processes(
    apps_dir: Path, redis_url: str, unique: str
) -> None:
    command = [sys.executable, str(apps_dir / "worker.py"), "cache", redis_url, unique, "hello"]
    first = orjson.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    second = orjson.loads(subprocess.run(command, capture_output=True, check=True).stdout)
    assert first == {"result": {"length": 5, "computed_by_call": 1}, "hits": 0, "misses": 1}
    # Another process, another in-memory state: the value came from Redis.
    assert second == {"result": {"length": 5, "computed_by_call": 1}, "hits": 1, "misses": 0}
