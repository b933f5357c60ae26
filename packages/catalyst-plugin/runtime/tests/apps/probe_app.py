"""A service shaped like generated code, plus a probe that reports how it is being served."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    input_body,
    json_response,
    read_input,
)

WORKFLOW_ID = "hello"


class HelloInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    excited: bool = False


async def run(ctx: ExecutionContext) -> dict[str, Any]:
    inp: HelloInput = ctx.input
    with ctx.node("greet"):
        greet = {"message": f"Hello, {inp.name}!", "shout": inp.name.upper()}
    with ctx.output():
        return {"message": greet["message"], "shout": greet["shout"]}


router = WorkflowRouter()


@router.post("/hello", openapi_extra=input_body(HelloInput))
async def hello(request: Request) -> Response:
    ctx = ExecutionContext(WORKFLOW_ID, await read_input(request, HelloInput))
    return json_response(await run(ctx), ctx)


def _qualified(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


@router.get("/probe")
async def probe() -> Response:
    """Report the running loop, the uvicorn protocol and parser serving this very request, and
    whether the server froze the start-up heap out of the collector's reach.

    uvicorn runs each request in a task whose coroutine is ``RequestResponseCycle.run_asgi``; the
    cycle holds the connection's transport, whose protocol is the one parsing this request.
    """
    ctx = ExecutionContext("probe", None)
    task = asyncio.current_task()
    assert task is not None
    coro: Any = task.get_coro()
    cycle = coro.cr_frame.f_locals["self"]
    protocol = cycle.transport.get_protocol()
    return json_response(
        {
            "loop": _qualified(asyncio.get_running_loop()),
            "task": coro.__qualname__,
            "protocol": _qualified(protocol),
            "parser": _qualified(protocol.parser),
            "start-up heap frozen": gc.get_freeze_count() > 0,
            "young collection threshold": gc.get_threshold()[0],
        },
        ctx,
    )


app = create_app(router, title="probe")
