"""A workflow route in the shape generated code has (its module names its ``WORKFLOW_ID``; the
input is read before the run's context exists), mounted by ``ops_app`` for the log tests."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    compiled_route,
    input_body,
    json_response,
    read_input,
)

WORKFLOW_ID = "greeting"


class GreetingInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1)


router = WorkflowRouter()


@router.post("/greeting", openapi_extra=input_body(GreetingInput))
@compiled_route
async def greeting(request: Request) -> Response:
    ctx = ExecutionContext(WORKFLOW_ID, await read_input(request, GreetingInput))
    with ctx.node("greet", "transform"):
        greet = {"message": f"Hello, {ctx.input.name}"}
    return json_response(greet, ctx)
