"""A service with postgres and redis nodes, served by real uvicorn against the real servers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from catalyst_runtime.testing import running_server

COUNT_CLIENTS = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"


@pytest.fixture
async def observer(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(postgres_dsn)
    yield connection
    await connection.close()


@pytest.mark.anyio
async def test_pools_open_at_start_serve_requests_and_close_at_shutdown(
    apps_dir: Path, postgres_dsn: str, redis_url: str, unique: str, observer: asyncpg.Connection
) -> None:
    before = await observer.fetchval(COUNT_CLIENTS)
    env = {"DATABASE_URL": postgres_dsn, "REDIS_URL": redis_url, "CATALYST_POSTGRES_MIN_SIZE": "2"}
    with running_server("db_app:app", cwd=apps_dir, env=env) as url:
        # The pool was opened at start-up, before any request.
        assert await observer.fetchval(COUNT_CLIENTS) >= before + 2
        async with httpx.AsyncClient(base_url=url) as client:
            first = await client.post("/count", json={"key": f"{unique}hits"})
            second = await client.post("/count", json={"key": f"{unique}hits"})
            missing = await client.post("/count", json={"key": "k", "table": "no_such_table"})
    assert first.status_code == 200
    assert first.json() == {"tables": True, "hits": 1}
    assert second.json() == {"tables": True, "hits": 2}
    assert [part.split(";")[0] for part in first.headers["server-timing"].split(", ")] == [
        "count",
        "hits",
        "total",
    ]
    assert missing.status_code == 502
    assert missing.json()["detail"][0]["loc"] == ["nodes", "count"]
    assert "SQLSTATE 42P01" in missing.json()["detail"][0]["msg"]
    # SIGTERM ran the lifespan shutdown: the pool's connections are gone.
    # (The server has exited; its sockets may take a moment to be reaped by PostgreSQL.)
    deadline = time.monotonic() + 5
    clients = await observer.fetchval(COUNT_CLIENTS)
    while clients > before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        clients = await observer.fetchval(COUNT_CLIENTS)
    assert clients == before


def test_a_missing_setting_stops_start_up_with_its_name(apps_dir: Path) -> None:
    env = {"DATABASE_URL": "", "REDIS_URL": "redis://127.0.0.1:1/0"}
    with (
        pytest.raises(RuntimeError, match="DATABASE_URL: required by postgres nodes"),
        running_server("db_app:app", cwd=apps_dir, env=env),
    ):
        pass  # pragma: no cover
