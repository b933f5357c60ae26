"""``NodeCache``, the ``cache:`` of a node: memory and Redis (the real server the suite starts),
single flight, expiry, limits, and a cache that fails or hangs degrading to an uncached run.

Redis keys live under the test's own prefix (the ``unique`` fixture). Timing asserts are bounds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from catalyst_runtime import ConnectionPools, ExecutionContext, NodeCache, Settings
from catalyst_runtime.cache_node import KEY_TEXT_LIMIT
from catalyst_runtime.logs import JsonFormatter
from catalyst_runtime.testing import free_port

pytestmark = pytest.mark.anyio


class Upstream:
    """A node's call that counts its runs; ``gate`` holds every run until it is set."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, ctx: ExecutionContext, node_id: str, *args: Any, **kw: Any) -> Any:
        self.calls.append((node_id, *args, kw))
        await self.gate.wait()
        return {"args": list(args), "kw": kw, "run": len(self.calls)}


def context(pools: ConnectionPools | None = None) -> ExecutionContext:
    return ExecutionContext("cache_test", None, pools=pools)


def timing(ctx: ExecutionContext, node_id: str) -> str:
    """``node_id``'s entry in the ``Server-Timing`` header, after the node has run."""
    with ctx.node(node_id):
        pass
    entry = next(e for e in ctx.server_timing().split(", ") if e.startswith(f"{node_id};"))
    return re.sub(r"dur=[0-9.]+", "dur=D", entry)


async def test_a_second_call_is_a_hit_and_a_fresh_copy() -> None:
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    first_ctx, second_ctx = context(), context()
    first = await cache.call(first_ctx, upstream, "user", "GET", "http://u/1", timeout=5.0)
    assert timing(first_ctx, "user") == 'user;dur=D;desc="cache miss"'
    first["args"].append("changed by the first request")
    second = await cache.call(second_ctx, upstream, "user", "GET", "http://u/1", timeout=5.0)
    assert timing(second_ctx, "user") == 'user;dur=D;desc="cache hit"'
    assert second == {"args": ["GET", "http://u/1"], "kw": {"timeout": 5.0}, "run": 1}
    assert len(upstream.calls) == 1
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


async def test_the_key_is_every_value_sent_whatever_the_order_of_its_keys() -> None:
    cache, upstream = NodeCache("search", ttl=60), Upstream()
    await cache.call(context(), upstream, "search", "GET", "u", query={"a": 1, "b": 2})
    await cache.call(context(), upstream, "search", "GET", "u", query={"b": 2, "a": 1})
    assert len(upstream.calls) == 1
    await cache.call(context(), upstream, "search", "GET", "u", query={"a": 1, "b": 3})
    await cache.call(context(), upstream, "search", "GET", "u", query={"a": 1, "b": 2}, timeout=1)
    big = 12345678901234567890123  # beyond 64 bits: still one exact key
    await cache.call(context(), upstream, "search", "GET", "u", query={"n": big})
    await cache.call(context(), upstream, "search", "GET", "u", query={"n": big + 1})
    assert len(upstream.calls) == 5


async def test_concurrent_misses_make_one_call() -> None:
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    upstream.gate.clear()
    contexts = [context() for _ in range(10)]
    callers = [asyncio.create_task(cache.call(c, upstream, "user", "GET", "u")) for c in contexts]
    await asyncio.sleep(0.05)
    upstream.gate.set()
    results = await asyncio.gather(*callers)
    assert len(upstream.calls) == 1
    assert all(r == results[0] for r in results)
    assert len({id(r) for r in results}) == 10  # each request its own copy
    notes = sorted(timing(c, "user") for c in contexts)
    assert notes == ['user;dur=D;desc="cache miss"'] + ['user;dur=D;desc="cache shared"'] * 9
    assert (cache.stats.misses, cache.stats.coalesced) == (1, 9)


async def test_a_failure_is_raised_and_not_kept() -> None:
    cache, runs = NodeCache("user", ttl=60), 0

    async def flaky(ctx: ExecutionContext, node_id: str) -> dict[str, int]:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("upstream down")
        return {"run": runs}

    with pytest.raises(ConnectionError):
        await cache.call(context(), flaky, "user")
    assert await cache.call(context(), flaky, "user") == {"run": 2}
    assert await cache.call(context(), flaky, "user") == {"run": 2}


async def test_entries_expire_after_ttl() -> None:
    cache, upstream = NodeCache("user", ttl=0.05), Upstream()
    await cache.call(context(), upstream, "user")
    await cache.call(context(), upstream, "user")
    assert len(upstream.calls) == 1
    await asyncio.sleep(0.08)
    ctx = context()
    assert (await cache.call(ctx, upstream, "user"))["run"] == 2
    assert timing(ctx, "user") == 'user;dur=D;desc="cache miss"'


async def test_the_memory_cache_keeps_at_most_the_max_entries_setting() -> None:
    pools = ConnectionPools(Settings(cache_max_entries=2))
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    for user in ("a", "b", "c", "a"):
        await cache.call(context(pools), upstream, "user", user)
    # "a" was evicted by "c" (least recently used), so it ran twice.
    assert [c[1] for c in upstream.calls] == ["a", "b", "c", "a"]


