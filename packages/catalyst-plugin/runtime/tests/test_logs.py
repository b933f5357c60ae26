"""The log: secret values redacted at every level, repeated failures rate-limited."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis

from catalyst_runtime import (
    ExecutionContext,
    RedisCache,
    Settings,
    WorkflowRouter,
    cached,
    create_app,
    http_call,
    json_response,
    read_input,
)
from catalyst_runtime.logs import RepeatFilter, SecretRedactor, install
from catalyst_runtime.testing import free_port

from .conftest import in_process
from .upstream import Upstream, running_upstream

SECRET = "s3cr3t-t0ken/with+chars"


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


class CallInput(BaseModel):
    path: str


def _calling_app(upstream_url: str) -> Any:
    # The http node's client (aiohttp) logs nothing of a call; the llm pool's (httpx) logs the URL
    # at INFO and the headers at DEBUG. The same call goes out through both.
    router = WorkflowRouter(pools=("http", "llm"), secrets=("CATALYST_T_TOKEN",))

    @router.post("/call")
    async def call(request: Request) -> Response:
        ctx = ExecutionContext(
            "call", await read_input(request, CallInput), pools=request.app.state.pools
        )
        with ctx.node("call"):
            answer = await http_call(
                ctx,
                "call",
                "GET",
                f"{upstream_url}{ctx.input.path}",
                headers={"Authorization": f"Bearer {ctx.secrets['CATALYST_T_TOKEN']}"},
                query={"token": ctx.secrets["CATALYST_T_TOKEN"]},
            )
        token = ctx.secrets["CATALYST_T_TOKEN"]
        await request.app.state.pools.llm.get(
            f"{upstream_url}{ctx.input.path}",
            headers={"Authorization": f"Bearer {token}"},
            params={"token": token},
        )
        logging.getLogger("myapp").debug("answer headers %s", answer["headers"])
        try:
            raise ValueError(f"bad token {ctx.secrets['CATALYST_T_TOKEN']}")
        except ValueError:
            logging.getLogger("myapp").exception("while calling")
        return json_response({"status": answer["status"]}, ctx)

    return create_app(router, title="calling")


@pytest.mark.anyio
async def test_secret_values_never_reach_the_log_at_any_level(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CATALYST_T_TOKEN", SECRET)
    app = _calling_app(upstream.url)
    with caplog.at_level(logging.DEBUG):
        async with in_process(app) as client:
            response = await client.post("/call", json={"path": "/cookie"})
    assert response.status_code == 200, response.text
    text = caplog.text
    # httpx logged the URL (INFO) and httpcore the answer's headers (DEBUG): both were seen...
    assert "HTTP Request: GET" in text
    assert "receive_response_headers.complete" in text
    # ...and neither the secret (raw or URL-encoded) nor the cookie's value is in any of it.
    assert SECRET not in text
    assert "s3cr3t-t0ken%2Fwith%2Bchars" not in text
    assert "cookie-value-4f2a" not in text
    assert "[redacted]" in text
    assert "Traceback" in text  # the exception was logged, redacted
    logging.getLogger("myapp").warning("later, anywhere: %s", SECRET)
    assert SECRET not in caplog.text


def test_the_redactor_knows_the_shapes_headers_are_logged_in() -> None:
    redactor = SecretRedactor()
    redactor.add(["pw-123"])
    cases = {
        "[(b'Authorization', b'Bearer abc'), (b'X-Other', b'v')]":
            "[(b'Authorization', b'[redacted]'), (b'X-Other', b'v')]",
        "{'cookie': 'a=b; c=d', 'accept': '*/*'}": "{'cookie': '[redacted]', 'accept': '*/*'}",
        '{"X-Api-Key": "k", "n": 1}': '{"X-Api-Key": "[redacted]", "n": 1}',
        "GET / HTTP/1.1\nAuthorization: Basic dXNlcg==\nHost: x":
            "GET / HTTP/1.1\nAuthorization: [redacted]\nHost: x",
        "postgresql://app:pw-123@db/x": "postgresql://app:[redacted]@db/x",
        "nothing to hide": "nothing to hide",
    }  # fmt: skip
    for text, expected in cases.items():
        assert redactor.redact(text) == expected


def test_short_values_are_redacted_as_tokens_only() -> None:
    redactor = SecretRedactor()
    redactor.add(["t", "abc"])
    assert (
        redactor.redact("token=abc&t=1 abcdef the test")
        == "token=[redacted]&[redacted]=1 abcdef the test"
    )
    assert redactor.redact("Bearer abc") == "Bearer [redacted]"


def test_settings_passwords_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install(Settings(postgres_dsn="postgresql://app:dbpass-77@db/x", qdrant_api_key="qk-88"))
    with caplog.at_level(logging.INFO):
        logging.getLogger("asyncpg").info("connecting to %s", "postgresql://app:dbpass-77@db/x")
        logging.getLogger("qdrant").info("key qk-88")
    assert "dbpass-77" not in caplog.text
    assert "qk-88" not in caplog.text


def test_repeats_are_dropped_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("catalyst_runtime.test_repeats")
    repeat = RepeatFilter(window=0.2)
    logger.addFilter(repeat)
    try:
        with caplog.at_level(logging.WARNING, "catalyst_runtime.test_repeats"):
            for _ in range(50):
                logger.warning("redis down (%s)", "ConnectionError")
            logger.warning("something else")
            time.sleep(0.3)
            logger.warning("redis down (%s)", "ConnectionError")
    finally:
        logger.removeFilter(repeat)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[:2] == ["redis down (ConnectionError)", "something else"]
    assert messages[2].startswith("redis down (ConnectionError) (and 49 more like it in the last")
    assert len(messages) == 3


@pytest.mark.anyio
async def test_a_redis_outage_writes_one_line_not_a_traceback_per_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(Settings())
    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there

    @cached(ttl=60, backend=RedisCache(dead))
    async def lookup(n: int) -> int:
        return n * 2

    try:
        with caplog.at_level(logging.WARNING, "catalyst_runtime"):
            results = [await lookup(n) for n in range(40)]
    finally:
        await dead.aclose()
    assert results == [n * 2 for n in range(40)]  # the calls went through
    lines = [r for r in caplog.records if r.name == "catalyst_runtime"]
    # One line for reads and one for writes (each names the failure), not 80 tracebacks.
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert "Traceback" not in caplog.text
    assert "ConnectionError" in lines[0].getMessage()
