"""The ``llm_nodes``, ``llm_structured`` and ``embedding_nodes`` goldens, served for real: each
generated service under uvicorn (``running_server``), its SDK clients pointed at a loopback
provider (``catalyst_runtime.testing_providers``) through the SDKs' own base-URL variables
(``ANTHROPIC_BASE_URL``, ``OPENAI_BASE_URL``, ``GROQ_BASE_URL``), called over HTTP.

What the SDK sent (model, system, messages, limits, schema, key) is read on the provider's
side; provider failures must come back as 429/502/504 naming the node, quoting neither the
provider nor the key, and a service without the SDKs must refuse to start with one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from catalyst_runtime.testing import running_server
from catalyst_runtime.testing_providers import (
    ProviderScript,
    ProviderServer,
    embed,
    provider_server,
)

# Importing the SDKs takes seconds; a loaded machine must not fail the start-up wait.
STARTUP = 120.0
KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-test-key",
    "OPENAI_API_KEY": "sk-openai-test-key",
    "GROQ_API_KEY": "gsk-test-key",
}


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


@pytest.fixture(autouse=True)
def fresh_script(provider: ProviderServer) -> None:
    provider.script = ProviderScript()
    provider.requests.clear()


def provider_env(provider: ProviderServer) -> dict[str, str]:
    return {
        **KEYS,
        "ANTHROPIC_BASE_URL": provider.url,
        "OPENAI_BASE_URL": provider.url + "/v1",
        "GROQ_BASE_URL": provider.url,
        "OLLAMA_URL": provider.url,
        "CATALYST_LLM_RETRY_BACKOFF": "0.01",
    }


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "service.log"


@pytest.fixture(scope="module")
def llm_service(
    golden_service: Callable[[str, str], tuple[Path, str]],
    provider: ProviderServer,
    log_file: Path,
) -> Iterator[str]:
    root, app = golden_service("llm_nodes", "llm_live")
    debug = ["--log-level", "debug"]  # causes are logged at debug level: they must not leak
    with running_server(
        app, cwd=root, env=provider_env(provider), log_file=log_file, extra_args=debug,
        startup_timeout=STARTUP,
    ) as url:  # fmt: skip
        yield url


@pytest.fixture(scope="module")
def structured_service(
    golden_service: Callable[[str, str], tuple[Path, str]], provider: ProviderServer
) -> Iterator[str]:
    root, app = golden_service("llm_structured", "structured_live")
    with running_server(app, cwd=root, env=provider_env(provider), startup_timeout=STARTUP) as url:
        yield url


def test_an_answer_from_anthropic_and_what_was_sent(
    llm_service: str, provider: ProviderServer
) -> None:
    response = httpx.post(f"{llm_service}/answer", json={"question": "Why?"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"answer": "Hello, world!", "tokens": 4, "stop": "end_turn"}
    [request] = provider.requests
    assert request.path == "/v1/messages"
    assert request.body["model"] == "claude-sonnet-4-5"
    assert request.body["system"] == "You answer in one short paragraph."
    assert request.body["messages"] == [{"role": "user", "content": "Question: Why?"}]
    assert request.body["max_tokens"] == 512
    assert request.body["stop_sequences"] == ["\n\nQuestion:"]
    assert request.body["stream"] is True  # stream: true reads the SDK's stream
    assert request.headers["authorization"] == "Bearer sk-ant-test-key"
    assert "reply;dur=" in response.headers["server-timing"]


def test_a_conversation_to_openai(llm_service: str, provider: ProviderServer) -> None:
    response = httpx.post(
        f"{llm_service}/chat", json={"name": "Ada", "follow_up": "Tell me more."}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "reply": "Hello, world!",
        "usage": {"input_tokens": 11, "output_tokens": 4},
    }
    body = provider.requests[0].body
    assert body["messages"] == [
        {"role": "user", "content": "Hello, I am Ada."},
        {"role": "assistant", "content": "Hello Ada! How can I help?"},
        {"role": "user", "content": "Tell me more."},
    ]
    assert body["temperature"] == 0.3
    assert provider.requests[0].headers["authorization"] == "Bearer sk-openai-test-key"


def test_groq_then_a_local_server_without_a_key(llm_service: str, provider: ProviderServer) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    response = httpx.post(f"{llm_service}/local", json={"messages": messages}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {"quick": "Hello, world!", "shorter": "Hello, world!"}
    groq, own = provider.requests
    assert groq.path == "/openai/v1/chat/completions"
    assert groq.body["messages"] == messages
    assert own.path == "/v1/chat/completions"
    assert own.body["messages"] == [
        {"role": "user", "content": "Say it again, shorter: Hello, world!"}
    ]
    assert own.headers["authorization"] == "Bearer unused"


def test_a_bad_message_role_is_a_422(llm_service: str) -> None:
    messages = [{"role": "system", "content": "Hi"}]
    response = httpx.post(f"{llm_service}/local", json={"messages": messages}, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:3] == ["body", "messages", 0]


def test_provider_failures_name_the_node_and_never_the_provider(
    llm_service: str, provider: ProviderServer, log_file: Path
) -> None:
    provider.script.statuses = [429, 429, 429]
    provider.script.retry_after = "3"
    response = httpx.post(f"{llm_service}/answer", json={"question": "Why?"}, timeout=30)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["detail"][0]["loc"] == ["nodes", "reply"]

    provider.script.statuses = [500, 500, 500]
    response = httpx.post(f"{llm_service}/answer", json={"question": "Why?"}, timeout=30)
    assert response.status_code == 502
    assert response.json()["detail"] == [
        {"type": "upstream_error", "loc": ["nodes", "reply"],
         "msg": 'node "reply": anthropic answered 500'},
    ]  # fmt: skip

    provider.script.drop_after = 1
    response = httpx.post(f"{llm_service}/answer", json={"question": "Why?"}, timeout=30)
    assert response.status_code == 502
    assert "connection to anthropic failed" in response.json()["detail"][0]["msg"]

    provider.script = ProviderScript()
    log = log_file.read_text()
    assert "do not echo me" not in log
    for key in KEYS.values():
        assert key not in log
    assert (
        httpx.post(f"{llm_service}/chat", json={"name": "A", "follow_up": "B"}).status_code == 200
    )


def test_structured_output_is_typed_and_feeds_a_later_node(
    structured_service: str, provider: ProviderServer
) -> None:
    provider.script.structured = [{"name": "Ada Lovelace", "age": 36, "skills": ["math"]}]
    response = httpx.post(f"{structured_service}/extract", json={"text": "Ada..."}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "person": {"name": "Ada Lovelace", "age": 36, "email": None, "skills": ["math"]},
        "card": {"title": "ADA LOVELACE", "adult": True, "skills": 1, "email": "unknown"},
    }
    body = provider.requests[0].body
    assert body["tool_choice"] == {"type": "tool", "name": "output"}
    assert body["tools"][0]["input_schema"]["required"] == ["name", "age", "skills"]


def test_an_answer_that_never_fits_is_a_502_after_the_retries(
    structured_service: str, provider: ProviderServer
) -> None:
    provider.script.structured = [{"category": "weather", "urgent": "yes"}]
    response = httpx.post(f"{structured_service}/classify", json={"ticket": "t"}, timeout=30)
    assert response.status_code == 502
    assert response.json()["detail"][0] == {
        "type": "upstream_error",
        "loc": ["nodes", "label"],
        "msg": 'node "label": the answer does not match the node\'s output_schema',
    }
    assert "weather" not in response.text
    assert len(provider.requests) == 3  # retries: 2
    assert provider.requests[0].body["response_format"]["type"] == "json_schema"

    provider.requests.clear()
    provider.script.structured = [{"category": "weather"}, {"category": "bug", "urgent": True}]
    response = httpx.post(f"{structured_service}/classify", json={"ticket": "t"}, timeout=30)
    assert response.json() == {"category": "bug", "urgent": True}
    assert len(provider.requests) == 2


def test_embeddings_are_cached_and_the_hit_shows_in_server_timing(
    golden_service: Callable[[str, str], tuple[Path, str]],
    provider: ProviderServer,
    redis_url: str,
) -> None:
    root, app = golden_service("embedding_nodes", "embedding_live")
    env = {**provider_env(provider), "REDIS_URL": redis_url}
    with running_server(app, cwd=root, env=env, startup_timeout=STARTUP) as url:
        texts = {"texts": ["alpha", "beta gamma"]}
        first = httpx.post(f"{url}/embed", json=texts, timeout=30)
        assert first.status_code == 200, first.text
        assert first.json() == {"vectors": [embed("alpha", 4), embed("beta gamma", 4)], "count": 2}
        assert "vectors;dur=" in first.headers["server-timing"]
        assert 'desc="cache miss"' in first.headers["server-timing"]
        second = httpx.post(f"{url}/embed", json=texts, timeout=30)
        assert second.json() == first.json()
        assert 'desc="cache hit"' in second.headers["server-timing"]
        assert len(provider.requests) == 1
        assert provider.requests[0].body["dimensions"] == 4

        query = f"q-{id(provider)}"
        answer = httpx.get(f"{url}/query", params={"q": query}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["vector"] == embed(query)
        again = httpx.get(f"{url}/query", params={"q": query}, timeout=30)
        assert 'desc="cache hit"' in again.headers["server-timing"]
        assert len(provider.requests) == 2


def test_without_the_llm_extra_start_up_fails_with_one_line(
    golden_service: Callable[[str, str], tuple[Path, str]], tmp_path: Path
) -> None:
    # The SDK made unimportable, as in an environment without the extra.
    blocker = tmp_path / "site" / "anthropic"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'anthropic'\", name='anthropic')\n"
    )
    root, app = golden_service("llm_structured", "structured_no_sdk")
    env = {**KEYS, "PYTHONPATH": str(blocker.parent), "CATALYST_LOG_FORMAT": "text"}
    with (
        pytest.raises(RuntimeError) as caught,
        running_server(app, cwd=root, env=env, startup_timeout=STARTUP),
    ):
        pass  # pragma: no cover
    line = (
        "anthropic: this service's llm or embedding nodes call anthropic and its SDK is not "
        'installed; depend on "catalyst-runtime[llm]" instead of "catalyst-runtime"'
    )
    log = str(caught.value)
    assert f"ERROR:    ConfigError: {line}\n" in log
    assert "Traceback" not in log
