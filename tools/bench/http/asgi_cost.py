"""In-process cost of one /hello request through each app's ASGI stack, without sockets or uvicorn.

Drives the three "simple transform" apps (generated, hand-written, interpreted) directly as ASGI
callables on uvloop, alternating between them, and prints one JSON line: the median µs per
request over several rounds, plus the cost of the generated code's own bookkeeping pieces
(ExecutionContext, Server-Timing, json_response) timed alone. This is the low-noise complement
of the wrk figures: it shows where per-request time goes once the network and the load
generator are taken away. Run by ``http-bench.mjs`` (needs PYTHONPATH with the compiled package
and BENCH_DEFINITION); prints ``ASGI_COST {...}``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

import orjson
import uvloop

os.environ.setdefault("BENCH_APP", "hello")

import generated_app
import handwritten_app
import interpreted_app
from bench_hello._generated.hello import HelloInput
from bench_hello._generated.hello import router as workflow_router
from catalyst_runtime import ExecutionContext, create_app, json_response
from fastapi import APIRouter, FastAPI
from starlette.responses import Response

BODY = orjson.dumps({"name": "Ada Lovelace", "punctuation": "?"})
N = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/hello",
    "raw_path": b"/hello",
    "root_path": "",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


async def one(app: Any, state: dict[str, Any]) -> bytes:
    sent = False
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app({**SCOPE, "state": state}, receive, send)
    return b"".join(chunks)


async def per_request_us(app: Any, state: dict[str, Any]) -> float:
    started = time.perf_counter_ns()
    for _ in range(N):
        await one(app, state)
    return (time.perf_counter_ns() - started) / N / 1000


def pieces() -> dict[str, float]:
    """µs per call of the generated code's bookkeeping, against what the hand-written one does."""
    model = HelloInput.model_validate_json(BODY)
    data = {"message": "Hello, Ada Lovelace?", "shout": "ADA LOVELACE", "length": 12}
    loops = 50_000

    def timed(fn: Any) -> float:
        best = []
        for _ in range(5):
            t = time.perf_counter_ns()
            for _ in range(loops):
                fn()
            best.append((time.perf_counter_ns() - t) / loops / 1000)
        return statistics.median(best)

    def context_and_node() -> dict[str, Any]:
        ctx = ExecutionContext("hello", model)
        with ctx.node("greet", "transform"):
            greet = data
        return greet

    ctx = ExecutionContext("hello", model)
    with ctx.node("greet", "transform"):
        pass
    return {
        "context_create_node_scope_us": timed(context_and_node),
        "server_timing_header_us": timed(ctx.server_timing),
        "json_response_us": timed(lambda: json_response(data, ctx)),
        "plain_orjson_response_us": timed(
            lambda: Response(orjson.dumps(data), media_type="application/json")
        ),
        "model_validate_json_us": timed(lambda: HelloInput.model_validate_json(BODY)),
        "orjson_loads_plus_model_validate_us": timed(
            lambda: HelloInput.model_validate(orjson.loads(BODY))
        ),
    }


def diagnostics() -> dict[str, Any]:
    """Two variants that isolate FastAPI's cost of included routers (not benchmarked over HTTP).

    The shipped layout is app -> service router (``_generated/__init__.py``) -> workflow router;
    FastAPI 0.165 keeps included routers as live ``_IncludedRouter`` objects and walks them on
    every request instead of copying their routes up. So: the generated workflow router mounted
    directly (one level), and the hand-written endpoint behind two levels of ``APIRouter``.
    """
    inner = APIRouter()
    inner.add_api_route("/hello", handwritten_app.say_hello, methods=["POST"])
    outer = APIRouter()
    outer.include_router(inner)
    nested = FastAPI()
    nested.include_router(outer)
    return {
        "diag: generated, workflow router included directly": create_app(
            workflow_router, title="hello (one level)"
        ),
        "diag: hand-written behind two included routers": nested,
    }


async def main() -> None:
    apps = {
        "generated": generated_app.hello,
        "hand-written": handwritten_app.hello,
        "interpreted": interpreted_app.app,
        **diagnostics(),
    }
    states: dict[str, dict[str, Any]] = {}
    contexts = []
    for name, app in apps.items():
        # Run each app's lifespan (the generated app builds its settings and pools there).
        cm = app.router.lifespan_context(app)
        await cm.__aenter__()
        contexts.append(cm)
        states[name] = {}
        answer = orjson.loads(await one(app, states[name]))
        assert answer["shout"] == "ADA LOVELACE", (name, answer)
    for name, app in apps.items():  # warm-up
        for _ in range(500):
            await one(app, states[name])
    samples: dict[str, list[float]] = {name: [] for name in apps}
    names = list(apps)
    for round_ in range(ROUNDS):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            samples[name].append(await per_request_us(apps[name], states[name]))
    for cm in reversed(contexts):
        await cm.__aexit__(None, None, None)
    result = {
        "requests_per_sample": N,
        "rounds": ROUNDS,
        "asgi_us_per_request": {name: statistics.median(v) for name, v in samples.items()},
        "asgi_samples_us": samples,
        "pieces_us": pieces(),
    }
    print("ASGI_COST " + json.dumps(result))


if __name__ == "__main__":
    uvloop.run(main())
