"""A service for the granian tests: a workflow route reading its body, a slow route, and a
start-up of its own that writes ``SHUTDOWN_MARKER`` (when set) once the app has shut down, so a
test can tell that a stop ran the app's shutdown and not only ended the process."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict

from catalyst_runtime import ExecutionContext, WorkflowRouter, create_app, json_response, read_input


class HelloInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


router = WorkflowRouter()


@router.post("/hello")
async def hello(request: Request) -> Response:
    ctx = ExecutionContext("hello", await read_input(request, HelloInput))
    with ctx.node("greet"):
        message = f"Hello, {ctx.input.name}!"
    return json_response({"message": message}, ctx)


@router.get("/slow")
async def slow(seconds: float) -> Response:
    await asyncio.sleep(seconds)
    return Response(b'{"slept":true}', media_type="application/json")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    marker = os.environ.get("SHUTDOWN_MARKER")
    if marker:
        Path(marker).write_text("shut down")  # noqa: ASYNC240 - once, at shutdown, in a test


app = create_app(router, title="granian", lifespan=lifespan)
