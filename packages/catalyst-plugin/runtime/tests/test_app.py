from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import MappingProxyType

import pytest
from fastapi import APIRouter, FastAPI, HTTPException
from starlette.exceptions import HTTPException as StarletteHTTPException

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
        response = await client.post(
            "/hello",
            content=b'{"name": "", "token": "hunter2"}',
            headers={"content-type": "application/json"},
        )
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
        assert not pools.http.closed
    assert seen == ["start ['http', 'llm']", "stop"]
    assert pools.closed
    assert app.title == "t"


@pytest.mark.anyio
async def test_lifespan_reads_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CATALYST_HTTP_TIMEOUT", "7")
    app = create_app(WorkflowRouter(), title="t", pools=["http"])
    async with in_process(app):
        assert app.state.settings.http_timeout == 7
        assert app.state.pools.settings.http_timeout == 7  # the deadline http_call reads


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


@pytest.mark.anyio
async def test_globals_are_a_read_only_copy_on_app_state() -> None:
    given = {"region": "eu", "limits": {"max": 3}}
    app = create_app(WorkflowRouter(), title="t", settings=Settings(), globals=given)
    given["region"] = "us"  # copied at create_app: later changes to the argument do not leak in
    assert app.state.globals == {"region": "eu", "limits": {"max": 3}}
    assert isinstance(app.state.globals, MappingProxyType)
    with pytest.raises(TypeError):
        app.state.globals["region"] = "us"  # type: ignore[index]
    async with in_process(app):  # still there, unchanged, once started
        assert app.state.globals["region"] == "eu"
        assert ExecutionContext("wf", None, globals=app.state.globals).globals["region"] == "eu"


def test_globals_default_to_an_empty_read_only_mapping() -> None:
    app = create_app(WorkflowRouter(), title="t", settings=Settings())
    assert app.state.globals == {}
    assert isinstance(app.state.globals, MappingProxyType)
    with pytest.raises(TypeError):
        app.state.globals["x"] = 1  # type: ignore[index]


def _no_stdlib_json(*args: object, **kwargs: object) -> str:
    raise AssertionError("stdlib json.dumps called: a response bypassed orjson")


@pytest.mark.anyio
async def test_fastapis_own_404_and_405_use_orjson_and_the_runtime_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = import_app("probe_app")  # POST /hello only
    monkeypatch.setattr(json, "dumps", _no_stdlib_json)
    async with in_process(app) as client:
        missing = await client.get("/nowhere")
        wrong_method = await client.get("/hello")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    assert missing.content == (
        b'{"detail":[{"type":"not_found","loc":[],"msg":"Not Found"}]}'
    )  # compact: orjson's bytes, not json.dumps' ", " separators
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert wrong_method.json() == {
        "detail": [{"type": "method_not_allowed", "loc": [], "msg": "Method Not Allowed"}]
    }


@pytest.mark.anyio
async def test_a_routes_own_http_exception_keeps_status_headers_and_detail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = WorkflowRouter()

    @router.get("/teapot")
    async def teapot() -> None:
        raise HTTPException(418, detail="short and stout", headers={"X-Kind": "tea"})

    @router.get("/structured")
    async def structured() -> None:
        raise HTTPException(409, detail={"conflict": ["a", "b"]})

    @router.get("/default")
    async def default() -> None:
        raise StarletteHTTPException(599)  # no phrase for this status, no detail given

    @router.get("/not-modified")
    async def not_modified() -> None:
        raise HTTPException(304, headers={"ETag": '"v1"'})

    app = create_app(router, title="t", settings=Settings())
    monkeypatch.setattr(json, "dumps", _no_stdlib_json)
    async with in_process(app) as client:
        teapot_r = await client.get("/teapot")
        structured_r = await client.get("/structured")
        default_r = await client.get("/default")
        not_modified_r = await client.get("/not-modified")
    assert teapot_r.status_code == 418
    assert teapot_r.headers["x-kind"] == "tea"
    assert teapot_r.json() == {
        "detail": [{"type": "i_m_a_teapot", "loc": [], "msg": "short and stout"}]
    }
    assert structured_r.status_code == 409
    assert structured_r.content == b'{"detail":{"conflict":["a","b"]}}'
    assert default_r.status_code == 599
    assert default_r.json()["detail"][0]["type"] == "http_error"
    assert not_modified_r.status_code == 304
    assert not_modified_r.content == b""
    assert not_modified_r.headers["etag"] == '"v1"'


@pytest.mark.anyio
async def test_fastapis_own_422_names_the_field_without_echoing_the_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    router = WorkflowRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app = create_app(router, title="t", settings=Settings())
    monkeypatch.setattr(json, "dumps", _no_stdlib_json)
    async with in_process(app) as client:
        bad = await client.get("/items/secret-value")
        good = await client.get("/items/7")
    assert good.json() == {"id": 7}
    assert bad.status_code == 422
    assert bad.json() == {
        "detail": [
            {
                "type": "int_parsing",
                "loc": ["path", "item_id"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
            }
        ]
    }
    assert b"secret-value" not in bad.content


def _workflow_router(path: str, answer: str) -> WorkflowRouter:
    router = WorkflowRouter()

    @router.get(path)
    async def endpoint() -> dict[str, str]:
        return {"answer": answer}

    return router


@pytest.mark.anyio
async def test_workflow_routes_are_mounted_on_the_app_itself() -> None:
    # The shape codegen emits: a service router including one router per workflow.
    first, second = _workflow_router("/a", "a"), _workflow_router("/b", "b")
    service = WorkflowRouter()
    service.include_router(first)
    service.include_router(second)
    app = create_app(service, title="t", settings=Settings())
    mounted = [route for route in app.router.routes if route in first.routes + second.routes]
    assert mounted == [first.routes[0], second.routes[0]]  # the same objects, in order
    async with in_process(app) as client:
        assert (await client.get("/a")).json() == {"answer": "a"}
        assert (await client.get("/b")).json() == {"answer": "b"}
        assert sorted((await client.get("/openapi.json")).json()["paths"]) == ["/a", "/b"]


@pytest.mark.anyio
async def test_includes_with_options_keep_fastapis_own_include() -> None:
    prefixed = WorkflowRouter()
    prefixed.include_router(_workflow_router("/a", "a"), prefix="/v1")
    plain = APIRouter()
    plain.include_router(_workflow_router("/b", "b"))
    mixed = WorkflowRouter()
    mixed.include_router(plain)
    assert prefixed.flat_routes() is None
    assert mixed.flat_routes() is None
    for router, path, answer in [(prefixed, "/v1/a", "a"), (mixed, "/b", "b")]:
        app = create_app(router, title="t", settings=Settings())
        async with in_process(app) as client:
            assert (await client.get(path)).json() == {"answer": answer}


def test_a_lone_string_of_names_is_refused() -> None:
    with pytest.raises(TypeError, match=r"secrets takes a sequence of names, e.g. \('TOKEN',\)"):
        WorkflowRouter(secrets="TOKEN")
