from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from catalyst_runtime import ConnectionPools, ExecutionContext, Settings

APPS = Path(__file__).parent / "apps"
POSTGRES_VAR = "CATALYST_TEST_POSTGRES_DSN"
REDIS_VAR = "CATALYST_TEST_REDIS_URL"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def apps_dir() -> Path:
    """Folder of the small services and worker scripts the tests run as real processes."""
    return APPS


def _services_script() -> Path | None:
    for folder in Path(__file__).resolve().parents:
        script = folder / "tools" / "services" / "services.mjs"
        if script.is_file():
            return script
    return None


@pytest.fixture(scope="session")
def services() -> Iterator[dict[str, str]]:
    """URLs of real PostgreSQL and Redis servers.

    ``node tools/runtime-tests.mjs`` starts them and passes their URLs in the environment. When
    pytest is run directly, they are started here through the same script and stopped at the end.
    """
    if os.environ.get(POSTGRES_VAR) and os.environ.get(REDIS_VAR):
        yield {POSTGRES_VAR: os.environ[POSTGRES_VAR], REDIS_VAR: os.environ[REDIS_VAR]}
        return
    script, node = _services_script(), shutil.which("node")
    if script is None or node is None:
        pytest.skip(f"needs PostgreSQL and Redis: set {POSTGRES_VAR} and {REDIS_VAR}")
    with tempfile.TemporaryDirectory() as scratch:
        state = str(Path(scratch) / "services.json")
        started = subprocess.run(
            [node, str(script), "start", "--state", state], capture_output=True, text=True
        )
        if started.returncode != 0:
            pytest.fail(f"could not start PostgreSQL and Redis:\n{started.stderr}")
        try:
            yield dict(line.split("=", 1) for line in started.stdout.split())
        finally:
            subprocess.run([node, str(script), "stop", "--state", state], check=True)


@pytest.fixture(scope="session")
def postgres_dsn(services: dict[str, str]) -> str:
    return services[POSTGRES_VAR]


@pytest.fixture(scope="session")
def redis_url(services: dict[str, str]) -> str:
    return services[REDIS_VAR]


@pytest.fixture
async def redis_ctx(redis_url: str) -> AsyncIterator[ExecutionContext]:
    """A run's context whose pools hold only the test Redis (closed after the test)."""
    pools = await ConnectionPools.create(Settings(redis_url=redis_url), needs=["redis"])
    try:
        yield ExecutionContext("redis_test", None, pools=pools)
    finally:
        await pools.close()


@pytest.fixture
def unique() -> str:
    """A prefix no other test uses, for keys in the shared Redis."""
    return f"test:{uuid.uuid4().hex}:"


def import_app(module: str) -> FastAPI:
    """``app`` from one of the services in ``tests/apps``."""
    sys.path.insert(0, str(APPS))
    try:
        app = importlib.import_module(module).app
    finally:
        sys.path.remove(str(APPS))
    assert isinstance(app, FastAPI)
    return app


@asynccontextmanager
async def in_process(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app``'s lifespan and talk to it in this process (no sockets)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            yield client
