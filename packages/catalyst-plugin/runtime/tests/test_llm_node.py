"""``llm`` through the official SDKs, pointed by base URL at loopback servers that speak each
provider's wire format (``catalyst_runtime.testing_providers``): nothing leaves the machine.

Each test reads what the SDK actually sent (the recorded request) and what the node made of the
answer, streamed or not, for Anthropic, OpenAI and Groq.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from catalyst_runtime import (
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    InMemoryRateLimiter,
    NodeError,
    NodeTimeoutError,
    ProviderRateLimited,
    RateLimitExceeded,
    Settings,
    StructuredOutput,
    UpstreamError,
    llm_call,
)
from catalyst_runtime.testing_providers import ProviderServer, provider_server

pytestmark = pytest.mark.anyio

KEY = "sk-test-not-a-secret"
FAST = Settings(llm_retry_backoff=0.01)


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(provider: ProviderServer) -> None:
    from catalyst_runtime.testing_providers import ProviderScript

    provider.script = ProviderScript()
    provider.requests.clear()


@pytest.fixture
async def pools() -> AsyncIterator[ConnectionPools]:
    pools = await ConnectionPools.create(FAST, needs=("anthropic", "openai", "groq"))
    try:
        yield pools
    finally:
        await pools.close()


def base(provider: ProviderServer, name: str) -> str:
    # The OpenAI SDK's base URL ends in /v1; Anthropic's and Groq's add their own path.
    return provider.url + "/v1" if name == "openai" else provider.url


class Sink:
    """A streamed run's events, as the streaming trigger receives them."""

    def __init__(self) -> None:
        self.tokens: list[tuple[str, str]] = []
        self.two = asyncio.Event()

    def token(self, node_id: str, text: str) -> None:
        self.tokens.append((node_id, text))
        if len(self.tokens) >= 2:
            self.two.set()

    def partial(self, node_id: str, output: Any, branch: str | None = None) -> None:
        pass


def context(pools: ConnectionPools, events: Sink | None = None) -> ExecutionContext:
    ctx = ExecutionContext("wf", None, pools=pools)
    ctx.events = events
    return ctx


PROVIDERS = ["anthropic", "openai", "groq"]


