"""A service whose workflow calls an HTTP upstream and PostgreSQL on the app's pools.

Shaped like generated code: ``WorkflowRouter`` declares the pools and the ``UPSTREAM_URL``
variable, the handler hands ``app.state.pools`` (and ``app.state.globals``) to the context, and
the two nodes run on ``http_call`` and the asyncpg pool. ``tests/test_pool_reuse.py`` counts the
clients and connections it makes.
"""

from __future__ import annotations

from time import monotonic_ns
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
    node_error,
    read_input,
    run_concurrently,
)

router = WorkflowRouter(pools=("http", "postgres"), env=("UPSTREAM_URL",))


class RelayInput(BaseModel):
    name: str


async def _greet(ctx: ExecutionContext) -> None:
    inp: RelayInput = ctx.input
    started = monotonic_ns()
    url = f"{ctx.env['UPSTREAM_URL']}/hello"
    ctx.set_output("greet", await http_call(ctx, "greet", "POST", url, json={"name": inp.name}))
    ctx.record_timing("greet", started)


async def _backend(ctx: ExecutionContext) -> None:
    assert ctx.pools is not None
    started = monotonic_ns()
    try:
        pid = await ctx.pools.postgres.fetchval("SELECT pg_backend_pid()")
    except Exception as exc:
        raise node_error("backend", exc) from exc
    ctx.set_output("backend", {"pid": pid})
    ctx.record_timing("backend", started)


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    await run_concurrently(_greet(ctx), _backend(ctx))
    return {
        "message": ctx.outputs["greet"]["body"]["message"],
        "pid": ctx.outputs["backend"]["pid"],
    }


@router.post("/relay", openapi_extra=input_body(RelayInput))
async def relay(request: Request) -> Response:
    inp = await read_input(request, RelayInput)
    ctx = ExecutionContext(
        "relay", inp, pools=request.app.state.pools, globals=request.app.state.globals
    )
    return json_response(await run(ctx), ctx)


app = create_app(router, title="pools")
