"""A service with PostgreSQL and Redis pools, for the probes, request ids and JSON logs tests.

``/fail`` raises an unexpected error (a 500); ``/slow`` answers after ``seconds``.
"""

from __future__ import annotations

import asyncio
import logging

from fastapi import Response

from catalyst_runtime import WorkflowRouter, create_app

router = WorkflowRouter(pools=("postgres", "redis"), secrets=("OPS_TOKEN",))
logger = logging.getLogger("catalyst_runtime")
calls = 0


@router.get("/work")
async def work() -> Response:
    global calls
    calls += 1  # each line differs, so none is dropped as a repeat
    logger.warning("working with token %s (call %d)", "ops-secret-value-1234", calls)
    return Response(b'{"done":true}', media_type="application/json")


@router.get("/fail")
async def fail() -> Response:
    raise RuntimeError("boom")


@router.get("/slow")
async def slow(seconds: float) -> Response:
    await asyncio.sleep(seconds)
    return Response(b'{"slept":true}', media_type="application/json")


app = create_app(router, title="ops")
