"""The ``rate_limit_nodes`` golden, served for real: its generated service under uvicorn, twice
(two processes), called over HTTP, the Redis backend on the test Redis.

``throttle`` keeps its limiter in memory (one call every 0.5 s per user, waiting up to 2 s):
a burst is spaced out in the order it arrived, what would wait longer is a 429 with
``Retry-After``, another user is not held up, and the other process has limits of its own.
``shared`` keeps it in Redis (per tenant two calls at once, then one every 5 s, no waiting):
both processes draw on one limit. Assertions are on order and generous bounds, not on timing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from catalyst_runtime.testing import running_server

PACKAGE = "rate_limit_nodes_live"


@pytest.fixture(scope="module")
def service_root(golden_service: Callable[[str, str], tuple[Path, str]]) -> Path:
    """The golden as a user's service: a package with ``_generated`` and a ``main.py``."""
    return golden_service("rate_limit_nodes", PACKAGE)[0]


@pytest.fixture(scope="module")
def services(service_root: Path, redis_url: str, prefix: str) -> Iterator[tuple[str, str]]:
    env = {"REDIS_URL": redis_url, "KEY_PREFIX": prefix}
    app = f"{PACKAGE}.main:app"
    with running_server(app, cwd=service_root, env=env) as one:
        with running_server(app, cwd=service_root, env=env) as two:
            yield one, two


async def _burst(url: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30) as client:
        return list(await asyncio.gather(*(client.post(url, json=b) for b in bodies)))


def test_a_burst_is_spaced_out_or_refused_with_retry_after(services: tuple[str, str]) -> None:
    one, two = services
    user = uuid.uuid4().hex
    answers = asyncio.run(_burst(f"{one}/throttle", [{"user": user}] * 10))
    served = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    # Slots every 0.5 s, waits up to 2 s: about five are served, the rest cannot be.
    assert len(served) >= 3, [a.text for a in answers]
    assert refused, "ten calls at once cannot all fit in 2 s at one per 0.5 s"
    waits = sorted(a.json()["waited"] for a in served)
    assert waits[0] < 0.5
    assert all(0 <= w <= 2.0 for w in waits)
    # Spaced: the n-th slot waits about n × 0.5 s (about 2 s from first to last when the calls
    # arrive together). Calls that arrive late on a loaded machine wait less, so only ask that
    # the served calls did not all get the same slot.
    assert waits[-1] - waits[0] >= 0.4
    for answer in refused:
        assert answer.status_code == 429, answer.text
        assert 1 <= int(answer.headers["retry-after"]) <= 5
        assert answer.json()["detail"][0]["loc"] == ["nodes", "slot"]
        assert answer.json()["detail"][0]["type"] == "rate_limited"
        assert user not in answer.text

    # Meanwhile another user is not held up, and the other process keeps its own limits.
    other = httpx.post(f"{one}/throttle", json={"user": f"{user}-other"})
    assert other.status_code == 200, other.text
    assert other.json()["waited"] == 0
    elsewhere = httpx.post(f"{two}/throttle", json={"user": user})
    assert elsewhere.status_code == 200, elsewhere.text


def test_the_redis_backend_is_one_limit_across_processes(services: tuple[str, str]) -> None:
    one, two = services
    tenant = uuid.uuid4().hex
    first = httpx.post(f"{one}/shared", json={"tenant": tenant})
    second = httpx.post(f"{two}/shared", json={"tenant": tenant})
    assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
    assert sorted([first.json()["calls"], second.json()["calls"]]) == [1, 2]
    # Burst used up by the two processes together: the next slot is 5 s away, on either one.
    for url in (one, two):
        refused = httpx.post(f"{url}/shared", json={"tenant": tenant})
        assert refused.status_code == 429, refused.text
        assert 1 <= int(refused.headers["retry-after"]) <= 5
        assert refused.json()["detail"][0]["loc"] == ["nodes", "quota"]
    # Another tenant has its own limit.
    fresh = httpx.post(f"{two}/shared", json={"tenant": f"{tenant}-other"})
    assert fresh.status_code == 200, fresh.text
    assert fresh.json() == {"calls": 1, "waited": 0}
