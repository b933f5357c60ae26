"""The ``service_outages`` golden under a few concurrent requests while its servers go away.

This is the pass/fail part of the bench's "faults under load" (``npm run bench``), at a scale
``npm test`` can afford. The generated service runs under real uvicorn (``running_server``)
against the test PostgreSQL and Redis, each reached through a loopback ``TcpProxy``: closing it
is, for this service, its server gone (connections cut, the port refusing) while the servers go
on serving the rest of the suite. Its connections carry a name of their own (PostgreSQL's
``application_name``, Redis's ``CLIENT SETNAME``), so the servers' own lists
(``pg_stat_activity``, ``CLIENT LIST``) count this service's connections and no one else's.

Covered elsewhere and not repeated here: one request during a Redis outage
(``test_redis_nodes.py``), ``/readyz`` following PostgreSQL (runtime ``test_probes.py``), the
drain period after SIGTERM (``test_probes.py``), a request cancelled when the graceful
shutdown runs out (runtime ``test_http_limits.py``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis
from catalyst_runtime.testing import TcpProxy, free_port, running_server

PACKAGE = "outages_live"
DSN_VAR = "CATALYST_TEST_POSTGRES_DSN"
CONCURRENCY = 6
POOL_SIZE = 4  # fewer connections than concurrent requests: some wait for one
START = 120.0  # a start-up can take long on a loaded 2-core machine


@pytest.fixture(scope="module")
def postgres_dsn() -> str:
    dsn = os.environ.get(DSN_VAR)
    if not dsn:
        pytest.skip(f"needs PostgreSQL: set {DSN_VAR} (node tools/runtime-tests.mjs does)")
    return dsn


@pytest.fixture(scope="module")
def service_root(golden_service: Callable[[str, str], tuple[Path, str]]) -> Path:
    return golden_service("service_outages", PACKAGE)[0]


@pytest.fixture
def name() -> str:
    """The name this test's service gives its connections."""
    return f"outages-{uuid.uuid4().hex[:12]}"


def _named(url: str, key: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{key}={name}"


def _service_env(postgres: str, redis_url: str, prefix: str, name: str) -> dict[str, str]:
    return {
        # asyncpg sends a DSN's unknown query parameters as server settings; redis-py names
        # each connection it opens after ``client_name``.
        "DATABASE_URL": _named(postgres, "application_name", name),
        "REDIS_URL": _named(redis_url, "client_name", name),
        "KEY_PREFIX": prefix,
        "CATALYST_POSTGRES_MAX_SIZE": str(POOL_SIZE),
    }


def _connections(postgres_dsn: str, redis_url: str, name: str) -> tuple[int, int]:
    """The service's open connections, as each server lists them: (PostgreSQL, Redis)."""

    async def postgres() -> int:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
            return int(await connection.fetchval(sql, name))
        finally:
            await connection.close()

    client = redis.Redis.from_url(redis_url)
    try:
        on_redis = sum(1 for c in client.client_list() if c.get("name") == name)
    finally:
        client.close()
    return asyncio.run(postgres()), on_redis


def _settles(read: Callable[[], Any], want: Callable[[Any], bool], timeout: float = 20.0) -> Any:
    """``read()`` once ``want`` holds for it (a server notices a closed socket a moment late)."""
    deadline = time.monotonic() + timeout
    value = read()
    while not want(value) and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


@dataclass
class Answer:
    sent: float
    status: int  # 0: no HTTP answer (reset, refused, time-out)
    body: Any
    phase: str  # when it was sent
    ended: str  # when its answer came


@dataclass
class Load:
    """``CONCURRENCY`` clients posting to ``/visit`` one request after another, in a thread of
    its own, each answer noted with the phase it was sent in."""

    url: str
    seconds: float = 0.05
    phase: str = "up"
    answers: list[Answer] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = False
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def _client_loop(self, index: int, client: httpx.AsyncClient) -> Any:
        async def loop() -> None:
            while not self._stop:
                phase, sent = self.phase, time.monotonic()
                body = {"page": f"p{index}", "seconds": self.seconds}
                try:
                    response = await client.post(f"{self.url}/visit", json=body)
                except httpx.HTTPError as exc:
                    self.answers.append(Answer(sent, 0, repr(exc), phase, self.phase))
                    continue
                try:
                    parsed: Any = response.json()
                except ValueError:
                    parsed = response.text
                self.answers.append(Answer(sent, response.status_code, parsed, phase, self.phase))

        return loop()

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=CONCURRENCY)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:
            await asyncio.gather(*(self._client_loop(i, client) for i in range(CONCURRENCY)))

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(timeout=60)
        assert not self._thread.is_alive(), "the load did not stop"

    def during(self, phase: str, seconds: float) -> None:
        self.phase = phase
        time.sleep(seconds)

    def until_ok(self, phase: str, timeout: float = 30.0) -> None:
        """Runs ``phase`` until a request sent in it was answered 200."""
        self.phase = phase
        deadline = time.monotonic() + timeout
        while not any(a.phase == phase and a.status == 200 for a in list(self.answers)):
            assert time.monotonic() < deadline, f"no 200 within {timeout:g} s of {phase}"
            time.sleep(0.1)


def _failed_node(answer: Answer) -> str | None:
    """The node a 5xx JSON answer names (``None`` for anything else)."""
    if not 500 <= answer.status < 600 or not isinstance(answer.body, dict):
        return None
    (detail,) = answer.body["detail"]
    assert detail["type"] in ("upstream_error", "timeout"), detail
    loc = detail["loc"]
    assert loc[0] == "nodes" and detail["msg"].startswith(f'node "{loc[1]}": '), detail
    return str(loc[1])


