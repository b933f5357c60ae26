"""Scenario C in LangGraph inside FastAPI: four nodes, each ``SELECT pg_sleep(0.2)`` on the
shared asyncpg pool, all four edges from ``START`` so LangGraph runs them in one superstep (at
once), compiled once at import, ``ainvoke`` per request. The pool and the endpoint are the
hand-written ones of ``parallel_apps``.

    python -m catalyst_runtime.serve parallel_langgraph:app   (POST /parallel)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypedDict

import orjson
from fastapi import FastAPI, Response
from langgraph.graph import END, START, StateGraph
from parallel_apps import NODES, SLEEP, lifespan


class ParallelState(TypedDict, total=False):
    a: str
    b: str
    c: str
    d: str


def query(key: str) -> Callable[[ParallelState], Awaitable[ParallelState]]:
    async def node(state: ParallelState) -> ParallelState:
        return {key: await app.state.pool.execute(SLEEP)}  # type: ignore[misc]

    return node


_builder = StateGraph(ParallelState)
for _key in NODES:
    _builder.add_node(_key, query(_key))
    _builder.add_edge(START, _key)
    _builder.add_edge(_key, END)
graph = _builder.compile()

app = FastAPI(title="parallel (LangGraph)", lifespan=lifespan)


@app.post("/parallel")
async def parallel_endpoint() -> Response:
    out = await graph.ainvoke({})
    return Response(orjson.dumps({k: out[k] for k in NODES}), media_type="application/json")
