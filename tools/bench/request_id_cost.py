"""In-process cost of ``RequestIdMiddleware`` per request: an ASGI app that answers at once,
called directly on uvloop, bare and wrapped, with and without a caller's ``X-Request-ID``.

    node tools/uv.mjs run --project packages/catalyst-plugin/runtime --no-sync \\
        python tools/bench/request_id_cost.py [--loops N] [--rounds N]

Prints the fastest µs of process CPU time (steadier than wall time on a shared machine) per call over the rounds (noise on a shared machine only adds time) for
each variant, and the difference to the bare app: what the request id adds to every request.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import uvloop

from catalyst_runtime.request_id import RequestIdMiddleware

HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"user-agent", b"wrk"),
    (b"accept", b"*/*"),
    (b"content-type", b"application/json"),
    (b"content-length", b"15"),
]


async def bare(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"a", b"b")]})
    await send({"type": "http.response.body", "body": b"{}"})


async def receive() -> Any:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Any) -> None:
    return None


async def per_call(app: Any, scope: dict[str, Any], loops: int) -> float:
    started = time.process_time()
    for _ in range(loops):
        await app(scope, receive, send)
    return (time.process_time() - started) / loops * 1e6


async def main(loops: int, rounds: int) -> dict[str, float]:
    plain = {"type": "http", "headers": HEADERS}
    given = {"type": "http", "headers": [*HEADERS, (b"x-request-id", b"req-1234.abcd")]}
    wrapped = RequestIdMiddleware(bare)
    variants = {"bare": (bare, plain), "new id": (wrapped, plain), "given id": (wrapped, given)}
    best = {name: float("inf") for name in variants}
    for _ in range(rounds):  # interleaved, so a slow moment hurts every variant alike
        for name, (app, scope) in variants.items():
            best[name] = min(best[name], await per_call(app, scope, loops))
    result = {name: round(value, 2) for name, value in best.items()}
    result["cost new id"] = round(best["new id"] - best["bare"], 2)
    result["cost given id"] = round(best["given id"] - best["bare"], 2)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--loops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(json.dumps(uvloop.run(main(args.loops, args.rounds))))
