"""OpenTelemetry traces from a real server, received by an OTLP/HTTP collector on loopback
written for the test (the protobuf requests decoded with opentelemetry-proto)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import Request, Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from pydantic import BaseModel, ConfigDict, Field

from catalyst_runtime import (
    ConfigError,
    ExecutionContext,
    NodeScope,
    Settings,
    WorkflowRouter,
    create_app,
    http_call,
    pg_query,
    read_input,
)
from catalyst_runtime.testing import free_port, running_server

from .upstream import Upstream, running_upstream

TOKEN = "ops-secret-value-1234"
# A start-up took over 20 s on a loaded 2-core machine (the OpenTelemetry and Qdrant imports).
START = 120.0
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


class Collector:
    """Accepts OTLP/HTTP trace exports (POST /v1/traces) and keeps the spans."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.bodies: list[bytes] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with collector.lock:
                    collector.bodies.append(body)
                    for resource in request.resource_spans:
                        for scope in resource.scope_spans:
                            collector.spans.extend(scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 20.0, kind: int | None = None) -> list[Any]:
        """Every span received, once ``count`` of them (of ``kind``, if given) have been."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if sum(kind is None or s.kind == kind for s in self.spans) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.spans)} spans received, expected {count} of kind {kind}")

    def wait_for_server_spans(self, name: str, count: int, timeout: float = 20.0) -> list[Any]:
        """Every span received, once ``count`` server spans named ``name`` have been. A request's
        server span ends after its nodes' and clients' spans, and batches are exported in the
        order spans end, so by then the request's whole tree is here."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                servers = [s for s in self.spans if s.kind == Span.SPAN_KIND_SERVER]
                if sum(s.name == name for s in servers) >= count:
                    return list(self.spans)
            time.sleep(0.05)
        names = sorted(s.name for s in servers)
        raise AssertionError(f"expected {count} server spans {name!r}, received {names}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    yield collector
    collector.server.shutdown()
    collector.server.server_close()


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    with running_upstream() as server:
        yield server


def _attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        out[kv.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_a_request_is_a_server_span_with_a_child_per_node_and_client_spans(
    apps_dir: Path,
    postgres_dsn: str,
    redis_url: str,
    upstream: Upstream,
    collector: Collector,
    tmp_path: Path,
) -> None:
    env = {
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "UPSTREAM_URL": upstream.url,
        "CATALYST_TRACING": "on",
        "CATALYST_LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "ops-under-test",
    }
    log = tmp_path / "serve.log"
    parent = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
    with running_server(
        "ops_app:app", cwd=apps_dir, env=env, log_file=log, startup_timeout=START, access_log=True
    ) as url:
        ok = httpx.get(f"{url}/traced", headers={"traceparent": parent})
        assert ok.status_code == 200, ok.text
        failed = httpx.get(f"{url}/traced", params={"fail": "true"})
        assert failed.status_code == 500
        assert httpx.get(f"{url}/healthz").status_code == 200  # probes are not traced
        # Both requests' trees. Not a count of server spans: running_server's readiness poll
        # (a 404 for /__catalyst_ready__) is traced too, and counting it once let the check
        # start before the failed request's spans had arrived.
        spans = collector.wait_for_server_spans("GET /traced", 2)
    by_trace: dict[str, list[Any]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id.hex(), []).append(span)

    # The caller's trace is continued.
    assert TRACE_ID in by_trace
    tree = by_trace[TRACE_ID]

    (server,) = [s for s in tree if s.kind == s.SPAN_KIND_SERVER]
    assert server.name == "GET /traced"
    assert server.parent_span_id.hex() == "00f067aa0ba902b7"
    assert _attributes(server)["http.route"] == "/traced"
    assert _attributes(server)["http.response.status_code"] == 200
    nodes = {s.name: s for s in tree if "catalyst.node" in _attributes(s)}
    assert set(nodes) == {"query", "call", "check"}
    assert all(n.parent_span_id == server.span_id for n in nodes.values())
    assert _attributes(nodes["query"])["catalyst.workflow"] == "traced"
    kinds = {name: _attributes(span)["catalyst.node.kind"] for name, span in nodes.items()}
    assert kinds == {"query": "postgres", "call": "http", "check": "transform"}
    # The two concurrent nodes overlap in time.
    query, call = nodes["query"], nodes["call"]
    assert query.start_time_unix_nano < call.end_time_unix_nano
    assert call.start_time_unix_nano < query.end_time_unix_nano
    # Client spans hang under the node that made them.
    clients = [s for s in tree if s.kind == s.SPAN_KIND_CLIENT]
    assert any(s.parent_span_id == call.span_id for s in clients)  # httpx
    assert any(s.parent_span_id == query.span_id for s in clients)  # asyncpg

    # The http node forwarded the trace to the upstream.
    heads = [seen.head.decode("latin-1").lower() for seen in upstream.seen]
    assert any(f"traceparent: 00-{TRACE_ID}-" in head for head in heads)

    # The failed request: its server span and its failing node are errors, without a message.
    failed_trace = next(t for t in by_trace.values() if t is not tree and len(t) >= 4)
    failed_server = next(s for s in failed_trace if s.kind == s.SPAN_KIND_SERVER)
    assert failed_server.status.code == failed_server.status.STATUS_CODE_ERROR
    check = next(s for s in failed_trace if s.name == "check")
    assert check.status.code == check.status.STATUS_CODE_ERROR
    assert _attributes(check)["error.type"] == "node_failed"
    assert not any(s.name.startswith("GET /healthz") for s in spans)

    # No secret and no input value in anything exported: the call's query had the key, the
    # failed request's query string was its input.
    assert all(TOKEN.encode() not in body for body in collector.bodies)
    assert all(b"fail=true" not in body for body in collector.bodies)
    assert not any(key.startswith("url.") for key in _attributes(server))

    # The line the runtime logs for the failure carries the failed request's trace id.
    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    (failure,) = [line for line in lines if "-> 500" in line["message"]]
    assert failure["trace_id"] == failed_server.trace_id.hex()
    assert failure["node"] == "check"
    # Every line of that request (its access line too) has the trace id and the workflow.
    of_request = [line for line in lines if line.get("request_id") == failure["request_id"]]
    assert any(line.get("status") == 500 for line in of_request)
    assert all(line.get("trace_id") == failure["trace_id"] for line in of_request)
    assert all(line.get("workflow") == "traced" for line in of_request)


@contextmanager
def _served(app: Any) -> Iterator[str]:
    """``app`` under uvicorn in a thread of this process, its lifespan run at start and stop."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_a_second_start_up_in_one_process_exports_to_a_provider_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One app started, stopped and started again in this process (as a test suite or an
    in-process reload does): the first shutdown shut its provider down, and the second start-up
    must trace with a new one, exporting where the settings now say, its own code's tracer
    (``trace.get_tracer``) included."""
    from opentelemetry import trace

    router = WorkflowRouter()

    @router.get("/step")
    async def step() -> Response:
        ctx = ExecutionContext("twice", None)
        with ctx.node("only"), trace.get_tracer("service-code").start_as_current_span("own"):
            pass
        return Response(b"{}", media_type="application/json")

    app = create_app(router, title="twice")
    monkeypatch.setenv("CATALYST_TRACING", "on")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    for start_up in range(2):
        collector = Collector()
        try:
            monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
            with _served(app) as url:
                assert httpx.get(f"{url}/step").status_code == 200
                spans = collector.wait_for(3)
            names = {s.name: s for s in spans}
            assert {"GET /step", "only", "own"} <= set(names), (start_up, sorted(names))
            assert names["own"].parent_span_id == names["only"].span_id
        finally:
            collector.server.shutdown()
            collector.server.server_close()


def test_a_failed_http_call_s_span_records_the_exception_s_type_not_its_message(
    monkeypatch: pytest.MonkeyPatch, upstream: Upstream
) -> None:
    """aiohttp's message for a malformed answer quotes the URL with its query (here a key); the
    client span records the failure's type only."""
    router = WorkflowRouter(pools=("http",))

    @router.get("/leaky")
    async def leaky(request: Request) -> Response:
        ctx = ExecutionContext("leaky", None, pools=request.app.state.pools)
        await http_call(ctx, "call", "GET", f"{upstream.url}/malformed", query={"key": TOKEN})
        return Response(b"{}", media_type="application/json")

    app = create_app(router, title="leaky")
    monkeypatch.setenv("CATALYST_TRACING", "on")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    collector = Collector()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        with _served(app) as url:
            assert httpx.get(f"{url}/leaky").status_code == 502
            spans = collector.wait_for(1, kind=Span.SPAN_KIND_SERVER)
    finally:
        collector.server.shutdown()
        collector.server.server_close()
    # The node's call (this process's own httpx call to the service is traced too).
    (client,) = [
        s
        for s in spans
        if s.kind == Span.SPAN_KIND_CLIENT and _attributes(s).get("http.url") == upstream.url
    ]
    assert client.status.code == client.status.STATUS_CODE_ERROR
    events = [{kv.key: kv.value.string_value for kv in e.attributes} for e in client.events]
    assert [e.get("exception.type") for e in events] == ["ClientResponseError"], events
    assert all(TOKEN.encode() not in body for body in collector.bodies)


def test_a_failed_query_s_span_records_the_exception_s_type_not_its_message(
    monkeypatch: pytest.MonkeyPatch, postgres_dsn: str
) -> None:
    """asyncpg's message for an argument it cannot encode quotes the argument (here a key); the
    query's span records the failure's type only, and its status no description."""
    router = WorkflowRouter(pools=("postgres",))

    @router.get("/query")
    async def query(request: Request) -> Response:
        ctx = ExecutionContext("query", None, pools=request.app.state.pools)
        await pg_query(ctx, "count", "SELECT $1::int AS n", [TOKEN], mode="row")
        return Response(b"{}", media_type="application/json")

    app = create_app(router, title="query")
    monkeypatch.setenv("DATABASE_URL", postgres_dsn)
    monkeypatch.setenv("CATALYST_TRACING", "on")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    collector = Collector()
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
        with _served(app) as url:
            assert httpx.get(f"{url}/query").status_code >= 500
            spans = collector.wait_for(1, kind=Span.SPAN_KIND_SERVER)
    finally:
        collector.server.shutdown()
        collector.server.server_close()
    failed = [s for s in spans if s.status.code == s.status.STATUS_CODE_ERROR and s.events]
    assert failed, [(s.name, s.status) for s in spans]
    for span in failed:
        assert span.status.message == "", span.status
    assert all(TOKEN.encode() not in body for body in collector.bodies)


@pytest.mark.anyio
async def test_off_leaves_the_plain_node_scope() -> None:
    app = create_app(WorkflowRouter(), title="off", settings=Settings())
    async with app.router.lifespan_context(app):
        assert ExecutionContext.scope_class is NodeScope


def test_tracing_setting() -> None:
    assert Settings.from_env({}, env_file=None).tracing is False
    assert Settings.from_env({"CATALYST_TRACING": "on"}, env_file=None).tracing is True
    with pytest.raises(ConfigError, match=r"CATALYST_TRACING: expected one of"):
        Settings.from_env({"CATALYST_TRACING": "sometimes"}, env_file=None)


def test_the_process_s_own_sdk_provider_gets_the_span_tree(
    apps_dir: Path, postgres_dsn: str, redis_url: str, upstream: Upstream
) -> None:
    """The SDK's in-memory exporter, on a provider the process set before the app started
    (``apps/inmemory_traces.py``, in a process of its own): concurrent nodes, an HTTP call and a
    failing node, as a tree."""
    env = {
        **os.environ,
        "DATABASE_URL": postgres_dsn,
        "REDIS_URL": redis_url,
        "OPS_TOKEN": TOKEN,
        "UPSTREAM_URL": upstream.url,
        "CATALYST_TRACING": "on",
        # Nothing listens there: a span sent over OTLP would be lost, not counted.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
    }
    ran = subprocess.run(
        [sys.executable, "inmemory_traces.py"],
        cwd=apps_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    *lines, last = [orjson.loads(line) for line in ran.stdout.splitlines()]
    assert last == {"statuses": [200, 500]}
    traces: dict[str, list[dict[str, Any]]] = {}
    for span in lines:
        traces.setdefault(span["trace_id"], []).append(span)
    # The two requests' traces (start-up's own calls, Redis's PING, are traces of their own).
    requests = [t for t in traces.values() if any(s["kind"] == "SERVER" for s in t)]
    assert len(requests) == 2
    ok, failed = sorted(requests, key=lambda spans: any(s["status"] == "ERROR" for s in spans))

    def tree(spans: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        (server,) = [s for s in spans if s["kind"] == "SERVER"]
        nodes = {s["name"]: s for s in spans if "catalyst.node" in s["attributes"]}
        return server, nodes

    server, nodes = tree(ok)
    assert server["name"] == "GET /traced"
    assert set(nodes) == {"query", "call", "check"}
    assert all(n["parent_id"] == server["span_id"] for n in nodes.values())
    query, call = nodes["query"], nodes["call"]
    assert query["start"] < call["end"] and call["start"] < query["end"]  # concurrent
    clients = [s for s in ok if s["kind"] == "CLIENT"]
    assert any(s["parent_id"] == call["span_id"] for s in clients)  # the HTTP call
    assert any(s["parent_id"] == query["span_id"] for s in clients)  # the query

    server, nodes = tree(failed)
    assert server["status"] == "ERROR"
    assert nodes["check"]["status"] == "ERROR"
    assert nodes["check"]["attributes"]["error.type"] == "node_failed"
    assert nodes["query"]["status"] == nodes["call"]["status"] == "UNSET"
    assert all(TOKEN not in orjson.dumps(span).decode() for span in lines)


CARD = "4111111111111111"


class _CheckoutInput(BaseModel):
    """The shape the compiler emits for ``trace: { input: [customer-id, plan] }`` (golden
    ``trace_input``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    __catalyst_trace__ = {"customer-id": "customer_id_", "plan": "plan"}

    customer_id_: str = Field(alias="customer-id")
    plan: str
    seats: int | None = None
    card: str


def test_only_the_input_fields_a_workflow_names_reach_its_trace(
    monkeypatch: pytest.MonkeyPatch, collector: Collector
) -> None:
    """``catalyst.input.<field>`` on the server span for each field the workflow lists (a long
    text cut at MAX_INPUT_ATTRIBUTE_CHARS); no other input value in any exported byte; none on
    the node's span."""
    router = WorkflowRouter()

    @router.post("/checkout")
    async def checkout(request: Request) -> Response:
        ctx = ExecutionContext("checkout", await read_input(request, _CheckoutInput))
        with ctx.node("quote", "transform"):
            pass
        return Response(b"{}", media_type="application/json")

    app = create_app(router, title="checkout")
    monkeypatch.setenv("CATALYST_TRACING", "on")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    long_plan = "p" * 300
    with _served(app) as url:
        for body in (
            {"customer-id": "c-7", "plan": "team", "seats": 3, "card": CARD},
            {"customer-id": "c-8", "plan": long_plan, "card": CARD},
        ):
            assert httpx.post(f"{url}/checkout", json=body).status_code == 200
        spans = collector.wait_for(2, kind=Span.SPAN_KIND_SERVER)
    servers = [_attributes(s) for s in spans if s.name == "POST /checkout"]
    traced = sorted((a["catalyst.input.customer-id"], a["catalyst.input.plan"]) for a in servers)
    assert traced == [("c-7", "team"), ("c-8", "p" * 256)]
    assert all(
        not k.startswith("catalyst.input.")
        for s in spans
        for k in _attributes(s)
        if s.name != "POST /checkout"
    )
    assert all(CARD.encode() not in body for body in collector.bodies)
    assert all(b"catalyst.input.seats" not in body for body in collector.bodies)
    assert ExecutionContext.input_observer is None  # the shutdown undid it
