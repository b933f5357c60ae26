"""In-process cost of ``CATALYST_METRICS=on`` per request: the same small service (one GET route
running three nodes under ``ctx.node``, like a three-transform workflow) built with metrics off
and on, each started with its lifespan and called through its whole ASGI stack on uvloop (no
sockets), rounds interleaved.

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/metrics_cost.py [--loops N] [--rounds N]

Prints the fastest µs of process CPU time (steadier than wall time on a shared machine) per request over the rounds (noise only ever adds time) for each, and
the difference: what turning metrics on adds to a request.
"""

from __future__ import annotations

import argparse
import json
import time
from contextlib import AsyncExitStack
from typing import Any

import uvloop
from fastapi import Request, Response

from catalyst_runtime import (
    ExecutionContext,
    NodeScope,
    Settings,
    WorkflowRouter,
    create_app,
    json_response,
)


def service(metrics: bool) -> Any:
    router = WorkflowRouter()

    @router.get("/hello")
    async def hello(request: Request) -> Response:
        ctx = ExecutionContext("hello", None)
        with ctx.node("greet"):
            greet = {"message": "Hello"}
        with ctx.node("shout"):
            shout = {"message": greet["message"].upper()}
        with ctx.node("mark"):
            mark = {"message": shout["message"] + "!"}
        return json_response(mark, ctx)

    settings = Settings.from_env({"CATALYST_METRICS": "on" if metrics else "off"}, env_file=None)
    return create_app(router, title="bench", settings=settings)


SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
    "scheme": "http", "path": "/hello", "raw_path": b"/hello", "query_string": b"",
    "root_path": "", "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
    "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
}  # fmt: skip


async def receive() -> Any:
    return {"type": "http.request", "body": b"", "more_body": False}


async def per_request(app: Any, loops: int) -> float:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.process_time()
    for _ in range(loops):
        await app(dict(SCOPE), receive, send)
    elapsed = (time.process_time() - started) / loops * 1e6
    assert sent[0]["status"] == 200, sent[0]
    return elapsed


async def main(loops: int, rounds: int) -> dict[str, float]:
    async with AsyncExitStack() as stack:
        apps = {}
        for name, on in (("off", False), ("on", True)):
            app = service(on)
            # The lifespan installs metrics; the ASGI app then runs the stack it built. (Settings
            # are given, so nothing is read from this machine's environment.)
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps[name] = app
        # The node scope is process-wide (a class attribute the "on" app's start-up set): each
        # app runs with the one it would have alone in its process.
        scopes = {"off": NodeScope, "on": ExecutionContext.scope_class}
        best = {name: float("inf") for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                ExecutionContext.scope_class = scopes[name]
                best[name] = min(best[name], await per_request(app, loops))
    result = {name: round(value, 2) for name, value in best.items()}
    result["cost of metrics"] = round(best["on"] - best["off"], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(json.dumps(uvloop.run(main(args.loops, args.rounds))))
