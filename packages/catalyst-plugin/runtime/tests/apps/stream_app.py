"""A streaming service: partial results as branches finish, tokens, then ``done`` with timings."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

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


async def _branch(
    ctx: ExecutionContext, node_id: str, delay: float
) -> tuple[ExecutionContext, str, dict[str, Any]]:
    with ctx.node(node_id):
        await asyncio.sleep(delay)
        hits = {"hits": int(delay * 100)}
    return ctx, node_id, hits


async def _answer(ctx: ExecutionContext) -> AsyncIterator[bytes]:
    branches = [_branch(ctx.clone(), "slow", 0.05), _branch(ctx.clone(), "fast", 0.01)]
    for finished in asyncio.as_completed(branches):
        branch, node_id, output = await finished
        ctx.merge(branch)
        yield format_sse("partial", {"node": node_id, "output": output})
    with ctx.node("reply"):
        for token in ("Hel", "lo"):
            yield format_sse("token", {"text": token})
        reply = {"text": "Hello"}
    with ctx.output():
        answer = {"answer": reply["text"]}
    yield done_event(answer, ctx)


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
