"""The request side of the service's limits, over real HTTP: Content-Type, body size, body time,
validation errors, clients that leave mid-body (docs/runtime.md, "Limits")."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict

from catalyst_runtime import Settings, WorkflowRouter, create_app, read_input
from catalyst_runtime.testing import running_server

from .conftest import in_process

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(apps_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One probe service for the module, its log in a file the tests read."""
    log = tmp_path_factory.mktemp("limits") / "server.log"
    env = {"CATALYST_BODY_TIMEOUT": "1.5"}
    with running_server("probe_app:app", cwd=apps_dir, env=env, log_file=log) as url:
        yield url, log


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    """Whatever the server sends until it closes or the head and body have arrived."""
    data = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([sock], [], [], 0.2)
        if not ready:
            if b"\r\n\r\n" in data:
                head, _, body = data.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(body) >= length[0]:
                    return data
            continue
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    return data


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     "application/jsonx", "text/json", "application/+json"],
)  # fmt: skip
def test_a_body_not_declared_as_json_is_415(
    served: tuple[str, Path], content_type: str | None
) -> None:
    # These are the types a cross-site form or fetch can send without a CORS preflight.
    url, _ = served
    headers = {} if content_type is None else {"content-type": content_type}
    response = httpx.post(f"{url}/hello", content=b'{"name": "Ada"}', headers=headers)
    assert response.status_code == 415, response.text
    [detail] = response.json()["detail"]
    assert detail["type"] == "unsupported_media_type"
    assert detail["loc"] == ["header", "content-type"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/vnd.api+json", "application/merge-patch+json; charset=UTF-8"],
)  # fmt: skip
def test_json_media_types_are_accepted(served: tuple[str, Path], content_type: str) -> None:
    url, _ = served
    response = httpx.post(
        f"{url}/hello", content=b'{"name": "Ada"}', headers={"content-type": content_type}
    )
    assert response.status_code == 200, response.text


def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (100 * MiB)
        )
        # Not one byte of the body is sent: the answer cannot depend on reading it.
        answer = _read_response(sock, time.monotonic() + 10)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b"connection: close" in answer.lower()
    assert b"larger than 1048576 bytes" in answer


def test_a_streamed_body_over_the_limit_is_413_while_the_client_is_still_sending(
    served: tuple[str, Path],
) -> None:
    url, _ = served
    chunk = b"[" + b"1," * 32_000 + b"1]"
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    answer = b""
    deadline = time.monotonic() + 20
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.setblocking(False)
        pending = b""
        while sent < 100 * MiB and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 0.5)
            if readable:
                sock.setblocking(True)
                answer = _read_response(sock, deadline)
                break
            if writable:
                pending = pending or framed
                try:
                    n = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    break
                pending = pending[n:]
                sent += n
    assert answer.startswith(b"HTTP/1.1 413 "), (sent, answer[:200])
    assert sent < 16 * MiB  # the server answered long before the 100 MiB were sent


