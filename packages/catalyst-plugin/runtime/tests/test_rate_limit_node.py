"""``rate_limit``, the ``rate_limit`` node's helper, with both limiters (Redis: the real server the
suite starts), and the 429 it ends a request with: the node named, ``Retry-After`` set.

Keys live under the test's own prefix (the ``unique`` fixture). Timing asserts are bounds only.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from catalyst_runtime import (
    ExecutionContext,
    InMemoryRateLimiter,
    NodeError,
    RateLimitExceeded,
    RedisRateLimiter,
    Settings,
    UpstreamError,
    WorkflowRouter,
    create_app,
    rate_limit,
)
from catalyst_runtime.testing import free_port

from .conftest import in_process

pytestmark = pytest.mark.anyio


@pytest.fixture
def ctx(redis_ctx: ExecutionContext) -> ExecutionContext:
    return redis_ctx


async def test_a_free_slot_waits_nothing_and_a_full_one_is_a_429(ctx: ExecutionContext) -> None:
    limiter = InMemoryRateLimiter(interval=5, name="slot")
    assert await rate_limit(ctx, "slot", limiter, "user:1", timeout=0) == {"waited": 0.0}
    with pytest.raises(RateLimitExceeded) as caught:
        await rate_limit(ctx, "slot", limiter, "user:1", timeout=1)
    error = caught.value
    assert error.status_code == 429
    assert error.node_id == "slot"
    assert error.retry_after is not None and 4 < error.retry_after <= 5
    assert error.response_headers == {"retry-after": "5"}
    assert error.to_body()["detail"][0]["loc"] == ["nodes", "slot"]
    assert "user:1" not in error.message
    # Another key has its own slots.
    assert await rate_limit(ctx, "slot", limiter, "user:2", timeout=0) == {"waited": 0.0}


async def test_a_slot_within_the_timeout_is_waited_for(ctx: ExecutionContext) -> None:
    limiter = InMemoryRateLimiter(interval=0.05, name="slot")
    await rate_limit(ctx, "slot", limiter, "k", timeout=0)
    second = await rate_limit(ctx, "slot", limiter, "k", timeout=5)
    assert 0 < second["waited"] <= 0.05 + 0.004


async def test_keys_are_text_or_numbers(ctx: ExecutionContext) -> None:
    limiter = InMemoryRateLimiter(interval=60, name="slot")
    await rate_limit(ctx, "slot", limiter, 7, timeout=0)
    await rate_limit(ctx, "slot", limiter, True, timeout=0)
    with pytest.raises(RateLimitExceeded):
        await rate_limit(ctx, "slot", limiter, "7", timeout=0)
    with pytest.raises(RateLimitExceeded):
        await rate_limit(ctx, "slot", limiter, "true", timeout=0)
    for bad in (None, [1], {"a": 1}):
        with pytest.raises(NodeError) as caught:
            await rate_limit(ctx, "slot", limiter, bad, timeout=0)
        assert caught.value.status_code == 500
        assert "rate-limit key" in caught.value.message


async def test_redis_limiter_on_the_pool_and_separate_prefixes(
    ctx: ExecutionContext, unique: str
) -> None:
    # Built without a client, as generated code builds it at import: it takes the app's pool.
    one = RedisRateLimiter(interval=5, name="one", prefix=f"{unique}one:")
    two = RedisRateLimiter(interval=5, name="two", prefix=f"{unique}two:")
    assert await rate_limit(ctx, "one", one, "k", timeout=0) == {"waited": 0.0}
    assert await rate_limit(ctx, "two", two, "k", timeout=0) == {"waited": 0.0}
    with pytest.raises(RateLimitExceeded) as caught:
        await rate_limit(ctx, "one", one, "k", timeout=0)
    assert caught.value.node_id == "one"
    assert caught.value.retry_after is not None and 4 < caught.value.retry_after <= 5
    assert caught.value.response_headers == {"retry-after": "5"}


async def test_redis_down_is_a_502_naming_the_node(ctx: ExecutionContext) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        limiter = RedisRateLimiter(client, interval=1, name="slot")
        with pytest.raises(UpstreamError) as caught:
            await rate_limit(ctx, "slot", limiter, "k", timeout=0)
        assert caught.value.node_id == "slot"
        assert caught.value.status_code == 502
    finally:
        await client.aclose()


def _app() -> FastAPI:
    router = WorkflowRouter()
    limiter = InMemoryRateLimiter(interval=30, name="slot")

    @router.get("/limited")
    async def limited() -> dict[str, float]:
        ctx = ExecutionContext("wf", None)
        with ctx.node("slot"):
            return await rate_limit(ctx, "slot", limiter, "k", timeout=0)

    return create_app(router, title="t", settings=Settings())


async def test_the_429_response_has_retry_after_and_names_the_node() -> None:
    async with in_process(_app()) as client:
        first = await client.get("/limited")
        assert first.status_code == 200
        assert first.json() == {"waited": 0.0}
        refused = await client.get("/limited")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert refused.json()["detail"] == [
        {
            "type": "rate_limited",
            "loc": ["nodes", "slot"],
            "msg": 'node "slot": rate limit: no slot within 0 s',
        }
    ]
