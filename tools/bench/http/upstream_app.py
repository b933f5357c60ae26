"""A loopback upstream for the "2 parallel HTTP calls" scenario: answers after a fixed delay.

A bare ASGI app (no framework) so the upstream costs as little CPU as possible on a small machine.
``BENCH_UPSTREAM_DELAY_MS`` (default 20) is the delay before every answer.

    GET /accounts/<user>  -> {"name": "<user>"}
    GET /orders?user=...  -> {"items": [5 orders]}
    POST /audit           -> 201 {}
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson

DELAY = float(os.environ.get("BENCH_UPSTREAM_DELAY_MS", "20")) / 1000
_ORDERS = orjson.dumps({"items": [{"id": i, "total": 10 * i} for i in range(1, 6)]})
_JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    if scope["method"] == "POST":
        while (await receive()).get("more_body"):
            pass
    await asyncio.sleep(DELAY)
    status, body = 404, b'{"detail":"not found"}'
    if path.startswith("/accounts/"):
        status, body = 200, orjson.dumps({"name": path.removeprefix("/accounts/")})
    elif path == "/orders":
        status, body = 200, _ORDERS
    elif path == "/audit":
        status, body = 201, b"{}"
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})
