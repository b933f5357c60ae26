"""``python -m catalyst_runtime.serve APP --server granian``: the same service under granian, over
real HTTP, with each of serve's hardening rules as granian enforces it (docs/operations.md,
"Serving under granian"): the head's size and time, idle keep-alive connections, a body that
never comes, the connection limit, SIGTERM (running requests finish, the app shuts down), the
shutdown bound, the drain, JSON logs with access lines, the probes, and the one-line errors."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from catalyst_runtime import Settings
from catalyst_runtime.serve_granian import MISSING, granian_options
from catalyst_runtime.testing import free_port, running_server

from .test_limits import _address, _read_response

GRANIAN = ("--server", "granian")
# A start-up took over 20 s on a loaded 2-core machine; granian starts a worker process too.
START = 60.0


def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "still false after the deadline"
        time.sleep(0.1)


def _json_lines(log: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture(scope="module")
def served(apps_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("granian") / "server.log"
    env = {
        "CATALYST_BODY_TIMEOUT": "1.5",
        "CATALYST_HEADER_TIMEOUT": "1",
        "CATALYST_LOG_FORMAT": "json",
    }
    with running_server(
        "granian_app:app", cwd=apps_dir, env=env, log_file=log, access_log=True,
        extra_args=GRANIAN, startup_timeout=START,
    ) as url:  # fmt: skip
        yield url, log


def _closed_after(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    """Seconds until the server closed the connection (at most ``limit``) and what it sent."""
    started = time.monotonic()
    data = _read_response(sock, started + limit)
    while time.monotonic() - started < limit:  # an answer came: wait for the close itself
        more = _read_response(sock, started + limit)
        if not more:
            break
        data += more
    return time.monotonic() - started, data


def test_a_workflow_is_served_by_granian_with_json_access_lines(served: tuple[str, Path]) -> None:
    url, log = served
    response = httpx.post(f"{url}/hello?from=test", json={"name": "Ada"})
    assert response.status_code == 200
    assert response.json() == {"message": "Hello, Ada!"}
    assert response.headers["server"] == "granian"
    assert "greet" in response.headers["server-timing"]
    assert httpx.post(f"{url}/hello", json={"nom": "Ada"}).status_code == 422
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{url}/readyz").json() == {"status": "ready", "checks": {}}
    rid = response.headers["x-request-id"]

    def access() -> list[dict[str, Any]]:
        return [line for line in _json_lines(log) if line["logger"] == "granian.access"]

    _eventually(lambda: any(line.get("request_id") == rid for line in access()))
    line = next(line for line in access() if line.get("request_id") == rid)
    assert (line["client"], line["method"], line["path"], line["status"]) == (
        "127.0.0.1", "POST", "/hello?from=test", 200,
    )  # fmt: skip
    assert line["workflow"] == "hello"
    # The probes stay out of the access log, as under uvicorn.
    assert not [line for line in access() if line["path"] in ("/healthz", "/readyz")]


def test_a_request_head_over_the_limit_is_431(served: tuple[str, Path]) -> None:
    url, _ = served
    response = httpx.get(f"{url}/healthz", headers={"x-big": "a" * 20_000})
    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert httpx.get(f"{url}/healthz", headers={"x-fine": "a" * 8_000}).status_code == 200


def test_a_head_that_is_not_finished_in_time_is_cut_off(served: tuple[str, Path]) -> None:
    # CATALYST_HEADER_TIMEOUT=1: closed (granian sends no 408), long before the test's 10 s.
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
        seconds, answer = _closed_after(sock, 10)
    assert answer == b""
    assert 0.5 < seconds < 5


def test_a_body_that_never_starts_is_408(served: tuple[str, Path]) -> None:
    # The head promises 20 bytes that never come (under uvicorn serve's protocol answers this;
    # under granian read_input times the wait for the first bytes).
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 20\r\n\r\n"
        )
        started = time.monotonic()
        answer = _read_response(sock, started + 10)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"body_timeout" in answer
    assert time.monotonic() - started < 6


def test_a_body_that_stops_arriving_is_408(served: tuple[str, Path]) -> None:
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b'Content-Length: 20\r\n\r\n{"na'
        )
        answer = _read_response(sock, time.monotonic() + 10)
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(
    apps_dir: Path,
) -> None:
    # CATALYST_KEEP_ALIVE_TIMEOUT=1 with the head's default 10 s: granian has one timer for
    # both, so serve gives it the shorter.
    env = {"CATALYST_KEEP_ALIVE_TIMEOUT": "1"}
    with (
        running_server(
            "granian_app:app", cwd=apps_dir, env=env, extra_args=GRANIAN, startup_timeout=START
        ) as url,
        socket.create_connection(_address(url), timeout=10) as sock,
    ):
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        seconds, answer = _closed_after(sock, 10)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert seconds < 5


def test_connections_past_the_limit_wait_until_one_closes(apps_dir: Path) -> None:
    env = {"CATALYST_MAX_CONNECTIONS": "2", "CATALYST_KEEP_ALIVE_TIMEOUT": "30"}
    with running_server(
        "granian_app:app", cwd=apps_dir, env=env, extra_args=GRANIAN, startup_timeout=START
    ) as url:
        held = [socket.create_connection(_address(url), timeout=10) for _ in range(2)]
        try:
            for sock in held:  # one finished request each; the connections stay open
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                assert _read_response(sock, time.monotonic() + 10).startswith(b"HTTP/1.1 200 ")
            # granian does not refuse the third: it is not accepted until there is room.
            with pytest.raises(httpx.TimeoutException):
                httpx.get(f"{url}/healthz", timeout=1.5)
            held.pop().close()
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        finally:
            for sock in held:
                sock.close()


def test_slow_clients_do_not_keep_others_out(apps_dir: Path) -> None:
    # 30 connections that never finish their head (a header line every 0.3 s, for at most 12 s)
    # against a server allowed 8: they would hold every slot for as long as they like; with
    # the head timeout they are cut off after a second and the real client gets in.
    env = {"CATALYST_MAX_CONNECTIONS": "8", "CATALYST_HEADER_TIMEOUT": "1"}
    attackers: list[socket.socket] = []
    answered: list[float] = []
    with running_server(
        "granian_app:app", cwd=apps_dir, env=env, extra_args=GRANIAN, startup_timeout=START
    ) as url:
        try:
            for _ in range(30):
                sock = socket.create_connection(_address(url), timeout=5)
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
                attackers.append(sock)
            stop = threading.Event()

            def legitimate() -> None:
                while not stop.is_set():
                    try:
                        response = httpx.get(f"{url}/healthz", timeout=3)
                    except httpx.TransportError:
                        continue
                    if response.status_code == 200:
                        answered.append(time.monotonic())
                        return

            caller = threading.Thread(target=legitimate)
            caller.start()
            attack_ends = time.monotonic() + 12
            cut_off = 0
            while time.monotonic() < attack_ends and not answered:
                for sock in list(attackers):
                    try:
                        sock.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        attackers.remove(sock)
                        sock.close()
                        cut_off += 1
                time.sleep(0.3)
            attack_stopped = time.monotonic()
            stop.set()
            caller.join(timeout=20)
            assert answered, "the real request was never answered"
            assert answered[0] < attack_stopped
            assert cut_off > 0
        finally:
            for sock in attackers:
                sock.close()


def _serve(apps_dir: Path, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalyst_runtime.serve", "granian_app:app",
             "--port", str(port), *GRANIAN],
            cwd=apps_dir, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # so a failed test can kill granian's worker with it
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz").status_code == 200
        except httpx.TransportError:
            return False

    _eventually(answering, timeout=START)
    return process, url


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Whatever is left of the server's group (after a failed test): a granian killed alone
    leaves its worker serving."""
    with contextlib.suppress(ProcessLookupError):  # the group is gone: all stopped
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _in_flight(url: str, seconds: float) -> tuple[threading.Thread, list[Any]]:
    """A request to /slow running in a thread; its answer (or error) lands in the list."""
    outcome: list[Any] = []

    def call() -> None:
        try:
            outcome.append(httpx.get(f"{url}/slow", params={"seconds": seconds}, timeout=30))
        except httpx.TransportError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    return thread, outcome


