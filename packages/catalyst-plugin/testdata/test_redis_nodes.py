"""The ``redis_commands`` golden, served for real: its generated service under uvicorn
(``catalyst_runtime.testing.running_server``), called over HTTP, on the test Redis.

``node tools/runtime-tests.mjs`` starts Redis and names it in ``CATALYST_TEST_REDIS_URL``. Each
test run uses its own key prefix (the workflows read it from ``env.KEY_PREFIX``), so nothing
here touches another test's keys. The outage is a loopback proxy in front of that Redis, closed
and reopened under a second service: the shared server is never stopped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalyst_runtime.testing import TcpProxy, running_server

PACKAGE = "redis_commands_live"


@pytest.fixture(scope="module")
def service_root(golden_service: Callable[[str, str], tuple[Path, str]]) -> Path:
    """The golden as a user's service: a package with ``_generated`` and a ``main.py``."""
    return golden_service("redis_commands", PACKAGE)[0]


@pytest.fixture(scope="module")
def service(service_root: Path, redis_url: str, prefix: str) -> Iterator[str]:
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": prefix}
    with running_server(f"{PACKAGE}.main:app", cwd=service_root, env=env) as url:
        yield url


@pytest.mark.parametrize(
    "doc",
    [
        {"title": "Notes", "tags": ["a", "b"], "meta": {"pages": 3, "draft": False}},
        [1, 2.5, None, "x"],
        "plain text, stored in quotes",
        12345678901234567890123,
        None,
    ],
)
def test_set_then_get_round_trips_json(service: str, doc: Any) -> None:
    name = uuid.uuid4().hex
    saved = httpx.post(f"{service}/save", json={"name": name, "doc": doc})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"saved": True}
    assert "store;dur=" in saved.headers["server-timing"]
    loaded = httpx.get(f"{service}/load", params={"name": name})
    assert loaded.status_code == 200, loaded.text
    # A stored JSON null reads back as null, like a missing key: "found" tells them apart
    # only for values other than null.
    assert loaded.json() == {"found": doc is not None, "doc": doc}
    removed = httpx.post(f"{service}/forget", json={"name": name})
    assert removed.json() == {"removed": 1}
    gone = httpx.get(f"{service}/load", params={"name": name})
    assert gone.json() == {"found": False, "doc": None}
    assert httpx.post(f"{service}/forget", json={"name": name}).json() == {"removed": 0}


def test_incr_counts_across_requests(service: str) -> None:
    page = uuid.uuid4().hex
    counts = [
        httpx.post(f"{service}/hit", json={"page": page}).json()["hits"]
        for _ in range(3)
    ]
    assert counts == [1, 2, 3]
    other = httpx.post(f"{service}/hit", json={"page": f"{page}-other"})
    assert other.json() == {"page": f"{page}-other", "hits": 1}


def test_hash_fields_increments_and_publish(
    service: str, redis_url: str, prefix: str
) -> None:
    import redis

    user = uuid.uuid4().hex
    body = {"user": user, "name": "Ada", "visits": 3}
    subscriber = redis.Redis.from_url(redis_url).pubsub()
    try:
        subscriber.subscribe(f"{prefix}cards")
        assert subscriber.get_message(timeout=2)["type"] == "subscribe"  # type: ignore[index]
        first = httpx.post(f"{service}/card", json=body)
        assert first.status_code == 200, first.text
        assert first.json() == {
            "name": "Ada",
            "visits": 3,  # written as JSON by hset, parsed by hget with json: true
            "new_name": True,
            "score": 10,
            "receivers": 1,
        }
        message = subscriber.get_message(ignore_subscribe_messages=True, timeout=2)
        assert message is not None
        assert message["data"] == f'{{"user":"{user}","score":10}}'.encode()
    finally:
        subscriber.close()
    second = httpx.post(f"{service}/card", json={**body, "name": "Bo"})
    assert second.json() == {
        "name": "Bo",
        "visits": 3,
        "new_name": False,  # the field existed: replaced, not added
        "score": 20,
        "receivers": 0,
    }


@pytest.fixture
def proxy(redis_url: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy(redis_url)
    proxy.open()
    try:
        yield proxy
    finally:
        proxy.shutdown()


def test_a_redis_outage_is_a_502_naming_the_node_and_the_service_keeps_serving(
    service_root: Path, proxy: TcpProxy, prefix: str
) -> None:
    page = uuid.uuid4().hex
    env = {"REDIS_URL": proxy.url, "KEY_PREFIX": prefix}
    with running_server(f"{PACKAGE}.main:app", cwd=service_root, env=env) as url:
        assert httpx.post(f"{url}/hit", json={"page": page}).json()["hits"] == 1
        proxy.close()  # Redis is gone for this service: connections cut, the port refuses
        failed = httpx.post(f"{url}/hit", json={"page": page}, timeout=30)
        assert failed.status_code == 502, failed.text
        assert failed.json() == {
            "detail": [
                {
                    "type": "upstream_error",
                    "loc": ["nodes", "hits"],
                    "msg": 'node "hits": Redis error (ConnectionError)',
                }
            ]
        }
        assert proxy.url.split("//", 1)[1] not in failed.text
        # The service itself is fine: what needs no Redis answers, and Redis nodes work again
        # once the server is back, on the same pool.
        assert httpx.get(f"{url}/openapi.json").status_code == 200
        invalid = httpx.post(f"{url}/hit", json={})
        assert invalid.status_code == 422
        assert [error["loc"] for error in invalid.json()["detail"]] == [["body", "page"]]
        proxy.open()
        again = httpx.post(f"{url}/hit", json={"page": page}, timeout=30)
        assert again.status_code == 200, again.text
        assert again.json()["hits"] == 2
