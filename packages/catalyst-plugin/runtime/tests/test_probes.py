"""Health and readiness probes, request ids and JSON log lines, on a real server.

PostgreSQL and Redis are reached through ``TcpProxy``: closing it is, for the service, the
server going away (connections cut, the port refusing), while the test servers go on serving
the rest of the suite.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import Response

from catalyst_runtime import ConfigError, Settings, WorkflowRouter, create_app
from catalyst_runtime.logs import JsonFormatter, ProbeAccessFilter, redactor
from catalyst_runtime.testing import TcpProxy, free_port, running_server

TOKEN = "ops-secret-value-1234"
# A start-up took over 20 s on a loaded 2-core machine (the OpenTelemetry and Qdrant imports).
START = 120.0


@pytest.fixture
def pg_proxy(postgres_dsn: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(postgres_dsn)
    proxy.open()
    yield proxy
    proxy.shutdown()


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(redis_url)
    proxy.open()
    yield proxy
    proxy.shutdown()


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "still false after the deadline"
        time.sleep(0.1)


def test_readyz_follows_the_database_and_healthz_does_not(
    apps_dir: Path, pg_proxy: TcpProxy, redis_proxy: TcpProxy
) -> None:
    env = {"DATABASE_URL": pg_proxy.url, "REDIS_URL": redis_proxy.url, "OPS_TOKEN": TOKEN}
    with running_server("ops_app:app", cwd=apps_dir, env=env, startup_timeout=START) as url:
        health = httpx.get(f"{url}/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        assert health.headers["cache-control"] == "no-store"
        ready = httpx.get(f"{url}/readyz")
        assert (ready.status_code, ready.json()) == (
            200,
            {"status": "ready", "checks": {"postgres": "ok", "redis": "ok"}},
        )

        pg_proxy.close()  # PostgreSQL is gone for this service
        # (the pools are asked at most once a second: the next check sees it)
        _eventually(lambda: httpx.get(f"{url}/readyz", timeout=10).status_code == 503)
        down = httpx.get(f"{url}/readyz", timeout=10)
        assert down.status_code == 503, down.text
        body = down.json()
        assert body["status"] == "not ready"
        assert body["checks"]["redis"] == "ok"
        assert body["checks"]["postgres"].startswith(("unreachable (", "no answer within"))
        assert httpx.get(f"{url}/healthz").status_code == 200  # the process is fine

        pg_proxy.open()  # back: ready again, without a restart
        _eventually(lambda: httpx.get(f"{url}/readyz", timeout=10).status_code == 200)

        # Neither probe is part of the API the service documents.
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
        assert "/healthz" not in paths and "/readyz" not in paths
        assert "/work" in paths


def test_probe_paths_come_from_settings(apps_dir: Path, postgres_dsn: str, redis_url: str) -> None:
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "CATALYST_HEALTH_PATH": "/-/alive",
        "CATALYST_READY_PATH": "/-/ready",
    }
    with running_server("ops_app:app", cwd=apps_dir, env=env, startup_timeout=START) as url:
        assert httpx.get(f"{url}/-/alive").status_code == 200
        assert httpx.get(f"{url}/-/ready").json()["status"] == "ready"
        assert httpx.get(f"{url}/healthz").status_code == 404


@pytest.mark.anyio
async def test_a_workflow_route_on_a_probe_path_stops_start_up() -> None:
    router = WorkflowRouter()

    @router.get("/healthz")
    async def mine() -> Response:
        return Response(b"{}")

    app = create_app(router, title="clash", settings=Settings())
    with pytest.raises(ConfigError, match=r"CATALYST_HEALTH_PATH: /healthz is also a route"):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.anyio
async def test_a_second_start_up_does_not_repeat_the_probes() -> None:
    app = create_app(WorkflowRouter(), title="twice", settings=Settings())
    transport = httpx.ASGITransport(app=app)
    for _ in range(2):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/readyz")).json() == {"status": "ready", "checks": {}}
    assert sum(getattr(r, "path", None) == "/healthz" for r in app.router.routes) == 1


def _serve(apps_dir: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalyst_runtime.serve", "ops_app:app", "--port", f"{port}"],
            cwd=apps_dir,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    _eventually(answering, timeout=START)
    return process, url


def test_after_sigterm_readyz_drains_while_requests_are_still_served(
    apps_dir: Path, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "CATALYST_DRAIN_SECONDS": "3",
    }
    process, url = _serve(apps_dir, env, tmp_path / "serve.log")
    try:
        with httpx.Client() as client:
            assert client.get(f"{url}/readyz").status_code == 200
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _eventually(lambda: client.get(f"{url}/readyz").status_code == 503, timeout=2)
            assert client.get(f"{url}/readyz").json() == {"status": "draining"}
            # Still serving while the load balancer moves traffic away.
            assert client.get(f"{url}/work").status_code == 200
            assert client.get(f"{url}/healthz").status_code == 200
        # Like uvicorn without a drain: the SIGTERM is re-raised once shut down.
        assert process.wait(timeout=20) == -signal.SIGTERM
        assert time.monotonic() - started >= 2.5  # it waited out the drain period
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines = [orjson.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    assert any("draining for 3 s" in line["message"] for line in lines)


def test_without_a_drain_period_sigterm_stops_at_once(
    apps_dir: Path, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": postgres_dsn, "REDIS_URL": redis_url, "OPS_TOKEN": TOKEN}
    process, _ = _serve(apps_dir, env, tmp_path / "serve.log")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == -signal.SIGTERM
    assert time.monotonic() - started < 2.5


def test_request_ids_json_logs_and_no_secret(
    apps_dir: Path, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "CATALYST_LOG_FORMAT": "json",
    }
    log = tmp_path / "serve.log"
    with running_server(
        "ops_app:app", cwd=apps_dir, env=env, log_file=log, startup_timeout=START
    ) as url:
        given = httpx.get(f"{url}/work", headers={"X-Request-ID": "req-42.a:b_c"})
        assert given.headers["x-request-id"] == "req-42.a:b_c"
        fresh = httpx.get(f"{url}/work")
        assert len(fresh.headers["x-request-id"]) == 32
        # A value that could forge a log line or a header is replaced, not refused.
        forged = httpx.get(f"{url}/work", headers={"X-Request-ID": 'x" level=error'})
        assert forged.status_code == 200
        assert forged.headers["x-request-id"] != 'x" level=error'
        assert len(forged.headers["x-request-id"]) == 32
        failed = httpx.get(f"{url}/fail", headers={"X-Request-ID": "req-500"})
        assert failed.status_code == 500
        assert failed.headers["x-request-id"] == "req-500"  # the 500 carries it too
        missing = httpx.get(f"{url}/nowhere", headers={"X-Request-ID": "req-404"})
        assert (missing.status_code, missing.headers["x-request-id"]) == (404, "req-404")
        time.sleep(0.3)
    text = log.read_text()
    assert TOKEN not in text
    lines = [orjson.loads(line) for line in text.splitlines()]  # every line is JSON
    work = [line for line in lines if line["message"].startswith("working with token")]
    assert [line["request_id"] for line in work] == ["req-42.a:b_c", fresh.headers["x-request-id"],
                                                     forged.headers["x-request-id"]]  # fmt: skip
    assert [line["message"] for line in work] == [
        f"working with token [redacted] (call {n})" for n in (1, 2, 3)
    ]
    assert all(line["level"] == "warning" and line["logger"] == "catalyst_runtime" for line in work)
    errors = [line for line in lines if line.get("request_id") == "req-500"]
    assert errors and "RuntimeError: boom" in errors[0]["exception"]
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)


def test_every_line_about_a_workflow_request_names_the_workflow(
    apps_dir: Path, postgres_dsn: str, redis_url: str, tmp_path: Path
) -> None:
    """The access line, the node's failure and its cause (debug level): each carries the request
    id and the workflow, and the failure and its cause the node; a generated route's 422, written
    before its run starts, names its workflow too."""
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "CATALYST_LOG_FORMAT": "json",
    }
    log = tmp_path / "serve.log"
    with running_server(
        "ops_app:app",
        cwd=apps_dir,
        env=env,
        log_file=log,
        startup_timeout=START,
        extra_args=("--log-level", "debug"),
        access_log=True,
    ) as url:
        ok = httpx.get(f"{url}/lookup", headers={"X-Request-ID": "req-ok"})
        assert ok.status_code == 200, ok.text
        bad = httpx.get(f"{url}/lookup?fail=true", headers={"X-Request-ID": "req-bad"})
        assert bad.status_code == 500
        plain = httpx.get(f"{url}/work", headers={"X-Request-ID": "req-plain"})
        assert plain.status_code == 200
        # Refused before its run starts: the route's module names the workflow.
        refused = httpx.post(
            f"{url}/greeting", json={"name": ""}, headers={"X-Request-ID": "req-422"}
        )
        assert refused.status_code == 422
        greeted = httpx.post(
            f"{url}/greeting", json={"name": "Ada"}, headers={"X-Request-ID": "req-gen"}
        )
        assert greeted.status_code == 200, greeted.text
        time.sleep(0.3)
    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    by_request: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_request.setdefault(line.get("request_id", ""), []).append(line)
    ok_lines, bad_lines = by_request["req-ok"], by_request["req-bad"]
    assert any(line.get("status") == 200 for line in ok_lines)  # the access line
    assert any(line.get("status") == 500 for line in bad_lines)
    assert all(line.get("workflow") == "lookup" for line in ok_lines + bad_lines)
    failure = [line for line in bad_lines if "-> 500" in line["message"]]
    cause = [line for line in bad_lines if line["message"] == "cause"]
    assert failure and cause
    assert all(line["node"] == "check" for line in failure + cause)
    for rid in ("req-422", "req-gen"):
        assert [line.get("workflow") for line in by_request[rid]] == ["greeting"]  # access lines
    # A route that runs no workflow names none.
    assert by_request["req-plain"] and not any(
        "workflow" in line for line in by_request["req-plain"]
    )


def test_json_formatter_shapes_an_access_line_and_redacts_a_traceback() -> None:
    redactor.add(["formatter-secret-5678"])
    formatter = JsonFormatter()
    access = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/work?x=1", "1.1", 200), None,
    )  # fmt: skip
    entry = orjson.loads(formatter.format(access))
    assert entry["message"] == '127.0.0.1:5000 - "GET /work?x=1 HTTP/1.1" 200'
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/work?x=1", 200)
    assert entry["time"].endswith("Z") and entry["level"] == "info"
    try:
        raise ValueError("key formatter-secret-5678 refused")
    except ValueError:
        failed = logging.LogRecord(
            "catalyst_runtime", logging.ERROR, __file__, 1, "node failed", None, sys.exc_info()
        )
    failed.node = "lookup"
    entry = orjson.loads(formatter.format(failed))
    assert entry["node"] == "lookup"
    assert "formatter-secret-5678" not in entry["exception"]
    assert "[redacted]" in entry["exception"]


def test_probe_lines_are_kept_out_of_the_access_log() -> None:
    keep = ProbeAccessFilter(["/healthz", "/readyz"])

    def access(path: str) -> logging.LogRecord:
        return logging.LogRecord(
            "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
            ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
        )  # fmt: skip

    assert not keep.filter(access("/healthz"))
    assert not keep.filter(access("/readyz?verbose=1"))
    assert keep.filter(access("/healthz/more"))
    assert keep.filter(access("/work"))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CATALYST_HEALTH_PATH": "healthz"}, r"CATALYST_HEALTH_PATH: expected a URL path"),
        ({"CATALYST_READY_PATH": "/healthz"}, r"CATALYST_READY_PATH: must differ"),
        ({"CATALYST_LOG_FORMAT": "yaml"}, r"CATALYST_LOG_FORMAT: expected one of auto, json"),
        ({"CATALYST_DRAIN_SECONDS": "-1"}, r"CATALYST_DRAIN_SECONDS: expected a number of seconds"),
        ({"CATALYST_READY_TIMEOUT": "0"}, r"CATALYST_READY_TIMEOUT: expected a positive number"),
    ],
)
def test_bad_probe_and_log_settings_are_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env, env_file=None)


def test_probe_and_log_settings_defaults_and_values() -> None:
    default = Settings.from_env({}, env_file=None)
    assert (default.health_path, default.ready_path, default.log_format) == (
        "/healthz",
        "/readyz",
        "auto",
    )
    assert (default.ready_timeout, default.drain_seconds) == (1.0, 0.0)
    chosen = Settings.from_env(
        {"CATALYST_DRAIN_SECONDS": "0", "CATALYST_LOG_FORMAT": "JSON"}, env_file=None
    )
    assert (chosen.drain_seconds, chosen.log_format) == (0.0, "json")
