"""run_map (the ``map`` node): values in item order, at most ``concurrency`` items at once, the
first failure named with its item (the rest cancelled), or every failure collected; the item
limit; and a ``Server-Timing`` that does not grow with the list."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from catalyst_runtime import (
    ConnectionPools,
    ExecutionContext,
    MapTooLarge,
    NodeError,
    Settings,
    UpstreamError,
    run_map,
)


class Upstream:
    """Counts the items in flight, as an upstream would see them."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.started: list[int] = []

    async def call(self, ctx: ExecutionContext, item: Any, index: int, scale: int) -> Any:
        with ctx.node("call"):
            self.started.append(index)
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            try:
                await asyncio.sleep(random.uniform(0, 0.01))
                if item == "bad":
                    raise ConnectionError("refused")
                return item * scale
            finally:
                self.in_flight -= 1


@pytest.mark.anyio
async def test_values_come_back_in_item_order_with_bounded_concurrency() -> None:
    upstream = Upstream()
    ctx = ExecutionContext("wf", None)
    result = await run_map(ctx, "fanout", list(range(40)), upstream.call, 10, concurrency=4)
    assert result == [i * 10 for i in range(40)]
    assert upstream.most == 4
    assert sorted(upstream.started) == list(range(40))


@pytest.mark.anyio
async def test_the_first_failure_names_the_item_and_cancels_the_rest() -> None:
    upstream = Upstream()
    ctx = ExecutionContext("wf", None)
    items: list[Any] = [1, 2, "bad", *range(50)]
    with pytest.raises(UpstreamError) as caught:
        await run_map(ctx, "fanout", items, upstream.call, 1, concurrency=2)
    assert caught.value.message == (
        'node "call" in item 2 of "fanout": connection failed (ConnectionError)'
    )
    assert caught.value.details()[0]["loc"] == ["nodes", "fanout", 2, "call"]
    assert upstream.in_flight == 0
    # The workers stopped taking items: far fewer than all of them ever started.
    assert len(upstream.started) < 10


@pytest.mark.anyio
async def test_collect_gives_null_and_an_error_entry_per_failed_item() -> None:
    upstream = Upstream()
    ctx = ExecutionContext("wf", None)
    result = await run_map(ctx, "fanout", [1, "bad", 3, "bad"], upstream.call, 2, collect=True)
    assert result == {
        "results": [2, None, 6, None],
        "errors": [
            {
                "index": 1,
                "status": 502,
                "message": 'node "call" in item 1 of "fanout": connection failed (ConnectionError)',
            },
            {
                "index": 3,
                "status": 502,
                "message": 'node "call" in item 3 of "fanout": connection failed (ConnectionError)',
            },
        ],
    }


@pytest.mark.anyio
async def test_an_empty_list_gives_an_empty_list() -> None:
    upstream = Upstream()
    assert await run_map(ExecutionContext("wf", None), "fanout", [], upstream.call, 1) == []
    assert upstream.started == []


@pytest.mark.anyio
async def test_more_items_than_the_setting_allows_is_a_422_naming_the_node() -> None:
    pools = ConnectionPools(Settings(max_map_items=5))
    ctx = ExecutionContext("wf", None, pools=pools)
    upstream = Upstream()
    assert len(await run_map(ctx, "fanout", [1] * 5, upstream.call, 1)) == 5
    with pytest.raises(MapTooLarge) as caught:
        await run_map(ctx, "fanout", [1] * 6, upstream.call, 1)
    assert caught.value.status_code == 422
    assert caught.value.message == (
        'node "fanout": map over 6 items; at most 5 are allowed (CATALYST_MAX_MAP_ITEMS)'
    )
    assert len(upstream.started) == 5
    # Without pools (a workflow needing none), the default limit holds.
    with pytest.raises(MapTooLarge):
        await run_map(ExecutionContext("wf", None), "fanout", [1] * 1001, upstream.call, 1)


@pytest.mark.anyio
async def test_a_value_that_is_not_a_list_is_a_node_error() -> None:
    with pytest.raises(NodeError) as caught:
        await run_map(ExecutionContext("wf", None), "fanout", "abc", Upstream().call, 1)
    assert caught.value.message == 'node "fanout": map over str, not a list'


@pytest.mark.anyio
async def test_server_timing_has_one_entry_per_node_however_long_the_list() -> None:
    ctx = ExecutionContext("wf", None)
    upstream = Upstream()
    with ctx.node("fanout"):
        await run_map(ctx, "fanout", list(range(1000)), upstream.call, 1, concurrency=64)
    header = ctx.server_timing()
    entries = [part.split(";")[0] for part in header.split(", ")]
    assert entries == ["call", "fanout", "total"]
    assert "fanout;dur=" in header and 'desc="1000 items"' in header
    # The inner node's entry is its time summed over the items (each slept a little).
    assert ctx.timings["call"] > ctx.timings["fanout"]


@pytest.mark.anyio
async def test_the_driver_error_stays_the_cause_through_a_map() -> None:
    ctx = ExecutionContext("wf", None)

    async def each(ctx: ExecutionContext, item: int, index: int) -> None:
        with ctx.node("call"):
            raise ConnectionRefusedError("refused")

    with pytest.raises(UpstreamError) as caught:
        await run_map(ctx, "m", [1], each)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.anyio
async def test_one_error_object_failing_two_items_names_each_item() -> None:
    shared = UpstreamError("acct", "HTTP upstream answered 503")
    ctx = ExecutionContext("wf", None)

    async def each(ctx: ExecutionContext, item: int, index: int) -> None:
        raise shared

    out = await run_map(ctx, "m", [7, 7], each, collect=True)
    assert [e["message"] for e in out["errors"]] == [
        'node "acct" in item 0 of "m": HTTP upstream answered 503',
        'node "acct" in item 1 of "m": HTTP upstream answered 503',
    ]
    assert shared.message == 'node "acct": HTTP upstream answered 503'
