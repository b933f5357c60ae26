"""``embedding`` through the OpenAI SDK against the loopback embeddings API, and cached."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    NodeCache,
    NodeError,
    ProviderRateLimited,
    Settings,
    UpstreamError,
    embedding_call,
)
from catalyst_runtime.testing_providers import (
    ProviderScript,
    ProviderServer,
    embed,
    provider_server,
)

pytestmark = pytest.mark.anyio

KEY = "sk-test-not-a-secret"


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(provider: ProviderServer) -> None:
    provider.script = ProviderScript()
    provider.requests.clear()


@pytest.fixture
async def pools() -> AsyncIterator[ConnectionPools]:
    pools = await ConnectionPools.create(Settings(llm_retry_backoff=0.01), needs=("openai",))
    try:
        yield pools
    finally:
        await pools.close()


def ctx(pools: ConnectionPools) -> ExecutionContext:
    return ExecutionContext("wf", None, pools=pools)


async def test_a_batch_gives_one_vector_per_text_in_order(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    result = await embedding_call(
        ctx(pools),
        "embed",
        "openai",
        ["one", "two words"],
        model="e-1",
        dimensions=4,
        base_url=provider.url + "/v1",
        api_key=KEY,
    )
    assert result == {
        "vectors": [embed("one", 4), embed("two words", 4)],
        "usage": {"input_tokens": 3},
    }
    body = provider.requests[0].body
    assert body == {
        "model": "e-1",
        "input": ["one", "two words"],
        "encoding_format": "float",
        "dimensions": 4,
    }


async def test_one_text_is_a_batch_of_one(provider: ProviderServer, pools: ConnectionPools) -> None:
    result = await embedding_call(
        ctx(pools),
        "embed",
        "openai",
        "hello",
        model="e-1",
        base_url=provider.url + "/v1",
        api_key=KEY,
    )
    assert result["vectors"] == [embed("hello")]
    assert provider.requests[0].body["input"] == ["hello"]


async def test_bad_input_fails_the_node(pools: ConnectionPools) -> None:
    for texts in ([], [""], [1], None, ["x"] * 2049):
        with pytest.raises(NodeError, match="input"):
            await embedding_call(ctx(pools), "embed", "openai", texts, model="e-1")


async def test_429_and_500_name_the_node(provider: ProviderServer) -> None:
    pools = await ConnectionPools.create(
        Settings(llm_retries=0, llm_retry_backoff=0.01), needs=("openai",)
    )
    try:
        provider.script.statuses = [429, 500]
        provider.script.retry_after = "7"
        with pytest.raises(ProviderRateLimited) as limited:
            await embedding_call(
                ctx(pools),
                "embed",
                "openai",
                "x",
                model="e-1",
                base_url=provider.url + "/v1",
                api_key=KEY,
            )
        assert limited.value.response_headers == {"retry-after": "7"}
        with pytest.raises(UpstreamError, match='node "embed": openai answered 500'):
            await embedding_call(
                ctx(pools),
                "embed",
                "openai",
                "x",
                model="e-1",
                base_url=provider.url + "/v1",
                api_key=KEY,
            )
    finally:
        await pools.close()


async def test_a_cached_embedding_is_asked_once_and_says_cache_hit(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    cache = NodeCache("embed", ttl=60)
    answers = []
    for _ in range(2):
        run = ctx(pools)
        with run.node("embed"):
            answers.append(
                await cache.call(
                    run,
                    embedding_call,
                    "embed",
                    "openai",
                    "same text",
                    model="e-1",
                    base_url=provider.url + "/v1",
                    api_key=KEY,
                )
            )
    assert answers[0] == answers[1]
    assert len(provider.requests) == 1
    assert "embed;dur=" in run.server_timing() and 'desc="cache hit"' in run.server_timing()


async def test_the_limiter_is_not_part_of_the_cache_key(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    from catalyst_runtime import InMemoryRateLimiter

    cache = NodeCache("embed", ttl=60)
    for _ in range(2):
        await cache.call(
            ctx(pools),
            embedding_call,
            "embed",
            "openai",
            "t",
            model="e-1",
            base_url=provider.url + "/v1",
            api_key=KEY,
            limiter=InMemoryRateLimiter(rate=100, name="embed"),
            wait=1.0,
        )
    assert len(provider.requests) == 1
