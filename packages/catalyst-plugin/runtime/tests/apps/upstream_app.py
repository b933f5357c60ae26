"""A service with one http node that calls the path it is given on $UPSTREAM_URL, allowing
itself 60 s: the tests make the upstream hang and the client leave. The path comes in a JSON
body (POST) or in the query (GET), as a generated service reads each."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    http_call,
    input_body,
    json_response,
    query_parameters,
    read_input,
    read_query,
)


class FetchInput(BaseModel):
    path: str


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    inp: FetchInput = ctx.input
    with ctx.node("fetch"):
        fetch = await http_call(
            ctx, "fetch", "GET", f"{ctx.env['UPSTREAM_URL']}{inp.path}", timeout=60
        )
    with ctx.output():
        return {"status": fetch["status"]}


router = WorkflowRouter(pools=("http",), env=("UPSTREAM_URL",))


@router.post("/fetch", openapi_extra=input_body(FetchInput))
async def fetch(request: Request) -> Response:
    ctx = ExecutionContext(
        "fetch", await read_input(request, FetchInput), pools=request.app.state.pools
    )
    return json_response(await run(ctx), ctx)


@router.get("/fetch", openapi_extra=query_parameters(FetchInput))
async def fetch_by_query(request: Request) -> Response:
    ctx = ExecutionContext("fetch", read_query(request, FetchInput), pools=request.app.state.pools)
    return json_response(await run(ctx), ctx)


app = create_app(router, title="upstream")
