"""run_branches (the ``parallel`` node) against the real PostgreSQL the suite starts: branches
overlap, a failing branch is named and the others cancelled, and a timeout cancels what is still
running and gives its connection back to the pool before the node fails."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    NodeError,
    NodeTimeoutError,
    Settings,
    UpstreamError,
    pg_query,
    run_branches,
)


@asynccontextmanager
async def context(dsn: str) -> AsyncIterator[ExecutionContext]:
    settings = Settings(postgres_dsn=dsn, postgres_min_size=2, postgres_max_size=4)
    pools = await ConnectionPools.create(settings, ["postgres"])
    try:
        yield ExecutionContext("wf", None, pools=pools)
    finally:
        await pools.close()


async def sleep_query(ctx: ExecutionContext, node_id: str, seconds: float) -> Any:
    with ctx.node(node_id):
        query = "SELECT $1::float8 FROM pg_sleep($1)"
        return await pg_query(ctx, node_id, query, [seconds], mode="value")


def pool_is_idle(ctx: ExecutionContext) -> bool:
    assert ctx.pools is not None
    pool = ctx.pools.postgres
    return pool.get_idle_size() == pool.get_size()


def new_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    """Tasks started since ``before`` was taken that are still pending."""
    return {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}


async def timed_sleep_query(ctx: ExecutionContext, node_id: str, seconds: float) -> Any:
    """The statement's start and finish on the server's clock, after sleeping ``seconds``."""
    with ctx.node(node_id):
        query = (
            "SELECT statement_timestamp() AS started, clock_timestamp() AS finished"
            " FROM pg_sleep($1)"
        )
        return await pg_query(ctx, node_id, query, [seconds], mode="row")


@pytest.mark.anyio
async def test_branches_overlap_and_keep_their_names_and_order(postgres_dsn: str) -> None:
    async with context(postgres_dsn) as ctx:
        result = await run_branches(
            ctx,
            "both",
            {
                "b": timed_sleep_query(ctx, "b_query", 0.3),
                "a": timed_sleep_query(ctx, "a_query", 0.3),
            },
        )
    assert list(result) == ["b", "a"]
    # Each statement started on the server before the other finished: they overlapped, which one
    # after the other could not do (an ordering, not a time bound a loaded machine can break).
    a, b = ({k: datetime.fromisoformat(v) for k, v in result[name].items()} for name in "ab")
    assert a["started"] < b["finished"] and b["started"] < a["finished"], result
    assert set(ctx.timings) == {"a_query", "b_query"}


@pytest.mark.anyio
async def test_a_failing_branch_is_named_and_the_others_are_cancelled(postgres_dsn: str) -> None:
    cancelled = asyncio.Event()

    async def waits(ctx: ExecutionContext) -> None:
        try:
            await sleep_query(ctx, "slow", 5)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def fails(ctx: ExecutionContext) -> None:
        await asyncio.sleep(0.05)
        with ctx.node("broken"):
            await pg_query(ctx, "broken", "SELECT * FROM no_such_table")

    async with context(postgres_dsn) as ctx:
        before = asyncio.all_tasks()
        started = time.monotonic()
        with pytest.raises(UpstreamError) as caught:
            await run_branches(ctx, "lookups", {"user": fails(ctx), "orders": waits(ctx)})
        assert time.monotonic() - started < 2
        assert cancelled.is_set()
        assert pool_is_idle(ctx)
        assert not new_tasks(before)
    error = caught.value
    assert error.status_code == 502
    assert error.message.startswith('node "broken" in branch "user" of "lookups": PostgreSQL error')
    assert error.details()[0]["loc"] == ["nodes", "lookups", "user", "broken"]


@pytest.mark.anyio
async def test_a_timeout_cancels_running_branches_and_returns_their_connections(
    postgres_dsn: str,
) -> None:
    async with context(postgres_dsn) as ctx:
        before = asyncio.all_tasks()
        started = time.monotonic()
        with pytest.raises(NodeTimeoutError) as caught:
            await run_branches(
                ctx,
                "race",
                {"slow": sleep_query(ctx, "slow_query", 5), "quick": sleep_query(ctx, "q", 0)},
                timeout=0.1,
            )
        elapsed = time.monotonic() - started
        # Nothing left running, and the connection is back in the pool, before the error.
        assert not new_tasks(before)
        assert pool_is_idle(ctx)
        # The pool still serves (the cancelled query did not leave a broken connection).
        assert await sleep_query(ctx, "after", 0) == 0
    # Cancelled at 0.1 s, long before the branch's five seconds (generous: a loaded machine).
    assert elapsed < 4, elapsed
    assert caught.value.status_code == 504
    assert caught.value.message == 'node "race": branch "slow" did not finish within 0.1 s'
    assert "slow_query" not in ctx.timings and "q" in ctx.timings


@pytest.mark.anyio
async def test_partial_gives_null_for_a_branch_still_running(postgres_dsn: str) -> None:
    async with context(postgres_dsn) as ctx:
        before = asyncio.all_tasks()
        result = await run_branches(
            ctx,
            "race",
            {"slow": sleep_query(ctx, "slow_query", 2), "quick": sleep_query(ctx, "q", 0)},
            timeout=0.1,
            partial=True,
        )
        assert not new_tasks(before)
        assert pool_is_idle(ctx)
    assert result == {"slow": None, "quick": 0}


@pytest.mark.anyio
async def test_errors_from_nested_graphs_name_every_level() -> None:
    ctx = ExecutionContext("wf", None)

    async def inner() -> None:
        with ctx.node("leaf"):
            raise ValueError("boom")

    async def outer() -> Any:
        return await run_branches(ctx, "inner_par", {"deep": inner()})

    with pytest.raises(NodeError) as caught:
        await run_branches(ctx, "outer_par", {"top": outer()})
    assert caught.value.message == (
        'node "leaf" in branch "deep" of "inner_par" in branch "top" of "outer_par": '
        "failed (ValueError)"
    )
    assert caught.value.details()[0]["loc"] == [
        "nodes",
        "outer_par",
        "top",
        "inner_par",
        "deep",
        "leaf",
    ]


@pytest.mark.anyio
async def test_the_driver_error_stays_the_cause_through_branches() -> None:
    ctx = ExecutionContext("wf", None)

    async def refused() -> None:
        with ctx.node("db"):
            raise ConnectionRefusedError("refused")

    with pytest.raises(UpstreamError) as caught:
        await run_branches(ctx, "par", {"one": refused()})
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.anyio
async def test_one_error_object_reaching_two_branches_names_each_branch() -> None:
    # A cache's single flight hands the leader's failure to every waiter: one object.
    shared = UpstreamError("acct", "HTTP upstream answered 503")
    ctx = ExecutionContext("wf", None)

    async def fails() -> None:
        raise shared

    results = []
    for name in ("left", "right"):
        with pytest.raises(NodeError) as caught:
            await run_branches(ctx, "par", {name: fails()})
        results.append(caught.value)
    assert [e.details()[0]["loc"] for e in results] == [
        ["nodes", "par", "left", "acct"],
        ["nodes", "par", "right", "acct"],
    ]
    assert shared.details()[0]["loc"] == ["nodes", "acct"]  # the shared one is untouched
