"""The ``map_items`` golden, served for real: the generated service under uvicorn, calling an
upstream on loopback (uvicorn in a thread of this process) that counts the requests in flight.

Values come back in the order of the ids although the upstream answers them in another; the
upstream never sees more than the map's ``concurrency`` (3) at once; a failing item fails the
request naming the node and the item, or with ``on_error: collect`` is reported beside the
others; a list over ``CATALYST_MAX_MAP_ITEMS`` is a 422 naming the map node; and
``Server-Timing`` holds one entry per node, not per item.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from catalyst_runtime.testing import running_server

FAILING = 999  # the id the upstream answers with a 500
MAX_ITEMS = 50  # CATALYST_MAX_MAP_ITEMS for the service


class Upstream:
    """``GET /items/<n>`` answers ``{"n": n}`` after a random few milliseconds (so answers
    arrive out of order), a 500 for ``FAILING``; records the most requests it had at once."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.order: list[int] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        n = int(scope["path"].removeprefix("/items/"))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(random.uniform(0.005, 0.03))
        finally:
            self.in_flight -= 1
        self.order.append(n)
        status = 500 if n == FAILING else 200
        headers = [(b"content-type", b"application/json")]
        await send(
            {"type": "http.response.start", "status": status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": orjson.dumps({"n": n})})


@pytest.fixture(scope="module")
def upstream(
    serve_in_thread: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[tuple[str, Upstream]]:
    app = Upstream()
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def service(
    golden_service: Callable[[str, str], tuple[Path, str]],
    upstream: tuple[str, Upstream],
) -> Iterator[str]:
    root, app = golden_service("map_items", "map_live")
    env = {"API_URL": upstream[0], "CATALYST_MAX_MAP_ITEMS": str(MAX_ITEMS)}
    with running_server(app, cwd=root, env=env) as url:
        yield url


def test_values_come_back_in_order_with_at_most_three_in_flight(
    service: str, upstream: tuple[str, Upstream]
) -> None:
    _, app = upstream
    app.most = 0
    app.order.clear()
    ids = list(range(30))
    response = httpx.post(f"{service}/fetch_all", json={"ids": ids}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == 30
    assert body["items"] == [{"id": n, "position": n, "body": {"n": n}} for n in ids]
    # Answered out of order, yet given back in order; never more than three at once.
    assert app.order != ids
    assert app.most == 3


def test_server_timing_has_one_entry_per_node_not_per_item(service: str) -> None:
    response = httpx.post(
        f"{service}/fetch_all", json={"ids": list(range(MAX_ITEMS))}, timeout=10
    )
    assert response.status_code == 200, response.text
    parts = response.headers["server-timing"].split(", ")
    assert [part.split(";")[0] for part in parts] == [
        "slot", "item_call", "item_value", "fetch", "total"
    ]  # fmt: skip
    assert f'desc="{MAX_ITEMS} items"' in parts[3]


def test_a_failing_item_fails_the_request_naming_node_and_item(service: str) -> None:
    response = httpx.post(
        f"{service}/fetch_all", json={"ids": [1, 2, FAILING, 4]}, timeout=10
    )
    assert response.status_code == 502, response.text
    assert response.json()["detail"] == [
        {
            "type": "upstream_error",
            "loc": ["nodes", "fetch", 2, "item_call"],
            "msg": 'node "item_call" in item 2 of "fetch": HTTP upstream answered 500',
        }
    ]


def test_collect_reports_failing_items_beside_the_others(service: str) -> None:
    ids = [FAILING, 5, 6, FAILING, 8]
    response = httpx.post(f"{service}/fetch_some", json={"ids": ids}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    # Each value is the http node's answer, { status, headers, body }.
    assert [answer and answer["body"] for answer in body["bodies"]] == [
        None, {"n": 5}, {"n": 6}, None, {"n": 8}
    ]  # fmt: skip
    assert body == {
        "bodies": body["bodies"],
        "errors": [
            {
                "index": i,
                "status": 502,
                "message": f'node "call" in item {i} of "fetch": HTTP upstream answered 500',
            }
            for i in (0, 3)
        ],
    }


def test_a_list_over_the_limit_is_a_422_naming_the_map(service: str) -> None:
    response = httpx.post(
        f"{service}/fetch_some", json={"ids": list(range(MAX_ITEMS + 1))}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [
        {
            "type": "too_many_items",
            "loc": ["nodes", "fetch"],
            "msg": f'node "fetch": map over {MAX_ITEMS + 1} items; at most {MAX_ITEMS} are allowed (CATALYST_MAX_MAP_ITEMS)',
        }
    ]
