"""Scenario C of the service benchmark (four ``SELECT pg_sleep(0.2)`` at once), three ways.

``npm run bench`` (tools/bench/scenarios/c-parallel.mjs) serves each with uvicorn (``python -m
catalyst_runtime.serve parallel_apps:<name>``); LangGraph's is ``parallel_langgraph.py``. Every
one reads ``DATABASE_URL`` and keeps one asyncpg pool of ``BENCH_PG_POOL`` connections (opened
at start-up, so no request waits for a connection to be made).

- ``generated``: ``tools/bench/parallel/parallel.workflow.yaml`` compiled into
  ``bench_parallel/_generated``; its pool sized by ``CATALYST_POSTGRES_MIN_SIZE``/``MAX_SIZE``.
- ``handwritten``: FastAPI as a skilled engineer writes it: the pool made in the lifespan, the
  four queries under ``asyncio.gather``, orjson into a plain ``Response``.
- ``bare``: the floor: a bare ASGI callable on the same uvicorn, the same pool and gather.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from catalyst_runtime import create_app
from fastapi import FastAPI, Response

try:
    from bench_parallel._generated import router as _router
except ImportError:  # the driver puts it on PYTHONPATH; other apps need nothing of it
    _router = None

generated = create_app(_router, title="parallel (generated)") if _router is not None else None

SLEEP = "SELECT pg_sleep(0.2)"
NODES = ("a", "b", "c", "d")


async def open_pool() -> asyncpg.Pool:
    size = int(os.environ.get("BENCH_PG_POOL", "4"))
    return await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=size, max_size=size)


async def four_queries(pool: asyncpg.Pool) -> bytes:
    statuses = await asyncio.gather(*(pool.execute(SLEEP) for _ in NODES))
    return orjson.dumps(dict(zip(NODES, statuses, strict=True)))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.pool = await open_pool()
    try:
        yield
    finally:
        await app.state.pool.close()


handwritten = FastAPI(title="parallel (hand-written)", lifespan=lifespan)


@handwritten.post("/parallel")
async def parallel() -> Response:
    return Response(await four_queries(handwritten.state.pool), media_type="application/json")


_pool: asyncpg.Pool | None = None
_HEADERS = [(b"content-type", b"application/json")]


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] != "http":
        message = await receive()
        if message["type"] == "lifespan.startup":
            _pool = await open_pool()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        if _pool is not None:
            await _pool.close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    assert _pool is not None
    body = await four_queries(_pool)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})
