"""Prometheus metrics on a real server, scraped and read with the Prometheus client's parser."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from catalyst_runtime import (
    ConfigError,
    ExecutionContext,
    NodeError,
    NodeScope,
    Settings,
    WorkflowRouter,
    create_app,
    pools,
)
from catalyst_runtime.metrics import MetricsMiddleware
from catalyst_runtime.request_id import RequestIdMiddleware
from catalyst_runtime.response_status import standard_method
from catalyst_runtime.testing import running_server

TOKEN = "ops-secret-value-1234"
# A start-up took over 20 s on a loaded 2-core machine (the OpenTelemetry and Qdrant imports).
START = 120.0
HOLD = 1.0  # seconds a request holds its pool's only connection


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_requests_nodes_and_errors_with_bounded_labels(
    apps_dir: Path, postgres_dsn: str, redis_url: str
) -> None:
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "CATALYST_METRICS": "on",
    }
    # A connection per request: uvicorn closes one whose request raised (the 500s below).
    client = httpx
    with running_server("ops_app:app", cwd=apps_dir, env=env, startup_timeout=START) as url:
        for _ in range(3):
            assert client.get(f"{url}/lookup").status_code == 200
        assert client.get(f"{url}/lookup", params={"fail": "true"}).status_code == 500
        assert client.get(f"{url}/fail").status_code == 500
        # Refused before its run starts: the workflow is the generated route's.
        assert client.post(f"{url}/greeting", json={"name": ""}).status_code == 422
        # (running_server's own wait for the server counts as an unmatched request too)
        before = _samples(client.get(f"{url}/metrics").text)
        for _ in range(20):  # a scan of random paths: one label value, not twenty
            assert client.get(f"{url}/{uuid.uuid4().hex}").status_code == 404
        assert client.get(f"{url}/healthz").status_code == 200
        assert client.get(f"{url}/readyz").status_code == 200
        scrape = client.get(f"{url}/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    samples = _samples(scrape.text)

    def count(route: str, status: str, workflow: str = "") -> float:
        labels = (("method", "GET"), ("route", route), ("status", status), ("workflow", workflow))
        return samples.get(("catalyst_requests_seconds_count", labels), 0.0)

    assert count("/lookup", "200", "lookup") == 3
    assert count("/lookup", "500", "lookup") == 1
    assert count("/fail", "500") == 1  # a route that runs no workflow
    no_route = (("method", "GET"), ("route", "unmatched"), ("status", "404"), ("workflow", ""))
    unmatched = ("catalyst_requests_seconds_count", no_route)
    assert count("unmatched", "404") - before.get(unmatched, 0.0) == 20
    refused = (("method", "POST"), ("route", "/greeting"), ("status", "422"),
               ("workflow", "greeting"))  # fmt: skip
    assert samples[("catalyst_requests_seconds_count", refused)] == 1
    routes = {dict(labels)["route"] for name, labels in samples if name.startswith("catalyst_req")}
    # No probe, no /metrics, no random path.
    assert routes == {"/lookup", "/fail", "/greeting", "unmatched"}

    node = {"workflow": "lookup"}
    query = tuple(sorted({**node, "node": "query", "kind": "postgres"}.items()))
    check = tuple(sorted({**node, "node": "check", "kind": "transform"}.items()))
    assert samples[("catalyst_node_seconds_count", query)] == 4
    assert samples[("catalyst_node_seconds_count", check)] == 3  # the failed one is an error
    failed = tuple(sorted({**node, "node": "check", "type": "node_failed"}.items()))
    assert samples[("catalyst_node_errors_total", failed)] == 1
    assert samples[("catalyst_node_seconds_sum", query)] > 0

    pool = {dict(labels)["state"]: value for (name, labels), value in samples.items()
            if name == "catalyst_pool_connections"}  # fmt: skip
    assert set(pool) == {"idle", "in_use"} and pool["idle"] >= 1


@pytest.mark.anyio
async def test_off_adds_nothing_to_the_request_path() -> None:
    app = create_app(WorkflowRouter(), title="off", settings=Settings(), pools=("http",))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        assert (await client.get("/metrics")).status_code == 404
        stack = app.middleware_stack
        assert isinstance(stack, RequestIdMiddleware)
        assert not isinstance(stack.app, MetricsMiddleware)
        assert ExecutionContext.scope_class is NodeScope
        assert ExecutionContext.input_observer is None
        # The pools are the plain ones: no hook times a wait for a connection.
        assert app.state.pools.http.trace_configs == []


@pytest.mark.anyio
async def test_on_then_off_restores_the_plain_node_scope() -> None:
    settings = Settings.from_env({"CATALYST_METRICS": "on"}, env_file=None)
    app = create_app(WorkflowRouter(), title="on", settings=settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as client,
    ):
        assert ExecutionContext.scope_class is not NodeScope
        assert isinstance(app.middleware_stack.app, MetricsMiddleware)  # type: ignore[union-attr]
        assert (await client.get("/metrics")).status_code == 200
        assert pools.wait_observer is not None
    assert ExecutionContext.scope_class is NodeScope
    assert pools.wait_observer is None  # the next start-up builds plain pools


@pytest.mark.anyio
async def test_without_the_extra_start_up_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # as if not installed
    settings = Settings.from_env({"CATALYST_METRICS": "on"}, env_file=None)
    app = create_app(WorkflowRouter(), title="no extra", settings=settings)
    with pytest.raises(ConfigError, match=r"CATALYST_METRICS: needs the metrics extra"):
        async with app.router.lifespan_context(app):
            pass
    assert ExecutionContext.scope_class is NodeScope


def test_metrics_settings() -> None:
    assert Settings.from_env({}, env_file=None).metrics is False
    assert Settings.from_env({"CATALYST_METRICS": "ON"}, env_file=None).metrics is True
    with pytest.raises(ConfigError, match=r"CATALYST_METRICS: expected one of on, true"):
        Settings.from_env({"CATALYST_METRICS": "maybe"}, env_file=None)
    with pytest.raises(ConfigError, match=r"CATALYST_METRICS_PATH: must differ"):
        Settings.from_env(
            {"CATALYST_METRICS": "on", "CATALYST_METRICS_PATH": "/healthz"}, env_file=None
        )


@pytest.mark.anyio
async def test_a_failure_is_counted_once_by_the_node_it_names_and_methods_are_a_fixed_set() -> None:
    settings = Settings.from_env({"CATALYST_METRICS": "on"}, env_file=None)
    app = create_app(WorkflowRouter(), title="count", settings=settings)
    async with app.router.lifespan_context(app):
        metrics = app.state.metrics
        ctx = ExecutionContext("wf", None)
        # A node inside a container (a parallel branch, a map item) fails: the error passes
        # through both scopes.
        with (
            pytest.raises(NodeError, match='node "inner"'),
            ctx.node("outer"),
            ctx.node("inner"),
        ):
            raise ValueError("boom")
        assert metrics.errors == {("wf", "inner", "node_failed"): 1}
        metrics.observe_request("/x", "", standard_method("BREW"), 200, 0.001)
        metrics.observe_request("/x", "", standard_method("GET"), 200, 0.001)
        assert {key[2] for key in metrics.requests} == {"_OTHER", "GET"}


@pytest.mark.anyio
async def test_node_durations_are_labelled_with_the_nodes_kind() -> None:
    settings = Settings.from_env({"CATALYST_METRICS": "on"}, env_file=None)
    app = create_app(WorkflowRouter(), title="kinds", settings=settings)
    async with app.router.lifespan_context(app):
        ctx = ExecutionContext("wf", None)
        with ctx.node("greet", "transform"):
            pass
        with ctx.node("custom"):  # hand-written code may leave the kind out
            pass
        scrape = _samples(generate_latest(app.state.metrics.registry).decode())
    counts = {
        dict(labels)["node"]: dict(labels)["kind"]
        for (name, labels), value in scrape.items()
        if name == "catalyst_node_seconds_count" and value == 1
    }
    assert counts == {"greet": "transform", "custom": ""}


@pytest.mark.anyio
async def test_cache_outcomes_are_counted_per_node() -> None:
    from catalyst_runtime import NodeCache

    settings = Settings.from_env({"CATALYST_METRICS": "on"}, env_file=None)
    app = create_app(WorkflowRouter(), title="cached", settings=settings)
    cache = NodeCache("account", ttl=60)
    calls = 0

    async def fetch(ctx: ExecutionContext, user: str) -> dict[str, str]:
        nonlocal calls
        calls += 1
        return {"user": user}

    async with app.router.lifespan_context(app):
        metrics = app.state.metrics
        for user in ("ada", "ada", "bo"):
            await cache.call(ExecutionContext("profile", None), fetch, user)
        assert calls == 2
        assert metrics.cache == {
            ("profile", "account", "hit"): 1,
            ("profile", "account", "miss"): 2,
        }
        scrape = _samples(generate_latest(metrics.registry).decode())
        labels = (("node", "account"), ("outcome", "hit"), ("workflow", "profile"))
        assert scrape[("catalyst_cache_requests_total", labels)] == 1
    # Off again: nothing is told.
    await cache.call(ExecutionContext("profile", None), fetch, "cy")
    assert metrics.cache[("profile", "account", "miss")] == 2


class SlowUpstream:
    """An HTTP/1.1 upstream on loopback answering every request after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: the client pools its connection

            def do_GET(self) -> None:
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_pool_sizes_waits_and_rate_limit_rejections(
    apps_dir: Path, postgres_dsn: str, redis_url: str
) -> None:
    """Pools of one connection and three requests at once, each holding it for HOLD: the two
    behind the first wait for it, over 0.1 s each unless the three arrive HOLD - 0.1 s apart,
    which the wait histograms show; a rejected rate-limit slot is counted as such."""
    upstream = SlowUpstream(HOLD)
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "UPSTREAM_URL": upstream.url,
        "CATALYST_METRICS": "on",
        "CATALYST_POSTGRES_MIN_SIZE": "1",
        "CATALYST_POSTGRES_MAX_SIZE": "1",
        "CATALYST_HTTP_MAX_CONNECTIONS": "1",
    }

    def at_once(url: str, times: int) -> list[int]:
        with ThreadPoolExecutor(times) as pool:
            return [
                r.status_code for r in pool.map(lambda _: httpx.get(url, timeout=60), range(times))
            ]

    try:
        with running_server("busy_app:app", cwd=apps_dir, env=env, startup_timeout=START) as url:
            assert at_once(f"{url}/query?seconds={HOLD}", 3) == [200] * 3
            assert at_once(f"{url}/call", 3) == [200] * 3
            assert [httpx.get(f"{url}/cached").status_code for _ in range(2)] == [200, 200]
            assert [httpx.get(f"{url}/limited").status_code for _ in range(2)] == [200, 429]
            samples = _samples(httpx.get(f"{url}/metrics").text)
    finally:
        upstream.close()

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    for pool in ("postgres", "http"):
        count = value("catalyst_pool_wait_seconds_count", pool=pool)
        assert count >= 3, pool
        # Two requests waited HOLD or more: at least two observations above 0.1 s.
        assert count - value("catalyst_pool_wait_seconds_bucket", pool=pool, le="0.1") >= 2, pool
        assert value("catalyst_pool_max_connections", pool=pool) == 1
        idle = value("catalyst_pool_connections", pool=pool, state="idle")
        assert idle + value("catalyst_pool_connections", pool=pool, state="in_use") == 1, pool
    assert value("catalyst_pool_wait_seconds_count", pool="redis") >= 2
    assert value("catalyst_pool_max_connections", pool="redis") == Settings().redis_max_connections
    assert value("catalyst_pool_connections", pool="redis", state="in_use") == 0
    assert value("catalyst_pool_connections", pool="redis", state="idle") >= 1
    rejected = {"workflow": "limited", "node": "throttle", "type": "rate_limited"}
    assert value("catalyst_node_errors_total", **rejected) == 1
    pools = {dict(labels)["pool"] for name, labels in samples if name.startswith("catalyst_pool")}
    assert pools == {"postgres", "http", "redis"}  # a fixed set, whatever the requests
