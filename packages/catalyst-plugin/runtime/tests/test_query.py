"""Query parameters of GET workflows: lax from text, strict about what is not declared."""

from __future__ import annotations

from typing import Literal

import httpx
import pytest
from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from catalyst_runtime import (
    ExecutionContext,
    WorkflowRouter,
    create_app,
    json_response,
    query_parameters,
    read_query,
)
from catalyst_runtime.query import MAX_QUERY_ERRORS


class SearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    q: str = Field(min_length=1, description="What to look for")
    limit: int = Field(default=10, ge=1, le=100)
    ratio: float | None = None
    exact: bool = False
    mode: Literal["any", "all"] = "any"
    tag: list[str] = []
    dash_key: str | None = Field(default=None, alias="dash-key")


router = WorkflowRouter()


@router.get("/search", openapi_extra=query_parameters(SearchInput))
async def search(request: Request) -> Response:
    ctx = ExecutionContext("search", read_query(request, SearchInput))
    return json_response(ctx.input.model_dump(by_alias=True), ctx)


async def get(path: str) -> httpx.Response:
    app = create_app(router, title="query")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://q") as c:
        return await c.get(path)


@pytest.mark.anyio
async def test_values_are_parsed_from_text() -> None:
    response = await get(
        "/search?q=cat&limit=5&ratio=0.5&exact=true&mode=all&tag=a&tag=b&dash-key=k"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "q": "cat",
        "limit": 5,
        "ratio": 0.5,
        "exact": True,
        "mode": "all",
        "tag": ["a", "b"],
        "dash-key": "k",
    }


@pytest.mark.anyio
async def test_defaults_and_a_single_list_value() -> None:
    response = await get("/search?q=x&tag=only")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["limit"] == 10 and body["tag"] == ["only"] and body["ratio"] is None


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("query", "loc"),
    [
        ("", ["query", "q"]),
        ("q=x&limit=abc", ["query", "limit"]),
        ("q=x&limit=0", ["query", "limit"]),
        ("q=x&ratio=nan", ["query", "ratio"]),
        ("q=x&ratio=inf", ["query", "ratio"]),
        ("q=x&mode=some", ["query", "mode"]),
        ("q=x&q=y", ["query", "q"]),
        ("q=x&unknown=1", ["query", "unknown"]),
    ],
)
async def test_invalid_parameters_are_a_422_naming_them(query: str, loc: list[str]) -> None:
    response = await get(f"/search?{query}")
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


@pytest.mark.anyio
async def test_errors_are_bounded() -> None:
    query = "q=x&" + "&".join(f"u{i}=1" for i in range(100))
    response = await get(f"/search?{query}")
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == MAX_QUERY_ERRORS + 1
    assert detail[-1] == {
        "type": "too_many_errors",
        "loc": ["query"],
        "msg": "80 more errors not shown",
    }


def test_openapi_lists_each_parameter() -> None:
    parameters = query_parameters(SearchInput)["parameters"]
    by_name = {p["name"]: p for p in parameters}
    assert list(by_name) == ["q", "limit", "ratio", "exact", "mode", "tag", "dash-key"]
    assert by_name["q"]["required"] is True
    assert by_name["q"]["description"] == "What to look for"
    assert by_name["limit"] == {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {
            "default": 10,
            "maximum": 100,
            "minimum": 1,
            "title": "Limit",
            "type": "integer",
        },
    }
    assert by_name["tag"]["schema"]["type"] == "array"
    assert all(p["in"] == "query" for p in parameters)


def test_the_app_openapi_document_shows_the_parameters() -> None:
    document = create_app(router, title="query").openapi()
    parameters = document["paths"]["/search"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == [
        "q",
        "limit",
        "ratio",
        "exact",
        "mode",
        "tag",
        "dash-key",
    ]
    assert "requestBody" not in document["paths"]["/search"]["get"]
