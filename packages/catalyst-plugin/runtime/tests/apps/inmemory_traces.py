"""Runs ``ops_app`` under uvicorn in this process with the process's own OpenTelemetry SDK
provider exporting to an in-memory exporter (the runtime then uses that provider as it is),
makes a traced request and a failing one over HTTP, and prints every finished span as one JSON
line: ``tests/test_tracing.py`` reads them. A script of its own: a process sets its global
tracer provider once, and the test process must keep its own."""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx
import uvicorn
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from catalyst_runtime.testing import free_port

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

from ops_app import app  # type: ignore[import-not-found]  # noqa: E402 - after the provider

port = free_port()
server = uvicorn.Server(
    uvicorn.Config(app, host="127.0.0.1", port=port, ws="none", log_level="warning")
)
thread = threading.Thread(target=server.run, daemon=True)
thread.start()
deadline = time.monotonic() + 120
while not server.started:
    if not thread.is_alive() or time.monotonic() > deadline:
        sys.exit("ops_app did not start")
    time.sleep(0.01)
url = f"http://127.0.0.1:{port}"
statuses = [
    httpx.get(f"{url}/traced", timeout=60).status_code,
    httpx.get(f"{url}/traced", params={"fail": "true"}, timeout=60).status_code,
]
server.should_exit = True
thread.join(timeout=30)
for span in exporter.get_finished_spans():
    context, parent = span.context, span.parent
    assert context is not None
    print(json.dumps({
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": format(context.trace_id, "032x"),
        "span_id": format(context.span_id, "016x"),
        "parent_id": None if parent is None else format(parent.span_id, "016x"),
        "start": span.start_time,
        "end": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }))  # fmt: skip
print(json.dumps({"statuses": statuses}))
