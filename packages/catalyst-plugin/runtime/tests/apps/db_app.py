"""A service using PostgreSQL and Redis the way generated postgres and redis nodes do."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    input_body,
    json_response,
    read_input,
)

router = WorkflowRouter(pools=("postgres", "redis"))


class CountInput(BaseModel):
    key: str
    table: str = "pg_class"


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    inp: CountInput = ctx.input
    assert ctx.pools is not None

    with ctx.node("count"):
        # Identifiers cannot be bound; the test passes a fixed catalogue or a missing table.
        rows = await ctx.pools.postgres.fetch(f"SELECT count(*) AS n FROM {inp.table}")
        count = {"rows": [dict(row) for row in rows]}

    with ctx.node("hits"):
        hits = {"value": await ctx.pools.redis.incr(inp.key)}

    with ctx.output():
        return {"tables": count["rows"][0]["n"] > 0, "hits": hits["value"]}


@router.post("/count", openapi_extra=input_body(CountInput))
async def count(request: Request) -> Response:
    inp = await read_input(request, CountInput)
    ctx = ExecutionContext("count", inp, pools=request.app.state.pools)
    return json_response(await run(ctx), ctx)


app = create_app(router, title="db")
