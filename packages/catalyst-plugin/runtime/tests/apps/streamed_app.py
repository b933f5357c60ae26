"""Streamed runs (``stream_run``) as generated code makes them, with hand-written nodes.

POST /tokens   a node producing three tokens 0.2 s apart, each carrying the wall-clock time
               it was produced, then a partial and done
POST /hold     a pg_sleep(30) node and an http node to a hanging upstream, at once, after a
               first token: only a client that leaves ends it
GET  /state    the server's running tasks and the PostgreSQL pool's size and idle count
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    http_call,
    input_body,
    json_response,
    pg_query,
    read_input,
    run_concurrently,
    stream_run,
)

router = WorkflowRouter(pools=("http", "postgres"))


class TokensInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    count: int = 3
    gap: float = 0.2


async def _tokens(ctx: ExecutionContext) -> dict[str, Any]:
    inp: TokensInput = ctx.input
    events = ctx.events
    assert events is not None
    with ctx.node("reply"):
        for n in range(inp.count):
            if n:
                await asyncio.sleep(inp.gap)
            events.token("reply", f"{n} {time.time()!r}")
        reply = ctx.partial("reply", {"tokens": inp.count})
    return {"reply": reply}


@router.post("/tokens", openapi_extra=input_body(TokensInput))
async def tokens(request: Request) -> Response:
    ctx = ExecutionContext(
        "tokens", await read_input(request, TokensInput), pools=request.app.state.pools
    )
    return stream_run(_tokens, ctx)


async def _sleep(ctx: ExecutionContext) -> Any:
    with ctx.node("sleep"):
        return await pg_query(ctx, "sleep", "SELECT pg_sleep(30)", mode="execute")


async def _hang(ctx: ExecutionContext) -> Any:
    with ctx.node("hang"):
        return await http_call(ctx, "hang", "GET", f"{ctx.env['UPSTREAM_URL']}/hang")


async def _hold(ctx: ExecutionContext) -> dict[str, Any]:
    assert ctx.events is not None
    ctx.events.token("hold", "started")
    await run_concurrently(_sleep(ctx), _hang(ctx))
    return {}  # pragma: no cover - only a client that leaves ends it


@router.post("/hold")
async def hold(request: Request) -> Response:
    ctx = ExecutionContext("hold", None, pools=request.app.state.pools)
    return stream_run(_hold, ctx)


@router.get("/state")
async def state(request: Request) -> Response:
    pool = request.app.state.pools.postgres
    body = {
        "tasks": len(asyncio.all_tasks()),
        "pg_size": pool.get_size(),
        "pg_idle": pool.get_idle_size(),
    }
    return json_response(body, ExecutionContext("state", None))


app = create_app(router, title="streamed")
