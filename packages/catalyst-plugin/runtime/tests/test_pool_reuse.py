"""No client and no connection per request: the pools built at start-up serve every request.

The service (``tests/apps/pool_app.py``) runs in process with its lifespan; its ``http`` node
calls a real upstream (``probe_app`` under uvicorn) over a socket, and its ``postgres`` node uses
the real PostgreSQL. Every HTTP client built in this process (``aiohttp.ClientSession``, the
pool's, and ``httpx.AsyncClient``, the test's own) is recorded, and
``pg_stat_activity`` is read by a separate connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
import pytest

from catalyst_runtime.testing import running_server

from .conftest import import_app, in_process

REQUESTS = 20
COUNT_CLIENTS = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


@pytest.fixture(scope="module")
def upstream(apps_dir: Path) -> Iterator[str]:
    with running_server("probe_app:app", cwd=apps_dir) as url:
        yield url


@pytest.fixture
async def observer(postgres_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(postgres_dsn)
    yield connection
    await connection.close()


@pytest.fixture
def created_clients(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ``aiohttp.ClientSession`` and ``httpx.AsyncClient`` constructed in this process
    while the test runs."""
    created: list[object] = []
    for cls in (aiohttp.ClientSession, httpx.AsyncClient):
        original = cls.__init__

        def counting_init(self: Any, *args: Any, _original: Any = original, **kw: Any) -> None:
            created.append(self)
            _original(self, *args, **kw)

        monkeypatch.setattr(cls, "__init__", counting_init)
    return created


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, upstream: str, postgres_dsn: str) -> None:
    monkeypatch.setenv("UPSTREAM_URL", upstream)
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)
    monkeypatch.setenv("CATALYST_POSTGRES_MIN_SIZE", "1")
    monkeypatch.setenv("CATALYST_POSTGRES_MAX_SIZE", "3")


@pytest.mark.anyio
@pytest.mark.usefixtures("service_env")
async def test_no_http_client_and_no_connection_per_request(
    created_clients: list[object], observer: asyncpg.Connection
) -> None:
    before_start = await observer.fetchval(COUNT_CLIENTS)
    app = import_app("pool_app")
    async with in_process(app) as client:
        # Start-up built the http pool through the counted constructor (so the count sees it),
        # and opened the asyncpg pool's min_size connection.
        assert app.state.pools.http in created_clients
        assert client in created_clients  # the test's own ASGI client, made after start-up
        clients_after_start = len(created_clients)
        connections_after_start = await observer.fetchval(COUNT_CLIENTS)
        assert connections_after_start == before_start + 1

        pids = set()
        for i in range(REQUESTS):
            response = await client.post("/relay", json={"name": f"n{i}"})
            assert response.status_code == 200, response.text
            assert response.json()["message"] == f"Hello, n{i}!"
            pids.add(response.json()["pid"])

        assert len(created_clients) == clients_after_start  # no client per request
        assert await observer.fetchval(COUNT_CLIENTS) == connections_after_start
        assert len(pids) == 1  # every sequential request ran on the one pooled connection

        # Concurrent requests may grow the asyncpg pool, but only up to its max_size (3).
        answers = await asyncio.gather(
            *(client.post("/relay", json={"name": f"c{i}"}) for i in range(REQUESTS))
        )
        assert all(answer.status_code == 200 for answer in answers)
        assert len(created_clients) == clients_after_start
        assert await observer.fetchval(COUNT_CLIENTS) <= before_start + 3
    assert app.state.pools.closed
