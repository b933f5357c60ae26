"""Fixtures shared by the tests that serve golden cases against real servers."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from catalyst_runtime.testing import free_port

REDIS_VAR = "CATALYST_TEST_REDIS_URL"
TESTDATA = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def golden_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, str], tuple[Path, str]]:
    """Lays out a golden case as a user's service is, in a fresh folder: ``<package>/_generated``
    with a ``main.py`` making the app. Gives the folder (the server's working directory) and the
    app's import path, for ``running_server``."""

    def lay_out(case: str, package: str) -> tuple[Path, str]:
        root = tmp_path_factory.mktemp(case)
        return root, _service_package(root, case, package)

    return lay_out


def _service_package(root: Path, case: str, package: str) -> str:
    folder = root / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    shutil.copytree(TESTDATA / case / "expected", folder / "_generated")
    (folder / "main.py").write_text(
        "from catalyst_runtime import create_app\n\n"
        f"from {package}._generated import router\n\n"
        f'app = create_app(router, title="{case}")\n'
    )
    return f"{package}.main:app"


@pytest.fixture(scope="module")
def redis_url() -> str:
    """The test Redis that ``node tools/runtime-tests.mjs`` starts (skips without one)."""
    url = os.environ.get(REDIS_VAR)
    if not url:
        pytest.skip(f"needs Redis: set {REDIS_VAR} (node tools/runtime-tests.mjs does)")
    return url


@pytest.fixture(scope="module")
def prefix(redis_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A key prefix for one test module's run. Its keys, and the rate limiters' keys made under
    it, are deleted afterwards."""
    import redis

    prefix = f"test:{request.module.__name__}:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in (f"{prefix}*", f"catalyst:rl:*:{prefix}*"):
            keys = list(client.scan_iter(match=pattern))
            if keys:
                client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def serve_in_thread() -> Callable[[Any], AbstractContextManager[str]]:
    """Serves an ASGI app (a test's upstream) under uvicorn in a thread, on a free loopback
    port, for as long as ``with serve_in_thread(app) as url:`` lasts."""
    return _serve_in_thread


@contextmanager
def _serve_in_thread(app: Any) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="off", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "upstream did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