async def test_a_value_over_the_size_limit_is_returned_but_not_kept() -> None:
    pools = ConnectionPools(Settings(cache_max_value_bytes=64))
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    await cache.call(context(pools), upstream, "user", "x" * 100)
    again = await cache.call(context(pools), upstream, "user", "x" * 100)
    assert again["run"] == 2
    await cache.call(context(pools), upstream, "user", "small")
    assert (await cache.call(context(pools), upstream, "user", "small"))["run"] == 3


async def test_a_given_key_is_kept_readable_in_redis(
    redis_ctx: ExecutionContext, redis_url: str, unique: str
) -> None:
    cache, upstream = NodeCache("user", ttl=0.5, backend="redis", prefix=unique), Upstream()
    await cache.call_keyed(redis_ctx, "user:1", upstream, "user", "GET", "http://u/1")
    # Another process (another cache object, same prefix) finds it.
    other = NodeCache("user", ttl=0.5, backend="redis", prefix=unique)
    ctx = ExecutionContext("cache_test", None, pools=redis_ctx.pools)
    value = await other.call_keyed(ctx, "user:1", upstream, "user", "GET", "http://u/1")
    assert value["run"] == 1 and len(upstream.calls) == 1
    assert timing(ctx, "user") == 'user;dur=D;desc="cache hit"'
    client = Redis.from_url(redis_url)
    try:
        raw = await client.get(f"{unique}key:user:1")
        assert raw is not None and orjson.loads(raw) == value
        assert 0 < await client.pttl(f"{unique}key:user:1") <= 500
        # A long key is kept under its hash; a non-text key under its canonical JSON's hash.
        await cache.call_keyed(redis_ctx, "k" * (KEY_TEXT_LIMIT + 1), upstream, "user")
        await cache.call_keyed(redis_ctx, {"b": 1, "a": [True]}, upstream, "user")
        await cache.call(redis_ctx, upstream, "user", "GET", "http://u/2")
        found = [k.decode() if isinstance(k, bytes) else k for k in await client.keys(f"{unique}*")]
        keys = sorted(k.removeprefix(unique) for k in found)
        assert [re.sub(r"[0-9a-f]{32}$", "H", k) for k in keys] == [
            "args:H",
            "json:H",
            "key#H",
            "key:user:1",
        ]
        await asyncio.sleep(0.6)
        assert await client.get(f"{unique}key:user:1") is None  # Redis kept the TTL
    finally:
        await client.aclose()


@pytest.fixture
async def dead_redis_pools() -> AsyncIterator[ConnectionPools]:
    """Pools whose Redis refuses connections (nothing listens on the port)."""
    pools = ConnectionPools(Settings())
    pools._clients["redis"] = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        yield pools
    finally:
        await pools.close()


async def test_redis_down_runs_the_node_and_says_so(
    dead_redis_pools: ConnectionPools, caplog: pytest.LogCaptureFixture
) -> None:
    cache, upstream = NodeCache("user", ttl=60, backend="redis", prefix="x:"), Upstream()
    for run in (1, 2):
        ctx = context(dead_redis_pools)
        assert (await cache.call(ctx, upstream, "user"))["run"] == run
        assert timing(ctx, "user") == 'user;dur=D;desc="cache error"'
    assert cache.stats.errors == 4  # two reads, two writes
    assert "node user: cache read failed (ConnectionError); running the node uncached" in (
        caplog.text
    )
    # As JSON, the line names its workflow and its node in fields of their own.
    line = next(
        orjson.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.getMessage().startswith("node user: cache read failed")
    )
    assert (line["workflow"], line["node"]) == ("cache_test", "user")


async def test_a_hung_redis_is_a_miss_after_the_cache_timeout() -> None:
    # A server that accepts and never answers.
    accepted: list[asyncio.StreamWriter] = []
    silent = await asyncio.start_server(lambda r, w: accepted.append(w), "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    pools = ConnectionPools(Settings(cache_timeout=0.1))
    pools._clients["redis"] = Redis.from_url(f"redis://127.0.0.1:{port}/0")
    try:
        cache, upstream = NodeCache("user", ttl=60, backend="redis", prefix="x:"), Upstream()
        ctx = context(pools)
        started = asyncio.get_running_loop().time()
        assert (await cache.call(ctx, upstream, "user"))["run"] == 1
        # The read and the write each gave up after 0.1 s; nothing waited for a socket timeout.
        assert asyncio.get_running_loop().time() - started < 5
        assert timing(ctx, "user") == 'user;dur=D;desc="cache error"'
    finally:
        await pools.close()
        for writer in accepted:
            writer.close()
        silent.close()
        await silent.wait_closed()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl must be a positive"):
        NodeCache("user", ttl=0)
    with pytest.raises(ValueError, match='backend must be "memory" or "redis"'):
        NodeCache("user", ttl=1, backend="memcached")  # type: ignore[arg-type]
