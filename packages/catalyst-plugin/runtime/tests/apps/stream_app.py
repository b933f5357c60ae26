"""A streaming service: partial results as branches finish, tokens, then ``done`` with timings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from time import monotonic_ns

from fastapi import Response

from catalyst_runtime import (
    ExecutionContext,
    UpstreamError,
    WorkflowRouter,
    create_app,
    done_event,
    format_sse,
    stream_response,
)

router = WorkflowRouter()


async def _branch(ctx: ExecutionContext, node_id: str, delay: float) -> ExecutionContext:
    started = monotonic_ns()
    await asyncio.sleep(delay)
    ctx.set_output(node_id, {"hits": int(delay * 100)})
    ctx.record_timing(node_id, started)
    return ctx


async def _answer(ctx: ExecutionContext) -> AsyncIterator[bytes]:
    branches = [_branch(ctx.clone(), "slow", 0.05), _branch(ctx.clone(), "fast", 0.01)]
    for finished in asyncio.as_completed(branches):
        branch = await finished
        ctx.merge(branch)
        node_id = next(iter(branch.timings))
        yield format_sse("partial", {"node": node_id, "output": branch.outputs[node_id]})
    started = monotonic_ns()
    for token in ("Hel", "lo"):
        yield format_sse("token", {"text": token})
    ctx.set_output("reply", {"text": "Hello"})
    ctx.record_timing("reply", started)
    yield done_event({"answer": ctx.outputs["reply"]["text"]}, ctx)


@router.post("/answer")
async def answer() -> Response:
    return stream_response(_answer(ExecutionContext("answer", None)))


async def _forever() -> AsyncIterator[bytes]:
    marker = Path(os.environ["CATALYST_TEST_MARKER"])
    outcome = "ran to the end"
    try:
        count = 0
        while True:
            yield format_sse("token", {"n": count})
            count += 1
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        outcome = "cancelled"  # stopped while awaiting (the usual case)
        raise
    except GeneratorExit:
        outcome = "closed"  # stopped while suspended at ``yield``: closed by aclose()
        raise
    finally:
        marker.write_text(outcome)  # noqa: ASYNC240 - a test probe, one tiny write


@router.get("/forever")
async def forever() -> Response:
    return stream_response(_forever())


async def _fails() -> AsyncIterator[bytes]:
    yield format_sse("token", {"text": "partial answer"})
    raise UpstreamError("reply", "LLM provider failed")


@router.get("/fails")
async def fails() -> Response:
    return stream_response(_fails())


async def _crashes() -> AsyncIterator[bytes]:
    yield format_sse("token", {"text": "x"})
    raise RuntimeError("internal detail hunter2")


@router.get("/crashes")
async def crashes() -> Response:
    return stream_response(_crashes(), headers={"x-extra": "1"})


app = create_app(router, title="stream")
