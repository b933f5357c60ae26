"""A service with PostgreSQL and Redis pools, for the probes, request ids and JSON logs tests.

``/fail`` raises an unexpected error (a 500); ``/slow`` answers after ``seconds``; ``/lookup`` runs
two nodes (``?fail=true``: the second fails); ``/traced`` runs a query and an HTTP call to
``UPSTREAM_URL`` at once, then a step; ``POST /greeting`` is a workflow route shaped as generated
code is (``greeting_workflow``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from fastapi import Request, Response
from greeting_workflow import (  # type: ignore[import-not-found]  # a sibling, run from apps/
    router as greeting_router,
)

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    http_call,
    json_response,
    run_concurrently,
)

router = WorkflowRouter(pools=("http", "postgres", "redis"), secrets=("OPS_TOKEN",))
logger = logging.getLogger("catalyst_runtime")
calls = 0
TOKEN = "ops-secret-value-1234"


@router.get("/work")
async def work() -> Response:
    global calls
    calls += 1  # each line differs, so none is dropped as a repeat
    logger.warning("working with token %s (call %d)", TOKEN, calls)
    return Response(b'{"done":true}', media_type="application/json")


@router.get("/fail")
async def fail() -> Response:
    raise RuntimeError("boom")


@router.get("/slow")
async def slow(seconds: float) -> Response:
    await asyncio.sleep(seconds)
    return Response(b'{"slept":true}', media_type="application/json")


@router.get("/lookup")
async def lookup(request: Request, fail: bool = False) -> Response:
    """Two nodes, like generated code: a query, then a step that fails when asked to."""
    ctx = ExecutionContext("lookup", None, pools=request.app.state.pools)
    assert ctx.pools is not None
    with ctx.node("query", "postgres"):
        one = await ctx.pools.postgres.fetchval("SELECT 1")
    with ctx.node("check", "transform"):
        if fail:
            raise ValueError("asked to fail")
    return json_response({"one": one}, ctx)


@router.get("/traced")
async def traced(request: Request, fail: bool = False) -> Response:
    """A query and an HTTP call at once (the call's query string carries the secret), then a
    step that fails when asked to."""
    ctx = ExecutionContext("traced", None, pools=request.app.state.pools)
    assert ctx.pools is not None
    pools = ctx.pools

    async def _query() -> Any:
        with ctx.node("query", "postgres"):
            return await pools.postgres.fetchval("SELECT 1")

    async def _call() -> Any:
        with ctx.node("call", "http"):
            url = f"{os.environ['UPSTREAM_URL']}/json"
            return await http_call(ctx, "call", "GET", url, query={"body": "{}", "key": TOKEN})

    one, called = await run_concurrently(_query(), _call())
    with ctx.node("check", "transform"):
        if fail:
            raise ValueError(f"asked to fail with {TOKEN}")
    return json_response({"one": one, "status": called["status"]}, ctx)


router.include_router(greeting_router)
app = create_app(router, title="ops")
