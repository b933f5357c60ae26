"""``redis_command`` against the real Redis the suite starts (no mock of the driver).

Every key is under the test's own prefix (the ``unique`` fixture), so tests share the server
without seeing each other's data.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    NodeError,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    redis_command,
)
from catalyst_runtime.testing import TcpProxy, free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
def ctx(redis_ctx: ExecutionContext) -> ExecutionContext:
    return redis_ctx


async def test_set_then_get_gives_the_string_back(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}greeting"
    assert await redis_command(ctx, "put", "set", key, value="héllo {x}") == {"value": True}
    assert await redis_command(ctx, "read", "get", key) == {"value": "héllo {x}"}
    raw = await ctx.pools.redis.get(key)  # type: ignore[union-attr]
    assert raw == "héllo {x}".encode()  # a string is written as is, not quoted


async def test_a_missing_key_is_none(ctx: ExecutionContext, unique: str) -> None:
    assert await redis_command(ctx, "read", "get", f"{unique}nothing") == {"value": None}
    assert await redis_command(ctx, "read", "get", f"{unique}nothing", json=True) == {"value": None}
    assert await redis_command(ctx, "read", "hget", f"{unique}h", field="f") == {"value": None}


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2.5, None, True]}, [1, "two"], 42, 3.5, False, None, "text", 2**70],
)
async def test_json_round_trips_every_json_value(
    ctx: ExecutionContext, unique: str, value: Any
) -> None:
    key = f"{unique}doc"
    await redis_command(ctx, "put", "set", key, value=value, json=True)
    assert await redis_command(ctx, "read", "get", key, json=True) == {"value": value}


async def test_a_value_that_is_not_a_string_is_written_as_compact_json(
    ctx: ExecutionContext, unique: str
) -> None:
    key = f"{unique}doc"
    await redis_command(ctx, "put", "set", key, value={"b": 1, "a": [True, None]})
    assert await ctx.pools.redis.get(key) == b'{"b":1,"a":[true,null]}'  # type: ignore[union-attr]
    await redis_command(ctx, "put", "set", key, value="quoted", json=True)
    assert await ctx.pools.redis.get(key) == b'"quoted"'  # type: ignore[union-attr]


async def test_ttl_sets_an_expiry(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}session"
    await redis_command(ctx, "put", "set", key, value="x", ttl=30)
    ttl = await ctx.pools.redis.ttl(key)  # type: ignore[union-attr]
    assert 0 < ttl <= 30
    await redis_command(ctx, "put", "set", key, value="y")
    assert await ctx.pools.redis.ttl(key) == -1  # type: ignore[union-attr]


async def test_incr_counts_by_one_or_by(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}hits"
    assert await redis_command(ctx, "hits", "incr", key) == {"value": 1}
    assert await redis_command(ctx, "hits", "incr", key) == {"value": 2}
    assert await redis_command(ctx, "hits", "incr", key, by=10) == {"value": 12}
    assert await redis_command(ctx, "hits", "incr", key, by=-20) == {"value": -8}


async def test_del_says_how_many_keys_it_removed(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}gone"
    await redis_command(ctx, "put", "set", key, value="x")
    assert await redis_command(ctx, "drop", "del", key) == {"value": 1}
    assert await redis_command(ctx, "drop", "del", key) == {"value": 0}


async def test_hset_and_hget(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}card"
    assert await redis_command(ctx, "w", "hset", key, field="name", value="Ada") == {"value": 1}
    assert await redis_command(ctx, "w", "hset", key, field="name", value="Bo") == {"value": 0}
    await redis_command(ctx, "w", "hset", key, field="visits", value=3)
    assert await redis_command(ctx, "r", "hget", key, field="name") == {"value": "Bo"}
    assert await redis_command(ctx, "r", "hget", key, field="visits") == {"value": "3"}
    assert await redis_command(ctx, "r", "hget", key, field="visits", json=True) == {"value": 3}


async def test_publish_reaches_a_subscriber(ctx: ExecutionContext, unique: str) -> None:
    channel = f"{unique}events"
    assert await redis_command(ctx, "say", "publish", channel, value="nobody") == {"value": 0}
    pubsub = ctx.pools.redis.pubsub()  # type: ignore[union-attr]
    try:
        await pubsub.subscribe(channel)
        assert (await pubsub.get_message(timeout=2))["type"] == "subscribe"
        sent = await redis_command(ctx, "say", "publish", channel, value={"n": 1})
        assert sent == {"value": 1}
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None and message["data"] == b'{"n":1}'
    finally:
        await pubsub.aclose()


async def test_numbers_and_booleans_are_keys_as_text(ctx: ExecutionContext, unique: str) -> None:
    await redis_command(ctx, "put", "set", f"{unique}7", value="seven")
    await redis_command(ctx, "put", "hset", f"{unique}h", field=True, value="yes")
    assert await ctx.pools.redis.get(f"{unique}7") == b"seven"  # type: ignore[union-attr]
    assert await ctx.pools.redis.hget(f"{unique}h", "true") == b"yes"  # type: ignore[union-attr]
    assert await redis_command(ctx, "n", "incr", 2**70 + 1, by=0) == {"value": 0}
    await ctx.pools.redis.delete(str(2**70 + 1))  # type: ignore[union-attr]


@pytest.mark.parametrize(("key", "kind"), [(None, "null"), ({"a": 1}, "dict"), ([1], "list")])
async def test_a_key_that_is_not_text_fails_the_node(
    ctx: ExecutionContext, key: Any, kind: str
) -> None:
    with pytest.raises(NodeError) as caught:
        await redis_command(ctx, "lookup", "get", key)
    assert type(caught.value) is NodeError  # a bug in the definition: 500, not the upstream
    assert caught.value.details() == [
        {
            "type": "node_failed",
            "loc": ["nodes", "lookup"],
            "msg": f'node "lookup": the Redis key is {kind}; it must be text or a number',
        }
    ]


async def test_text_that_is_not_json_is_a_502_without_the_value(
    ctx: ExecutionContext, unique: str
) -> None:
    key = f"{unique}plain"
    await redis_command(ctx, "put", "set", key, value="s3cret-not-json")
    with pytest.raises(UpstreamError) as caught:
        await redis_command(ctx, "read", "get", key, json=True)
    assert caught.value.status_code == 502
    assert str(caught.value) == 'node "read": the value stored in Redis is not JSON'


async def test_a_redis_error_names_the_node_not_the_key(ctx: ExecutionContext, unique: str) -> None:
    key = f"{unique}secret-key"
    await redis_command(ctx, "put", "set", key, value="not a number")
    with pytest.raises(UpstreamError) as caught:
        await redis_command(ctx, "count", "incr", key)
    assert caught.value.status_code == 502
    assert str(caught.value) == 'node "count": Redis error (ResponseError)'
    assert "secret" not in str(caught.value)


async def test_an_unreachable_server_is_a_502_naming_the_node(unique: str) -> None:
    from redis.asyncio import Redis

    pools = ConnectionPools()
    # A client on a port nothing listens on, as a pool whose server went away would be.
    client = Redis.from_url(f"redis://:hunter2@127.0.0.1:{free_port()}/0")
    pools._clients["redis"] = client
    try:
        ctx = ExecutionContext("redis_test", None, pools=pools)
        with pytest.raises(UpstreamError) as caught:
            await redis_command(ctx, "hits", "incr", f"{unique}x")
        assert caught.value.status_code == 502
        assert str(caught.value) == 'node "hits": Redis error (ConnectionError)'
        assert "hunter2" not in str(caught.value)
    finally:
        await pools.close()


@pytest.mark.parametrize("metrics", [False, True], ids=["plain pool", "timed pool"])
async def test_connections_redis_closed_are_replaced_without_failing_a_request(
    redis_url: str, unique: str, metrics: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Redis restarted while the service was idle: every pooled connection is dead. Each of the
    # next commands must be answered on a new connection, not fail once per stale connection.
    from catalyst_runtime import pools as pools_module

    if metrics:  # with metrics on, the pool is the runtime's timed subclass
        monkeypatch.setattr(pools_module, "wait_observer", lambda pool, seconds: None)
    proxy = TcpProxy(redis_url)
    proxy.open()
    pools = await ConnectionPools.create(Settings(redis_url=proxy.url), needs=["redis"])
    try:
        ctx = ExecutionContext("redis_test", None, pools=pools)
        key = f"{unique}restart"
        await asyncio.gather(*(redis_command(ctx, "hits", "incr", key) for _ in range(4)))
        assert len(pools.redis.connection_pool._available_connections) >= 2
        proxy.close()  # every connection cut, as a restart would
        proxy.open()
        answers = [await redis_command(ctx, "hits", "incr", key) for _ in range(4)]
        assert answers == [{"value": n} for n in range(5, 9)]
    finally:
        await pools.close()
        proxy.shutdown()


async def test_a_server_that_does_not_answer_is_a_504(unique: str) -> None:
    from redis.asyncio import Redis

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    pools = ConnectionPools()
    pools._clients["redis"] = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2)
    try:
        ctx = ExecutionContext("redis_test", None, pools=pools)
        with pytest.raises(NodeTimeoutError) as caught:
            await redis_command(ctx, "slow", "get", f"{unique}x")
        assert caught.value.status_code == 504
        assert str(caught.value) == 'node "slow": Redis command timed out (TimeoutError)'
    finally:
        await pools.close()
        server.close()


async def test_without_pools_it_says_so() -> None:
    from catalyst_runtime import ConfigError

    with pytest.raises(ConfigError, match="redis nodes"):
        await redis_command(ExecutionContext("redis_test", None), "n", "get", "k")
