"""The ``parallel_branches`` golden, served for real: uvicorn, asyncpg, the test PostgreSQL.

The generated package runs under ``running_server`` with ``DATABASE_URL`` at the PostgreSQL
that ``tools/runtime-tests.mjs`` starts and a pool of two connections, and is called over HTTP:
two branches sleeping in the database overlap; a branch past the node's timeout is cancelled,
the answer is a 504 naming the node, the server shows no statement still running and the small
pool keeps serving; ``on_timeout: partial`` gives null for the late branch; a node failing in a
branch is named with its branch; guards and ``after`` inside a branch hold.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from catalyst_runtime.testing import running_server

DSN_VAR = "CATALYST_TEST_POSTGRES_DSN"


def _dsn() -> str:
    dsn = os.environ.get(DSN_VAR)
    if not dsn:
        pytest.skip(f"needs PostgreSQL: set {DSN_VAR} (node tools/runtime-tests.mjs does)")
    return dsn


@pytest.fixture(scope="module")
def service(golden_service: Callable[[str, str], tuple[Path, str]]) -> Iterator[str]:
    root, app = golden_service("parallel_branches", "parallel_live")
    env = {
        "DATABASE_URL": _dsn(),
        "CATALYST_POSTGRES_MIN_SIZE": "1",
        # Two connections: a cancelled branch that kept its connection would starve the pool.
        "CATALYST_POSTGRES_MAX_SIZE": "2",
        "PGAPPNAME": "parallel_live",
    }
    with running_server(app, cwd=root, env=env) as url:
        yield url


async def _running_sleeps(dsn: str) -> int:
    """Statements sleeping in ``pg_sleep`` right now, from any other connection."""
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
            " AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
        )
        return count
    finally:
        await connection.close()


def _timed_post(url: str, body: dict[str, object]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(url, json=body, timeout=10)
    return response, time.monotonic() - started


def test_two_branches_run_at_the_same_time(service: str) -> None:
    httpx.post(f"{service}/user_page", json={"user": 1})  # the pool's connections, warmed
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(httpx.post, f"{service}/user_page", json={"user": 7, "seconds": 1})
        # Both branches' statements seen sleeping in the database at once: they overlapped
        # (an ordering, not a time bound a loaded machine could break).
        most = 0
        while not call.done() and most < 2:
            most = max(most, asyncio.run(_running_sleeps(_dsn())))
        response = call.result()
    assert most == 2
    assert response.status_code == 200, response.text
    assert response.json()["card"] == {"name": "user 7", "orders": 3}
    entries = [part.split(";")[0] for part in response.headers["server-timing"].split(", ")]
    assert set(entries) == {
        "profile_row",
        "order_rows",
        "order_summary",
        "lookups",
        "card",
        "total",
    }


def test_a_branch_past_the_timeout_is_cancelled_and_its_connection_returned(service: str) -> None:
    dsn = _dsn()
    for _ in range(4):  # twice the pool's size: leaked connections would block the next request
        response, elapsed = _timed_post(f"{service}/deadline", {"seconds": 5})
        assert response.status_code == 504, response.text
        assert response.json()["detail"] == [
            {
                "type": "timeout",
                "loc": ["nodes", "race"],
                "msg": 'node "race": branch "slow" did not finish within 0.1 s',
            }
        ]
        # Cancelled at 0.1 s, long before the branch's five seconds (generous: a loaded machine).
        assert elapsed < 4, elapsed
        # Cancelled in the database too, not left sleeping for the rest of its five seconds.
        assert asyncio.run(_running_sleeps(dsn)) == 0
    response, elapsed = _timed_post(f"{service}/user_page", {"user": 2})
    assert response.status_code == 200, response.text
    assert elapsed < 4, elapsed  # not waiting for a connection a cancelled branch kept


def test_partial_gives_null_for_the_late_branch(service: str) -> None:
    response, elapsed = _timed_post(f"{service}/best_effort", {"seconds": 5})
    assert response.status_code == 200, response.text
    assert response.json() == {"slow": -1, "quick": True}
    assert elapsed < 4, elapsed  # answered at the 0.1 s timeout, not after the five seconds
    response = httpx.post(f"{service}/best_effort", json={"seconds": 0})
    assert response.json() == {"slow": 1, "quick": True}


def test_guards_and_after_inside_a_branch(service: str) -> None:
    response = httpx.post(f"{service}/guarded", json={"user": 3})
    assert response.status_code == 200, response.text
    assert response.json() == {"profile": "user 3", "orders": 2, "audited": False}
    response = httpx.post(f"{service}/guarded", json={"user": 2, "with_audit": True})
    assert response.json() == {"profile": "user 2", "orders": 3, "audited": True}


def test_a_failing_node_is_named_with_its_branch(service: str) -> None:
    response = httpx.post(f"{service}/guarded", json={"user": 0})
    assert response.status_code == 502, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["nodes", "both", "orders", "order_count"]
    assert detail["msg"].startswith(
        'node "order_count" in branch "orders" of "both": PostgreSQL error (DivisionByZeroError'
    )
    assert "SELECT" not in detail["msg"]
