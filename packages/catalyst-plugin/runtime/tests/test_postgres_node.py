"""pg_query (the ``postgres`` node) against the real PostgreSQL the suite starts."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

import asyncpg
import pytest

from catalyst_runtime import (
    ConfigError,
    ConnectionPools,
    ExecutionContext,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    pg_query,
)
from catalyst_runtime.postgres_node import plain


@asynccontextmanager
async def context(dsn: str, max_size: int = 4) -> AsyncIterator[ExecutionContext]:
    settings = Settings(postgres_dsn=dsn, postgres_min_size=1, postgres_max_size=max_size)
    pools = await ConnectionPools.create(settings, ["postgres"])
    try:
        yield ExecutionContext("wf", None, pools=pools)
    finally:
        await pools.close()


@pytest.mark.anyio
async def test_types_come_back_as_json_ready_values(postgres_dsn: str) -> None:
    ref = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    async with context(postgres_dsn) as ctx:
        row = await pg_query(
            ctx,
            "types",
            """SELECT 12.50::numeric AS price, 3.00::numeric AS whole,
                      123456789012345678901234567890::numeric AS huge,
                      'NaN'::numeric AS nan, 9007199254740993::bigint AS big,
                      DATE '2024-02-29' AS day,
                      TIMESTAMPTZ '2024-01-02 03:04:05.5+00' AS at,
                      TIME '10:11:12' AS clock, INTERVAL '1 minute 1.5 seconds' AS span,
                      $1::uuid AS ref,
                      '{"a": [1, {"b": null}], "n": 12345678901234567890}'::jsonb AS doc,
                      '[1, 2]'::json AS list, ARRAY['x', NULL, 'z']::text[] AS tags,
                      ARRAY[1.5, 2]::numeric[] AS amounts, NULL::text AS nothing,
                      true AS yes, '\\x0aff'::bytea AS raw, '10.0.0.1'::inet AS addr,
                      ROW(1, 'a') AS pair""",
            [ref],
            mode="row",
        )
    assert row == {
        "price": 12.5,
        "whole": 3,
        "huge": 123456789012345678901234567890,
        "nan": None,
        "big": 9007199254740993,
        "day": "2024-02-29",
        "at": "2024-01-02T03:04:05.500000+00:00",
        "clock": "10:11:12",
        "span": 61.5,
        "ref": str(ref),
        "doc": {"a": [1, {"b": None}], "n": 12345678901234567890},
        "list": [1, 2],
        "tags": ["x", None, "z"],
        "amounts": [1.5, 2],
        "nothing": None,
        "yes": True,
        "raw": "0aff",
        "addr": "10.0.0.1",
        "pair": [1, "a"],  # an anonymous record: its fields have no names
    }
    assert type(row["whole"]) is int


@pytest.mark.anyio
async def test_parameters_are_bound_values(postgres_dsn: str) -> None:
    async with context(postgres_dsn) as ctx:
        row = await pg_query(
            ctx,
            "echo",
            "SELECT $1::text AS text, $2::jsonb AS doc, $3::text[] AS tags, $4::numeric AS n,"
            " $5::date AS day, $6::int AS missing",
            [
                "'; DROP TABLE x; --",
                {"k": [1, "two", None]},
                ["a", "b"],
                1.25,
                dt.date(2020, 1, 2),
                None,
            ],
            mode="row",
        )
    assert row == {
        "text": "'; DROP TABLE x; --",
        "doc": {"k": [1, "two", None]},
        "tags": ["a", "b"],
        "n": 1.25,
        "day": "2020-01-02",
        "missing": None,
    }


@pytest.mark.anyio
async def test_modes(postgres_dsn: str) -> None:
    table = f"pg_node_{uuid.uuid4().hex[:12]}"
    setup = await asyncpg.connect(postgres_dsn)
    try:
        await setup.execute(f"CREATE TABLE {table} (id serial PRIMARY KEY, name text)")
        async with context(postgres_dsn) as ctx:
            insert = f"INSERT INTO {table} (name) VALUES ($1)"
            assert await pg_query(ctx, "add", insert, ["Ada"], mode="execute") == {
                "status": "INSERT 0 1"
            }
            await pg_query(ctx, "add", insert, ["Grace"], mode="execute")
            select = f"SELECT id, name FROM {table} WHERE name LIKE $1 ORDER BY id"
            assert await pg_query(ctx, "all", select, ["%a%"]) == {
                "rows": [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}],
                "count": 2,
            }
            assert await pg_query(ctx, "none", select, ["%z%"], mode="rows") == {
                "rows": [],
                "count": 0,
            }
            assert await pg_query(ctx, "one", select, ["G%"], mode="row") == {
                "id": 2,
                "name": "Grace",
            }
            assert await pg_query(ctx, "one", select, ["z"], mode="row") is None
            count = f"SELECT count(*) FROM {table}"
            assert await pg_query(ctx, "n", count, mode="value") == 2
            assert await pg_query(ctx, "n", f"{select} LIMIT 0", ["%"], mode="value") is None
            assert await pg_query(ctx, "del", f"DELETE FROM {table}", mode="execute") == {
                "status": "DELETE 2"
            }
    finally:
        await setup.execute(f"DROP TABLE IF EXISTS {table}")
        await setup.close()


@pytest.mark.anyio
async def test_sql_errors_name_the_node_and_never_the_sql_or_values(postgres_dsn: str) -> None:
    async with context(postgres_dsn) as ctx:
        with pytest.raises(UpstreamError) as caught:
            await pg_query(ctx, "divide", "SELECT $1::int / $2::int", [7, 0], mode="value")
        assert caught.value.status_code == 502
        assert caught.value.node_id == "divide"
        assert caught.value.message == (
            'node "divide": PostgreSQL error (DivisionByZeroError, SQLSTATE 22012)'
        )
        with pytest.raises(UpstreamError) as caught:
            await pg_query(
                ctx, "q", "SELECT secret_column FROM pg_class WHERE relname = $1", ["hunter2"]
            )
        body = str(caught.value.to_body())
        assert "SELECT" not in body and "hunter2" not in body and "secret_column" not in body
        # The pool is fine afterwards.
        assert await pg_query(ctx, "ok", "SELECT 1", mode="value") == 1


@pytest.mark.anyio
async def test_a_timeout_is_a_504_and_the_connection_goes_back(postgres_dsn: str) -> None:
    async with context(postgres_dsn, max_size=1) as ctx:
        with pytest.raises(NodeTimeoutError) as caught:
            await pg_query(ctx, "nap", "SELECT pg_sleep(5)", mode="execute", timeout=0.2)
        assert caught.value.status_code == 504
        assert caught.value.node_id == "nap"
        assert ctx.pools is not None
        # The only connection is free again and usable at once.
        assert await pg_query(ctx, "ok", "SELECT 2", mode="value", timeout=2) == 2


@pytest.mark.anyio
async def test_a_connection_lost_mid_query_is_retried_once_on_a_fresh_one(
    postgres_dsn: str,
) -> None:
    marker = f"lost_{uuid.uuid4().hex[:12]}"
    query = f"SELECT pg_backend_pid() AS {marker} FROM pg_sleep(0.3)"
    killer = await asyncpg.connect(postgres_dsn)

    async def kill(times: int) -> list[int]:
        # Each backend running the node's query, ended by the server as a restart would.
        killed: list[int] = []
        for _ in range(500):
            pid: int | None = await killer.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1"
                " AND pid <> pg_backend_pid() AND NOT pid = ANY($2::int[])",
                f"%{marker}%",
                killed,
            )
            if pid is not None:
                assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
                killed.append(pid)
                if len(killed) == times:
                    return killed
            await asyncio.sleep(0.01)
        raise AssertionError("the query did not show up in pg_stat_activity")

    try:
        async with context(postgres_dsn, max_size=1) as ctx:
            once = asyncio.ensure_future(kill(1))
            answered = await pg_query(ctx, "pid", query, mode="value")
            assert answered not in await once  # the answer came from a second connection
            # The retry happens once: a connection lost twice fails the node, naming it.
            twice = asyncio.ensure_future(kill(2))
            with pytest.raises(UpstreamError) as caught:
                await pg_query(ctx, "pid", query, mode="value")
            await twice
            assert caught.value.node_id == "pid"
            assert "ConnectionDoesNotExistError" in caught.value.message
    finally:
        await killer.close()


@pytest.mark.anyio
async def test_an_idle_connection_cut_by_the_server_is_replaced(postgres_dsn: str) -> None:
    async with context(postgres_dsn, max_size=1) as ctx:
        first = await pg_query(ctx, "pid", "SELECT pg_backend_pid()", mode="value")
        killer = await asyncpg.connect(postgres_dsn)
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", first)
            for _ in range(100):
                sql = "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1"
                if await killer.fetchval(sql, first):
                    break
                await asyncio.sleep(0.02)
        finally:
            await killer.close()
        second = await pg_query(ctx, "pid", "SELECT pg_backend_pid()", mode="value")
        assert second != first


@pytest.mark.anyio
async def test_independent_queries_use_separate_connections(postgres_dsn: str) -> None:
    query = (
        "SELECT statement_timestamp() AS started, clock_timestamp() AS finished FROM pg_sleep(0.2)"
    )
    async with context(postgres_dsn, max_size=4) as ctx:
        rows = await asyncio.gather(*(pg_query(ctx, f"n{i}", query, mode="row") for i in range(4)))
    starts = [dt.datetime.fromisoformat(r["started"]) for r in rows]
    ends = [dt.datetime.fromisoformat(r["finished"]) for r in rows]
    # Every query had started before any finished: all four ran at once.
    assert max(starts) < min(ends)


@pytest.mark.anyio
async def test_needs_pools_and_a_known_mode(postgres_dsn: str) -> None:
    with pytest.raises(ConfigError):
        await pg_query(ExecutionContext("wf", None), "q", "SELECT 1")
    async with context(postgres_dsn) as ctx:
        with pytest.raises(ValueError, match="mode"):
            await pg_query(ctx, "q", "SELECT 1", mode="all")  # type: ignore[arg-type]


def test_plain_values() -> None:
    assert plain(Decimal("Infinity")) is None
    assert plain(float("nan")) is None
    assert plain(Decimal("-0.5")) == -0.5
    assert plain((1, Decimal("2"))) == [1, 2]
    assert plain({"d": dt.date(2020, 1, 1)}) == {"d": "2020-01-01"}
    assert plain(b"\x01") == "01"


@pytest.mark.anyio
async def test_text_for_dates_uuids_and_numerics_is_parsed_as_the_parameter_type(
    postgres_dsn: str,
) -> None:
    query = "SELECT $1::date AS d, $2::uuid AS u, $3::timestamptz AS t, $4::numeric AS n, $5 AS s"
    ref = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    async with context(postgres_dsn) as ctx:
        row = await pg_query(
            ctx, "q", query, ["2024-02-29", ref, "2024-01-02T03:04:05Z", "1.50", "text"], mode="row"
        )
        assert row == {
            "d": "2024-02-29",
            "u": ref,
            "t": "2024-01-02T03:04:05+00:00",
            "n": 1.5,
            "s": "text",
        }
        with pytest.raises(UpstreamError) as caught:
            await pg_query(ctx, "q", "SELECT $1::date", ["not-a-date-31"], mode="value")
        assert "not-a-date-31" not in str(caught.value.to_body())