def test_sigterm_lets_running_requests_finish_then_shuts_the_app_down(
    apps_dir: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "shutdown"
    process, url = _serve(apps_dir, {"SHUTDOWN_MARKER": str(marker)}, tmp_path / "serve.log")
    try:
        thread, outcome = _in_flight(url, 2)
        time.sleep(0.5)  # the request is running
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=30)
        assert isinstance(outcome[0], httpx.Response), outcome
        assert outcome[0].status_code == 200
        # granian exits 0 after a SIGTERM (uvicorn re-raises the signal: -15).
        assert process.wait(timeout=30) == 0
        assert marker.read_text() == "shut down"
    finally:
        _kill(process)


def test_a_request_running_past_the_shutdown_timeout_is_cut_off(
    apps_dir: Path, tmp_path: Path
) -> None:
    # CATALYST_SHUTDOWN_TIMEOUT=1: the worker is killed after it, so the app's shutdown does
    # not run (under uvicorn the request is cancelled and the shutdown runs).
    marker = tmp_path / "shutdown"
    env = {"SHUTDOWN_MARKER": str(marker), "CATALYST_SHUTDOWN_TIMEOUT": "1"}
    process, url = _serve(apps_dir, env, tmp_path / "serve.log")
    try:
        thread, outcome = _in_flight(url, 20)
        time.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        assert time.monotonic() - started < 10
        thread.join(timeout=30)
        assert isinstance(outcome[0], httpx.TransportError), outcome
        assert not marker.exists()
    finally:
        _kill(process)


