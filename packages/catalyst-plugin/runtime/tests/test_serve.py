"""Served through ``python -m catalyst_runtime.serve``: uvloop runs the loop, httptools parses."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from catalyst_runtime.serve import build_parser
from catalyst_runtime.testing import free_port, running_server


def test_serve_runs_on_uvloop_and_httptools(apps_dir: Path) -> None:
    with running_server("probe_app:app", cwd=apps_dir) as url:
        probe = httpx.get(f"{url}/probe").json()
        hello = httpx.post(f"{url}/hello", json={"name": "Ada"})
    assert probe == {
        "loop": "uvloop.Loop",
        "task": "RequestResponseCycle.run_asgi",
        "protocol": "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol",
        "parser": "httptools.parser.parser.HttpRequestParser",
    }
    assert hello.status_code == 200
    assert hello.headers["content-type"] == "application/json"
    assert hello.json() == {"message": "Hello, Ada!", "shout": "ADA"}
    assert hello.headers["server-timing"].startswith("greet;dur=")


def test_invalid_input_is_422_over_http(apps_dir: Path) -> None:
    with running_server("probe_app:app", cwd=apps_dir) as url:
        response = httpx.post(f"{url}/hello", content=b'{"name": ""}')
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]


def test_running_server_reports_a_crash(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    with (
        pytest.raises(RuntimeError, match="boom at import"),
        running_server("broken:app", cwd=tmp_path),
    ):
        pass  # pragma: no cover


def test_running_server_times_out(tmp_path: Path) -> None:
    # An app whose start-up never finishes: the helper gives up, stops it and shows its log.
    (tmp_path / "slow.py").write_text(
        "import asyncio, contextlib\n"
        "from fastapi import FastAPI\n"
        "@contextlib.asynccontextmanager\n"
        "async def lifespan(app):\n"
        "    print('starting slowly', flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "    yield\n"
        "app = FastAPI(lifespan=lifespan)\n"
    )
    with (
        pytest.raises(TimeoutError, match="did not answer"),
        running_server("slow:app", cwd=tmp_path, startup_timeout=1.5),
    ):
        pass  # pragma: no cover


def test_parser_defaults() -> None:
    args = build_parser().parse_args(["svc.main:app", "--port", str(free_port())])
    assert args.host == "127.0.0.1"
    assert args.reload is False


_RELOADABLE = """
from fastapi import APIRouter
from catalyst_runtime import ExecutionContext, create_app, json_response

router = APIRouter()


@router.get("/message")
async def message():
    ctx = ExecutionContext("m", None)
    return json_response({{"message": "{message}"}}, ctx)


app = create_app(router, title="reloadable")
"""


def test_reload_picks_up_an_edit(tmp_path: Path) -> None:
    source = tmp_path / "reloadable.py"
    source.write_text(_RELOADABLE.format(message="one"))
    with running_server(
        "reloadable:app", cwd=tmp_path, extra_args=["--reload", "--reload-dir", str(tmp_path)]
    ) as url:
        assert httpx.get(f"{url}/message").json() == {"message": "one"}
        source.write_text(_RELOADABLE.format(message="two"))
        deadline = time.monotonic() + 15
        seen = None
        while time.monotonic() < deadline:
            try:
                seen = httpx.get(f"{url}/message").json()
            except httpx.TransportError:
                seen = None  # restarting
            if seen == {"message": "two"}:
                break
            time.sleep(0.1)
        assert seen == {"message": "two"}


def test_a_server_that_will_not_stop_is_killed(tmp_path: Path) -> None:
    (tmp_path / "stubborn.py").write_text(
        "import asyncio, contextlib\n"
        "from fastapi import FastAPI\n"
        "@contextlib.asynccontextmanager\n"
        "async def lifespan(app):\n"
        "    yield\n"
        "    await asyncio.sleep(60)  # a shutdown that never ends\n"
        "app = FastAPI(lifespan=lifespan)\n"
    )
    started = time.monotonic()
    with running_server("stubborn:app", cwd=tmp_path, shutdown_timeout=0.5) as url:
        assert httpx.get(f"{url}/docs").status_code == 200
    assert time.monotonic() - started < 10
