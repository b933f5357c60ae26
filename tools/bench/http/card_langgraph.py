"""Scenario A in LangGraph inside FastAPI: the same three transforms as ``card_apps`` as the
nodes of a ``StateGraph``, compiled once at import, ``ainvoke`` per request. The endpoint is the
hand-written one of ``card_apps`` (raw body into ``model_validate_json``, orjson answer); only
the work between is LangGraph's. The nodes are ``async def`` so that ``ainvoke`` runs them on
the event loop rather than in a thread pool.

    python -m catalyst_runtime.serve card_langgraph:app   (POST /card)
"""

from __future__ import annotations

from typing import TypedDict

import orjson
from card_apps import CardIn, invalid
from fastapi import FastAPI, Request, Response
from langgraph.graph import END, START, StateGraph
from pydantic import ValidationError


class CardState(TypedDict, total=False):
    name: str
    city: str
    visits: int
    clean_name: str
    clean_city: str
    level: int
    regular: bool
    title: str
    letters: int


async def clean(state: CardState) -> CardState:
    return {"clean_name": state["name"].strip(), "clean_city": state["city"].strip().upper()}


async def score(state: CardState) -> CardState:
    return {"level": state["visits"] * 2 + 1, "regular": state["visits"] >= 10}


async def card(state: CardState) -> CardState:
    name = state["clean_name"]
    return {"title": f"{name} from {state['clean_city']}", "letters": len(name)}


_builder = StateGraph(CardState)
_builder.add_node("clean", clean)
_builder.add_node("score", score)
_builder.add_node("card", card)
_builder.add_edge(START, "clean")
_builder.add_edge("clean", "score")
_builder.add_edge("score", "card")
_builder.add_edge("card", END)
graph = _builder.compile()

app = FastAPI(title="card (LangGraph)")


@app.post("/card")
async def card_endpoint(request: Request) -> Response:
    try:
        body = CardIn.model_validate_json(await request.body())
    except ValidationError as exc:
        return invalid(exc)
    out = await graph.ainvoke({"name": body.name, "city": body.city, "visits": body.visits})
    return Response(
        orjson.dumps(
            {
                "title": out["title"],
                "letters": out["letters"],
                "level": out["level"],
                "regular": out["regular"],
            }
        ),
        media_type="application/json",
    )
