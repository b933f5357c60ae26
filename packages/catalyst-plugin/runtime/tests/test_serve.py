"""Served through ``python -m catalyst_runtime.serve``: uvloop runs the loop, httptools parses."""

from __future__ import annotations

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
