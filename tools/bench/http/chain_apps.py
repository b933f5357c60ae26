"""Scenario B of the benchmarks (three http calls in series to a loopback upstream), three ways;
LangGraph's is ``chain_langgraph.py``. ``npm run bench`` (tools/bench/scenarios/b-chain.mjs)
serves each with uvicorn (``python -m catalyst_runtime.serve chain_apps:<name>``) or granian,
with ``UPSTREAM_URL`` pointing at ``upstream_app.py``.

The work, as ``tools/bench/chain/chain.workflow.yaml`` defines it: GET
``/accounts/<user>``, then GET ``/orders?user=<name>&limit=5``, then POST ``/audit`` with
``{"user", "orders"}``; the answer ``{"name", "orders": <count>, "audited": <status == 201>}``.
A failing call answers 502.

- ``generated``: that workflow compiled by the built compiler into ``bench_chain/_generated``
  on ``PYTHONPATH``, mounted as a scaffolded ``main.py`` mounts it.
- ``handwritten``: FastAPI as a skilled engineer writes it: one ``aiohttp.ClientSession``
  opened in the lifespan and shared, the raw body into ``model_validate_json``, orjson out.
- ``bare``: the floor: a bare ASGI callable with the same shared aiohttp session, orjson in and
  out, the check by hand, no framework.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from catalyst_runtime import create_app
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

try:
    from bench_chain._generated import router as _router
except ImportError:  # the driver puts it on PYTHONPATH; other apps need nothing of it
    _router = None

generated = create_app(_router, title="chain (generated)") if _router is not None else None

UPSTREAM = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9")
TIMEOUT = aiohttp.ClientTimeout(total=10)


class UpstreamError(Exception):
    pass


def new_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(timeout=TIMEOUT, json_serialize=lambda v: orjson.dumps(v).decode())


async def chain(session: aiohttp.ClientSession, user: str) -> bytes:
    """The three calls in series; the answer's JSON bytes."""
    async with session.get(f"{UPSTREAM}/accounts/{quote(user, safe='')}") as r:
        if r.status >= 400:
            raise UpstreamError("account")
        name = orjson.loads(await r.read())["name"]
    async with session.get(f"{UPSTREAM}/orders", params={"user": name, "limit": "5"}) as r:
        if r.status >= 400:
            raise UpstreamError("orders")
        orders = len(orjson.loads(await r.read())["items"])
    async with session.post(f"{UPSTREAM}/audit", json={"user": name, "orders": orders}) as r:
        if r.status >= 400:
            raise UpstreamError("audit")
        await r.read()
        audited = r.status == 201
    return orjson.dumps({"name": name, "orders": orders, "audited": audited})


# --- hand-written FastAPI --------------------------------------------------------------------


class ChainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.session = new_session()
    yield
    await app.state.session.close()


handwritten = FastAPI(title="chain (hand-written)", lifespan=lifespan)


@handwritten.post("/chain")
async def chain_endpoint(request: Request) -> Response:
    try:
        body = ChainIn.model_validate_json(await request.body())
    except ValidationError as exc:
        detail = exc.errors(include_url=False, include_context=False)
        return Response(orjson.dumps({"detail": detail}), 422, media_type="application/json")
    try:
        out = await chain(request.app.state.session, body.user)
    except (UpstreamError, aiohttp.ClientError, TimeoutError) as exc:
        return Response(orjson.dumps({"detail": f"upstream failed: {exc}"}), 502)
    return Response(out, media_type="application/json")


# --- the floor: bare ASGI --------------------------------------------------------------------

_HEADERS = [(b"content-type", b"application/json")]
_session: aiohttp.ClientSession | None = None


async def _answer(send: Any, status: int, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _session
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _session = new_session()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _session is not None:
                    await _session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    try:
        user = orjson.loads(body).get("user")
    except (orjson.JSONDecodeError, AttributeError):
        user = None
    if not isinstance(user, str) or not user:
        await _answer(send, 422, b'{"detail":"invalid"}')
        return
    assert _session is not None
    try:
        out = await chain(_session, user)
    except (UpstreamError, aiohttp.ClientError, TimeoutError):
        await _answer(send, 502, b'{"detail":"upstream failed"}')
        return
    await _answer(send, 200, out)