def test_after_sigterm_readyz_drains_while_requests_are_still_served(
    apps_dir: Path, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    env = {"CATALYST_DRAIN_SECONDS": "3", "CATALYST_LOG_FORMAT": "json"}
    process, url = _serve(apps_dir, env, log)
    try:
        with httpx.Client() as client:
            assert client.get(f"{url}/readyz").status_code == 200
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _eventually(lambda: client.get(f"{url}/readyz").status_code == 503, timeout=2)
            assert client.get(f"{url}/readyz").json() == {"status": "draining"}
            assert client.get(f"{url}/slow", params={"seconds": 0}).status_code == 200
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - started >= 2.5  # it waited out the drain period
    finally:
        _kill(process)
    assert any("draining for 3 s" in line["message"] for line in _json_lines(log))


def test_a_start_up_config_error_is_one_line(apps_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPS_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "catalyst_runtime.serve", "ops_app:app",
         "--port", str(free_port()), *GRANIAN],
        cwd=apps_dir, env={**env, "CATALYST_LOG_FORMAT": "text"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "ConfigError: OPS_TOKEN: required by this service's workflows" in output
    assert "Traceback" not in output, output


def _serve_exits(argv: list[str], prelude: str = "pass") -> subprocess.CompletedProcess[str]:
    code = f"import sys; {prelude}; from catalyst_runtime.serve import main; main(sys.argv[1:])"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
    )


def test_without_granian_installed_serve_says_which_extra_in_one_line() -> None:
    # granian made unimportable, as in an environment without the extra.
    result = _serve_exits(["app:app", *GRANIAN], prelude="sys.modules['granian'] = None")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"catalyst_runtime.serve: {MISSING}"]


def test_reload_is_refused_under_granian() -> None:
    result = _serve_exits(["app:app", "--reload", *GRANIAN])
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "catalyst_runtime.serve: --reload is served by uvicorn only: "
        "drop --server granian in development"
    ]


def test_granian_options_come_from_the_settings() -> None:
    args = argparse.Namespace(
        host="0.0.0.0", port=9000, workers=None, log_level="trace", no_access_log=True
    )
    settings = Settings(
        max_header_bytes=4096, header_timeout=10, keep_alive_timeout=5,
        max_connections=300, shutdown_timeout=0.5,
    )  # fmt: skip
    assert granian_options(settings, args) == {
        "address": "0.0.0.0",
        "port": 9000,
        "workers": 1,
        "runtime_threads": 1,
        "backpressure": 300,
        "header_read_timeout_ms": 5000,  # the shorter of the head's and keep-alive's
        "max_buffer_size": 8192,  # granian's floor
        "workers_kill_timeout": 1,
        "log_level": "debug",  # granian has no trace level
        "log_access": False,
    }
    wide = Settings(max_header_bytes=65536, header_timeout=2, keep_alive_timeout=30)
    options = granian_options(wide, argparse.Namespace(**{**vars(args), "workers": 3}))
    assert (options["max_buffer_size"], options["header_read_timeout_ms"]) == (65536, 2000)
    assert options["workers"] == 3