@pytest.mark.parametrize("name", PROVIDERS)
async def test_an_answer_and_what_the_sdk_sent(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    result = await llm_call(
        context(pools),
        "answer",
        name,
        model="m-1",
        prompt="Say hello",
        system="Be brief.",
        max_tokens=64,
        temperature=0.2,
        stop=["\n\n"],
        base_url=base(provider, name),
        api_key=KEY,
    )
    assert result == {
        "text": "Hello, world!",
        "usage": {"input_tokens": 11, "output_tokens": 4},
        "stop_reason": "end_turn",  # OpenAI's and Groq's "stop" in the node's vocabulary
    }
    [request] = provider.requests
    body = request.body
    assert body["model"] == "m-1"
    # A loopback server is an OpenAI-compatible one: it gets the name every such server knows.
    assert body["max_tokens"] == 64
    assert "max_completion_tokens" not in body
    assert body["temperature"] == 0.2
    if name == "anthropic":
        assert request.path == "/v1/messages"
        assert body["system"] == "Be brief."
        assert body["messages"] == [{"role": "user", "content": "Say hello"}]
        assert body["stop_sequences"] == ["\n\n"]
        assert request.headers["authorization"] == f"Bearer {KEY}"
    else:
        assert request.path.endswith("/v1/chat/completions")
        assert body["messages"] == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello"},
        ]
        assert body["stop"] == ["\n\n"]
        assert request.headers["authorization"] == f"Bearer {KEY}"
    assert "stream" not in body or body["stream"] is False


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_stream_passes_each_token_on_and_keeps_the_text(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    sink = Sink()
    result = await llm_call(
        context(pools, sink),
        "answer",
        name,
        model="m-1",
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=32,
        base_url=base(provider, name),
        api_key=KEY,
        stream=True,
    )
    assert sink.tokens == [("answer", t) for t in ["Hello", ", ", "world", "!"]]
    assert result["text"] == "Hello, world!"
    assert result["usage"] == {"input_tokens": 11, "output_tokens": 4}
    assert result["stop_reason"] == "end_turn"
    assert provider.requests[0].body["stream"] is True


async def test_a_stream_of_an_unstreamed_run_still_gives_the_text(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    result = await llm_call(
        context(pools),
        "answer",
        "anthropic",
        model="m",
        prompt="Hi",
        base_url=provider.url,
        api_key=KEY,
        stream=True,
    )
    assert result["text"] == "Hello, world!"


class Person(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    age: int


PERSON = StructuredOutput(
    Person,
    {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    },
)


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
async def test_structured_output_is_asked_for_and_validated(
    name: str, stream: bool, provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.structured = [{"name": "Ada", "age": 36}]
    result = await llm_call(
        context(pools),
        "extract",
        name,
        model="m",
        prompt="Who?",
        base_url=base(provider, name),
        api_key=KEY,
        output=PERSON,
        stream=stream,
    )
    assert result["output"] == {"name": "Ada", "age": 36}
    assert result["text"] == '{"name":"Ada","age":36}'
    # Anthropic ends on the forced tool ("tool_use"): for the node that is a finished answer.
    assert result["stop_reason"] == "end_turn"
    body = provider.requests[0].body
    if name == "anthropic":
        assert body["tools"][0]["input_schema"] == PERSON.schema
        assert body["tool_choice"] == {"type": "tool", "name": "output"}
    else:
        assert body["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": PERSON.schema},
        }


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("anthropic", "max_tokens", "max_tokens"),
        ("openai", "length", "max_tokens"),
        ("groq", "length", "max_tokens"),
        ("anthropic", "stop_sequence", "stop_sequence"),
        ("anthropic", "refusal", "content_filter"),
        ("openai", "content_filter", "content_filter"),
        ("openai", "tool_calls", "tool_use"),
        ("anthropic", "tool_use", "tool_use"),
        ("anthropic", "pause_turn", "pause_turn"),  # a word not in the table: as given
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_stop_reason_is_one_vocabulary_for_every_provider(
    name: str,
    raw: str,
    expected: str,
    stream: bool,
    provider: ProviderServer,
    pools: ConnectionPools,
) -> None:
    provider.script.stop_reason = raw
    result = await llm_call(
        context(pools),
        "answer",
        name,
        model="m",
        prompt="Hi",
        max_tokens=8,
        base_url=base(provider, name),
        api_key=KEY,
        stream=stream,
    )
    assert result["stop_reason"] == expected


async def test_the_answer_limit_is_named_for_the_endpoint_the_client_sends_to(
    provider: ProviderServer, pools: ConnectionPools, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's and Groq's own APIs take ``max_completion_tokens`` (``max_tokens`` is deprecated
    there); any other base URL, an OpenAI-compatible server, gets ``max_tokens``."""
    from catalyst_runtime.llm_node import _OPENAI, _Request

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("GROQ_BASE_URL", raising=False)
    request = _Request("m", [{"role": "user", "content": "Hi"}], None, 64, None, None, None)
    official = {
        "openai": pools.provider("openai").get(None, KEY),
        "groq": pools.provider("groq").get(None, KEY),
    }
    for name, client in official.items():
        kw = _OPENAI.kwargs(client, request)
        assert kw["max_completion_tokens"] == 64, name
        assert "max_tokens" not in kw, name
    local = pools.provider("openai").get(f"{provider.url}/v1", KEY)
    kw = _OPENAI.kwargs(local, request)
    assert kw["max_tokens"] == 64
    assert "max_completion_tokens" not in kw


@pytest.mark.parametrize("name", ["anthropic", "openai"])
async def test_an_answer_that_does_not_fit_is_asked_again_once(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.structured = [{"name": "Ada"}, {"name": "Ada", "age": 36}]
    result = await llm_call(
        context(pools),
        "extract",
        name,
        model="m",
        prompt="Who?",
        base_url=base(provider, name),
        api_key=KEY,
        output=PERSON,
    )
    assert result["output"] == {"name": "Ada", "age": 36}
    assert len(provider.requests) == 2


async def test_an_answer_that_never_fits_is_a_502_naming_the_node(
    provider: ProviderServer, pools: ConnectionPools, caplog: pytest.LogCaptureFixture
) -> None:
    provider.script.structured = [{"name": "SECRET-ANSWER"}]
    with pytest.raises(UpstreamError) as caught:
        await llm_call(
            context(pools),
            "extract",
            "anthropic",
            model="m",
            prompt="Who?",
            base_url=provider.url,
            api_key=KEY,
            output=PERSON,
            retries=2,
        )
    assert caught.value.status_code == 502
    assert caught.value.node_id == "extract"
    assert "output_schema" in caught.value.message
    assert "SECRET-ANSWER" not in str(caught.value.to_body())
    assert caught.value.__suppress_context__
    assert len(provider.requests) == 3  # the answer, and two more tries


@pytest.mark.parametrize("name", PROVIDERS)
async def test_429_is_retried_then_a_429_naming_the_node_with_retry_after(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.statuses = [429, 429, 429]
    provider.script.retry_after = "0"
    with pytest.raises(ProviderRateLimited) as caught:
        await llm_call(
            context(pools),
            "answer",
            name,
            model="m",
            prompt="Hi",
            base_url=base(provider, name),
            api_key=KEY,
        )
    error = caught.value
    assert error.status_code == 429
    assert error.node_id == "answer"
    assert error.response_headers == {"retry-after": "1"}
    assert "do not echo me" not in error.message
    assert len(provider.requests) == 3  # CATALYST_LLM_RETRIES is 2


async def test_a_5xx_then_an_answer_is_an_answer(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.statuses = [500, 503]
    result = await llm_call(
        context(pools),
        "answer",
        "openai",
        model="m",
        prompt="Hi",
        base_url=provider.url + "/v1",
        api_key=KEY,
    )
    assert result["text"] == "Hello, world!"
    assert len(provider.requests) == 3


async def test_5xx_on_every_attempt_is_a_502(provider: ProviderServer) -> None:
    pools = await ConnectionPools.create(replace(FAST, llm_retries=0), needs=("groq",))
    try:
        provider.script.statuses = [500]
        with pytest.raises(UpstreamError, match='node "answer": groq answered 500'):
            await llm_call(
                context(pools),
                "answer",
                "groq",
                model="m",
                prompt="Hi",
                base_url=provider.url,
                api_key=KEY,
            )
        assert len(provider.requests) == 1
    finally:
        await pools.close()


async def test_a_refusal_is_not_retried(provider: ProviderServer, pools: ConnectionPools) -> None:
    provider.script.statuses = [401]
    with pytest.raises(UpstreamError, match="refused the API key"):
        await llm_call(
            context(pools),
            "answer",
            "anthropic",
            model="m",
            prompt="Hi",
            base_url=provider.url,
            api_key=KEY,
        )
    assert len(provider.requests) == 1


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_malformed_stream_before_any_token_is_retried_then_a_502(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.malformed_after = 0
    with pytest.raises(UpstreamError, match="could not be read") as caught:
        await llm_call(
            context(pools, Sink()),
            "answer",
            name,
            model="m",
            prompt="Hi",
            base_url=base(provider, name),
            api_key=KEY,
            stream=True,
        )
    assert caught.value.node_id == "answer"
    assert len(provider.requests) == 1  # malformed is not a transient failure


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_connection_dropped_after_tokens_is_a_502_and_not_retried(
    name: str, provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.drop_after = 2
    sink = Sink()
    with pytest.raises(UpstreamError, match="connection") as caught:
        await llm_call(
            context(pools, sink),
            "answer",
            name,
            model="m",
            prompt="Hi",
            base_url=base(provider, name),
            api_key=KEY,
            stream=True,
        )
    assert caught.value.status_code == 502
    assert [t for _, t in sink.tokens] == ["Hello", ", "]
    assert len(provider.requests) == 1


async def test_a_dropped_connection_before_any_token_is_retried(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.drop_after = 0
    with pytest.raises(UpstreamError, match="connection"):
        await llm_call(
            context(pools, Sink()),
            "answer",
            "openai",
            model="m",
            prompt="Hi",
            base_url=provider.url + "/v1",
            api_key=KEY,
            stream=True,
        )
    assert len(provider.requests) == 3


async def test_the_node_timeout_is_a_504(provider: ProviderServer, pools: ConnectionPools) -> None:
    provider.script.first_delay = 2.0
    with pytest.raises(NodeTimeoutError) as caught:
        await llm_call(
            context(pools),
            "answer",
            "anthropic",
            model="m",
            prompt="Hi",
            base_url=provider.url,
            api_key=KEY,
            timeout=0.3,
        )
    assert caught.value.status_code == 504
    assert caught.value.node_id == "answer"


async def test_a_cancelled_stream_is_closed(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    provider.script.delay = 0.2
    provider.script.tokens = ["a"] * 50
    before = provider.sent_tokens
    sink = Sink()
    task = asyncio.create_task(
        llm_call(
            context(pools, sink),
            "answer",
            "anthropic",
            model="m",
            prompt="Hi",
            base_url=provider.url,
            api_key=KEY,
            stream=True,
        )
    )
    await asyncio.wait_for(sink.two.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The SDK stream closed its response: the provider sees its client go and stops writing.
    for _ in range(200):
        if provider.open_streams == 0:
            break
        await asyncio.sleep(0.01)
    assert provider.open_streams == 0
    assert provider.sent_tokens - before < 10


async def test_an_answer_over_the_size_limit_is_a_502(provider: ProviderServer) -> None:
    pools = await ConnectionPools.create(
        replace(FAST, llm_max_answer_chars=5), needs=("anthropic",)
    )
    try:
        for stream in (False, True):
            with pytest.raises(UpstreamError, match="CATALYST_LLM_MAX_ANSWER_CHARS"):
                await llm_call(
                    context(pools),
                    "answer",
                    "anthropic",
                    model="m",
                    prompt="Hi",
                    base_url=provider.url,
                    api_key=KEY,
                    stream=stream,
                )
    finally:
        await pools.close()


async def test_the_rate_limit_spaces_calls_and_refuses_what_cannot_wait(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    limiter = InMemoryRateLimiter(rate=10, name="answer")
    loop = asyncio.get_running_loop()
    started = loop.time()
    calls = [
        llm_call(
            context(pools),
            "answer",
            "openai",
            model="m",
            prompt="Hi",
            base_url=provider.url + "/v1",
            api_key=KEY,
            limiter=limiter,
            wait=1.0,
        )
        for _ in range(5)
    ]
    await asyncio.gather(*calls)
    assert loop.time() - started >= 0.35  # 5 calls at 10 per second: 0.4 s apart at the end
    with pytest.raises(RateLimitExceeded) as caught:
        await asyncio.gather(
            *(
                llm_call(
                    context(pools),
                    "answer",
                    "openai",
                    model="m",
                    prompt="Hi",
                    base_url=provider.url + "/v1",
                    api_key=KEY,
                    limiter=limiter,
                    wait=0.05,
                )
                for _ in range(3)
            )
        )
    assert caught.value.node_id == "answer"


async def test_one_client_per_provider_base_url_and_key(
    provider: ProviderServer, pools: ConnectionPools
) -> None:
    clients = pools.provider("anthropic")
    for _ in range(3):
        await llm_call(
            context(pools),
            "answer",
            "anthropic",
            model="m",
            prompt="Hi",
            base_url=provider.url,
            api_key=KEY,
        )
    assert len(clients._clients) == 1
    client = clients.get(provider.url, KEY)
    await llm_call(
        context(pools),
        "answer",
        "anthropic",
        model="m",
        prompt="Hi",
        base_url=provider.url,
        api_key=KEY,
    )
    assert clients.get(provider.url, KEY) is client
    assert client.max_retries == 0
    assert client._client is clients.http  # the SDK sends on the pool's transport


async def test_a_stream_cut_off_at_the_size_limit_is_closed(provider: ProviderServer) -> None:
    pools = await ConnectionPools.create(replace(FAST, llm_max_answer_chars=10), needs=("openai",))
    try:
        provider.script.tokens = ["abcd"] * 100
        provider.script.delay = 0.05  # five seconds of tokens, were the stream left open
        with pytest.raises(UpstreamError, match="CATALYST_LLM_MAX_ANSWER_CHARS"):
            await llm_call(
                context(pools),
                "answer",
                "openai",
                model="m",
                prompt="Hi",
                base_url=provider.url + "/v1",
                api_key=KEY,
                stream=True,
            )
        for _ in range(100):
            if provider.open_streams == 0:
                break
            await asyncio.sleep(0.02)
        assert provider.open_streams == 0
    finally:
        await pools.close()


async def test_bad_messages_fail_the_node(pools: ConnectionPools) -> None:
    for messages in (None, [], [{"role": "system", "content": "x"}], [{"role": "user"}]):
        with pytest.raises(NodeError, match="message"):
            await llm_call(context(pools), "answer", "anthropic", model="m", messages=messages)


async def test_a_provider_not_in_the_pools_is_a_config_error(provider: ProviderServer) -> None:
    pools = await ConnectionPools.create(FAST, needs=("openai",))
    try:
        with pytest.raises(ConfigError, match="anthropic"):
            await llm_call(context(pools), "answer", "anthropic", model="m", prompt="Hi")
    finally:
        await pools.close()


async def test_nothing_the_provider_says_reaches_the_logs(
    provider: ProviderServer, pools: ConnectionPools, caplog: pytest.LogCaptureFixture
) -> None:
    from catalyst_runtime.errors import public_body

    provider.script.statuses = [400]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamError) as caught:
        await llm_call(
            context(pools),
            "answer",
            "anthropic",
            model="m",
            prompt="Hi",
            base_url=provider.url,
            api_key=KEY,
        )
    body = public_body(caught.value, "POST /x")
    assert body["detail"][0]["loc"] == ["nodes", "answer"]
    assert "do not echo me" not in caplog.text
    assert KEY not in caplog.text