def test_a_body_that_stops_arriving_is_408(served: tuple[str, Path]) -> None:
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"name": '
        )
        answer = _read_response(sock, time.monotonic() + 15)  # the server allows 1.5 s
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_a_body_that_never_starts_is_408(served: tuple[str, Path]) -> None:
    # The head promises 100 bytes and not one follows: the wait for the first is bounded too.
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(
            b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n"
        )
        answer = _read_response(sock, time.monotonic() + 15)  # the server allows 1.5 s
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def test_many_validation_errors_give_a_bounded_422(served: tuple[str, Path]) -> None:
    # 60,000 unknown keys (about 0.6 MB): each one is an error, and "name" is missing too.
    url, _ = served
    body = b"{" + b",".join(b'"k%d":1' % i for i in range(60_000)) + b"}"
    response = httpx.post(
        f"{url}/hello", content=body, headers={"content-type": "application/json"}, timeout=60
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 21
    assert detail[0] == {"type": "missing", "loc": ["body", "name"], "msg": "Field required"}
    assert detail[1]["type"] == "extra_forbidden"
    assert detail[-1] == {
        "type": "too_many_errors",
        "loc": ["body"],
        "msg": "59981 more errors not shown",
    }
    assert len(response.content) < 4096


def test_a_client_leaving_mid_body_logs_one_line(served: tuple[str, Path]) -> None:
    # Three clients leave mid-body, one after another: one line, no traceback (the two repeats
    # fall within CATALYST_LOG_REPEAT_SECONDS, 10 s, and are counted, not written).
    url, log = served
    for _ in range(3):
        with socket.create_connection(_address(url), timeout=10) as sock:
            sock.sendall(
                b"POST /hello HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"name"'
            )
            time.sleep(0.1)  # the server is now waiting for the rest
    # The service still answers, and has logged the departure.
    assert httpx.post(f"{url}/hello", json={"name": "Ada"}).status_code == 200
    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text()
        if "client disconnected" in text:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # had there been more lines, they would be there by now
    text = log.read_text()
    # Not a terminal: one JSON object a line (CATALYST_LOG_FORMAT=auto).
    lines = [orjson.loads(line) for line in text.splitlines() if "disconnect" in line.lower()]
    assert [(line["level"], line["message"]) for line in lines] == [
        ("info", "POST /hello: client disconnected before the request body was complete")
    ], text[-3000:]
    assert "Traceback" not in text, text[-3000:]


class Loose(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[int] = []


def _loose_app(settings: Settings) -> Any:
    router = WorkflowRouter()

    @router.post("/loose")
    async def loose(request: Request) -> Response:
        await read_input(request, Loose)
        return Response(b"{}", media_type="application/json")

    return create_app(router, title="loose", settings=settings)


@pytest.mark.anyio
async def test_the_limits_come_from_the_settings() -> None:
    app = _loose_app(Settings(max_validation_errors=2, max_body_bytes=1000))
    async with in_process(app) as client:
        few = await client.post("/loose", json={"items": ["a", "b"]})
        many = await client.post("/loose", json={"items": ["a", "b", "c", "d"]})
        big = await client.post("/loose", json={"items": [1] * 600})
    assert few.status_code == 422
    assert [d["loc"] for d in few.json()["detail"]] == [["body", "items", 0], ["body", "items", 1]]
    assert many.status_code == 422
    assert many.json()["detail"][-1]["msg"] == "2 more errors not shown"
    assert len(many.json()["detail"]) == 3
    assert big.status_code == 413
    assert big.json()["detail"][0]["msg"] == "request body is larger than 1000 bytes"


# The server: request heads and slow clients.


def test_a_request_head_over_the_limit_is_431(served: tuple[str, Path]) -> None:
    url, _ = served
    response = httpx.get(f"{url}/probe", headers={"x-big": "a" * 20_000})
    assert response.status_code == 431
    assert response.headers["connection"] == "close"
    assert httpx.get(f"{url}/probe", headers={"x-fine": "a" * 8_000}).status_code == 200


def test_a_head_that_keeps_growing_is_cut_off_before_it_ends(served: tuple[str, Path]) -> None:
    # One header value sent in pieces, never finished: the parser holds it until it ends, so
    # only the count of raw bytes can stop it.
    url, _ = served
    sent = 0
    refused = False
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(b"GET /probe HTTP/1.1\r\nHost: t\r\nX-Endless: ")
        try:
            while sent < 64 * MiB:
                sock.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            refused = True
        answer = _read_response(sock, time.monotonic() + 10)
    # The server closed the connection; what was sent before the client noticed is mostly the
    # two socket buffers of loopback (a few MB), not anything the server kept.
    assert refused, f"the server read all {sent} bytes"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:200]


def _serve_with_few_descriptors(apps_dir: Path, env: dict[str, str]) -> tuple[Any, str]:
    import os
    import resource
    import subprocess
    import sys

    from catalyst_runtime.testing import free_port

    def few_descriptors() -> None:  # runs in the child before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    port = free_port()
    command = [sys.executable, "-m", "catalyst_runtime.serve", "probe_app:app",
               "--port", str(port), "--no-access-log"]  # fmt: skip
    server = subprocess.Popen(
        command, cwd=apps_dir, env={**os.environ, **env}, preexec_fn=few_descriptors,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/probe", timeout=1)
            return server, url
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("server did not start")


def test_slow_clients_do_not_keep_others_out(apps_dir: Path) -> None:
    # A bounded slowloris on loopback: 100 connections that never finish their request head
    # (a header line every 0.3 s, for at most 12 s) against a server allowed 64 descriptors.
    # Without a head timeout they hold every descriptor for as long as they like, and every
    # other connection is accepted and closed at once (libuv's answer to EMFILE), so the real
    # client below, trying again and again, is never answered while the attack lasts; with the
    # timeout they are cut off after a second and it is.
    import threading

    server, url = _serve_with_few_descriptors(apps_dir, {"CATALYST_HEADER_TIMEOUT": "1"})
    attackers: list[socket.socket] = []
    answered: list[float] = []
    try:
        for _ in range(100):
            sock = socket.create_connection(_address(url), timeout=5)
            sock.sendall(b"GET /probe HTTP/1.1\r\nHost: t\r\n")
            attackers.append(sock)

        stop = threading.Event()

        def legitimate() -> None:
            while not stop.is_set():
                try:
                    response = httpx.get(f"{url}/probe", timeout=5)
                except httpx.TransportError:
                    time.sleep(0.2)
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
        caller.join(timeout=40)
        for sock in attackers:
            sock.close()
        assert answered, "the real request was never answered"
        # It was answered while the attack was still going on, not after it stopped.
        assert answered[0] < attack_stopped
        assert cut_off > 0
    finally:
        for sock in attackers:
            sock.close()
        server.terminate()
        server.wait(timeout=20)


def test_a_malformed_request_is_still_a_400(served: tuple[str, Path]) -> None:
    url, _ = served
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_response(sock, time.monotonic() + 10)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert httpx.get(f"{url}/probe").status_code == 200


def test_a_bad_limit_stops_serve_with_one_line(apps_dir: Path) -> None:
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "catalyst_runtime.serve", "probe_app:app"],
        cwd=apps_dir,
        env={**os.environ, "CATALYST_MAX_CONNECTIONS": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "catalyst_runtime.serve: CATALYST_MAX_CONNECTIONS: expected a whole number >= 1, "
        "like 512; got 'lots'"
    ]


def test_connections_past_the_limit_get_503_and_idle_ones_are_closed(apps_dir: Path) -> None:
    env = {"CATALYST_MAX_CONNECTIONS": "3", "CATALYST_KEEP_ALIVE_TIMEOUT": "1"}
    with running_server("probe_app:app", cwd=apps_dir, env=env) as url:
        # uvicorn counts the asking connection too: two open ones and a third make three.
        held = [socket.create_connection(_address(url), timeout=10) for _ in range(2)]
        try:
            for sock in held:  # one finished request each; the connections stay open
                sock.sendall(b"GET /probe HTTP/1.1\r\nHost: t\r\n\r\n")
                assert _read_response(sock, time.monotonic() + 10).startswith(b"HTTP/1.1 200 ")
            assert httpx.get(f"{url}/probe").status_code == 503
            # Idle past the keep-alive timeout, the server closes them; then there is room.
            for sock in held:
                assert _read_response(sock, time.monotonic() + 15) == b""
            assert httpx.get(f"{url}/probe").status_code == 200
        finally:
            for sock in held:
                sock.close()
