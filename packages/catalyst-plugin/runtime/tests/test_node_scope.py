"""``with ctx.node("id"):`` and ``with ctx.output():``: the bookkeeping around each node's block."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any

import pytest

from catalyst_runtime import (
    CatalystError,
    ConfigError,
    ExecutionContext,
    NodeError,
    NodeScope,
    NodeTimeoutError,
    UpstreamError,
    run_concurrently,
)


def test_node_records_its_duration_on_success() -> None:
    ctx = ExecutionContext("wf", None)
    scope = ctx.node("greet")
    assert isinstance(scope, NodeScope)
    before = time.monotonic_ns()
    with scope as bound:
        time.sleep(0.002)
        greet = {"message": "hi"}
    after = time.monotonic_ns()
    assert bound is None  # nothing to bind: the node's value goes to a local of its own
    assert greet == {"message": "hi"}
    assert list(ctx.timings) == ["greet"]
    assert 2_000_000 <= ctx.timings["greet"] <= after - before
    assert ctx.server_timing().startswith("greet;dur=")


def test_a_return_inside_the_block_still_records_the_timing() -> None:
    def greet(ctx: ExecutionContext) -> dict[str, str]:
        with ctx.node("greet"):
            return {"message": "hi"}

    ctx = ExecutionContext("wf", None)
    assert greet(ctx) == {"message": "hi"}
    assert list(ctx.timings) == ["greet"]


@pytest.mark.anyio
async def test_a_return_inside_an_async_node_still_records_the_timing() -> None:
    async def fetch(ctx: ExecutionContext) -> int:
        with ctx.node("fetch"):
            await asyncio.sleep(0.002)
            return 7

    ctx = ExecutionContext("wf", None)
    assert await fetch(ctx) == 7
    assert ctx.timings["fetch"] >= 1_000_000  # uvloop timers may fire up to a millisecond early


def test_a_plain_exception_becomes_a_node_error_naming_the_node() -> None:
    ctx = ExecutionContext("wf", None)
    original = KeyError("secret-key hunter2")
    with pytest.raises(NodeError) as caught, ctx.node("greet"):
        raise original
    error = caught.value
    assert type(error) is NodeError
    assert error.node_id == "greet"
    assert error.status_code == 500
    assert error.__cause__ is original
    assert error.details() == [
        {"type": "node_failed", "loc": ["nodes", "greet"], "msg": 'node "greet": failed (KeyError)'}
    ]
    assert "hunter2" not in str(error.to_body())
    assert ctx.timings == {}  # a node that failed has no duration to report


@pytest.mark.parametrize(
    ("raised", "expected", "status"),
    [
        (TimeoutError("took too long"), NodeTimeoutError, 504),
        (ConnectionRefusedError("refused"), UpstreamError, 502),
        (ValueError("bad"), NodeError, 500),
    ],
)
def test_foreign_exceptions_map_like_node_error(
    raised: Exception, expected: type[NodeError], status: int
) -> None:
    ctx = ExecutionContext("wf", None)
    with pytest.raises(NodeError) as caught, ctx.node("fetch"):
        raise raised
    assert type(caught.value) is expected
    assert caught.value.status_code == status
    assert caught.value.node_id == "fetch"
    assert caught.value.__cause__ is raised
    assert ctx.timings == {}


@pytest.mark.anyio
async def test_an_asyncio_timeout_inside_the_node_is_a_504_naming_it() -> None:
    ctx = ExecutionContext("wf", None)
    timed_out = pytest.raises(NodeTimeoutError, match='node "slow": timed out')
    with timed_out as caught, ctx.node("slow"):
        async with asyncio.timeout(0.01):
            await asyncio.sleep(5)
    assert isinstance(caught.value.__cause__, TimeoutError)
    assert ctx.timings == {}


@pytest.mark.anyio
async def test_an_asyncio_timeout_around_the_node_still_works() -> None:
    """The timeout cancels the block; the scope lets the CancelledError out for it to convert."""
    ctx = ExecutionContext("wf", None)
    with pytest.raises(TimeoutError) as caught:
        async with asyncio.timeout(0.01):
            with ctx.node("slow"):
                await asyncio.sleep(5)
    assert not isinstance(caught.value, CatalystError)
    assert ctx.timings == {}


@pytest.mark.parametrize(
    "own",
    [
        UpstreamError("other", "HTTP upstream answered 503"),
        NodeTimeoutError("other", "timed out"),
        ConfigError("MAIL_TOKEN", "secret is not set"),
    ],
)
def test_the_runtimes_own_errors_pass_through_unchanged(own: CatalystError) -> None:
    ctx = ExecutionContext("wf", None)
    with pytest.raises(CatalystError) as caught, ctx.node("greet"):
        raise own
    assert caught.value is own
    assert caught.value.__cause__ is None
    if isinstance(own, NodeError):
        assert own.node_id == "other"  # still names the node that failed, not this one
    assert ctx.timings == {}


def test_an_error_from_an_inner_node_keeps_its_name_through_an_outer_one() -> None:
    ctx = ExecutionContext("wf", None)
    original = ValueError("bad")
    with pytest.raises(NodeError) as caught, ctx.node("outer"), ctx.node("inner"):
        raise original
    assert caught.value.node_id == "inner"
    assert caught.value.__cause__ is original


@pytest.mark.anyio
async def test_cancellation_passes_through_unchanged() -> None:
    ctx = ExecutionContext("wf", None)
    cancelled = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError) as caught, ctx.node("n"):
        raise cancelled
    assert caught.value is cancelled

    started = asyncio.Event()

    async def node() -> None:
        with ctx.node("waits"):
            started.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(node())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()  # not turned into a NodeError that would end the task as failed
    assert ctx.timings == {}


@pytest.mark.parametrize("raised", [KeyboardInterrupt(), SystemExit(3)])
def test_other_base_exceptions_pass_through_unchanged(raised: BaseException) -> None:
    ctx = ExecutionContext("wf", None)
    with pytest.raises(BaseException) as caught, ctx.node("n"):
        raise raised
    assert caught.value is raised


def test_closing_a_stream_suspended_inside_a_node_is_not_an_error() -> None:
    ctx = ExecutionContext("wf", None)

    def tokens() -> Generator[str, None, None]:
        with ctx.node("reply"):
            yield "Hel"
            yield "lo"  # pragma: no cover

    stream = tokens()
    assert next(stream) == "Hel"
    stream.close()  # GeneratorExit inside the block; a NodeError here would raise from close()
    assert ctx.timings == {}


def test_output_names_the_pseudo_node_output_and_times_nothing() -> None:
    ctx = ExecutionContext("wf", None)
    greet: dict[str, Any] = {"message": "hi"}
    with ctx.output():
        answer = {"message": greet["message"]}
    assert answer == {"message": "hi"}
    assert ctx.timings == {}  # "total" covers the mapping
    assert ctx.server_timing().startswith("total;dur=")

    with pytest.raises(NodeError) as caught, ctx.output():
        _ = greet["missing"]
    error = caught.value
    assert type(error) is NodeError
    assert error.node_id == "output"
    assert error.message == 'node "output": failed (KeyError)'
    assert error.details()[0]["loc"] == ["nodes", "output"]
    assert isinstance(error.__cause__, KeyError)
    assert ctx.timings == {}

    own = UpstreamError("reply", "LLM provider failed")
    with pytest.raises(UpstreamError) as passed, ctx.output():
        raise own
    assert passed.value is own


def test_output_maps_a_timeout_and_keeps_the_cause_of_the_runtimes_own_errors() -> None:
    ctx = ExecutionContext("wf", None)
    with pytest.raises(NodeTimeoutError, match='node "output": timed out'), ctx.output():
        raise TimeoutError
    # An error of the runtime's own passes through as it was raised, with its cause (the driver
    # error the log's traceback shows), not re-raised from itself.
    driver = ConnectionRefusedError("refused")
    own = UpstreamError("fetch", "connection failed")
    with pytest.raises(UpstreamError) as passed, ctx.output():
        raise own from driver
    assert passed.value is own
    assert own.__cause__ is driver


def test_a_return_inside_output_leaves_no_timing() -> None:
    def respond(ctx: ExecutionContext) -> dict[str, int]:
        with ctx.output():
            return {"n": 1}

    ctx = ExecutionContext("wf", None)
    assert respond(ctx) == {"n": 1}
    assert ctx.timings == {}


def test_node_scope_has_no_instance_dict() -> None:
    scope = ExecutionContext("wf", None).node("n")
    assert not hasattr(scope, "__dict__")


@pytest.mark.anyio
async def test_concurrent_nodes_in_the_generated_shape() -> None:
    """Values come back through run_concurrently into locals; a failure names its node and
    cancels its sibling, whose scope lets the cancellation through and times nothing."""
    ctx = ExecutionContext("wf", {"user": "ada"})

    async def _account(ctx: ExecutionContext, inp: dict[str, str]) -> dict[str, str]:
        with ctx.node("account"):
            await asyncio.sleep(0.02)
            return {"name": inp["user"].title()}

    async def _orders(ctx: ExecutionContext, inp: dict[str, str]) -> list[int]:
        with ctx.node("orders"):
            return [1, 2]

    account, orders = await run_concurrently(_account(ctx, ctx.input), _orders(ctx, ctx.input))
    assert account == {"name": "Ada"}
    assert orders == [1, 2]
    assert list(ctx.timings) == ["orders", "account"]  # in the order they finished

    async def _broken(ctx: ExecutionContext, inp: dict[str, str]) -> None:
        with ctx.node("broken"):
            await asyncio.sleep(0.005)
            raise ValueError(inp["user"])

    failing = ExecutionContext("wf", {"user": "ada"})
    with pytest.raises(NodeError) as caught:
        await run_concurrently(_account(failing, failing.input), _broken(failing, failing.input))
    assert type(caught.value) is NodeError
    assert caught.value.node_id == "broken"
    assert isinstance(caught.value.__cause__, ValueError)
    assert failing.timings == {}  # account was cancelled, broken failed: neither has a duration
