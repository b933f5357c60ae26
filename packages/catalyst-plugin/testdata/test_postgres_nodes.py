"""The ``postgres_nodes`` golden, served for real: uvicorn, asyncpg, the test PostgreSQL.

The generated package runs under ``catalyst_runtime.testing.running_server`` (real uvicorn in a
subprocess) with ``DATABASE_URL`` pointing at the PostgreSQL that ``tools/runtime-tests.mjs``
starts (``CATALYST_TEST_POSTGRES_DSN``), and is called over HTTP. The workflows read and write a
table ``golden_people`` this module creates and drops.

Concurrency is proven by ordering, not wall time: each of the four independent nodes of
``fanout`` reports when its statement started and when it finished, by the server's clock, and
every one started before any finished.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from catalyst_runtime.testing import running_server

DSN_VAR = "CATALYST_TEST_POSTGRES_DSN"

SETUP = """
DROP TABLE IF EXISTS golden_people;
CREATE TABLE golden_people (
    id serial PRIMARY KEY,
    name text NOT NULL,
    balance numeric(12, 2) NOT NULL,
    born date,
    ref uuid NOT NULL,
    tags text[] NOT NULL,
    meta jsonb NOT NULL
);
INSERT INTO golden_people (name, balance, born, ref, tags, meta) VALUES
    ('Ada Lovelace', 1200.50, '1815-12-10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     ARRAY['math', 'poetry'], '{"lang": "en", "notes": [1, 2]}'),
    ('Grace Hopper', 99.00, '1906-12-09', 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a12',
     ARRAY['cobol'], '{}');
"""


def _dsn() -> str:
    dsn = os.environ.get(DSN_VAR)
    if not dsn:
        pytest.skip(f"needs PostgreSQL: set {DSN_VAR} (node tools/runtime-tests.mjs does)")
    return dsn


async def _sql(dsn: str, script: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(script)
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def service(golden_service: Callable[[str, str], tuple[Path, str]]) -> Iterator[str]:
    dsn = _dsn()
    root, app = golden_service("postgres_nodes", "postgres_live")
    asyncio.run(_sql(dsn, SETUP))
    try:
        with running_server(app, cwd=root, env={"DATABASE_URL": dsn}) as url:
            yield url
    finally:
        asyncio.run(_sql(dsn, "DROP TABLE IF EXISTS golden_people"))


def test_rows_come_back_as_json(service: str) -> None:
    response = httpx.post(f"{service}/people", json={"name": "ada"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "people": [
            {
                "id": 1,
                "name": "Ada Lovelace",
                "balance": 1200.5,
                "born": "1815-12-10",
                "ref": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                "tags": ["math", "poetry"],
                "meta": {"lang": "en", "notes": [1, 2]},
            }
        ],
        "count": 1,
        "richest": "Ada Lovelace",
        "total": 2,
    }
    timing = response.headers["server-timing"]
    for node in ("matches", "richest", "people_count", "total"):
        assert f"{node};dur=" in timing


def test_a_value_sent_as_a_parameter_is_never_sql(service: str) -> None:
    response = httpx.post(f"{service}/people", json={"name": "' OR '1'='1", "limit": 5})
    assert response.status_code == 200, response.text
    assert response.json()["people"] == []


def test_execute_writes_with_bound_values_and_reports_the_status(service: str) -> None:
    person = {
        "name": "Edsger Dijkstra",
        "balance": 7.25,
        "born": "1930-05-11",
        "tags": ["goto", "harmful'; --"],
        "meta": {"award": "Turing", "year": 1972, "nested": {"ok": True}},
    }
    response = httpx.post(f"{service}/add_person", json=person)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "INSERT 0 1"}
    found = httpx.post(f"{service}/people", json={"name": "dijkstra"}).json()
    (row,) = found["people"]
    assert row["balance"] == 7.25
    assert row["born"] == "1930-05-11"
    assert row["tags"] == ["goto", "harmful'; --"]
    assert row["meta"] == person["meta"]
    assert found["total"] == 3


def test_a_sql_error_is_a_502_naming_the_node_without_the_sql(service: str) -> None:
    response = httpx.post(f"{service}/divide", json={"a": 7, "b": 0})
    assert response.status_code == 502
    assert response.json() == {
        "detail": [
            {
                "type": "upstream_error",
                "loc": ["nodes", "quotient"],
                "msg": 'node "quotient": PostgreSQL error (DivisionByZeroError, SQLSTATE 22012)',
            }
        ]
    }
    assert "SELECT" not in response.text
    # The service keeps serving.
    ok = httpx.post(f"{service}/divide", json={"a": 7, "b": 2})
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"q": 3}


def test_a_bad_input_is_a_422_naming_the_field(service: str) -> None:
    response = httpx.post(f"{service}/divide", json={"a": 7, "b": "zero"})
    assert response.status_code == 422
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["body", "b"]


def test_a_query_past_its_timeout_is_a_504_naming_the_node(service: str) -> None:
    started = time.monotonic()
    response = httpx.post(f"{service}/divide", json={"a": 7, "b": 1}, timeout=10)
    assert time.monotonic() - started < 4  # cancelled at 0.2 s, not after pg_sleep(5)
    assert response.status_code == 504
    (detail,) = response.json()["detail"]
    assert detail["loc"] == ["nodes", "nap"]
    assert detail["type"] == "timeout"


def test_four_independent_queries_run_at_once(service: str) -> None:
    # The first call opens the pool's extra connections; the second is measured.
    assert httpx.post(f"{service}/fanout", json={}).status_code == 200
    response = httpx.post(f"{service}/fanout", json={})
    assert response.status_code == 200, response.text
    rows = response.json().values()
    starts = [dt.datetime.fromisoformat(r["started"]) for r in rows]
    ends = [dt.datetime.fromisoformat(r["finished"]) for r in rows]
    assert len(starts) == 4
    # Every statement had started on the server before any of them finished: they overlapped,
    # which one after the other could not do (an ordering, not a time bound a slow machine breaks).
    assert max(starts) < min(ends), rows
