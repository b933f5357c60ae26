"""The ``cache_nodes`` golden, served for real: cached nodes under uvicorn (``running_server``),
called over HTTP, against a loopback upstream that counts the calls it gets and the test Redis.

- ``/users`` (memory, key derived from what the node sends): the second request is a hit, the
  upstream count unchanged and ``Server-Timing`` saying so; concurrent misses make one call.
- ``/shared-users`` (Redis, ``key: user:{{ input.id }}``, ttl 2 s): an entry made by one
  process is a hit in another; it expires; with Redis gone (a proxy in front of it, closed) the
  answer is still a 200 from the upstream, and the cache comes back with Redis.
- ``/flags`` (a Redis ``get`` kept in memory): a change in Redis is not seen until the ttl ends.

Every id is made under this run's own token, so nothing here meets another run's entries; the
Redis entries are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import redis
from catalyst_runtime.testing import TcpProxy, running_server

PACKAGE = "cache_nodes_live"
SLOW = 0.3  # seconds each upstream answer takes, so concurrent requests overlap
RUN = uuid.uuid4().hex[:12]


class Upstream:
    """Answers ``/users/<id>`` with ``{"name": <id>}`` after ``SLOW`` seconds; counts paths."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        path: str = scope["path"]
        self.calls[path] += 1
        await asyncio.sleep(SLOW)
        body = orjson.dumps({"name": path.rsplit("/", 1)[-1]})
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def upstream(
    serve_in_thread: Callable[[Any], AbstractContextManager[str]],
) -> Iterator[tuple[str, Upstream]]:
    app = Upstream()
    with serve_in_thread(app) as url:
        yield url, app


@pytest.fixture(scope="module")
def service_root(golden_service: Callable[[str, str], tuple[Path, str]]) -> Path:
    return golden_service("cache_nodes", PACKAGE)[0]


@pytest.fixture(scope="module")
def service_env(
    upstream: tuple[str, Upstream], redis_url: str, prefix: str
) -> Iterator[dict[str, str]]:
    yield {"UPSTREAM_URL": upstream[0], "REDIS_URL": redis_url, "KEY_PREFIX": prefix}
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(
            client.scan_iter(
                match=f"catalyst:cache:shared_user:account:key:user:{RUN}*"
            )
        )
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="module")
def service(service_root: Path, service_env: dict[str, str]) -> Iterator[str]:
    with running_server(
        f"{PACKAGE}.main:app", cwd=service_root, env=service_env
    ) as url:
        yield url


def new_id() -> str:
    return f"{RUN}-{uuid.uuid4().hex[:8]}"


def desc(response: httpx.Response, node: str = "account") -> str:
    """What ``Server-Timing`` says of ``node``: ``cache hit``, ``cache miss``, ..."""
    entry = next(
        e
        for e in response.headers["server-timing"].split(", ")
        if e.startswith(f"{node};")
    )
    assert entry.count(";") == 2, entry
    return entry.rsplit(";desc=", 1)[1].strip('"')


def test_a_second_request_is_a_hit_without_an_upstream_call(
    service: str, upstream: tuple[str, Upstream]
) -> None:
    user, calls = new_id(), upstream[1].calls
    first = httpx.get(f"{service}/users", params={"id": user})
    assert first.status_code == 200, first.text
    assert first.json() == {"name": user}
    assert desc(first) == "cache miss"
    assert calls[f"/users/{user}"] == 1
    second = httpx.get(f"{service}/users", params={"id": user})
    assert second.json() == {"name": user}
    assert desc(second) == "cache hit"
    assert calls[f"/users/{user}"] == 1
    # Another user is another entry.
    other = new_id()
    assert httpx.get(f"{service}/users", params={"id": other}).json() == {"name": other}
    assert calls[f"/users/{other}"] == 1


def test_concurrent_misses_make_one_upstream_call(
    service: str, upstream: tuple[str, Upstream]
) -> None:
    user = new_id()

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service, timeout=30) as client:
            return await asyncio.gather(
                *(client.get("/users", params={"id": user}) for _ in range(8))
            )

    responses = asyncio.run(burst())
    assert [r.json() for r in responses] == [{"name": user}] * 8
    assert upstream[1].calls[f"/users/{user}"] == 1
    notes = Counter(desc(r) for r in responses)
    assert notes["cache miss"] == 1
    assert notes["cache miss"] + notes["cache shared"] + notes["cache hit"] == 8


def test_a_redis_entry_is_shared_by_two_processes_and_expires(
    service: str,
    service_root: Path,
    service_env: dict[str, str],
    upstream: tuple[str, Upstream],
) -> None:
    user, calls = new_id(), upstream[1].calls
    # Both processes up before the entry is made: starting one takes longer than the ttl.
    with running_server(
        f"{PACKAGE}.main:app", cwd=service_root, env=service_env
    ) as other:
        first = httpx.get(f"{service}/shared-users", params={"id": user})
        assert first.json() == {"name": user}
        assert desc(first) == "cache miss"
        second = httpx.get(f"{other}/shared-users", params={"id": user})
        assert second.json() == {"name": user}
        assert desc(second) == "cache hit"
        assert calls[f"/users/{user}"] == 1
        time.sleep(2.3)  # the ttl is 2 s, kept by Redis
        third = httpx.get(f"{other}/shared-users", params={"id": user})
        assert desc(third) == "cache miss"
        assert calls[f"/users/{user}"] == 2


def test_with_redis_down_the_answer_comes_from_the_upstream(
    service_root: Path, service_env: dict[str, str], upstream: tuple[str, Upstream]
) -> None:
    proxy = TcpProxy(service_env["REDIS_URL"])
    proxy.open()
    user, calls = new_id(), upstream[1].calls
    try:
        env = {**service_env, "REDIS_URL": proxy.url}
        with running_server(f"{PACKAGE}.main:app", cwd=service_root, env=env) as url:
            assert (
                desc(httpx.get(f"{url}/shared-users", params={"id": user}))
                == "cache miss"
            )
            assert (
                desc(httpx.get(f"{url}/shared-users", params={"id": user}))
                == "cache hit"
            )
            proxy.close()  # Redis is gone for this service: connections cut, the port refuses
            down = httpx.get(f"{url}/shared-users", params={"id": user}, timeout=30)
            assert down.status_code == 200, down.text
            assert down.json() == {"name": user}
            assert desc(down) == "cache error"
            assert calls[f"/users/{user}"] == 2
            proxy.open()
            back = httpx.get(f"{url}/shared-users", params={"id": user}, timeout=30)
            assert back.status_code == 200, back.text
            assert desc(back) in (
                "cache hit",
                "cache miss",
            )  # the entry may have expired
    finally:
        proxy.shutdown()


def test_a_cached_redis_read_sees_a_change_only_after_its_ttl(
    service: str, redis_url: str, prefix: str
) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{prefix}flags", orjson.dumps({"beta": True}))
        first = httpx.get(f"{service}/flags")
        assert first.json() == {"flags": {"beta": True}}
        assert desc(first, "current") == "cache miss"
        client.set(f"{prefix}flags", orjson.dumps({"beta": False}))
        kept = httpx.get(f"{service}/flags")
        assert kept.json() == {"flags": {"beta": True}}
        assert desc(kept, "current") == "cache hit"
    finally:
        client.close()
