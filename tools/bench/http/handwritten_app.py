"""Hand-written FastAPI references: the same work as the generated workflows, written by hand.

This is what a good FastAPI developer would write for these two endpoints on the pinned stack
(FastAPI 0.165): a pydantic model as the body parameter (FastAPI parses and validates it), the
response written by orjson into a plain ``Response`` (``ORJSONResponse`` is deprecated in 0.165
and warns on every instantiation), one shared ``httpx.AsyncClient`` opened in the lifespan, and
``asyncio.gather`` for the two independent upstream calls. No Server-Timing header, no execution
context: that bookkeeping is what the generated code adds, and what this reference measures.

    python -m catalyst_runtime.serve handwritten_app:hello   (POST /hello)
    python -m catalyst_runtime.serve handwritten_app:fanout  (POST /profile; UPSTREAM_URL/TOKEN)
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import orjson
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

# --- simple transform ------------------------------------------------------------------------


class HelloIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    punctuation: str = "!"


hello = FastAPI(title="hello (hand-written)")


@hello.post("/hello")
async def say_hello(body: HelloIn) -> Response:
    return Response(
        orjson.dumps(
            {
                "message": f"Hello, {body.name}{body.punctuation}",
                "shout": body.name.upper(),
                "length": len(body.name),
            }
        ),
        media_type="application/json",
    )


# --- two parallel HTTP calls -----------------------------------------------------------------


class ProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: str = Field(min_length=1)
    verbose: bool = False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.base = os.environ["UPSTREAM_URL"]
    app.state.auth = {"Authorization": f"Bearer {os.environ['UPSTREAM_TOKEN']}"}
    # Same pool limits and default timeouts as catalyst_runtime's http pool.
    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        timeout=httpx.Timeout(30.0, connect=5.0),
    ) as client:
        app.state.client = client
        yield


fanout = FastAPI(title="profile (hand-written)", lifespan=_lifespan)


@fanout.post("/profile")
async def profile(body: ProfileIn, request: Request) -> Response:
    state = request.app.state
    client: httpx.AsyncClient = state.client
    try:
        account, orders = await asyncio.gather(
            client.get(f"{state.base}/accounts/{body.user}", headers=state.auth, timeout=2.0),
            client.get(f"{state.base}/orders", params={"user": body.user, "limit": 5}),
        )
        account.raise_for_status()
        orders.raise_for_status()
        audit_status = 0
        if body.verbose:
            audit = await client.post(
                f"{state.base}/audit", json={"user": body.user, "seen": account.status_code}
            )
            audit.raise_for_status()
            audit_status = audit.status_code
    except httpx.HTTPError as exc:
        raise HTTPException(502, "upstream failed") from exc
    return Response(
        orjson.dumps(
            {
                "name": account.json()["name"],
                "orders": len(orders.json()["items"]),
                "audited": audit_status == 201,
            }
        ),
        media_type="application/json",
    )
