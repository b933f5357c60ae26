from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI

from catalyst_runtime import (
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    WorkflowRouter,
    create_app,
)

from .conftest import import_app, in_process


def _app(**kwargs: object) -> FastAPI:
    router = WorkflowRouter()

    @router.get("/upstream")
    async def upstream() -> None:
        try:
            raise ConnectionRefusedError("postgresql://user:hunter2@db/x refused")
        except OSError as exc:
            raise UpstreamError("docs", "PostgreSQL unreachable") from exc

    @router.get("/slow")
    async def slow() -> None:
        raise NodeTimeoutError("reply", "timed out after 5 s")

    @router.get("/secret")
    async def secret() -> None:
        ExecutionContext("wf", None).secrets["CATALYST_TEST_UNSET_SECRET"]

    @router.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret internals hunter2")

    return create_app(router, title="t", settings=Settings(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_errors_map_to_status_and_body(caplog: pytest.LogCaptureFixture) -> None:
    async with in_process(_app()) as client:
        with caplog.at_level(logging.WARNING, "catalyst_runtime"):
            upstream = await client.get("/upstream")
        slow = await client.get("/slow")
        bug = await client.get("/bug")
        with caplog.at_level(logging.ERROR, "catalyst_runtime"):
            secret = await client.get("/secret")
    assert upstream.status_code == 502
    assert upstream.json() == {
        "detail": [
            {
                "type": "upstream_error",
                "loc": ["nodes", "docs"],
                "msg": 'node "docs": PostgreSQL unreachable',
            }
        ]
    }
    assert slow.status_code == 504
    assert slow.json()["detail"][0]["loc"] == ["nodes", "reply"]
    assert bug.status_code == 500
    assert bug.json() == {
        "detail": [{"type": "internal_error", "loc": [], "msg": "internal error"}]
    }
    assert secret.status_code == 500
    assert secret.json() == bug.json()  # the deployment's variable names stay in the log
    assert "CATALYST_TEST_UNSET_SECRET: secret is not set" in caplog.text
    assert "hunter2" not in upstream.text + bug.text + caplog.text
    assert '"docs"' in caplog.text


@pytest.mark.anyio
async def test_invalid_input_is_a_422_naming_the_field() -> None:
    app = import_app("probe_app")
    async with in_process(app) as client:
        response = await client.post("/hello", content=b'{"name": "", "token": "hunter2"}')
    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {
                "type": "string_too_short",
                "loc": ["body", "name"],
                "msg": "String should have at least 1 character",
            },
            {
                "type": "extra_forbidden",
                "loc": ["body", "token"],
                "msg": "Extra inputs are not permitted",
            },
        ]
    }
    assert "hunter2" not in response.text


@pytest.mark.anyio
async def test_lifespan_builds_and_closes_pools() -> None:
    seen: list[str] = []

    @asynccontextmanager
    async def user_lifespan(app: FastAPI) -> AsyncIterator[None]:
        seen.append(f"start {sorted(app.state.pools.names)}")
        yield
        seen.append("stop")

    router = WorkflowRouter(pools=["http"])
    inner = WorkflowRouter(pools=["llm"])
    router.include_router(inner)
    app = create_app(router, title="t", settings=Settings(), lifespan=user_lifespan)
    async with in_process(app):
        pools: ConnectionPools = app.state.pools
        assert pools.names == {"http", "llm"}
        assert not pools.http.is_closed
    assert seen == ["start ['http', 'llm']", "stop"]
    assert pools.closed
    assert app.title == "t"


@pytest.mark.anyio
async def test_lifespan_reads_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALYST_HTTP_TIMEOUT", "7")
    app = create_app(WorkflowRouter(), title="t", pools=["http"])
    async with in_process(app):
        assert app.state.settings.http_timeout == 7
        assert app.state.pools.http.timeout.read == 7


@pytest.mark.anyio
async def test_openapi_shows_the_input_schema() -> None:
    app = import_app("probe_app")
    async with in_process(app) as client:
        spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/hello"]["post"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["required"] == ["name"]
    assert schema["properties"]["name"]["minLength"] == 1


@pytest.mark.anyio
async def test_a_missing_secret_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("CATALYST_T_TOKEN", raising=False)
    monkeypatch.delenv("CATALYST_T_KEY", raising=False)
    router = WorkflowRouter()
    router.include_router(WorkflowRouter(secrets=["CATALYST_T_TOKEN"]))
    router.include_router(WorkflowRouter(secrets=["CATALYST_T_KEY", "CATALYST_T_TOKEN"]))
    app = create_app(router, title="t")
    with pytest.raises(ConfigError) as caught:
        async with in_process(app):
            pass
    assert str(caught.value).startswith("CATALYST_T_KEY, CATALYST_T_TOKEN: required by")
    assert "export it or add it to .env" in str(caught.value)


@pytest.mark.anyio
async def test_missing_env_variables_and_secrets_are_named_together(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("CATALYST_T_TOKEN", raising=False)
    monkeypatch.delenv("CATALYST_T_REGION", raising=False)
    router = WorkflowRouter()
    router.include_router(WorkflowRouter(env=["CATALYST_T_REGION"]))
    router.include_router(WorkflowRouter(secrets=["CATALYST_T_TOKEN"], pools=["http"]))
    assert router.env == {"CATALYST_T_REGION"}
    assert router.pools == {"http"}
    app = create_app(router, title="t")
    with pytest.raises(ConfigError) as caught:
        async with in_process(app):
            pass
    assert str(caught.value).startswith("CATALYST_T_REGION, CATALYST_T_TOKEN: required by")
    monkeypatch.setenv("CATALYST_T_REGION", "eu")
    monkeypatch.setenv("CATALYST_T_TOKEN", "t")
    async with in_process(app):
        assert app.state.pools.names == {"http"}


@pytest.mark.anyio
async def test_secrets_from_env_file_satisfy_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CATALYST_T_TOKEN", raising=False)
    (tmp_path / ".env").write_text("CATALYST_T_TOKEN=from-dotenv\n")
    app = create_app(WorkflowRouter(secrets=["CATALYST_T_TOKEN"]), title="t")
    try:
        async with in_process(app):
            assert os.environ["CATALYST_T_TOKEN"] == "from-dotenv"
    finally:
        os.environ.pop("CATALYST_T_TOKEN", None)
