"""Scenario B in LangGraph inside FastAPI: the three calls of ``chain_apps`` as the async nodes of
a ``StateGraph`` compiled once at import, ``ainvoke`` per request, with the same shared aiohttp
session (opened in the lifespan, handed to the nodes through the graph's ``config``) and the same
endpoint as the hand-written service.

    python -m catalyst_runtime.serve chain_langgraph:app   (POST /chain; UPSTREAM_URL)
"""

from __future__ import annotations

from typing import Any, TypedDict
from urllib.parse import quote

import aiohttp
import orjson
from chain_apps import UPSTREAM, ChainIn, UpstreamError, lifespan
from fastapi import FastAPI, Request, Response
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from pydantic import ValidationError


class ChainState(TypedDict, total=False):
    user: str
    name: str
    orders: int
    audited: bool


def _session(config: RunnableConfig) -> aiohttp.ClientSession:
    session: aiohttp.ClientSession = config["configurable"]["session"]
    return session


async def account(state: ChainState, config: RunnableConfig) -> ChainState:
    async with _session(config).get(f"{UPSTREAM}/accounts/{quote(state['user'], safe='')}") as r:
        if r.status >= 400:
            raise UpstreamError("account")
        return {"name": orjson.loads(await r.read())["name"]}


async def orders(state: ChainState, config: RunnableConfig) -> ChainState:
    params = {"user": state["name"], "limit": "5"}
    async with _session(config).get(f"{UPSTREAM}/orders", params=params) as r:
        if r.status >= 400:
            raise UpstreamError("orders")
        return {"orders": len(orjson.loads(await r.read())["items"])}


async def audit(state: ChainState, config: RunnableConfig) -> ChainState:
    body = {"user": state["name"], "orders": state["orders"]}
    async with _session(config).post(f"{UPSTREAM}/audit", json=body) as r:
        if r.status >= 400:
            raise UpstreamError("audit")
        await r.read()
        return {"audited": r.status == 201}


_builder = StateGraph(ChainState)
_builder.add_node("account", account)
_builder.add_node("orders", orders)
_builder.add_node("audit", audit)
_builder.add_edge(START, "account")
_builder.add_edge("account", "orders")
_builder.add_edge("orders", "audit")
_builder.add_edge("audit", END)
graph = _builder.compile()


app = FastAPI(title="chain (LangGraph)", lifespan=lifespan)


@app.post("/chain")
async def chain_endpoint(request: Request) -> Response:
    try:
        body = ChainIn.model_validate_json(await request.body())
    except ValidationError as exc:
        detail = exc.errors(include_url=False, include_context=False)
        return Response(orjson.dumps({"detail": detail}), 422, media_type="application/json")
    config: Any = {"configurable": {"session": request.app.state.session}}
    try:
        out = await graph.ainvoke({"user": body.user}, config)
    except (UpstreamError, aiohttp.ClientError, TimeoutError) as exc:
        return Response(orjson.dumps({"detail": f"upstream failed: {exc}"}), 502)
    return Response(
        orjson.dumps({"name": out["name"], "orders": out["orders"], "audited": out["audited"]}),
        media_type="application/json",
    )
