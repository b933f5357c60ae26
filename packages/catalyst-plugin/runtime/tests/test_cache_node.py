"""``NodeCache``, the ``cache:`` of a node: memory and Redis (the real server the suite starts),
single flight, expiry, limits, and a cache that fails or hangs degrading to an uncached run.

Redis keys live under the test's own prefix (the ``unique`` fixture). Timing asserts are bounds.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    InMemoryRateLimiter,
    NodeCache,
    Settings,
    cache_node,
)
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


async def test_a_value_over_the_size_limit_is_returned_but_not_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pools = ConnectionPools(Settings(cache_max_value_bytes=64))
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    first = await cache.call(context(pools), upstream, "user", "x" * 100)
    again = await cache.call(context(pools), upstream, "user", "x" * 100)
    assert again["run"] == 2
    assert cache.stats.errors == 2
    size = len(orjson.dumps(first))
    over = [r for r in caplog.records if "CATALYST_CACHE_MAX_VALUE_BYTES" in r.getMessage()]
    assert over[0].getMessage() == (
        f"node user: a value of {size} bytes is over CATALYST_CACHE_MAX_VALUE_BYTES (64); "
        "not cached"
    )
    assert getattr(over[0], "node", None) == "user"
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
    caplog.set_level("DEBUG", "catalyst_runtime")
    cache, upstream = NodeCache("user", ttl=60, backend="redis", prefix="x:"), Upstream()
    for run in (1, 2):
        ctx = context(dead_redis_pools)
        assert (await cache.call(ctx, upstream, "user"))["run"] == run
        assert timing(ctx, "user") == 'user;dur=D;desc="cache error"'
    assert cache.stats.errors == 4  # two reads, two writes
    assert "node user: cache read failed (ConnectionError); running the node uncached" in (
        caplog.text
    )
    assert "node user: cache write failed (ConnectionError); running the node uncached" in (
        caplog.text
    )
    # The traceback goes to the debug line, which names the node too.
    debug = [r for r in caplog.records if r.levelname == "DEBUG"]
    assert [r.getMessage() for r in debug][:2] == [
        "node user: cache read failure",
        "node user: cache write failure",
    ]
    assert all(r.exc_info and getattr(r, "node", None) == "user" for r in debug)
    # As JSON, the line names its workflow and its node in fields of their own.
    line = next(
        orjson.loads(JsonFormatter().format(record))
        for record in caplog.records
        if record.getMessage().startswith("node user: cache read failed")
    )
    assert (line["workflow"], line["node"]) == ("cache_test", "user")


async def test_a_hung_redis_is_a_miss_after_the_cache_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
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
        assert "node user: cache read failed (timeout); running the node uncached" in caplog.text
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


async def test_a_value_of_exactly_the_size_limit_is_kept() -> None:
    async def fixed(ctx: ExecutionContext, node_id: str) -> str:
        return "x" * 62  # 64 bytes as JSON

    pools = ConnectionPools(Settings(cache_max_value_bytes=64))
    cache = NodeCache("user", ttl=60)
    await cache.call(context(pools), fixed, "user")
    await cache.call(context(pools), fixed, "user")
    assert (cache.stats.hits, cache.stats.misses, cache.stats.errors) == (1, 1, 0)


async def test_a_value_that_is_not_json_is_returned_and_logged_not_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def opaque(ctx: ExecutionContext, node_id: str) -> object:
        return object()

    cache = NodeCache("user", ttl=60)
    first = await cache.call(context(), opaque, "user")
    second = await cache.call(context(), opaque, "user")
    assert first is not second and cache.stats.misses == 2
    record = next(r for r in caplog.records if "not JSON" in r.getMessage())
    assert record.getMessage() == "node user: its value is not JSON, so it is not cached"
    assert getattr(record, "node", None) == "user"


async def test_hits_and_misses_are_counted_and_told_to_the_observer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    told: list[tuple[str, str, str]] = []
    monkeypatch.setattr(cache_node, "observer", lambda *args: told.append(args))
    seen: list[ExecutionContext] = []

    async def node(ctx: ExecutionContext, node_id: str, n: int) -> int:
        seen.append(ctx)
        return n

    cache = NodeCache("user", ttl=60)
    ctxs = [context() for _ in range(4)]
    for ctx, n in zip(ctxs, (1, 1, 2, 1), strict=True):
        assert await cache.call(ctx, node, "user", n) == n
    assert (cache.stats.hits, cache.stats.misses) == (2, 2)
    assert seen == [ctxs[0], ctxs[2]]  # the node runs with the request's own context
    outcome = [("cache_test", "user", o) for o in ("cache miss", "cache hit", "cache miss")]
    assert told == [*outcome, ("cache_test", "user", "cache hit")]


async def test_concurrent_misses_on_different_keys_make_their_own_calls() -> None:
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    upstream.gate.clear()
    calls = [
        asyncio.create_task(cache.call(context(), upstream, "user", path)) for path in ("a", "b")
    ]
    await asyncio.sleep(0.01)  # both wait at the gate (or, sharing one key, on one call)
    upstream.gate.set()
    a, b = await asyncio.gather(*calls)
    assert (a["args"], b["args"]) == (["a"], ["b"])


async def test_the_rate_limiter_a_node_is_given_is_not_part_of_the_key() -> None:
    calls: list[Any] = []

    async def node(ctx: ExecutionContext, node_id: str, **kw: Any) -> Any:
        calls.append(kw["query"])
        return kw["query"]

    cache = NodeCache("user", ttl=60)
    one, two = InMemoryRateLimiter(interval=0.001), InMemoryRateLimiter(interval=0.001, name="b")
    await cache.call(context(), node, "user", query={"q": 1}, limiter=one)
    await cache.call(context(), node, "user", query={"q": 1}, limiter=two)
    assert calls == [{"q": 1}]
    await cache.call(context(), node, "user", query={"q": 2}, limiter=one)
    assert calls == [{"q": 1}, {"q": 2}]


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        (True, "true", True),
        (False, "false", True),
        (True, False, False),
        (5, "5", True),
        (5, 6, False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"n": 2**70, "a": 1}, {"a": 1, "n": 2**70}, True),  # beyond 64 bits, any key order
        ({"s": {Decimal("1.5")}}, {"s": {Decimal("1.5")}}, True),
        ({"s": {Decimal("1.5")}}, {"s": {Decimal("2.5")}}, False),
    ],
)
async def test_given_keys_share_an_entry_exactly_when_their_text_is_the_same(
    first: Any, second: Any, shared: bool
) -> None:
    cache, upstream = NodeCache("user", ttl=60), Upstream()
    await cache.call_keyed(context(), first, upstream, "user")
    await cache.call_keyed(context(), second, upstream, "user")
    assert len(upstream.calls) == (1 if shared else 2)


async def test_a_key_of_exactly_the_text_limit_is_kept_as_text(
    redis_ctx: ExecutionContext, redis_url: str, unique: str
) -> None:
    cache, upstream = NodeCache("user", ttl=5, backend="redis", prefix=unique), Upstream()
    await cache.call_keyed(redis_ctx, "k" * KEY_TEXT_LIMIT, upstream, "user")
    client = Redis.from_url(redis_url)
    try:
        assert await client.exists(f"{unique}key:{'k' * KEY_TEXT_LIMIT}") == 1
    finally:
        await client.aclose()


async def test_without_a_prefix_keys_are_the_key_text(
    redis_ctx: ExecutionContext, redis_url: str, unique: str
) -> None:
    cache, upstream = NodeCache("user", ttl=5, backend="redis"), Upstream()
    await cache.call_keyed(redis_ctx, f"{unique}-k", upstream, "user")
    client = Redis.from_url(redis_url)
    try:
        assert await client.delete(f"key:{unique}-k") == 1
    finally:
        await client.aclose()


async def test_a_redis_cache_without_pools_says_it_needs_the_redis_pool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("DEBUG", "catalyst_runtime")
    cache, upstream = NodeCache("user", ttl=60, backend="redis"), Upstream()
    assert (await cache.call(context(), upstream, "user"))["run"] == 1
    assert "node user: cache read failed (RuntimeError)" in caplog.text
    assert "RuntimeError: no pools: a redis cache needs the service's Redis pool" in caplog.text


async def test_a_shared_miss_whose_value_is_not_kept_still_answers_every_waiter() -> None:
    gate = asyncio.Event()
    marker = object()

    async def opaque(ctx: ExecutionContext, node_id: str) -> object:
        await gate.wait()
        return marker  # not JSON: nothing is kept, and there is no JSON copy to hand out

    cache = NodeCache("user", ttl=60)
    calls = [asyncio.create_task(cache.call(context(), opaque, "user")) for _ in range(2)]
    await asyncio.sleep(0.01)
    gate.set()
    assert await asyncio.gather(*calls) == [marker, marker]
    assert (cache.stats.misses, cache.stats.coalesced) == (1, 1)