def test_each_server_stopped_under_load_is_a_5xx_naming_its_node_and_no_connection_leaks(
    service_root: Path, postgres_dsn: str, redis_url: str, prefix: str, name: str
) -> None:
    pg_proxy, redis_proxy = TcpProxy(postgres_dsn), TcpProxy(redis_url)
    pg_proxy.open()
    redis_proxy.open()
    env = _service_env(pg_proxy.url, redis_proxy.url, prefix, name)
    try:
        with running_server(
            f"{PACKAGE}.main:app", cwd=service_root, env=env, startup_timeout=START
        ) as url:
            with Load(url) as load:
                load.until_ok("warm")
                load.during("up", 1.0)
                warm = _connections(postgres_dsn, redis_url, name)
                # The phase changes before each cut, so a request sent while both servers were
                # there but answered after the cut is never counted among the calm ones.
                load.phase = "postgres down"
                pg_proxy.close()  # PostgreSQL gone for this service
                load.during("postgres down", 1.5)
                pg_proxy.open()
                load.until_ok("postgres back")
                load.during("postgres back", 1.0)
                load.phase = "redis down"
                redis_proxy.close()  # Redis gone
                load.during("redis down", 1.5)
                redis_proxy.open()
                load.until_ok("redis back")
                load.during("redis back", 1.0)
                load.during("steady", 1.5)
            after = _connections(postgres_dsn, redis_url, name)
            answers = load.answers
            # The same process answers everything after both outages.
            final = httpx.post(f"{url}/visit", json={"page": "last"}, timeout=30)
            assert final.status_code == 200, final.text
        # Shut down (SIGTERM): every connection the service held is closed.
        gone = _settles(lambda: _connections(postgres_dsn, redis_url, name), lambda c: c == (0, 0))
    finally:
        pg_proxy.shutdown()
        redis_proxy.shutdown()

    # No request went unanswered: every one is a 200 or a 5xx in JSON naming a node.
    unanswered = [a for a in answers if a.status == 0]
    assert not unanswered, unanswered[:3]
    odd = [a for a in answers if a.status != 200 and _failed_node(a) is None]
    assert not odd, odd[:3]
    # While a server was away, the failures named the node that needs it, and only that one.
    assert {_failed_node(a) for a in answers if a.phase == "postgres down"} >= {"page_row"}
    assert {_failed_node(a) for a in answers if a.phase == "redis down"} >= {"visits"}
    assert {_failed_node(a) for a in answers if a.phase == "postgres down"} <= {"page_row", None}
    assert {_failed_node(a) for a in answers if a.phase == "redis down"} <= {"visits", None}
    # With both servers there, sent and answered: every request is a 200.
    calm = [a for a in answers if a.phase == a.ended and a.phase in ("up", "steady")]
    assert calm and all(a.status == 200 for a in calm), [a for a in calm if a.status != 200][:3]
    # No leak: the outages left no more connections open than the load needs (the PostgreSQL
    # pool's size; one Redis connection per request in flight at most), then none at all.
    assert warm[0] >= 1 and warm[1] >= 1, warm
    assert after[0] <= POOL_SIZE and after[1] <= CONCURRENCY, (warm, after)
    assert gone == (0, 0), (warm, after, gone)


def test_sigterm_with_requests_in_flight_lets_them_finish_and_closes_the_pools(
    service_root: Path, postgres_dsn: str, redis_url: str, prefix: str, name: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalyst_runtime.serve", f"{PACKAGE}.main:app",
             "--port", str(port), "--no-access-log"],
            cwd=service_root,
            env={**os.environ, **_service_env(postgres_dsn, redis_url, prefix, name)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _settles(lambda: _answers(url), bool, timeout=START)
        assert process.poll() is None, log.read_text()

        async def in_flight() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=CONCURRENCY)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                body = {"page": "slow", "seconds": 1.5}
                requests = [
                    asyncio.ensure_future(client.post("/visit", json=body))
                    for _ in range(CONCURRENCY)
                ]
                # SIGTERM once the pool's every connection is busy with a request's query (the
                # other requests wait for one): all of them are in flight.
                while await asyncio.to_thread(_sleeping, postgres_dsn, name) < POOL_SIZE:
                    assert not any(r.done() for r in requests), "a request ended too soon"
                    await asyncio.sleep(0.05)
                process.send_signal(signal.SIGTERM)
                return await asyncio.gather(*requests)

        answers = asyncio.run(in_flight())
        # uvicorn's convention: once shut down, the SIGTERM is raised again (status 143 in a
        # shell); anything else (a crash, the grace period running out) is a different status.
        assert process.wait(timeout=60) == -signal.SIGTERM, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert [a.status_code for a in answers] == [200] * CONCURRENCY, [a.text for a in answers]
    assert all(a.json()["page"] == "slow" for a in answers)
    text = log.read_text()
    assert "Traceback" not in text and "timeout graceful shutdown exceeded" not in text, text
    gone = _settles(lambda: _connections(postgres_dsn, redis_url, name), lambda c: c == (0, 0))
    assert gone == (0, 0)  # the pools were closed, not left to the operating system


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _sleeping(postgres_dsn: str, name: str) -> int:
    """How many of the service's connections are running a query now."""

    async def count() -> int:
        connection = await asyncpg.connect(postgres_dsn)
        try:
            sql = (
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                "AND state = 'active' AND query LIKE '%pg_sleep%'"
            )
            return int(await connection.fetchval(sql, name))
        finally:
            await connection.close()

    return asyncio.run(count())
