"""Scenario A of the service benchmark (input -> 3 transforms -> output), three ways.

``npm run bench`` (tools/bench/scenarios/a-transform.mjs) serves each with uvicorn (``python -m
catalyst_runtime.serve card_apps:<name>``) or granian; LangGraph's is ``card_langgraph.py``.

- ``generated``: ``testdata/transform_chain/workflows`` compiled by the built compiler into
  ``bench_card/_generated`` on ``PYTHONPATH``, mounted as a scaffolded ``main.py`` mounts it;
  ``CATALYST_COMPILED_ROUTES=off`` serves the same app through FastAPI's routing.
- ``handwritten``: FastAPI as a skilled engineer writes it on FastAPI 0.165: the raw body read
  once into ``model_validate_json`` (no FastAPI body parameter, whose dependency solving and
  dict validation cost more), the answer written by orjson into a plain ``Response``. No
  Server-Timing, no execution context.
- ``bare``: the floor: a bare ASGI callable on the same uvicorn doing the same work with no
  framework: orjson decode, the input checks by hand, the three transforms, orjson encode.
"""

from __future__ import annotations

from typing import Any

import orjson
from catalyst_runtime import create_app
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

try:
    from bench_card._generated import router as _router
except ImportError:  # the driver puts it on PYTHONPATH; other apps need nothing of it
    _router = None

generated = create_app(_router, title="card (generated)") if _router is not None else None


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=100)
    city: str = ""
    visits: int = Field(ge=0)


handwritten = FastAPI(title="card (hand-written)")


def invalid(exc: ValidationError) -> Response:
    detail = exc.errors(include_url=False, include_context=False)
    return Response(orjson.dumps({"detail": detail}), 422, media_type="application/json")


@handwritten.post("/card")
async def card(request: Request) -> Response:
    try:
        body = CardIn.model_validate_json(await request.body())
    except ValidationError as exc:
        return invalid(exc)
    name, city = body.name.strip(), body.city.strip().upper()
    return Response(
        orjson.dumps(
            {
                "title": f"{name} from {city}",
                "letters": len(name),
                "level": body.visits * 2 + 1,
                "regular": body.visits >= 10,
            }
        ),
        media_type="application/json",
    )


_HEADERS = [(b"content-type", b"application/json")]
_BAD = {"type": "http.response.start", "status": 422, "headers": _HEADERS}


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    data = orjson.loads(body)
    name, city, visits = data.get("name"), data.get("city", ""), data.get("visits")
    if not (isinstance(name, str) and 0 < len(name) <= 100 and isinstance(city, str)) or not (
        type(visits) is int and visits >= 0
    ):
        await send(_BAD)
        await send({"type": "http.response.body", "body": b'{"detail":"invalid"}'})
        return
    name, city = name.strip(), city.strip().upper()
    out = orjson.dumps(
        {
            "title": f"{name} from {city}",
            "letters": len(name),
            "level": visits * 2 + 1,
            "regular": visits >= 10,
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*_HEADERS, (b"content-length", str(len(out)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": out})
