"""A service whose workflow calls an HTTP upstream and PostgreSQL on the app's pools.

Shaped like generated code: ``WorkflowRouter`` declares the pools and the ``UPSTREAM_URL``
variable, the handler hands ``app.state.pools`` (and ``app.state.globals``) to the context, and
the two nodes run concurrently on ``http_call`` and the asyncpg pool, each in its ``with
ctx.node(...)`` block, and return their values for ``run`` to unpack into locals.
``tests/test_pool_reuse.py`` counts the clients and connections it makes.
"""

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
    read_input,
    run_concurrently,
)

router = WorkflowRouter(pools=("http", "postgres"), env=("UPSTREAM_URL",))


class RelayInput(BaseModel):
    name: str


async def _greet(ctx: ExecutionContext, inp: RelayInput) -> dict[str, Any]:
    with ctx.node("greet"):
        return await http_call(
            ctx, "greet", "POST", f"{ctx.env['UPSTREAM_URL']}/hello", json={"name": inp.name}
        )


async def _backend(ctx: ExecutionContext, inp: RelayInput) -> dict[str, Any]:
    assert ctx.pools is not None
    with ctx.node("backend"):
        return {"pid": await ctx.pools.postgres.fetchval("SELECT pg_backend_pid()")}


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    inp: RelayInput = ctx.input
    greet, backend = await run_concurrently(_greet(ctx, inp), _backend(ctx, inp))
    with ctx.output():
        return {"message": greet["body"]["message"], "pid": backend["pid"]}


@router.post("/relay", openapi_extra=input_body(RelayInput))
async def relay(request: Request) -> Response:
    inp = await read_input(request, RelayInput)
    ctx = ExecutionContext(
        "relay", inp, pools=request.app.state.pools, globals=request.app.state.globals
    )
    return json_response(await run(ctx), ctx)


app = create_app(router, title="pools")
