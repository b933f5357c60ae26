"""A service using PostgreSQL and Redis the way generated postgres and redis nodes do."""

from __future__ import annotations

from time import monotonic_ns
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    input_body,
    json_response,
    node_error,
    read_input,
)

router = WorkflowRouter(pools=("postgres", "redis"))


class CountInput(BaseModel):
    key: str
    table: str = "pg_class"


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    inp: CountInput = ctx.input
    assert ctx.pools is not None

    started = monotonic_ns()
    try:
        # Identifiers cannot be bound; the test passes a fixed catalogue or a missing table.
        rows = await ctx.pools.postgres.fetch(f"SELECT count(*) AS n FROM {inp.table}")
    except Exception as exc:
        raise node_error("count", exc) from exc
    ctx.set_output("count", {"rows": [dict(row) for row in rows]})
    ctx.record_timing("count", started)

    started = monotonic_ns()
    try:
        hits = await ctx.pools.redis.incr(inp.key)
    except Exception as exc:
        raise node_error("hits", exc) from exc
    ctx.set_output("hits", {"value": hits})
    ctx.record_timing("hits", started)

    return {
        "tables": ctx.outputs["count"]["rows"][0]["n"] > 0,
        "hits": ctx.outputs["hits"]["value"],
    }


@router.post("/count", openapi_extra=input_body(CountInput))
async def count(request: Request) -> Response:
    inp = await read_input(request, CountInput)
    ctx = ExecutionContext("count", inp, pools=request.app.state.pools)
    return json_response(await run(ctx), ctx)


app = create_app(router, title="db")
