"""The ``stream_llm`` golden, served for real: a streamed workflow whose llm node (Anthropic's
SDK) reads a loopback provider (``catalyst_runtime.testing_providers``) under uvicorn.

Tokens are forwarded live: with the provider waiting 0.2 s between tokens, each token is in the
client's hands before the provider has sent the next (``provider.sent_tokens``, read in this
process, where the provider runs). A client that leaves mid-answer closes the provider's stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from catalyst_runtime.testing import running_server
from catalyst_runtime.testing_providers import ProviderScript, ProviderServer, provider_server

STARTUP = 120.0  # importing the SDKs takes seconds on a loaded machine


@pytest.fixture(scope="module")
def provider() -> Iterator[ProviderServer]:
    with provider_server() as server:
        yield server


@pytest.fixture(scope="module", params=["plain", "metrics and tracing on"])
def service(
    request: pytest.FixtureRequest,
    golden_service: Callable[[str, str], tuple[Path, str]],
    provider: ProviderServer,
) -> Iterator[str]:
    root, app = golden_service("stream_llm", "stream_llm_live")
    env = {"ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": provider.url}
    if request.param != "plain":
        # No collector: the exporter's failures stay in its background thread.
        env |= {"CATALYST_METRICS": "on", "CATALYST_TRACING": "on"}
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    with running_server(app, cwd=root, env=env, startup_timeout=STARTUP) as url:
        yield url


def test_each_token_reaches_the_client_before_the_provider_sends_the_next(
    service: str, provider: ProviderServer
) -> None:
    provider.script = ProviderScript(tokens=["one ", "two ", "three"], delay=0.2)
    sent_before: list[int] = []
    events: list[tuple[str, Any]] = []
    # Read before the request: the service sends its headers before it calls the provider, whose
    # first token may be out before this client has read them (a loaded machine).
    start = provider.sent_tokens
    with httpx.stream("POST", f"{service}/ask", json={"question": "Count"}, timeout=30) as answer:
        assert answer.status_code == 200
        assert "content-encoding" not in answer.headers
        lines = answer.iter_lines()
        for line in lines:
            if line.startswith("event: "):
                events.append((line[7:], orjson.loads(next(lines)[6:])))
                if events[-1][0] == "token":
                    sent_before.append(provider.sent_tokens - start)
    assert events[:3] == [
        ("token", {"node": "reply", "text": "one "}),
        ("token", {"node": "reply", "text": "two "}),
        ("token", {"node": "reply", "text": "three"}),
    ]
    # When token n arrived, the provider had sent n tokens: not yet the next one.
    assert sent_before == [1, 2, 3]
    assert events[3][0] == "partial" and events[3][1]["node"] == "reply"
    assert events[4][0] == "done"
    assert events[4][1]["output"] == {"answer": "one two three"}


def test_a_client_that_leaves_closes_the_provider_stream(
    service: str, provider: ProviderServer
) -> None:
    provider.script = ProviderScript(tokens=["tick "] * 100, delay=0.2)
    with httpx.stream("POST", f"{service}/ask", json={"question": "Go on"}, timeout=30) as answer:
        lines = answer.iter_lines()
        assert next(lines) == "event: token"
        assert provider.open_streams == 1
    left = time.monotonic()
    while provider.open_streams and time.monotonic() - left < 10:
        time.sleep(0.002)
    closed = time.monotonic() - left
    assert provider.open_streams == 0
    # 100 ms is the aim; the bound is loose for a loaded shared machine.
    assert closed < 1.0, closed
