"""In-process cost of metrics and traces per request: the same small service (one GET route
running three nodes under ``ctx.node``, like a three-transform workflow) built with everything
off, with ``CATALYST_METRICS=on`` and with ``CATALYST_TRACING=on`` (spans made and batched as in
production, handed to an exporter that drops them: the export itself runs on the SDK's thread),
each started with its lifespan in a process of its own and called through its whole ASGI stack
on uvloop (no sockets), the processes alternating.

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/observability_cost.py [--loops N] [--rounds N] [--passes N]

Prints the fastest µs of process CPU time (steadier than wall time on a shared machine) per request over the rounds (noise only ever adds time) for each, and
the differences: what turning each on adds to a request.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

import uvloop
from fastapi import Request, Response
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from catalyst_runtime import (
    ExecutionContext,
    NodeScope,
    Settings,
    WorkflowRouter,
    create_app,
    json_response,
)


def service(variant: str) -> Any:
    router = WorkflowRouter()

    @router.get("/hello")
    async def hello(request: Request) -> Response:
        ctx = ExecutionContext("hello", None)
        with ctx.node("greet", "transform"):
            greet = {"message": "Hello"}
        with ctx.node("shout", "transform"):
            shout = {"message": greet["message"].upper()}
        with ctx.node("mark", "transform"):
            mark = {"message": shout["message"] + "!"}
        return json_response(mark, ctx)

    env = {"metrics": {"CATALYST_METRICS": "on"}, "tracing": {"CATALYST_TRACING": "on"}}
    settings = Settings.from_env(env.get(variant, {}), env_file=None)
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


class _Drop(SpanExporter):
    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def one(variant: str, loops: int, rounds: int) -> float:
    if variant == "tracing":
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(_Drop()))
        trace.set_tracer_provider(provider)  # tracing.install uses a provider the process set
    app = service(variant)
    async with app.router.lifespan_context(app):
        return min([await per_request(app, loops) for _ in range(rounds)])


def main(loops: int, rounds: int, passes: int) -> dict[str, float]:
    # Each variant in a process of its own: a tracer provider (and the node scope) is
    # process-wide, and FastAPI traces every app of a process that has one. Passes alternate.
    best = {name: float("inf") for name in ("off", "metrics", "tracing")}
    for _ in range(passes):
        for name in best:
            out = subprocess.run(  # noqa: S603 - this interpreter and this file
                [sys.executable, __file__, "--variant", name, f"--loops={loops}", f"--rounds={rounds}"],
                check=True, capture_output=True, text=True,
            )  # fmt: skip
            best[name] = min(best[name], float(out.stdout))
    result = {name: round(value, 2) for name, value in best.items()}
    result["cost of metrics"] = round(best["metrics"] - best["off"], 2)
    result["cost of tracing"] = round(best["tracing"] - best["off"], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--variant", choices=["off", "metrics", "tracing"])
    args = parser.parse_args()
    if args.variant:
        print(uvloop.run(one(args.variant, args.loops, args.rounds)))
    else:
        print(json.dumps(main(args.loops, args.rounds, args.passes)))
