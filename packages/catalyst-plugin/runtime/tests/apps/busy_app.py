"""A service whose nodes queue for small pools, for the pool metrics test: ``/query`` holds a
PostgreSQL connection for ``seconds``, ``/call`` calls ``UPSTREAM_URL`` (which answers slowly),
``/cached`` reads a Redis key, ``/limited`` takes a slot of a rate limit of one an hour."""

from __future__ import annotations

import os

from fastapi import Request, Response

from catalyst_runtime import (
    ExecutionContext,
    InMemoryRateLimiter,
    WorkflowRouter,
    create_app,
    http_call,
    json_response,
    pg_query,
    rate_limit,
    redis_command,
)

router = WorkflowRouter(pools=("http", "postgres", "redis"), env=("UPSTREAM_URL",))
_throttle = InMemoryRateLimiter(interval=3600, name="throttle")


def _context(request: Request, workflow: str) -> ExecutionContext:
    return ExecutionContext(workflow, None, pools=request.app.state.pools)


@router.get("/query")
async def query(request: Request, seconds: float) -> Response:
    ctx = _context(request, "query")
    with ctx.node("sleep", "postgres"):
        value = await pg_query(ctx, "sleep", "SELECT pg_sleep($1)", [seconds], mode="value")
    return json_response({"value": value}, ctx)


@router.get("/call")
async def call(request: Request) -> Response:
    ctx = _context(request, "call")
    with ctx.node("fetch", "http"):
        fetched = await http_call(ctx, "fetch", "GET", os.environ["UPSTREAM_URL"])
    return json_response({"status": fetched["status"]}, ctx)


@router.get("/cached")
async def cached(request: Request) -> Response:
    ctx = _context(request, "cached")
    with ctx.node("read", "redis"):
        read = await redis_command(ctx, "read", "get", "busy-app:key")
    return json_response(read, ctx)


@router.get("/limited")
async def limited(request: Request) -> Response:
    ctx = _context(request, "limited")
    with ctx.node("throttle", "rate_limit"):
        await rate_limit(ctx, "throttle", _throttle, "everyone", timeout=0)
    return json_response({"ok": True}, ctx)


app = create_app(router, title="busy")
